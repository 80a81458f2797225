"""Class weights against scikit-learn; the non-learned predictors on hand-made masks."""

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from heatsink import baselines, imbalance, stats


def test_balanced_weights_equal_sklearn():
    rng = np.random.default_rng(0)
    y = rng.choice(3, size=5000, p=[0.95, 0.02, 0.03])
    counts = np.bincount(y, minlength=3)
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(imbalance.class_weights(counts, "balanced"), expected)


@pytest.mark.parametrize("method", ["median_frequency", "inverse_sqrt"])
def test_rare_classes_weigh_more(method):
    w = imbalance.class_weights(np.array([970, 13, 17]), method)
    assert w["background"] == pytest.approx(1.0)
    assert w["scratch"] > w["stain"] > w["background"]


def test_weights_refuse_empty_class_and_unknown_method():
    with pytest.raises(ValueError, match="at least one pixel"):
        imbalance.class_weights(np.array([10, 0, 3]))
    with pytest.raises(ValueError, match="unknown method"):
        imbalance.class_weights(np.array([10, 1, 3]), "magic")


def test_pixel_counts_sum_over_masks():
    m = np.zeros((4, 4), np.uint8)
    m[0, :2] = 1
    m[3, 3] = 2
    counts = stats.pixel_counts([("a", m), ("b", m)])
    assert counts.tolist() == [26, 4, 2]


def test_grown_and_shifted():
    m = np.zeros((9, 9), np.uint8)
    m[4, 4] = 2
    m[0, 0] = 1
    g = baselines.grown(m, 1)
    assert (g == 2).sum() == 5 and g[4, 4] == 2  # a cross: the 3x3 ellipse kernel
    s = baselines.shifted(m, 2, -1)
    assert s[6, 3] == 2 and (s == 2).sum() == 1
    assert (s == 1).sum() == 0  # the scratch pixel left the frame
    assert (baselines.all_background(m) == 0).all()


def test_score_predictors_table():
    m = np.zeros((20, 20), np.uint8)
    m[5:8, 2:18] = 1
    m[12:16, 12:16] = 2
    table = baselines.score_predictors(
        {"a": m}, {"floor": baselines.all_background, "perfect": np.copy}
    )
    assert table.loc["perfect", "miou"] == 1.0
    assert table.loc["floor", "pixel_accuracy"] == pytest.approx((m == 0).mean())
    assert table.loc["floor", "scratch_recall"] == 0.0
