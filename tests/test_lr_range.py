"""The learning-rate range test: its curve, its stopping rule and its suggestion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatsink.errors import HeatsinkError
from heatsink.models.lr_range import (
    LR_RANGE_COLUMNS,
    conclusive,
    lr_range,
    lr_schedule,
    plot_lr_range,
    suggest_lr,
)
from heatsink.models.run import TrainConfig

TINY = {"model": "unet", "image_size": 64, "batch_size": 4, "precision": "float32",
        "loss": "wcce+dice", "crop": 32, "augment": True, "model_kwargs": {"filters": 4}}


@pytest.fixture(scope="module")
def tiny_twin(tmp_path_factory):
    from heatsink.data import load_dataset
    from heatsink.synth import generate

    return load_dataset(generate(tmp_path_factory.mktemp("twin") / "twin", n=24, seed=1,
                                 progress=False))


def test_the_curve_has_one_row_per_step_at_exponentially_growing_rates(tiny_twin):
    frame = lr_range(TrainConfig(**TINY), tiny_twin, list(tiny_twin.ids)[:16], steps=6,
                     lr_min=1e-5, lr_max=1e-3)
    assert list(frame.columns) == list(LR_RANGE_COLUMNS)
    assert len(frame) == 6 and frame["step"].tolist() == list(range(6))
    assert frame["lr"].iloc[0] == pytest.approx(1e-5)
    assert frame["lr"].iloc[-1] == pytest.approx(1e-3)
    assert np.allclose(np.diff(np.log(frame["lr"])), np.log(100) / 5)
    assert np.isfinite(frame["loss"]).all()
    assert frame["smoothed"].iloc[0] == pytest.approx(frame["loss"].iloc[0])


def test_a_diverging_loss_stops_the_test(tiny_twin):
    frame = lr_range(TrainConfig(**TINY), tiny_twin, list(tiny_twin.ids)[:16], steps=40,
                     lr_min=1.0, lr_max=1e6)
    assert 1 < len(frame) < 40
    last = frame["smoothed"].iloc[-1]
    assert not np.isfinite(last) or last > 4 * frame["smoothed"].iloc[:-1].min()


def test_the_suggestion_is_a_tenth_of_the_rate_at_the_lowest_smoothed_loss():
    lr = np.logspace(-6, 0, 7)
    smoothed = [2.0, 1.5, 1.0, 0.5, 0.9, 3.0, np.nan]  # lowest at 1e-3; a diverged tail
    frame = pd.DataFrame({"step": range(7), "lr": lr, "loss": smoothed, "smoothed": smoothed})
    assert suggest_lr(frame) == pytest.approx(1e-4)
    with pytest.raises(HeatsinkError, match="no finite loss"):
        suggest_lr(frame.iloc[6:])


def test_bad_ranges_are_refused():
    with pytest.raises(HeatsinkError, match="lr_min < lr_max"):
        lr_schedule(1e-2, 1e-3, 10)
    with pytest.raises(HeatsinkError, match="at least 2 steps"):
        lr_schedule(1e-4, 1e-2, 1)


def test_the_plot_marks_the_suggestion():
    import matplotlib

    matplotlib.use("Agg")
    lr = np.logspace(-6, 0, 13)
    loss = (np.log10(lr) + 3) ** 2 + 1
    ax = plot_lr_range(pd.DataFrame({"lr": lr, "loss": loss, "smoothed": loss}), title="t")
    assert ax.get_xscale() == "log"
    assert any("suggested 1.0e-04" in t.get_text() for t in ax.get_legend().get_texts())


def test_a_curve_still_falling_at_the_largest_rates_is_inconclusive():
    lr = np.logspace(-6, 0, 100)
    falling = pd.DataFrame({"lr": lr, "smoothed": np.linspace(1.3, 1.2, 100)})
    assert not conclusive(falling)
    bowl = pd.DataFrame({"lr": lr, "smoothed": (np.log10(lr) + 2) ** 2})
    assert conclusive(bowl)


def test_a_low_first_batch_is_not_read_as_the_minimum():
    lr = np.logspace(-6, 0, 100)
    smoothed = (np.log10(lr) + 2) ** 2 / 10 + 1.0
    smoothed[0] = 0.5  # the first, unaveraged batch happened to be easy
    curve = pd.DataFrame({"lr": lr, "smoothed": smoothed})
    assert suggest_lr(curve) == pytest.approx(lr[np.argmin(smoothed[1:]) + 1] / 10)
    assert conclusive(curve)
