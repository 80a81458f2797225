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
