"""Result files: what a chapter writes is what the tables read back."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd

from heatsink.evaluate import evaluate_masks
from heatsink.results import load_model_results, model_table, save_model_results
from heatsink.train import TrainConfig


def _fake_run() -> SimpleNamespace:
    history = pd.DataFrame({"loss": [0.5, 0.4], "seconds": [1800.0, 1800.0]},
                           index=pd.Index([0, 1], name="epoch"))
    return SimpleNamespace(
        config=TrainConfig(epochs=2),
        metrics={"precision": "float32", "parameters": 1234, "best_epoch": 2,
                 "train_s_per_image": 0.25},
        history=history,
        record={"dataset": {"checksum": "abc"}, "git_sha": "def"},
    )


def test_saved_results_round_trip_into_the_model_table(tmp_path):
    truth = np.zeros((16, 16), np.uint8)
    truth[2:6, 2:6] = 2
    truth[10, 1:12] = 1
    pred = truth.copy()
    pred[10, 6:12] = 0  # half the scratch missed
    evaluations = {"labels": evaluate_masks([(str(k), truth, pred) for k in range(3)])}
    path = save_model_results(tmp_path, "toy", _fake_run(), evaluations, n_boot=20,
                              extra={"cpu_ms_per_image": 12.5})
    payload = json.loads(path.read_text())
    assert payload["train_hours"] == 1.0 and payload["epochs_trained"] == 2
    assert (tmp_path / "models" / "toy-val-confusion-labels.csv").exists()
    table = model_table(load_model_results(tmp_path), with_ci=False)
    assert table.loc["toy", "scratch_recall"] == round(100 * 5 / 11, 1)
    assert table.loc["toy", "stain_iou"] == 100.0
    assert table.loc["toy", "CPU ms/img"] == 12.5
    with_ci = model_table(load_model_results(tmp_path))
    assert with_ci.loc["toy", "stain_recall"] == "100.0 [100.0, 100.0]"


def test_label_noise_cap_is_truth_minus_labels_and_skips_label_only_results(tmp_path):
    from heatsink.results import label_noise_cap

    truth = np.zeros((16, 16), np.uint8)
    truth[2:6, 2:6] = 2
    truth[10, 1:12] = 1
    label = truth.copy()
    label[2:6, 2:6] = 0  # the labeller missed the stain
    pred = truth.copy()
    evaluations = {"labels": evaluate_masks([("0", label, pred)]),
                   "truth": evaluate_masks([("0", truth, pred)])}
    save_model_results(tmp_path, "twin", _fake_run(), evaluations, n_boot=5)
    save_model_results(tmp_path, "real", _fake_run(), {"labels": evaluations["labels"]},
                       n_boot=5)
    cap = label_noise_cap(load_model_results(tmp_path))
    assert cap.index.tolist() == ["twin"]
    # against the truth the prediction is perfect; against the label the stain is a
    # false alarm (stain IoU 0), so defect mIoU is (100 + 0) / 2
    assert cap.loc["twin", "truth"] == 100.0
    assert cap.loc["twin", "labels"] == 50.0
    assert cap.loc["twin", "gap"] == 50.0


def test_chapter_times_read_the_stamp_of_executed_notebooks_only(tmp_path):
    from heatsink.results import chapter_times

    stamp = {"started": "2026-11-25T04:00:00+00:00", "wall_time_s": 12.5,
             "git_sha": "0123456789abcdef", "dataset": {"checksum": "f" * 64},
             "parameters": {"profile": "full"}}
    (tmp_path / "01_a.ipynb").write_text(json.dumps({"metadata": {"heatsink": stamp},
                                                     "cells": []}))
    (tmp_path / "02_b.ipynb").write_text(json.dumps({"metadata": {}, "cells": []}))
    (tmp_path / "notes.ipynb").write_text(json.dumps({"metadata": {"heatsink": stamp}}))
    table = chapter_times(tmp_path)
    assert table.index.tolist() == ["01_a"]
    assert table.loc["01_a", "wall_time_s"] == 12.5
    assert table.loc["01_a", "git_sha"] == "0123456789"
    assert table.loc["01_a", "profile"] == "full"


def test_published_figures_are_quoted_with_a_source():
    from heatsink.published import SOURCES, published_table, published_wide

    table = published_table()
    assert set(table["source"]) <= set(SOURCES) and table["citation"].notna().all()
    wide = published_wide()
    assert wide.loc["ResNet50 U-Net", "stain_recall"] == 48.0
    assert wide.loc["GSLU (lightweight)", "gpu_ms_per_image"] == 14.115
