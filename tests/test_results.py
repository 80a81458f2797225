"""Result files: what a chapter writes is what the tables read back."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import fake_run, write_passfail

from heatsink.errors import HeatsinkError
from heatsink.evaluate import evaluate_masks
from heatsink.models import TrainConfig
from heatsink.study.results import (
    latency_fields,
    load_model_results,
    model_table,
    save_model_results,
)


def test_saved_results_round_trip_into_the_model_table(tmp_path):
    truth = np.zeros((16, 16), np.uint8)
    truth[2:6, 2:6] = 2
    truth[10, 1:12] = 1
    pred = truth.copy()
    pred[10, 6:12] = 0  # half the scratch missed
    evaluations = {"labels": evaluate_masks([(str(k), truth, pred) for k in range(3)])}
    path = save_model_results(tmp_path, "toy", fake_run(), evaluations, n_boot=20,
                              extra=latency_fields(12.5, device="CPU"))
    payload = json.loads(path.read_text())
    assert payload["train_hours"] == 1.0 and payload["epochs_trained"] == 2
    assert payload["trained_on"] == {"cpu": "trained here", "cores": 2}
    assert payload["scored_on"]["cores"] == os.cpu_count()
    assert (tmp_path / "models" / "toy-val-confusion-labels.csv").exists()
    table = model_table(load_model_results(tmp_path), with_ci=False)
    assert table.loc["toy", "scratch_recall"] == round(100 * 5 / 11, 1)
    assert table.loc["toy", "stain_iou"] == 100.0
    assert table.loc["toy", "CPU ms/img"] == 12.5
    with_ci = model_table(load_model_results(tmp_path))
    assert with_ci.loc["toy", "stain_recall"] == "100.0 [100.0, 100.0]"


def test_latency_columns_name_the_device_that_measured_them(tmp_path):
    eye = np.eye(4, dtype=np.uint8)
    evaluations = {"labels": evaluate_masks([("a", eye, eye)])}
    save_model_results(tmp_path, "on-gpu", fake_run(), evaluations, n_boot=5,
                       extra=latency_fields(3.0, device="GPU"))
    save_model_results(tmp_path, "older", fake_run(), evaluations, n_boot=5,
                       extra={"cpu_ms_per_image": 40.0})  # written before devices were named
    table = model_table(load_model_results(tmp_path), with_ci=False)
    assert table.loc["on-gpu", "GPU ms/img"] == 3.0
    assert table.loc["older", "CPU ms/img"] == 40.0
    assert pd.isna(table.loc["on-gpu", "CPU ms/img"])


def test_training_time_adds_the_fold_models_and_a_total(tmp_path):
    from heatsink.study.results import training_time

    assert training_time(tmp_path).empty
    mask = np.zeros((8, 8), np.uint8)
    mask[1, 1:7], mask[4:7, 4:7] = 1, 2
    evaluations = {"labels": evaluate_masks([("a", mask, mask)])}
    save_model_results(tmp_path, "toy", fake_run(), evaluations, n_boot=5)
    (tmp_path / "label_quality").mkdir()
    pd.DataFrame({"fold": [0, 1], "best_epoch": [2, 3], "epochs_trained": [3, 3],
                  "train_hours": [0.25, 0.5]}).to_csv(tmp_path / "label_quality" / "folds.csv",
                                                     index=False)
    table = training_time(tmp_path)
    assert table.index.tolist() == ["toy", "label-quality fold 0", "label-quality fold 1",
                                    "total"]
    assert table.loc["toy", "train_hours"] == 1.0  # two epochs of 1800 s
    assert table.loc["toy", "hardware"] == "trained here, 2 cores, no bf16"
    assert table.loc["total", "train_hours"] == 1.75
    assert table.loc["total", "epochs"] == 8


def test_label_noise_cap_is_truth_minus_labels_and_skips_label_only_results(tmp_path):
    from heatsink.study.results import label_noise_cap

    truth = np.zeros((16, 16), np.uint8)
    truth[2:6, 2:6] = 2
    truth[10, 1:12] = 1
    label = truth.copy()
    label[2:6, 2:6] = 0  # the labeller missed the stain
    pred = truth.copy()
    evaluations = {"labels": evaluate_masks([("0", label, pred)]),
                   "truth": evaluate_masks([("0", truth, pred)])}
    save_model_results(tmp_path, "twin", fake_run(), evaluations, n_boot=5)
    save_model_results(tmp_path, "real", fake_run(), {"labels": evaluations["labels"]},
                       n_boot=5)
    cap = label_noise_cap(load_model_results(tmp_path))
    assert cap.index.tolist() == ["twin"]
    # against the truth the prediction is perfect; against the label the stain is a
    # false alarm (stain IoU 0), so defect mIoU is (100 + 0) / 2
    assert cap.loc["twin", "truth"] == 100.0
    assert cap.loc["twin", "labels"] == 50.0
    assert cap.loc["twin", "gap"] == 50.0


def test_chapter_times_read_the_stamp_of_executed_notebooks_only(tmp_path):
    from heatsink.study.results import chapter_times

    stamp = {"started": "2026-11-25T04:00:00+00:00", "wall_time_s": 12.5,
             "git_sha": "0123456789abcdef", "dataset": {"checksum": "f" * 64},
             "parameters": {"profile": "full"},
             "hardware": {"cpu": "AMD EPYC", "cores": 2, "bf16": ["avx512_bf16"]}}
    (tmp_path / "01_a.ipynb").write_text(json.dumps({"metadata": {"heatsink": stamp},
                                                     "cells": []}))
    (tmp_path / "02_b.ipynb").write_text(json.dumps({"metadata": {}, "cells": []}))
    dirty = {**stamp, "git_sha": "0123456789abcdef-dirty"}
    (tmp_path / "03_c.ipynb").write_text(json.dumps({"metadata": {"heatsink": dirty}}))
    (tmp_path / "notes.ipynb").write_text(json.dumps({"metadata": {"heatsink": stamp}}))
    table = chapter_times(tmp_path)
    assert table.index.tolist() == ["01_a", "03_c"]
    assert table.loc["03_c", "git_sha"] == "0123456789-dirty"
    assert table.loc["01_a", "wall_time_s"] == 12.5
    assert table.loc["01_a", "git_sha"] == "0123456789"
    assert table.loc["01_a", "profile"] == "full"
    assert table.loc["01_a", "hardware"] == "AMD EPYC, 2 cores, avx512_bf16"


def test_published_figures_are_quoted_with_a_source():
    from heatsink.study.published import SOURCES, published_table, published_wide

    table = published_table()
    assert set(table["source"]) <= set(SOURCES) and table["citation"].notna().all()
    wide = published_wide()
    assert wide.loc["ResNet50 U-Net", "stain_recall"] == 48.0
    assert wide.loc["GSLU (lightweight)", "gpu_ms_per_image"] == 14.115


def test_side_by_side_pairs_twin_runs_with_their_published_models():
    from heatsink.study.published import side_by_side

    scores = {"pixel_accuracy": 0.97, "scratch_recall": 0.5, "stain_recall": 0.25}
    results = {"resnet50": {"scores": {"labels": scores}, "parameters": 32_000_000,
                            "cpu_ms_per_image": 200.0},
               "resnet50-wcce+dice": {"scores": {"labels": scores}, "parameters": 1}}
    table = side_by_side(results)
    assert table.index.tolist() == ["ResNet50 U-Net"]  # only runs with a published twin
    row = table.loc["ResNet50 U-Net"]
    assert row[("scratch_recall", "twin")] == 50.0
    assert row[("scratch_recall", "published")] == 40.0
    assert row[("parameters", "twin")] == 32_000_000
    assert np.isnan(row[("parameters", "published")])  # the seed gives none
    assert row[("ms/image", "twin (CPU, batch 1)")] == 200.0


def test_rank_orders_compares_the_order_of_models_not_their_values():
    from heatsink.study.published import rank_orders

    def run(accuracy, scratch, stain):
        return {"scores": {"labels": {"pixel_accuracy": accuracy, "scratch_recall": scratch,
                                      "stain_recall": stain}}}

    # published: accuracy tied at 97.8 for all three; ResNet50 > U-Net on both recalls
    results = {"unet": run(0.9712, 0.10, 0.60), "resnet50": run(0.9714, 0.30, 0.40),
               "vgg16": run(0.9701, 0.0, 0.0), "resnet50-focal+dice": run(1.0, 1.0, 1.0)}
    table = rank_orders(results)
    assert table.index.tolist() == ["pixel_accuracy", "scratch_recall", "stain_recall"]
    assert table.loc["pixel_accuracy", "published"] == (
        "U-Net (half width) = ResNet50 U-Net = VGG16 U-Net")
    # 97.12 and 97.14 are the same at the published precision; 97.01 is not
    assert table.loc["pixel_accuracy", "twin"] == (
        "U-Net (half width) = ResNet50 U-Net > VGG16 U-Net")
    assert table.loc["pixel_accuracy", "same order"] is None  # the seed gives no order
    assert table.loc["scratch_recall", "same order"]  # VGG16 has no published recall
    assert table.loc["stain_recall", "twin"] == "U-Net (half width) > ResNet50 U-Net"
    assert not table.loc["stain_recall", "same order"]
    assert rank_orders({"unet": run(0.9, 0.1, 0.1)}).empty  # nothing to order


def test_passfail_summary_reads_chapter_6s_files(tmp_path):
    from heatsink.study.results import passfail_summary

    assert passfail_summary(tmp_path).empty
    write_passfail(tmp_path)
    table = passfail_summary(tmp_path)
    row = table.loc[("test", "against labelled")]
    assert row["escapes"] == 1 and row["overkill"] == 2 and row["escape_rate"] == 0.25
    assert row["defective"] == 4 and row["good"] == 6
    # Wilson 95 % interval of 1 in 4: 0.0456 to 0.699 (a normal-approximation interval would
    # dip below zero)
    assert (round(row["escape_low"], 3), round(row["escape_high"], 3)) == (0.046, 0.699)
    truth = table.loc[("test", "against clean truth")]
    assert np.isnan(truth["escape_rate"]) and np.isnan(truth["escape_low"])


def test_passfail_rules_reads_the_rule_counts_and_escapes_per_rule(tmp_path):
    from heatsink.study.results import passfail_rules

    assert passfail_rules(tmp_path).empty
    write_passfail(tmp_path, rules=False)
    assert passfail_rules(tmp_path).empty  # a file from before the rule counts
    write_passfail(tmp_path)
    table = passfail_rules(tmp_path)
    assert list(table.columns) == ["predicted", "labelled", "clean truth",
                                   "escapes against labelled", "escapes against clean truth"]
    assert table.loc["scratch length", "predicted"] == 3
    assert table.loc["scratch length", "escapes against labelled"] == 1
    assert table["escapes against clean truth"].sum() == 0


def _configs(**runs: dict) -> dict[str, dict]:
    """Result payloads holding only a training configuration: the defaults, changed as given."""
    base = TrainConfig(model="gslu").to_dict()
    return {name: {"config": {**base, **changes}} for name, changes in runs.items()}


def test_loss_sweep_is_the_largest_group_differing_only_in_the_loss():
    from heatsink.study.results import loss_sweep

    results = _configs(**{
        "a": {"model": "resnet50", "loss": "wcce+dice"}, "b": {"model": "resnet50"},
        "c": {"model": "unet"}, "d": {"model": "resnet50", "loss": "focal+dice",
                                      "image_size": 320},
        "e": {"model": "gslu"}, "f": {"model": "gslu", "loss": "wcce+dice"},
        "g": {"model": "gslu", "loss": "focal+dice"}})
    # the names say nothing: the configurations do; cross-entropy first
    assert list(loss_sweep(results)) == ["e", "f", "g"]
    assert loss_sweep(_configs(a={"model": "unet"}, b={"model": "vgg16"})) == {}
    assert loss_sweep({"x": {}, "y": {}}) == {}  # no configuration, no group


def test_input_variants_pair_a_run_with_its_default_size_twin():
    from heatsink.study.results import input_variants

    results = _configs(**{
        "base": {"loss": "wcce+dice"},
        "big": {"loss": "wcce+dice", "image_size": 320, "augment": True},
        "other": {"loss": "focal+dice", "image_size": 320}})
    assert input_variants(results) == {"big": "base"}  # "other" has no base of its loss
    results = _configs(base={}, big={"image_size": 320, "epochs": 3})
    assert input_variants(results) == {}  # it differs in its epochs too
    results = _configs(base={}, big={"image_size": 320})
    assert input_variants(results) == {"big": "base"}


def test_the_chosen_model_is_recorded_not_inferred(tmp_path):
    from heatsink.study.results import choose_model, chosen_model, chosen_run

    mask = np.zeros((8, 8), np.uint8)
    mask[1, 1:7], mask[4:7, 4:7] = 1, 2
    worse = mask.copy()
    worse[4:7, 4:7] = 0
    with pytest.raises(HeatsinkError, match="no model chosen yet"):
        chosen_model(tmp_path)
    for name, pred in (("good", mask), ("bad", worse)):
        save_model_results(tmp_path, name, fake_run(),
                           {"labels": evaluate_masks([("a", mask, pred)])}, n_boot=5)
    assert choose_model(tmp_path) == "good"
    # a test-split file of another model changes nothing: the choice is a field
    save_model_results(tmp_path, "bad", fake_run(), {"labels": evaluate_masks(
        [("a", mask, worse)])}, split="test", n_boot=5)
    assert chosen_model(tmp_path) == "good"
    runs = tmp_path / "runs"
    with pytest.raises(HeatsinkError, match=r"no best\.keras"):
        chosen_run(tmp_path, runs)
    (runs / "good").mkdir(parents=True)
    (runs / "good" / "best.keras").write_bytes(b"")
    assert chosen_run(tmp_path, runs) == runs / "good"


def test_the_choice_can_be_narrowed_to_candidates_and_names_its_run_folder(tmp_path):
    from heatsink.study.results import choose_model, chosen_run

    mask = np.zeros((8, 8), np.uint8)
    mask[1, 1:7], mask[4:7, 4:7] = 1, 2
    worse = mask.copy()
    worse[4:7, 4:7] = 0
    for name, pred in (("good-s1", mask), ("fair", worse)):
        save_model_results(tmp_path, name, fake_run(),
                           {"labels": evaluate_masks([("a", mask, pred)])}, n_boot=5,
                           extra={"run_path": f"plan/{name}"})
    assert choose_model(tmp_path) == "good-s1"
    assert choose_model(tmp_path, candidates=["fair"], rule="seed 0 of the best mean") == "fair"
    chosen = json.loads((tmp_path / "models" / "chosen.json").read_text())
    assert chosen["candidates"] == ["fair"] and chosen["rule"] == "seed 0 of the best mean"
    assert chosen["run"] == "plan/fair"
    runs = tmp_path / "runs"
    (runs / "plan" / "fair").mkdir(parents=True)
    (runs / "plan" / "fair" / "best.keras").write_bytes(b"")
    assert chosen_run(tmp_path, runs) == runs / "plan" / "fair"
    with pytest.raises(HeatsinkError, match=r"candidate.*nothing"):
        choose_model(tmp_path, candidates=["nothing"])


def test_a_difference_is_called_only_beyond_the_seed_spread():
    from heatsink.study.results import called_difference, seed_table, stopping

    table = seed_table({"a": [0.40, 0.42, 0.44], "b": [0.30, 0.38, 0.31]})
    assert table.loc["a", "spread"] == pytest.approx(0.04)
    assert table.loc["b", "mean"] == pytest.approx(0.33)
    assert table.loc["a", "sd"] == pytest.approx(0.02)
    assert called_difference([0.40, 0.42, 0.44], [0.30, 0.32, 0.31]) == 1
    # means 0.09 apart, but b's seeds spread over 0.08 + a's 0.04: still called
    assert called_difference([0.40, 0.42, 0.44], [0.30, 0.38, 0.31]) == 1
    # means 0.03 apart within a spread of 0.04: not called, whatever the interval says
    assert called_difference([0.40, 0.42, 0.44], [0.38, 0.39, 0.40], (0.01, 0.05)) == 0
    assert called_difference([0.30, 0.31], [0.40, 0.41]) == -1
    assert called_difference([0.30, 0.31], [0.40, 0.41], (-0.2, 0.01)) == 0
    assert called_difference([0.5], [0.1]) == 0  # one seed: no spread to judge by
    assert stopping(12, 6, 6, 40) == {"best_epoch": 6, "epochs_trained": 12, "after_best": 6,
                                      "stop": "early stop"}
    assert stopping(40, 34, 6, 40)["stop"] == "cap"
    assert stopping(40, 39, 6, 40)["stop"] == "cap, still improving"
    assert stopping(8, None, None, 8)["stop"] == "cap, still improving"


def test_a_new_choice_removes_the_old_test_split_results(tmp_path):
    from heatsink.study.results import remove_model_results

    mask = np.zeros((8, 8), np.uint8)
    mask[1, 1:7], mask[4:7, 4:7] = 1, 2
    evaluations = {"labels": evaluate_masks([("a", mask, mask)])}
    for name in ("old", "new"):
        save_model_results(tmp_path, name, fake_run(), evaluations, split="test", n_boot=5)
    save_model_results(tmp_path, "old", fake_run(), evaluations, n_boot=5)
    removed = remove_model_results(tmp_path, "test", keep=("new",))
    assert sorted(p.name for p in removed) == ["old-test-confusion-labels.csv",
                                               "old-test-per-image-labels.csv", "old-test.json"]
    assert list(load_model_results(tmp_path, "test")) == ["new"]
    assert list(load_model_results(tmp_path, "val")) == ["old"]  # other splits untouched


def test_the_training_table_names_each_models_conditions(tmp_path):
    from heatsink.study.results import training_table

    mask = np.zeros((8, 8), np.uint8)
    mask[1, 1:7], mask[4:7, 4:7] = 1, 2
    evaluations = {"labels": evaluate_masks([("a", mask, mask)])}
    save_model_results(tmp_path, "toy", fake_run(), evaluations, n_boot=5)
    row = training_table(load_model_results(tmp_path)).loc["toy"]
    assert row["epochs"] == 2 and row["best epoch"] == 2 and row["encoder"] == "none (random init)"
    assert row["learning rate"] == fake_run().config.learning_rate
    assert row["trained on"] == "trained here, 2 cores, no bf16"


def test_score_intervals_match_the_table_and_fall_back_to_the_value(tmp_path):
    from heatsink.study.results import score_intervals

    truth = np.zeros((16, 16), np.uint8)
    truth[10, 1:12] = 1
    pred = truth.copy()
    pred[10, 6:12] = 0
    evaluations = {"labels": evaluate_masks([(str(k), truth, pred) for k in range(3)])}
    save_model_results(tmp_path, "toy", fake_run(), evaluations, n_boot=20)
    results = load_model_results(tmp_path)
    long = score_intervals(results, ["scratch_recall"]).iloc[0]
    assert long["value"] == 100 * 5 / 11
    assert model_table(results).loc["toy", "scratch_recall"] == (
        f"{long['value']:.1f} [{long['low']:.1f}, {long['high']:.1f}]")
    del results["toy"]["bootstrap"]
    bare = score_intervals(results, ["scratch_recall"]).iloc[0]
    assert bare["low"] == bare["high"] == bare["value"]


def three_models(directory: Path, n_boot: int = 5) -> dict[str, dict]:
    """Saved results of three toy models finding all, 5 of 11 and none of a scratch's
    pixels, and all of a stain's, on three identical images."""
    truth = np.zeros((16, 16), np.uint8)
    truth[10, 1:12], truth[2:6, 2:6] = 1, 2
    for name, found in (("good", 11), ("half", 5), ("none", 0)):
        pred = truth.copy()
        pred[10, 1 + found:12] = 0
        evaluations = {"labels": evaluate_masks([(str(k), truth, pred) for k in range(3)])}
        save_model_results(directory, name, fake_run(), evaluations, n_boot=n_boot)
    return load_model_results(directory)


