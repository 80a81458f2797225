"""The study's training plan: its contents, the status of run folders, the order of stages,
training at toy scale (resumable, finished runs skipped) and ``heatsink study train``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatsink.study import plan


def write_range_test(results: Path, family: str, best_lr: float) -> Path:
    """A range test's curve whose smoothed loss is lowest at ``best_lr``."""
    lr = np.logspace(-6, 0, 61)
    smoothed = (np.log10(lr) - np.log10(best_lr)) ** 2 + 1
    path = plan.lr_range_file(results, family)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"step": range(61), "lr": lr, "loss": smoothed, "smoothed": smoothed}
                 ).to_csv(path, index=False)
    return path


def write_fake_run(path: Path, config, epochs: int, finished: bool) -> Path:
    """A run folder as train leaves it: config and history; scores if ``finished``."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({**config.to_dict(),
                                                  "precision_used": "float32"}))
    pd.DataFrame({"epoch": range(epochs), "loss": 1.0, "seconds": 1.0}).to_csv(
        path / "history.csv", index=False)
    if finished:
        (path / "metrics.json").write_text("{}")
        (path / "val-per-image-labels.csv").write_text("image_id\n")
    return path


@pytest.fixture
def folders(tmp_path):
    results, runs = tmp_path / "results", tmp_path / "runs"
    rates = {"unet": 1e-3, "resnet50": 1e-1, "vgg16": 1e-3, "gslu": 1e-2, "light": 1e-2}
    for family, best in rates.items():
        write_range_test(results, family, best)
    return runs, results


def test_stage_1_is_every_encoder_with_both_losses_on_one_recipe(folders):
    runs, results = folders
    planned = plan.planned_runs(1, None, runs, results)
    assert {(r.config.model, r.config.loss) for r in planned} == {
        (m, loss) for m in plan.ENCODERS for loss in ("cce", "wcce+dice")}
    assert len(planned) == 2 * len(plan.ENCODERS)
    for item in planned:
        assert item.kind == "train" and item.status == "missing" and item.epochs == 0
        assert {k: getattr(item.config, k) for k in plan.RECIPE} == plan.RECIPE
        assert item.path == runs / "plan" / item.name
    rates = {r.name: r.config.learning_rate for r in planned}
    # a tenth of the rate at each curve's lowest smoothed loss
    assert rates["gslu"] == rates["gslu-wcce+dice"] == pytest.approx(1e-3)
    assert rates["resnet50"] == pytest.approx(1e-2)
    assert next(r for r in planned if r.name == "resnet50").config.encoder_weights == "imagenet"
    assert next(r for r in planned if r.name == "unet").config.model_kwargs == {"filters": 32}
    # plain cross-entropy starts at the class frequencies; the study's loss as the seed's
    assert all(r.config.prior_bias == (r.config.loss == "cce") for r in planned)


def test_a_family_without_its_range_test_is_blocked(tmp_path):
    results = tmp_path / "results"
    write_range_test(results, "gslu", 1e-2)
    planned = plan.planned_runs(1, None, tmp_path / "runs", results)
    blocked = [r for r in planned if r.status == "blocked"]
    assert {r.name for r in planned if r.status != "blocked"} == {"gslu", "gslu-wcce+dice"}
    assert len(blocked) == 2 * (len(plan.ENCODERS) - 1)
    assert all(r.config is None and "range test" in r.why for r in blocked)


def test_stage_0_is_the_range_tests_and_the_recipe_checks(folders):
    runs, results = folders
    planned = plan.planned_runs(0, None, runs, results)
    assert [r.name for r in planned if r.kind == "lr_range"] == [
        f"lr-range-{m}" for m in plan.ENCODERS]
    assert all(r.status == "done" for r in planned if r.kind == "lr_range")
    checks = [r for r in planned if r.kind == "train"]
    photo = plan.RECIPE["photometric"]
    crop = plan.CHECK_CROP  # the recipe trains on whole frames; the checks on crops
    assert [r.name for r in checks] == [
        "gslu-wcce+dice", f"gslu-wcce+dice-c{crop}",
        f"gslu-wcce+dice-c{crop}-" + ("nophoto" if photo else "photo"),
        "light-wcce+dice-refine"]
    assert [r.config.crop for r in checks] == [None, crop, crop, None]
    assert [r.config.photometric for r in checks] == [photo, photo, not photo, photo]
    # the design check: the light net's stage-1 recipe with its builder's head argument
    design = checks[-1].config
    stage1 = next(r.config for r in plan.planned_runs(1, None, runs, results)
                  if r.name == "light-wcce+dice")
    assert design.model_kwargs == {"head": "refine"}
    assert dataclasses.replace(design, model_kwargs={}) == stage1


def test_builder_arguments_other_than_the_plan_s_are_named(folders):
    config = plan.recipe_config("unet", "cce", 1e-3)
    assert config.model_kwargs == {"filters": 32} and plan.plan_name(config) == "unet"
    assert plan.plan_name(dataclasses.replace(config, model_kwargs={"filters": 8}, seed=2)
                          ) == "unet-filters8-s2"
    light = plan.recipe_config("light", "wcce+dice", 1e-3, model_kwargs={"head": "bilinear"})
    assert plan.plan_name(light) == "light-wcce+dice-bilinear"  # said, even if the default


def test_stage_6_is_the_texture_check_beside_each_stage_1_run(folders):
    runs, results = folders
    tex = "notex" if plan.RECIPE["texture"] else "tex"
    stage6 = plan.planned_runs(6, None, runs, results)
    first = [f"{m}-{loss}-{tex}" for m, loss in plan.TEXTURE_CHECK]
    seeds = len(plan.SEEDS) * len(first)
    assert [r.name for r in stage6[:seeds]] == first + [
        f"{name}-s{seed}" for seed in plan.SEEDS[1:] for name in first]
    assert [r.config.seed for r in stage6[:seeds]] == [
        seed for seed in plan.SEEDS for _ in plan.TEXTURE_CHECK]
    assert all(r.config.texture != plan.RECIPE["texture"] for r in stage6[:seeds])
    stage1 = {r.name: r.config for r in plan.planned_runs(1, None, runs, results)}
    for r in stage6[:len(first)]:  # one choice apart from a stage-1 run
        twin = stage1[r.name.rsplit("-", 1)[0]]
        assert dataclasses.replace(r.config, texture=twin.texture) == twin


def test_stage_6_then_trains_each_texture_dose_one_choice_apart_from_the_default_dose(folders):
    runs, results = folders
    stage6 = plan.planned_runs(6, None, runs, results)
    base = {r.name: r.config for r in stage6 if r.config.seed == 0}
    doses = stage6[len(plan.SEEDS) * len(plan.TEXTURE_CHECK):]
    assert len(doses) == len(plan.TEXTURE_DOSES) > 0
    for r, ((model, loss), dose) in zip(doses, plan.TEXTURE_DOSES, strict=True):
        default = base[f"{model}-{loss}-tex"]
        assert r.config.texture and r.config.seed == 0
        assert r.config == dataclasses.replace(default, **dose)
        assert r.name.startswith(f"{model}-{loss}-tex-")
    assert len({r.name for r in stage6}) == len(stage6)
    assert plan.PlanSettings.smoke().texture_doses == ()  # the chapters' smoke run: none


def test_a_run_is_read_from_its_kept_copy_only_when_the_copy_is_that_run(folders):
    """One rule for what the plan trains and what the chapters read (``plan.run_folders``)."""
    from heatsink.study.kept import kept_dir

    runs, results = folders
    item = next(r for r in plan.planned_runs(1, None, runs, results) if r.config.model == "light")
    local, kept = runs / "plan" / item.name, kept_dir(results) / item.name

    def folder(name):
        return plan.run_folders([name], None, runs, results)[name]

    assert folder(item.name) == local  # nothing anywhere
    write_fake_run(kept, dataclasses.replace(item.config, loss="dice"), 3, finished=True)
    assert folder(item.name) == local  # another configuration
    write_fake_run(kept, item.config, 3, finished=True)
    assert folder(item.name) == kept
    write_fake_run(local, item.config, 2, finished=False)  # a local run not finished yet
    assert folder(item.name) == kept
    write_fake_run(local, item.config, 3, finished=True)
    assert folder(item.name) == local
    assert folder("an-old-experiment") == runs / "plan" / "an-old-experiment"


def test_status_of_finished_partial_and_foreign_run_folders(folders):
    runs, results = folders
    by_name = {r.name: r for r in plan.planned_runs(1, None, runs, results)}
    write_fake_run(by_name["unet"].path, by_name["unet"].config, 9, finished=True)
    write_fake_run(by_name["gslu"].path, by_name["gslu"].config, 3, finished=False)
    other = plan.recipe_config("light", "cce", 0.5)
    write_fake_run(by_name["light"].path, other, 2, finished=False)
    now = {r.name: r for r in plan.planned_runs(1, None, runs, results)}
    assert (now["unet"].status, now["unet"].epochs) == ("done", 9)
    assert (now["gslu"].status, now["gslu"].epochs) == ("partial", 3)
    assert now["light"].status == "blocked" and "another configuration" in now["light"].why
    assert now["vgg16"].status == "missing"
    table = plan.plan_table([0, 1], None, runs, results)
    assert table["name"].is_unique  # gslu-wcce+dice is in stages 0 and 1, listed once
    assert table.set_index("name").loc["gslu", "epochs"] == "3/40"
    # what is left, at the minutes per epoch the histories measured (1 s an epoch here)
    items = list(now.values())
    assert plan.epoch_minutes(items) == {m: pytest.approx(1 / 60) for m in ("unet", "gslu",
                                                                           "light")}
    hours, unknown = plan.hours_left(items)
    # unet-wcce+dice, gslu-wcce+dice and light-wcce+dice to the cap, gslu's last 37 epochs
    assert hours == pytest.approx((40 + 40 + 40 + 37) / 3600)
    assert sorted(unknown) == ["resnet50", "resnet50-wcce+dice", "vgg16", "vgg16-wcce+dice"]


def test_later_stages_wait_for_earlier_ones_then_follow_the_scores(folders, monkeypatch):
    runs, results = folders
    scores = {"unet": 0.10, "unet-wcce+dice": 0.30, "resnet50": 0.20, "resnet50-wcce+dice": 0.35,
              "vgg16": 0.0, "vgg16-wcce+dice": 0.05, "gslu": 0.15, "gslu-wcce+dice": 0.45,
              "light": 0.12, "light-wcce+dice": 0.40,
              "gslu-wcce": 0.41, "gslu-dice": 0.44, "gslu-focal+dice": 0.42,
              "gslu-wcce+dice-isqrt": 0.43}
    monkeypatch.setattr(plan, "run_score", lambda path: scores[Path(path).name.split("-s")[0]]
                        + 0.01 * (Path(path).name.endswith("-s1")))

    def finish(stage):
        for item in plan.planned_runs(stage, None, runs, results):
            write_fake_run(item.path, item.config, 5, finished=True)

    assert {r.status for r in plan.planned_runs(2, None, runs, results)} == {"blocked"}
    finish(1)
    assert plan.chosen_encoder(runs, results) == "gslu"
    stage2 = plan.planned_runs(2, None, runs, results)
    assert [r.config.loss for r in stage2] == [*plan.ABLATION_LOSSES, plan.STUDY_LOSS]
    assert [r.config.class_weighting for r in stage2][-1] == "inverse_sqrt"
    assert stage2[-1].name == "gslu-wcce+dice-isqrt"
    assert {r.config.model for r in stage2} == {"gslu"}
    assert all(r.config.learning_rate == pytest.approx(1e-3) for r in stage2)
    # the speed pair's seeds do not wait for stages 1-2; the top recipes' seeds do
    early = plan.planned_runs(3, None, runs, results)
    assert [(r.name, r.status) for r in early if r.status != "blocked"] == [
        ("gslu-wcce+dice-s1", "missing"), ("light-wcce+dice-s1", "missing"),
        ("gslu-wcce+dice-s2", "missing"), ("light-wcce+dice-s2", "missing")]
    assert {r.name for r in early if r.status == "blocked"} == {"seeds-1", "seeds-2"}
    finish(2)
    stage3 = plan.planned_runs(3, None, runs, results)
    assert [r.name for r in stage3[:4]] == [r.name for r in early[:4]]
    assert len({r.name for r in stage3}) == len(stage3)  # gslu-wcce+dice's seeds listed once
    recipes = {r.name.rsplit("-s", 1)[0] for r in stage3}
    # the top three of stages 1-2, both stage-1 losses of the chosen encoder, the speed pair
    assert recipes == {"gslu-wcce+dice", "gslu-dice", "gslu-wcce+dice-isqrt", "gslu",
                       "light-wcce+dice"}
    assert sorted({r.config.seed for r in stage3}) == [1, 2]
    assert {r.status for r in plan.planned_runs(4, None, runs, results)} == {"blocked"}
    finish(3)
    stage4 = plan.planned_runs(4, None, runs, results)
    assert [r.name for r in stage4] == [f"gslu-wcce+dice-k3-fold{f}" for f in range(3)]
    assert all(r.kind == "fold" and r.status == "missing" for r in stage4)
    # stage 5: the chosen recipe on each dose's twin, done once its measurements are kept
    stage5 = plan.planned_runs(5, None, runs, results)
    assert [r.name for r in stage5] == ["dose-none", "dose-default", "dose-double",
                                        "dose-double+faint"]
    assert all(r.kind == "dose" and r.status == "missing" for r in stage5)
    assert {plan.plan_name(r.config) for r in stage5} == {"gslu-wcce+dice"}
    assert stage5[1].path == plan.dose_file(results, "default", "gslu-wcce+dice")
    assert "not done" in plan.missing_runs([4, 5], None, runs, results)


TINY_RECIPE = {"image_size": 64, "batch_size": 4, "crop": None, "schedule": "cosine",
               "patience": 6, "epochs": 1, "augment": True, "photometric": False,
               "texture": False, "precision": "float32"}


@pytest.fixture(scope="module")
def tiny_twin(tmp_path_factory):
    from heatsink.synth import generate

    return generate(tmp_path_factory.mktemp("twin") / "twin", n=24, seed=1, progress=False)


@pytest.fixture
def tiny_plan(monkeypatch):
    monkeypatch.setattr(plan, "RECIPE", TINY_RECIPE)
    monkeypatch.setattr(plan, "ENCODERS", ("unet",))
    monkeypatch.setattr(plan, "MODEL_KWARGS", {"unet": {"filters": 4}})
    monkeypatch.setattr(plan, "CROP_CHECK", ("unet", "wcce+dice"))
    monkeypatch.setattr(plan, "TEXTURE_CHECK", (("unet", "wcce+dice"),))
    monkeypatch.setattr(plan, "RANGE_STEPS", 4)
    monkeypatch.setattr(plan, "CHECK_CROP", 32)


def test_run_plan_trains_stages_0_and_1_and_skips_what_is_done(tiny_twin, tiny_plan, tmp_path):
    from heatsink.data import load_dataset
    from heatsink.models import Run

    ds = load_dataset(tiny_twin)
    runs, results = tmp_path / "runs", tmp_path / "results"
    lines: list[str] = []
    final = plan.run_plan([1, 0], ds, runs, results, n_boot=10, log=lines.append)
    started = [line for line in lines if line.endswith("started")]
    assert started == ["stage 0: lr-range-unet: started", "stage 0: unet-wcce+dice: started",
                       "stage 0: unet-wcce+dice-c32: started",
                       "stage 0: unet-wcce+dice-c32-photo: started", "stage 1: unet: started"]
    assert [item.name for item in final] == ["lr-range-unet", "unet-wcce+dice",
                                             "unet-wcce+dice-c32", "unet-wcce+dice-c32-photo",
                                             "unet"]
    assert Run.load(runs / "plan" / "unet-wcce+dice-c32-photo").config.photometric
    assert {item.status for item in final} == {"done"}
    curve = pd.read_csv(plan.lr_range_file(results, "unet"))
    assert len(curve) <= 4 and list(curve.columns) == ["step", "lr", "loss", "smoothed"]
    run = Run.load(runs / "plan" / "unet", ds)
    assert run.config.learning_rate == plan.family_lr(results, "unet")
    assert run.config.crop is None and run.finished
    assert Run.load(runs / "plan" / "unet-wcce+dice-c32").config.crop == 32
    assert (results / "split.csv").exists()  # the study's split, as the chapters use
    again: list[str] = []
    plan.run_plan([0, 1], ds, runs, results, n_boot=10, log=again.append)
    assert not [line for line in again if "started" in line]
    # each finished run was kept with the results: on a new machine (no runs folder) the
    # plan finds every run done, in its kept copy, and trains nothing
    import shutil

    from heatsink.study.kept import has_model, kept_dir

    before, epochs = run.evaluation("labels").summary(), len(run.history)
    shutil.rmtree(runs)
    table = {r.name: r for r in plan.planned_runs(1, ds, runs, results)}
    assert {name: (r.status, r.kept, r.path) for name, r in table.items()} == {
        name: ("done", True, kept_dir(results) / name) for name in ("unet", "unet-wcce+dice")}
    assert not (table["unet"].path / "split.csv").exists()  # the study's, named in kept.json
    listed = plan.plan_table([1], ds, runs, results).set_index("name")
    assert listed.loc["unet", "kept"] == "yes" and listed.loc["unet", "epochs"] == "1/1"
    kept = Run.load(table["unet"].path, ds)
    assert kept.evaluation("labels").summary().equals(before)
    assert len(kept.history) == epochs and has_model(kept.path)
    fresh: list[str] = []
    plan.run_plan([0, 1], ds, runs, results, n_boot=10, log=fresh.append)
    assert not [line for line in fresh if "started" in line] and not runs.exists()
    # kept copies of other data are not taken for this data's runs
    from heatsink.synth import generate

    other = load_dataset(generate(tmp_path / "other", n=24, seed=2, progress=False))
    assert {r.status for r in plan.planned_runs(1, other, runs, results)} == {"missing"}


def test_the_command_keeps_runs_finished_elsewhere_once(tiny_twin, tiny_plan, tmp_path,
                                                        capsys):
    import shutil

    from heatsink.cli import main
    from heatsink.data import load_dataset
    from heatsink.study.kept import kept_dir

    ds = load_dataset(tiny_twin)
    runs, results = tmp_path / "runs", tmp_path / "results"
    write_range_test(results, "unet", 1e-3)
    plan.run_plan([1], ds, runs, results, n_boot=10, log=lambda line: None)
    shutil.rmtree(kept_dir(results))  # as runs trained before runs were kept
    where = ["--data", str(tiny_twin), "--runs", str(runs), "--results", str(results)]
    assert main(["study", "keep", *where]) == 0
    # the last line (segmentation-models announces itself on stdout when first imported)
    out = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert out.startswith("kept 2 finished run(s)")
    assert out.endswith(": unet-wcce+dice, unet")  # the plan's order
    assert (kept_dir(results) / "unet" / "metrics.json").read_bytes() == (
        runs / "plan" / "unet" / "metrics.json").read_bytes()
    assert main(["study", "keep", *where]) == 0
    assert "kept 0 finished run(s)" in capsys.readouterr().out


def test_imagenet_weights_are_fetched_before_anything_trains(tiny_twin, tiny_plan, tmp_path,
                                                            monkeypatch):
    """`make study` trains the plan first: a machine without network stops at the start."""
    from heatsink import weights
    from heatsink.data import load_dataset

    def offline(**kwargs):
        raise weights.WeightsUnavailableError("no network (test)")

    monkeypatch.setattr(plan, "ENCODERS", ("unet", "resnet50"))
    monkeypatch.setattr(weights, "resnet50_imagenet", offline)
    runs = tmp_path / "runs"
    with pytest.raises(weights.WeightsUnavailableError, match="no network"):
        plan.run_plan([0, 1], load_dataset(tiny_twin), runs, tmp_path / "results", n_boot=10,
                      log=lambda line: None)
    # nothing ran, not even the U-Net's range test, which comes before ResNet50's
    assert not plan.lr_range_file(tmp_path / "results", "unet").exists()
    assert not list(runs.rglob("history.csv"))


def test_the_command_lists_the_plan_and_refuses_a_bad_stage(tiny_twin, tiny_plan, tmp_path,
                                                           capsys):
    from heatsink.cli import main

    where = ["--data", str(tiny_twin), "--runs", str(tmp_path / "runs"),
             "--results", str(tmp_path / "results")]
    assert main(["study", "train", "--list", *where]) == 0
    out = capsys.readouterr().out
    assert "lr-range-unet" in out and "missing" in out and "blocked" in out
    assert "Minutes per epoch measured: none yet" in out
    assert main(["study", "train", "--stage", "7", *where]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--stage takes one of 0, 1, 2, 3, 4, 5" in err
    assert main(["study", "train", "--only", "nope", *where]) == 2
    assert "no planned run named nope" in capsys.readouterr().err


def test_an_inconclusive_range_test_gives_the_fallback_rate(tmp_path):
    results = tmp_path / "results"
    write_range_test(results, "gslu", 1.0)  # lowest at the largest rate: still falling
    assert plan.family_lr(results, "gslu") == plan.FALLBACK_LR
    write_range_test(results, "light", 1e-2)
    assert plan.family_lr(results, "light") == pytest.approx(1e-3)  # a tenth of 10⁻²


def test_stage_5_is_blocked_until_the_recipe_is_chosen(folders):
    runs, results = folders
    stage5 = plan.planned_runs(5, None, runs, results)
    assert {r.status for r in stage5} == {"blocked"} and all(r.kind == "dose" for r in stage5)
    assert "to choose the recipe" in stage5[0].why
    message = plan.missing_runs([0, 5], None, runs, results)
    assert "heatsink study train --stage 0 --stage 5" in message and "dose-none" in message


def test_run_plan_keeps_each_doses_measurements_and_skips_them_next_time(
        tiny_twin, folders, monkeypatch):
    from heatsink.data import load_dataset
    from heatsink.study import dose

    runs, results = folders
    chosen = plan.recipe_config("gslu", "wcce+dice", 1e-3)
    monkeypatch.setattr(plan, "chosen_recipe", lambda *args, **kwargs: chosen)
    calls = []

    def fake_run_dose(d, config, twins, dose_runs, **kwargs):
        calls.append((d.name, config, kwargs["n"], kwargs["k"]))
        (dose_runs / d.name).mkdir(parents=True, exist_ok=True)
        return [("miou_defects_labels", 0.3, 0.2, 0.4, 10)]

    monkeypatch.setattr(dose, "run_dose", fake_run_dose)
    settings = dataclasses.replace(plan.PlanSettings.default(), doses=("none", "double"),
                                   dose_twin={"n": 12, "seed": 3})
    ds = load_dataset(tiny_twin)
    final = plan.run_plan([5], ds, runs, results, settings=settings, log=lambda line: None)
    assert [(r.name, r.status) for r in final] == [("dose-none", "done"), ("dose-double", "done")]
    assert calls == [("none", chosen, 12, plan.FOLDS), ("double", chosen, 12, plan.FOLDS)]
    table = plan.dose_table(results, chosen, settings)
    assert list(table.columns) == dose.DOSE_COLUMNS
    assert table["dose"].tolist() == ["none", "double"] and table["position"].tolist() == [0, 1]
    plan.run_plan([5], ds, runs, results, settings=settings, log=lambda line: None)
    assert len(calls) == 2  # done doses are read, not run again
    assert plan.dose_table(results, plan.recipe_config("light", "cce", 1e-3), settings).empty
    other = plan.recipe_config("light", "cce", 1e-3)  # another recipe chosen: not done
    monkeypatch.setattr(plan, "chosen_recipe", lambda *args, **kwargs: other)
    assert {r.status for r in plan.planned_runs(5, ds, runs, results, settings)} == {"missing"}


def test_the_smoke_settings_plan_the_same_stages_at_toy_scale(folders):
    runs, results = folders
    smoke = plan.PlanSettings.smoke()
    stage1 = plan.planned_runs(1, None, runs, results, smoke)
    assert [r.name for r in stage1] == ["gslu", "gslu-wcce+dice", "light", "light-wcce+dice"]
    assert all(r.config.image_size == 64 and r.config.crop is None and r.config.epochs == 1
               for r in stage1)
    checks = [r for r in plan.planned_runs(0, None, runs, results, smoke) if r.kind == "train"]
    assert [r.config.crop for r in checks] == [None, 32, 32]  # no design check
    assert [r.name for r in plan.planned_runs(6, None, runs, results, smoke)] == [
        "gslu-wcce+dice-tex", "light-wcce+dice-tex", "gslu-wcce+dice-tex-s1",
        "light-wcce+dice-tex-s1"]
    assert plan.plan_name(stage1[0].config, smoke) == "gslu"  # named against its own recipe
    assert [r.name for r in plan.planned_runs(0, None, runs, results, smoke)
            if r.kind == "lr_range"] == ["lr-range-gslu", "lr-range-light"]
    # the module's plan is untouched
    assert len(plan.planned_runs(1, None, runs, results)) == 2 * len(plan.ENCODERS)


def test_the_speed_pair_is_repeated_only_for_the_plan_s_encoders(folders):
    """A plan that compares one encoder (as the Kaggle-layout smoke run does) does not wait
    for the other one's seeds."""
    runs, results = folders
    from dataclasses import replace

    only = replace(plan.PlanSettings.default(), encoders=("gslu",))
    names = [r.name for r in plan.planned_runs(3, None, runs, results, only)
             if r.status != "blocked"]
    assert names == ["gslu-wcce+dice-s1", "gslu-wcce+dice-s2"]


