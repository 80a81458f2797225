"""Line speed: engines, timings, agreement, paired quality and the figure, on tiny models."""

from __future__ import annotations

import heatsink  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: split
import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from heatsink.data import load_dataset
from heatsink.errors import HeatsinkError
from heatsink.line.spec import load_spec
from heatsink.models import speed as engines_mod
from heatsink.study import speed
from heatsink.study.results import load_speed_results, save_speed_results, speed_file

matplotlib.use("Agg")

EXAMPLE_SPEC = Path(__file__).resolve().parents[1] / "specs" / "example.yaml"
SIZE = 64
#: The engines that can run here, cheapest first (tf2onnx exports take seconds each).
HERE = engines_mod.available_engines()
#: Frames the int8 engine is calibrated on (never the frames it is checked on).
CALIBRATION = list(np.random.default_rng(7).integers(0, 256, (4, SIZE, SIZE, 3), np.uint8))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny untrained light net and GSLU-style net, opened as stand-ins for missing runs."""
    folder = tmp_path_factory.mktemp("speed")
    runs = {"light": folder / "runs" / "light", "gslu": folder / "runs" / "gslu"}
    return speed.open_models(runs, stand_ins=folder / "stand-ins", stand_in_size=SIZE)


@pytest.fixture(scope="module")
def measured(models):
    machine = speed.machine_line(matmul_n=256)
    return speed.measure_speed(models, HERE, frame_size=SIZE, batches=(1, 2), repeats=2,
                               budget_s=0.5, machine=machine, calibration=CALIBRATION)


def test_a_missing_run_stops_with_one_message_naming_them_all(tmp_path):
    runs = {"light": tmp_path / "a", "gslu": tmp_path / "b"}
    with pytest.raises(HeatsinkError, match=r"2 of 2 runs: light .*a.*gslu .*b.*study train"):
        speed.open_models(runs)


def test_the_plan_names_the_stage1_study_loss_runs(tmp_path):
    from heatsink.study import plan

    runs = speed.plan_runs(tmp_path)
    assert list(runs) == list(plan.ENCODERS)
    assert runs["gslu"] == tmp_path / "plan" / "gslu-wcce+dice"


def test_stand_ins_are_untrained_run_folders_and_reused(models, tmp_path):
    item = models["light"]
    assert item.stand_in and item.image_size == SIZE and "@" in item.identity
    again = speed.stand_in_run(item.run.path, "light", SIZE)
    assert again == item.run.path


def test_unknown_and_impossible_engines_are_refused(models):
    item = models["light"]
    with pytest.raises(HeatsinkError, match="unknown engine"):
        engines_mod.engine_predictor(item.model, "tensorrt", SIZE)
    with pytest.raises(HeatsinkError, match="needs build"):
        if not engines_mod.engine_missing("keras-graph-bf16"):
            engines_mod.engine_predictor(item.model, "keras-graph-bf16", SIZE)
        else:
            raise HeatsinkError("needs build (no bf16 here: nothing to check)")


def test_speed_tables_have_the_promised_columns(models, measured):
    tables, machine = measured
    for name in ("models", "timing", "speed"):
        assert list(tables[name].columns) == speed.COLUMNS[name], name
    assert tables["models"]["model"].tolist() == ["light", "gslu"]
    assert (tables["models"]["parameters"] > 0).all()
    assert (tables["models"]["gflop_per_frame"] > 0).all()
    assert len(tables["timing"]) == 2 * len(HERE) * 2  # models × engines × batches
    table = tables["speed"]
    assert set(table["engine"]) == set(HERE) and (table["ms_batch1"] > 0).all()
    assert table["best_batch"].isin([1, 2]).all()
    assert (table["ms_best"] <= table["ms_batch1"] + 1e-9).all()
    float32 = table[table["precision"] == "float32"]
    assert (float32["peak_share_best"] > 0).all()
    for key in ("cpu", "cores", "flags", "load_before", "load_after", "peak_float32"):
        assert key in machine, key
    busy = {**machine, "load_before": 99.0, "other_cores": 1.5}
    idle = {**machine, "load_before": 99.0, "other_cores": 0.01}
    assert "loaded machine" in speed.hardware_text(busy)
    assert "loaded machine" not in speed.hardware_text(idle)  # the load average alone lies


def test_saved_and_read_back(measured, tmp_path):
    tables, machine = measured
    paths = save_speed_results(tmp_path, tables, machine)
    assert paths[-1].name == "machine.json" and speed_file(tmp_path, "speed") in paths
    back, machine_back = load_speed_results(tmp_path)
    pd.testing.assert_frame_equal(back["speed"], tables["speed"], check_dtype=False)
    assert machine_back["cpu"] == machine["cpu"] and "loaded" in machine_back
    with pytest.raises(HeatsinkError, match="unknown speed table"):
        save_speed_results(tmp_path, {"nonsense": tables["speed"]}, machine)


def test_each_engine_agrees_with_the_keras_model_and_keras_with_itself(models):
    rng = np.random.default_rng(0)
    frames = list(rng.integers(0, 256, (3, 80, 80, 3), dtype=np.uint8))
    table = speed.engine_agreement({"light": models["light"]}, frames, HERE,
                                   spec=load_spec(EXAMPLE_SPEC), batch_size=2,
                                   calibration=CALIBRATION)
    assert list(table.columns) == speed.COLUMNS["agreement"]
    assert table["engine"].tolist() == HERE
    itself = table.set_index("engine").loc["keras-graph"]
    assert itself["pixels_agree"] == 1.0 and itself["worst_frame"] == 1.0
    assert itself["verdicts_differ"] == 0
    float32 = table[table["engine"].isin(["keras-eager", "onnx", "openvino"])]
    assert (float32["pixels_agree"] > 0.99).all()


def test_int8_without_calibration_frames_is_skipped_and_says_why(models):
    if "openvino-int8" not in HERE:
        pytest.skip("openvino-int8 cannot run here")
    tables, machine = speed.measure_speed(
        {"light": models["light"]}, ["keras-graph", "openvino-int8"], frame_size=SIZE,
        batches=(1,), repeats=1, budget_s=0.1, machine=speed.machine_line(matmul_n=64))
    assert tables["speed"]["engine"].tolist() == ["keras-graph"]
    assert machine["engines_skipped"] == {"openvino-int8": "no calibration frames given"}
    table = speed.engine_agreement({"light": models["light"]}, CALIBRATION,
                                   ["keras-graph", "openvino-int8"])
    assert table["engine"].tolist() == ["keras-graph"]


def test_paired_quality_and_the_figure(models, measured, tmp_path):
    from conftest import write_dataset

    ds = load_dataset(write_dataset(tmp_path / "data", n=4, size=SIZE))
    evaluations = speed.run_evaluations(models, ds, ds.ids)
    quality = speed.quality_table(evaluations, n_boot=50)
    assert list(quality.columns) == speed.COLUMNS["quality"]
    assert quality["n_images"].tolist() == [4, 4]
    assert ((quality["low"] <= quality["value"]) & (quality["value"] <= quality["high"])).all()
    paired = speed.paired_quality(evaluations, "light", "gslu", n_boot=50)
    assert list(paired.columns) == speed.COLUMNS["paired"]
    row = paired.iloc[0]
    assert row["low"] <= row["difference"] <= row["high"]
    same = speed.paired_quality({"a": evaluations["light"], "b": evaluations["light"]},
                                "a", "b", n_boot=50).iloc[0]
    assert same["difference"] == 0 and same["within_margin"]
    with pytest.raises(HeatsinkError, match="no scores of 'unet'"):
        speed.paired_quality(evaluations, "unet", "gslu")
    tables, machine = measured
    int8 = speed.engine_quality(models, ds, ds.ids, "openvino-int8", CALIBRATION, n_boot=50)
    assert list(int8.columns) == speed.COLUMNS["engine_quality"]
    if "openvino-int8" in HERE:
        assert int8["model"].tolist() == ["light", "gslu"] and (int8["n_images"] == 4).all()
        row = int8.iloc[0]
        assert row["low"] <= row["difference"] <= row["high"]
        assert row["low_engine"] <= row["value_engine"] <= row["high_engine"]
        # the float32 side is predicted again through the same path: the stored scores
        assert row["value_float32"] == pytest.approx(float(quality.iloc[0]["value"]))
        assert row["difference"] == pytest.approx(row["value_engine"] - row["value_float32"])
    assert speed.engine_quality(models, ds, ds.ids, "openvino-int8").empty  # no calibration
    fig = speed.speed_quality_figure(tables["speed"], quality, machine, engine_quality=int8)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_title() == speed.hardware_text(machine)
    assert any(abs(line.get_xdata()[0] - speed.TARGET_MS) < 1e-9 for line in ax.get_lines()
               if len(line.get_xdata()) == 2)
    out = tmp_path / "fig.png"
    fig.savefig(out)
    assert out.stat().st_size > 0


def test_a_finished_run_reads_its_stored_scores_without_the_data(models, tmp_path,
                                                                 monkeypatch):
    item = models["gslu"]
    stored = object()
    monkeypatch.setattr(type(item.run), "finished", property(lambda self: True))
    monkeypatch.setattr(type(item.run), "evaluation", lambda self, reference: stored)
    assert speed.run_evaluations({"gslu": item}) == {"gslu": stored}


def test_mask_agreement_counts_defect_pixels():
    ref = np.zeros((4, 4), np.uint8)
    ref[0, :2] = 1
    pred = ref.copy()
    pred[0, 0] = 2
    result = engines_mod.mask_agreement([pred], [ref])
    assert result == {"frames": 1, "pixels_agree": 15 / 16, "worst_frame": 15 / 16,
                      "defect_pixels_agree": 0.5}
    assert np.isnan(engines_mod.mask_agreement([ref * 0], [ref * 0])["defect_pixels_agree"])
    with pytest.raises(ValueError):
        engines_mod.mask_agreement([ref], [])


def test_machine_json_says_when_the_machine_was_loaded(tmp_path):
    save_speed_results(tmp_path, {}, {"cores": 2, "load_before": 3.0, "load_after": 3.1})
    assert json.loads((tmp_path / "speed" / "machine.json").read_text())["loaded"] is True
    # load averages count the measurement's own threads: what other processes used decides
    save_speed_results(tmp_path, {}, {"cores": 2, "load_before": 0.6, "load_after": 2.2,
                                      "other_cores": 0.05})
    assert json.loads((tmp_path / "speed" / "machine.json").read_text())["loaded"] is False


def test_busy_seconds_count_our_own_work_in_the_machine_s():
    import os

    from heatsink.hardware import busy_seconds, other_cores

    start = busy_seconds()
    if start is None:
        pytest.skip("no /proc/stat here")
    t0 = os.times()
    while os.times().user - t0.user < 0.3:  # 0.3 s of our own CPU, however loaded the machine
        pass
    end = busy_seconds()
    own, machine = end[1] - start[1], end[0] - start[0]
    assert own >= 0.3 and machine >= own - 0.05  # the machine's count includes ours
    assert other_cores(start, end, 1.0) == pytest.approx(max(0.0, machine - own))


def test_the_chapter_has_its_parameters_and_a_smoke_entry():
    import jupytext

    from heatsink.study import runner

    source = Path(__file__).resolve().parents[1] / "notebooks" / "08_speed.py"
    defaults = runner.notebook_defaults(jupytext.read(source))
    for key in ("profile", "data", "results", "runs", "models", "compare", "engines",
                "frames", "stand_ins"):
        assert key in defaults, key
    assert defaults["models"] is None and defaults["stand_ins"] is False
    assert set(defaults["engines"]) == set(engines_mod.ENGINES)
    smoke = runner.profile_parameters("smoke", "08_speed", runner.load_profiles())
    assert smoke["stand_ins"] is True and set(smoke["models"]) == set(defaults["compare"])


def test_a_run_kept_without_its_model_is_timed_as_its_architecture(tmp_path):
    """A U-Net's run kept with the results without its weights: the chapter times its
    architecture, reads its stored scores and leaves it out of the engines' agreement."""
    from conftest import write_dataset
    from test_plan import write_range_test

    from heatsink.study import plan
    from heatsink.study.kept import keep_run, kept_dir
    from heatsink.train import train

    ds = load_dataset(write_dataset(tmp_path / "data", n=20, size=SIZE, parts=10))
    smoke, results = plan.PlanSettings.smoke(), tmp_path / "results"
    write_range_test(results, "light", 1e-2)
    config = plan.recipe_config("light", "wcce+dice", plan.family_lr(results, "light"), smoke)
    run = train(config, ds, tmp_path / "elsewhere" / "light", verbose=0, n_boot=5)
    keep_run(run.path, kept_dir(results) / "light-wcce+dice", model_limit_mb=0.0)
    wanted = speed.plan_runs(tmp_path / "runs", ["light"], results_dir=results, settings=smoke)
    assert wanted == {"light": kept_dir(results) / "light-wcce+dice"}
    item = speed.open_models(wanted)["light"]
    assert not item.weights and not item.stand_in
    assert item.identity == "light-wcce+dice@architecture"
    assert item.model.count_params() == run.model("best").count_params()
    frames = list(np.random.default_rng(0).integers(0, 256, (2, SIZE, SIZE, 3), np.uint8))
    assert speed.engine_agreement({"light": item}, frames, ["keras-graph"]).empty
    stored = speed.run_evaluations({"light": item})["light"]
    assert stored.summary().equals(run.evaluation("labels").summary())