def test_models_load_best_first_whatever_their_names(tmp_path):
    truth = np.zeros((16, 16), np.uint8)
    truth[10, 1:12], truth[2:6, 2:6] = 1, 2
    for name, found in (("a-misses", 0), ("b-half", 5), ("c-all", 11), ("d-all-too", 11)):
        pred = truth.copy()
        pred[10, 1 + found:12] = 0
        evaluations = {"labels": evaluate_masks([(str(k), truth, pred) for k in range(3)])}
        save_model_results(tmp_path, name, fake_run(), evaluations, n_boot=5)
    assert list(load_model_results(tmp_path)) == ["c-all", "d-all-too", "b-half", "a-misses"]


def test_the_paired_table_sets_the_best_against_every_other_model(tmp_path):
    from heatsink.study.results import paired_table

    results = three_models(tmp_path)
    table = paired_table(tmp_path, results, n_boot=50)
    assert table.index.name == "good against" and sorted(table.index) == ["half", "none"]
    # defect mIoU = (scratch IoU + stain IoU 1) / 2
    assert table.loc["none", "lead"] == pytest.approx(100 * (1 - 0.5))
    assert table.loc["half", "lead"] == pytest.approx(100 * (1 - (5 / 11 + 1) / 2))
    assert (table["share_best_higher"] == 1.0).all()
    assert paired_table(tmp_path, {"good": results["good"]}).empty


