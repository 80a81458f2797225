"""Segmentation metrics that do not hide the defect classes behind the background.

The pixel confusion matrix comes from :func:`sklearn.metrics.confusion_matrix`, summed over
images so that a whole split never has to sit in memory as one flat array; every per-class
score is then read off that matrix:

* precision = TP / (TP + FP), recall = TP / (TP + FN)
* IoU (Jaccard) = TP / (TP + FP + FN), Dice (pixel F1) = 2 TP / (2 TP + FP + FN)
* mIoU = mean IoU over the classes (background included, as is usual), and over the defect
  classes only (``miou_defects``)

These equal scikit-learn's ``precision_recall_fscore_support`` and ``jaccard_score`` on the
flattened pixels (``tests/test_metrics.py`` checks it). A class absent from both truth and
prediction has undefined scores, reported as NaN rather than as 0 or 1.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from heatsink.classes import CLASS_NAMES

LABELS = list(range(len(CLASS_NAMES)))


def pixel_confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Pixel confusion matrix (rows: truth, columns: prediction) for one pair of masks."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"mask shapes differ: truth {y_true.shape}, prediction {y_pred.shape}")
    return confusion_matrix(y_true.ravel(), y_pred.ravel(), labels=LABELS).astype(np.int64)


def summed_confusion(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Sum of :func:`pixel_confusion` over ``(truth, prediction)`` mask pairs."""
    total = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for y_true, y_pred in pairs:
        total += pixel_confusion(y_true, y_pred)
    return total


