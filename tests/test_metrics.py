"""Per-class metrics: checked against scikit-learn on the flattened pixels."""

import numpy as np
import pytest
from sklearn.metrics import jaccard_score, precision_recall_fscore_support

from heatsink import metrics


@pytest.fixture
def masks():
    rng = np.random.default_rng(3)
    truth = [rng.choice(3, size=(40, 40), p=[0.9, 0.04, 0.06]) for _ in range(5)]
    pred = []
    for t in truth:
        p = t.copy()
        flip = rng.random(t.shape) < 0.1
        p[flip] = rng.choice(3, size=flip.sum())
        pred.append(p)
    return truth, pred


def test_scores_equal_sklearn_on_flattened_pixels(masks):
    truth, pred = masks
    scores = metrics.score_masks(zip(truth, pred, strict=True))
    y_true = np.concatenate([t.ravel() for t in truth])
    y_pred = np.concatenate([p.ravel() for p in pred])
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=[0, 1, 2], zero_division=np.nan
    )
    iou = jaccard_score(y_true, y_pred, labels=[0, 1, 2], average=None)
    pc = scores.per_class
    np.testing.assert_allclose(pc["precision"], precision)
    np.testing.assert_allclose(pc["recall"], recall)
    np.testing.assert_allclose(pc["dice"], f1)
    np.testing.assert_allclose(pc["iou"], iou)
    np.testing.assert_array_equal(pc["support"], support)
    assert scores.pixel_accuracy == pytest.approx((y_true == y_pred).mean())
    assert scores.miou == pytest.approx(iou.mean())
    assert scores.miou_defects == pytest.approx(iou[1:].mean())


def test_all_background_accuracy_is_the_background_share(masks):
    truth, _ = masks
    scores = metrics.score_masks((t, np.zeros_like(t)) for t in truth)
    share = np.mean(np.concatenate([t.ravel() for t in truth]) == 0)
    assert scores.pixel_accuracy == pytest.approx(share)
    assert scores.background_share == pytest.approx(share)
    assert scores.per_class.loc["scratch", "recall"] == 0
    assert np.isnan(scores.per_class.loc["stain", "precision"])  # nothing predicted: undefined


def test_absent_class_is_nan_not_perfect():
    truth = np.zeros((4, 4), np.uint8)
    truth[0, 0] = 2
    scores = metrics.score_masks([(truth, truth.copy())])
    assert np.isnan(scores.per_class.loc["scratch", "iou"])
    assert scores.per_class.loc["stain", "iou"] == 1.0
    assert scores.miou == 1.0


def test_row_normalised_confusion_has_recall_on_diagonal(masks):
    truth, pred = masks
    scores = metrics.score_masks(zip(truth, pred, strict=True))
    norm = metrics.normalise_rows(scores.confusion)
    np.testing.assert_allclose(norm.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(norm), scores.per_class["recall"])


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.pixel_confusion(np.zeros((4, 4)), np.zeros((4, 5)))


def test_per_image_scores_match_scoring_each_image_alone(masks):
    truth, pred = masks
    pairs = {f"{k:04d}": (t, p) for k, (t, p) in enumerate(zip(truth, pred, strict=True))}
    table = metrics.per_image_scores(pairs)
    assert list(table.index) == list(pairs)
    alone = metrics.score_masks([pairs["0002"]])
    assert table.loc["0002", "stain_iou"] == pytest.approx(alone.per_class.loc["stain", "iou"])
    assert table.loc["0002", "pixel_accuracy"] == pytest.approx(alone.pixel_accuracy)