def test_a_per_image_file_left_from_another_run_is_not_used(tmp_path):
    from heatsink.study.results import load_evaluation

    truth = np.zeros((16, 16), np.uint8)
    truth[10, 1:12], truth[2:6, 2:6] = 1, 2
    half = truth.copy()
    half[10, 6:12] = 0
    this_run = {"labels": evaluate_masks([(str(k), truth, half) for k in range(3)])}
    save_model_results(tmp_path, "toy", fake_run(), this_run, n_boot=5)
    assert load_evaluation(tmp_path, "toy").summary().equals(this_run["labels"].summary())
    other = evaluate_masks([(str(k), truth, truth) for k in range(3)])
    other.to_table().to_csv(tmp_path / "models" / "toy-val-per-image-labels.csv")
    assert load_evaluation(tmp_path, "toy") is None  # its scores are not the stored ones
    assert load_evaluation(tmp_path, "toy", reference="truth") is None  # never saved


def test_the_model_figure_puts_the_best_on_top_beside_the_all_background_floor(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from heatsink.study.figures import model_scores_figure

    results = three_models(tmp_path, n_boot=20)
    fig = model_scores_figure(results, title="toy")
    accuracy, recall, iou = fig.axes
    assert iou.get_title() == "IoU per defect class"
    assert [t.get_text() for t in accuracy.get_yticklabels()] == ["none", "half", "good"]
    floor = [line for line in accuracy.get_lines() if line.get_linestyle() == "--"]
    assert floor[0].get_xdata()[0] == pytest.approx(
        100 * results["good"]["scores"]["labels"]["all_background_accuracy"])
    scratch = next(line for line in recall.get_lines() if line.get_label() == "scratch")
    assert list(scratch.get_xdata()) == pytest.approx([0, 100 * 5 / 11, 100])  # none..good
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "background everywhere", "scratch", "stain"]
    with pytest.raises(ValueError, match="no model results"):
        model_scores_figure({})


