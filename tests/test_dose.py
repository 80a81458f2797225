"""The noise-dose experiment (heatsink.study.dose) end to end at toy scale: tiny twins, a
U-Net of 4 filters trained one epoch on 64² inputs, resumed without training again."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest

from heatsink.errors import HeatsinkError
from heatsink.models.run import TrainConfig
from heatsink.study import dose as dose_mod
from heatsink.study.dose import DOSE_COLUMNS, DOSES, Dose, dose_curve, dose_experiment, dose_twin
from heatsink.synth import NoiseConfig

matplotlib.use("Agg")

TINY = TrainConfig(model="unet", image_size=64, batch_size=4, epochs=1, precision="float32",
                   model_kwargs={"filters": 4})
TOY_DOSES = [Dose("none", NoiseConfig.none()),
             Dose("faint", NoiseConfig(faint_contrast=0.08, faint_jitter=0.0))]


def test_the_ladder_has_four_doses_from_none_to_the_annotators_criterion():
    assert [d.name for d in DOSES] == ["none", "default", "double", "double+faint"]
    assert DOSES[0].noise == NoiseConfig.none() and DOSES[1].noise == NoiseConfig()
    assert DOSES[-1].noise.criterion and not any(d.noise.criterion for d in DOSES[:-1])
    with pytest.raises(HeatsinkError, match="plain folder name"):
        Dose("../up", NoiseConfig())


def test_a_dose_twin_is_made_once_and_another_setting_is_refused(tmp_path):
    dose = Dose("faint", NoiseConfig(faint_contrast=0.05))
    root = dose_twin(dose, tmp_path, n=6, seed=2, workers=1)
    stamp = (root / "twin.json").stat().st_mtime_ns
    assert dose_twin(dose, tmp_path, n=6, seed=2) == root
    assert (root / "twin.json").stat().st_mtime_ns == stamp  # reused, not generated again
    info = json.loads((root / "twin.json").read_text())
    assert info["noise"]["settings"]["faint_contrast"] == 0.05
    with pytest.raises(HeatsinkError, match=r"differs in \['noise'\]"):
        dose_twin(Dose("faint", NoiseConfig(faint_contrast=0.1)), tmp_path, n=6, seed=2)
    with pytest.raises(HeatsinkError, match=r"differs in \['n'\]"):
        dose_twin(dose, tmp_path, n=7, seed=2)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    base = tmp_path_factory.mktemp("dose")
    table = dose_experiment(TOY_DOSES, TINY, base / "twins", base / "runs", n=24, seed=1,
                            k=2, n_boot=20, workers=1)
    return base, table


def test_the_experiment_measures_each_dose(experiment):
    base, table = experiment
    assert list(table.columns) == DOSE_COLUMNS
    measures = ["error_share_images", "error_share_pixels", "miou_defects_labels",
                "miou_defects_truth", "miou_defects_truth_minus_labels",
                "cleanlab_precision_top20", "cleanlab_random"]
    assert table["measure"].tolist() == measures * 2
    assert table["dose"].tolist() == ["none"] * 7 + ["faint"] * 7
    value = table.set_index(["dose", "measure"])["value"]
    assert value["none", "error_share_images"] == 0 and value["none", "error_share_pixels"] == 0
    assert 0 < value["faint", "error_share_pixels"] < 1
    # with no noise labels and truth agree: the same score, no change
    none = value["none"]
    assert none["miou_defects_labels"] == pytest.approx(none["miou_defects_truth"])
    assert value["none", "miou_defects_truth_minus_labels"] == pytest.approx(0)
    assert np.isnan(value["none", "cleanlab_precision_top20"])
    assert not (base / "runs" / "none" / "label-quality-unet-k2").exists()  # nothing to find
    clean = table[(table["dose"] == "faint") & (table["measure"] == "cleanlab_precision_top20")]
    row = clean.iloc[0]
    assert row["n"] == 5 and 0 <= row["low"] <= row["value"] <= row["high"] <= 1  # 20 % of 24
    for dose in ("none", "faint"):
        run = base / "runs" / dose / "unet-64"
        assert (run / "metrics.json").exists() and (run / "val-per-image-truth.csv").exists()
        twin = json.loads((base / "twins" / dose / "twin.json").read_text())
        assert twin["n"] == 24 and twin["seed"] == 1
    # the faint dose's injected share is what its manifest says
    manifest = (base / "twins" / "faint" / "noise_manifest.csv").read_text().splitlines()[1:]
    images = {line.split(",")[0] for line in manifest}
    assert value["faint", "error_share_images"] == pytest.approx(len(images) / 24)


def test_a_second_call_trains_nothing_and_gives_the_same_table(experiment, monkeypatch):
    import heatsink.crossval
    import heatsink.train

    def refuse(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(heatsink.train, "train", refuse)
    monkeypatch.setattr(heatsink.crossval, "train", refuse, raising=False)
    base, table = experiment
    again = dose_experiment(TOY_DOSES, TINY, base / "twins", base / "runs", n=24, seed=1,
                            k=2, n_boot=20, workers=1)
    assert again.equals(table)


def test_the_dose_curve_draws_three_panels(experiment):
    import matplotlib.pyplot as plt

    _, table = experiment
    fig = dose_curve(table, title="toy")
    share, miou, cleanlab = fig.axes
    assert [t.get_text().split("\n")[0] for t in share.get_xticklabels()] == ["none", "faint"]
    assert "% px" in share.get_xticklabels()[1].get_text()
    assert len(miou.get_legend().get_texts()) == 2
    assert cleanlab.get_ylim() == (0, 100)
    plt.close(fig)


def test_doses_must_have_distinct_names(tmp_path):
    with pytest.raises(HeatsinkError, match="must differ"):
        dose_experiment([DOSES[0], DOSES[0]], TINY, tmp_path, tmp_path)
    assert dose_mod.run_name(TINY) == "unet-64"