def test_an_unfinished_run_parked_here_resumes_on_a_new_machine(tiny_twin, tiny_plan,
                                                                 tmp_path, monkeypatch, capsys):
    """``heatsink study park`` before a session ends; ``heatsink study train`` on a machine
    without the runs folder restores the parked run, resumes it, keeps it and drops the copy."""
    import shutil

    from conftest import train_interrupted

    from heatsink.cli import main
    from heatsink.data import load_dataset
    from heatsink.models import Run
    from heatsink.study.chapter import study_split
    from heatsink.study.kept import kept_dir
    from heatsink.study.parked import parked_dir

    monkeypatch.setattr(plan, "RECIPE", {**TINY_RECIPE, "epochs": 3})
    ds = load_dataset(tiny_twin)
    runs, results = tmp_path / "runs", tmp_path / "results"
    write_range_test(results, "unet", 1e-3)
    item = next(r for r in plan.planned_runs(1, ds, runs, results) if r.name == "unet")
    train_interrupted(item.config, ds, item.path, stop_in_epoch=3,
                      split=study_split(ds, results))
    where = ["--data", str(tiny_twin), "--runs", str(runs), "--results", str(results)]
    assert main(["study", "park", *where]) == 0
    out = capsys.readouterr().out
    assert "parked 1 unfinished run(s)" in out and "unet" in out and " now" in out
    assert main(["study", "park", *where]) == 0  # nothing newer to park
    assert "parked 0 unfinished run(s)" in capsys.readouterr().out
    shutil.rmtree(runs)  # a new machine
    table = {r.name: r for r in plan.planned_runs(1, ds, runs, results)}
    assert (table["unet"].status, table["unet"].epochs) == ("partial", 2)
    assert table["unet"].parked == parked_dir(results) / "unet"
    assert table["unet-wcce+dice"].status == "missing"
    listed = plan.plan_table([1], ds, runs, results).set_index("name")
    assert listed.loc["unet", "kept"] == "parked" and listed.loc["unet", "epochs"] == "2/3"
    lines: list[str] = []
    plan.run_plan([1], ds, runs, results, only=["unet"], n_boot=10, log=lines.append)
    assert "stage 1: unet: started, resuming after epoch 2" in lines
    assert f"stage 1: unet: restored from {parked_dir(results) / 'unet'}" in lines
    run = Run.load(runs / "plan" / "unet", ds)
    assert run.finished and run.history.index.tolist() == [0, 1, 2]
    assert (kept_dir(results) / "unet" / "metrics.json").exists()
    assert not (parked_dir(results) / "unet").exists()