def test_an_earlier_comparison_is_kept_once_and_set_beside_the_current_one(tmp_path):
    from heatsink.study.results import (
        changed_findings,
        keep_previous,
        previous_dir,
        protocol_changes,
    )

    mask = np.zeros((8, 8), np.uint8)
    mask[1, 1:7], mask[4:7, 4:7] = 1, 2
    worse = mask.copy()
    worse[4:7, 4:7] = 0
    with pytest.raises(HeatsinkError, match="no model results"):
        keep_previous(tmp_path, "old", {})
    for name, pred in (("a", mask), ("b", worse)):
        save_model_results(tmp_path, name, fake_run(),
                           {"labels": evaluate_masks([("x", mask, pred)])}, n_boot=5)
    kept = keep_previous(tmp_path, "old", {"commit": "abc"})
    assert kept == previous_dir(tmp_path, "old") == tmp_path / "previous" / "old"
    assert json.loads((kept / "source.json").read_text()) == {"commit": "abc"}
    with pytest.raises(HeatsinkError, match="kept once"):
        keep_previous(tmp_path, "old", {})
    # now b is trained otherwise and beats a; a is no longer compared
    for path in (tmp_path / "models").glob("a-*"):
        path.unlink()
    save_model_results(tmp_path, "b", fake_run(),
                       {"labels": evaluate_masks([("x", mask, mask)])}, n_boot=5)
    payload = json.loads((tmp_path / "models" / "b-val.json").read_text())
    payload["config"]["epochs"] = 40
    payload["dataset_checksum"] = "f" * 64  # and another twin
    (tmp_path / "models" / "b-val.json").write_text(json.dumps(payload))
    then = load_model_results(kept)
    table = protocol_changes(then, load_model_results(tmp_path))
    assert table.index.tolist() == ["b", "a"]  # the current models first
    before = then["b"]["dataset_checksum"][:12]
    assert table.loc["b", "changed"] == (f"data: {before} → ffffffffffff; "
                                         f"epochs: {fake_run().config.epochs} → 40")
    assert table.loc["b", "change"] == pytest.approx(table.loc["b", "now"]
                                                     - table.loc["b", "then"])
    assert table.loc["b", "change"] > 0 and np.isnan(table.loc["a", "now"])
    conclusions = changed_findings(kept, tmp_path, topics=["imbalance", "best_model"],
                                   n_boot=5)
    assert conclusions.loc["best_model", "then"] == "Best on validation: a."
    assert conclusions.loc["best_model", "now"] == ""  # one model: no best-model finding
    assert bool(conclusions.loc["best_model", "changed"])