def normalise_rows(cm: np.ndarray) -> np.ndarray:
    """Row-normalised confusion matrix: the share of each true class predicted as each class.

    The diagonal is then the per-class recall; this is the form the seed study shows.
    """
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, cm / rows, np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def class_ratios(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, IoU and Dice of each class, for one or a stack of confusion matrices.

    Parameters
    ----------
    cm : ndarray of shape (..., n_classes, n_classes)
        Rows are the truth, columns the prediction.

    Returns
    -------
    dict
        ``precision, recall, iou, dice, support, predicted``, each of shape
        (..., n_classes); a ratio whose denominator is 0 is NaN.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    fp = predicted - tp
    fn = support - tp
    return {
        "precision": _ratio(tp, predicted),
        "recall": _ratio(tp, support),
        "iou": _ratio(tp, tp + fp + fn),
        "dice": _ratio(2 * tp, 2 * tp + fp + fn),
        "support": support,
        "predicted": predicted,
    }


def summary_arrays(cms: np.ndarray) -> dict[str, np.ndarray]:
    """:meth:`SegmentationScores.summary`'s figures for a stack of confusion matrices.

    Vectorised over the leading axis, so a bootstrap scores all its resamples at once.

    Parameters
    ----------
    cms : ndarray of shape (n, n_classes, n_classes)

    Returns
    -------
    dict
        Each figure of the summary as an array of shape (n,).
    """
    cms = np.asarray(cms, dtype=np.float64)
    ratios = class_ratios(cms)
    total = cms.sum(axis=(-2, -1))
    with warnings.catch_warnings():  # a resample without any pixel of a class
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {
            "pixel_accuracy": np.trace(cms, axis1=-2, axis2=-1) / total,
            "all_background_accuracy": cms[..., 0, :].sum(axis=-1) / total,
            "miou": np.nanmean(ratios["iou"], axis=-1),
            "miou_defects": np.nanmean(ratios["iou"][..., 1:], axis=-1),
        }
    for k, name in enumerate(CLASS_NAMES[1:], start=1):
        for col in ("precision", "recall", "iou", "dice"):
            out[f"{name}_{col}"] = ratios[col][..., k]
    return out


def per_class_scores(cm: np.ndarray) -> pd.DataFrame:
    """Precision, recall, IoU, Dice and support per class, from a confusion matrix.

    Parameters
    ----------
    cm : ndarray of shape (n_classes, n_classes)
        Rows are the truth, columns the prediction (scikit-learn's convention).

    Returns
    -------
    DataFrame
        Indexed by class name; columns ``precision, recall, iou, dice, support, predicted``
        (support and predicted are pixel counts).
    """
    ratios = class_ratios(cm)
    ratios["support"] = ratios["support"].astype(np.int64)
    ratios["predicted"] = ratios["predicted"].astype(np.int64)
    return pd.DataFrame(ratios, index=pd.Index(CLASS_NAMES[: len(cm)], name="class"))


@dataclass(frozen=True)
class SegmentationScores:
    """Scores of a set of predicted masks against a set of reference masks.

    Attributes
    ----------
    confusion : ndarray
        Summed pixel confusion matrix (rows truth, columns prediction).
    per_class : DataFrame
        See :func:`per_class_scores`.
    """

    confusion: np.ndarray
    per_class: pd.DataFrame

    @property
    def pixel_accuracy(self) -> float:
        """Share of all pixels whose class is predicted right."""
        return float(np.trace(self.confusion) / self.confusion.sum())

    @property
    def background_share(self) -> float:
        """Pixel accuracy of predicting background everywhere: the floor accuracy must beat."""
        return float(self.confusion[0].sum() / self.confusion.sum())

    @property
    def miou(self) -> float:
        """Mean IoU over all classes present (background included)."""
        return float(np.nanmean(self.per_class["iou"].to_numpy()))

    @property
    def miou_defects(self) -> float:
        """Mean IoU over the defect classes only."""
        return float(np.nanmean(self.per_class["iou"].to_numpy()[1:]))

    def summary(self) -> pd.Series:
        """One row of headline figures, for tables comparing several predictors."""
        figures = summary_arrays(self.confusion[None])
        return pd.Series({key: float(values[0]) for key, values in figures.items()})


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (NaN, NaN when ``n`` is 0).

    The interval a rate measured on few items needs: an escape rate of 16 in 80 defective
    frames is known only to within about ±9 points.

    Examples
    --------
    >>> [round(100 * v, 1) for v in wilson_interval(16, 80)]
    [12.7, 30.0]
    >>> wilson_interval(0, 0)
    (nan, nan)
    """
    if n == 0:
        return math.nan, math.nan
    from scipy.stats import binomtest

    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def score_masks(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> SegmentationScores:
    """Score ``(truth, prediction)`` mask pairs pooled over all their pixels.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[0, 1], [2, 2]])
    >>> scores = score_masks([(truth, np.zeros_like(truth))])
    >>> round(scores.pixel_accuracy, 2), float(scores.per_class.loc["stain", "recall"])
    (0.25, 0.0)
    """
    cm = summed_confusion(pairs)
    return SegmentationScores(confusion=cm, per_class=per_class_scores(cm))


def per_image_scores(pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """Per-class scores of each image on its own.

    Parameters
    ----------
    pairs : dict
        Image id -> ``(truth, prediction)`` masks.

    Returns
    -------
    DataFrame
        Indexed by image id; columns ``<class>_<score>`` for every class and each of
        precision, recall, IoU and Dice, plus ``pixel_accuracy``. A class absent from an
        image's truth and prediction has NaN scores for that image.
    """
    rows = {}
    for image_id, (y_true, y_pred) in pairs.items():
        scores = score_masks([(y_true, y_pred)])
        row = {"pixel_accuracy": scores.pixel_accuracy}
        for name in scores.per_class.index:
            for col in ("precision", "recall", "iou", "dice"):
                row[f"{name}_{col}"] = float(scores.per_class.loc[name, col])
        rows[image_id] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("image_id")


__all__ = [
    "LABELS",
    "SegmentationScores",
    "class_ratios",
    "normalise_rows",
    "per_class_scores",
    "per_image_scores",
    "pixel_confusion",
    "score_masks",
    "summary_arrays",
    "summed_confusion",
    "wilson_interval",
]