def test_a_recipe_with_seeds_is_compared_by_its_mean_over_the_seeds_trained(tmp_path,
                                                                            monkeypatch):
    """The compared models' other seeds are the plan's runs of the same recipe; an
    unfinished seed is left out; the paired row says how many seeds and how far they
    spread."""
    from heatsink.evaluate import evaluate_masks
    from heatsink.models.run import Run
    from heatsink.study import plan

    truth = np.zeros((16, 16), np.uint8)
    truth[10, 1:12] = 1

    def scored(found: int):  # scratch pixels found in each of three frames
        pred = truth.copy()
        pred[10, 1 + found:12] = 0
        return evaluate_masks([(f"{k}", truth, pred) for k in range(3)])

    found = {"light-wcce+dice": 9, "light-wcce+dice-s1": 5, "gslu-wcce+dice": 11,
             "gslu-wcce+dice-s1": 11, "gslu-wcce+dice-s2": 11}
    runs = tmp_path / "runs"
    for model in ("light", "gslu"):
        for seed in (0, 1, 2):
            config = plan.recipe_config(model, plan.STUDY_LOSS, 1e-3, seed=seed)
            folder = plan.plan_dir(runs) / plan.plan_name(config)
            folder.mkdir(parents=True)
            (folder / "config.json").write_text(json.dumps(config.to_dict()))
    monkeypatch.setattr(Run, "finished", property(lambda self: self.path.name in found))
    monkeypatch.setattr(Run, "evaluation",
                        lambda self, reference="labels": scored(found[self.path.name]))
    seeds = speed.seed_evaluations(speed.plan_runs(runs, ["light", "gslu"]), runs)
    assert {m: sorted(s) for m, s in seeds.items()} == {"light": [0, 1], "gslu": [0, 1, 2]}
    table = speed.seed_scores(seeds, "scratch_recall")
    assert list(table.columns) == speed.COLUMNS["seeds"] and len(table) == 5
    light = table[table["model"] == "light"].set_index("seed")["value"]
    assert light.tolist() == pytest.approx([9 / 11, 5 / 11])
    row = speed.paired_quality({m: list(s.values()) for m, s in seeds.items()}, "light", "gslu",
                               measure="scratch_recall", n_boot=50).iloc[0]
    assert row["difference"] == pytest.approx(7 / 11 - 1)
    assert (row["seeds_a"], row["seeds_b"]) == (2, 3)
    assert row["seed_spread"] == pytest.approx(4 / 11)  # light's; gslu's seeds agree
    one = speed.paired_quality({m: s[0] for m, s in seeds.items()}, "light", "gslu",
                               measure="scratch_recall", n_boot=50).iloc[0]
    assert (one["seeds_a"], one["seeds_b"]) == (1, 1) and np.isnan(one["seed_spread"])
    half = speed.paired_quality({"light": list(seeds["light"].values()), "gslu": seeds["gslu"][0]},
                                "light", "gslu", measure="scratch_recall", n_boot=50).iloc[0]
    assert np.isnan(half["seed_spread"])  # one seed on a side: no spread to call against
