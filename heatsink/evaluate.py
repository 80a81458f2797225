"""Honest evaluation of a segmentation model: per-class pixel scores, objects, uncertainty.

Everything is scored at the resolution of the masks (320×320): a model that works at
256×256 has its class probabilities resized back (bilinearly) before the arg-max, so every
model is judged on the same pixels.

* Pixel scores come from the summed confusion matrix (:mod:`heatsink.metrics`, which uses
  scikit-learn): per-class precision, recall, IoU and Dice, mIoU, pixel accuracy and the
  accuracy of predicting background everywhere.
* Objects: a true connected component (8-connected, one class) counts as *found* when the
  prediction gives its class to at least one of its pixels; a predicted component with no
  true pixel of its class under it is a *false alarm*.
* Uncertainty: 95 % bootstrap intervals over images (the image is the unit that is sampled
  from the production line, not the pixel).
* On the synthetic twin the same predictions are scored against the labels as drawn and
  against the clean truth behind them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from heatsink.classes import CLASS_NAMES, DEFECTS
from heatsink.components import components
from heatsink.metrics import (
    SegmentationScores,
    per_class_scores,
    pixel_confusion,
    summary_arrays,
)

if TYPE_CHECKING:
    from heatsink.data import Dataset

#: Scores a bootstrap interval is computed for (keys of :meth:`Evaluation.summary`).
HEADLINE = (
    "pixel_accuracy",
    "miou",
    "miou_defects",
    "scratch_recall",
    "scratch_iou",
    "stain_recall",
    "stain_iou",
    "scratch_object_recall",
    "stain_object_recall",
)


def object_counts(truth: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    """Object-level detection counts for one image.

    Returns
    -------
    dict
        For each defect class ``c``: ``c_true`` (true components), ``c_found`` (true
        components touched by a prediction of their class), ``c_pred`` (predicted
        components) and ``c_false`` (predicted components with no true pixel of their class).
    """
    out: dict[str, int] = {}
    for class_id, name in DEFECTS:
        t = (truth == class_id).astype(np.uint8)
        p = (pred == class_id).astype(np.uint8)
        true, predicted = components(t), components(p)
        found = np.unique(true.labels[(true.labels > 0) & (p > 0)])
        hit = np.unique(predicted.labels[(predicted.labels > 0) & (t > 0)])
        out[f"{name}_true"] = true.n
        out[f"{name}_found"] = int(found.size)
        out[f"{name}_pred"] = predicted.n
        out[f"{name}_false"] = predicted.n - int(hit.size)
    return out


def _object_arrays(totals: np.ndarray, n_images: np.ndarray,
                   columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Object recall and false alarms per image from summed :func:`object_counts`.

    ``totals`` has one row per set of images (e.g. bootstrap resamples) and one column per
    count in ``columns``; ``n_images`` the number of images in each set.
    """
    column = {name: k for k, name in enumerate(columns)}
    out = {}
    for _, name in DEFECTS:
        true = totals[:, column[f"{name}_true"]]
        found = totals[:, column[f"{name}_found"]]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"{name}_object_recall"] = np.where(true > 0, found / np.where(true > 0, true, 1),
                                                    np.nan)
        out[f"{name}_false_alarms_per_image"] = (totals[:, column[f"{name}_false"]]
                                                 / np.maximum(n_images, 1))
    return out


def object_scores(counts: pd.DataFrame) -> dict[str, float]:
    """Object recall and false alarms per image, per defect class, pooled over the rows of
    ``counts`` (one row of :func:`object_counts` per image): ``<class>_object_recall`` (NaN
    without a true object) and ``<class>_false_alarms_per_image``."""
    totals = counts.to_numpy(dtype=np.float64).sum(axis=0)[None]
    arrays = _object_arrays(totals, np.array([len(counts)]), list(counts.columns))
    return {key: float(values[0]) for key, values in arrays.items()}


@dataclass
class Evaluation:
    """Predicted masks scored against one set of reference masks.

    Attributes
    ----------
    ids : list of str
        The images, in order.
    reference : str
        ``"labels"`` (as labelled) or ``"truth"`` (the twin's clean truth).
    confusions : ndarray of shape (n_images, 3, 3)
        Pixel confusion matrix of each image (rows truth, columns prediction).
    objects : DataFrame
        :func:`object_counts` of each image, indexed by image id.
    """

    ids: list[str]
    reference: str
    confusions: np.ndarray
    objects: pd.DataFrame
    _scores: SegmentationScores | None = field(default=None, repr=False)

    @property
    def scores(self) -> SegmentationScores:
        """Pixel scores pooled over all images."""
        if self._scores is None:
            cm = self.confusions.sum(axis=0)
            self._scores = SegmentationScores(confusion=cm, per_class=per_class_scores(cm))
        return self._scores

    def summary(self) -> pd.Series:
        """Headline pixel and object scores (fractions in [0, 1])."""
        row = self.scores.summary()
        for key, value in object_scores(self.objects).items():
            row[key] = value
        return row

    def bootstrap(self, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
        """Percentile bootstrap intervals over images for the :data:`HEADLINE` scores.

        Parameters
        ----------
        n_boot : int
            Number of resamples of the images (with replacement).
        level : float
            Coverage of the interval.
        seed : int
            Seed of the resampling.

        Returns
        -------
        DataFrame
            Indexed by score; columns ``value`` (on all images), ``low`` and ``high``.
        """
        draws = self.scores_weighted(resample_counts(len(self.ids), n_boot, seed), HEADLINE)
        low, high = nan_interval(draws, level, axis=0)
        value = self.summary()
        return pd.DataFrame(
            {"value": [value[k] for k in HEADLINE], "low": low, "high": high},
            index=pd.Index(HEADLINE, name="score"),
        )

    def scores_weighted(self, weights: np.ndarray, measures: Sequence[str]) -> np.ndarray:
        """``measures`` of many weighted sets of these images at once.

        Parameters
        ----------
        weights : ndarray of shape (n_sets, n_images)
            How many times each image counts in each set (a bootstrap resample's counts;
            a row of ones is all the images once).
        measures : sequence of str
            Keys of :meth:`summary`.

        Returns
        -------
        ndarray of shape (n_sets, len(measures))
        """
        weights = np.asarray(weights, dtype=np.float64)
        pixel = summary_arrays(np.tensordot(weights, self.confusions, axes=(1, 0)))
        objects = _object_arrays(weights @ self.objects.to_numpy(dtype=np.float64),
                                 weights.sum(axis=1), list(self.objects.columns))
        nan = np.full(len(weights), np.nan)
        return np.column_stack([pixel.get(k, objects.get(k, nan)) for k in measures])

    def to_table(self) -> pd.DataFrame:
        """Each image's confusion counts and object counts: what all the scores are made from.

        Columns ``cm_<true>_<predicted>`` (class indices) and :func:`object_counts`'s; the
        inverse of :meth:`from_table`. Numbers only: nothing of the images themselves.
        """
        n = len(CLASS_NAMES)
        flat = self.confusions.reshape(len(self.ids), n * n)
        columns = [f"cm_{t}_{p}" for t in range(n) for p in range(n)]
        frame = pd.DataFrame(flat, index=pd.Index(self.ids, name="image_id"), columns=columns)
        return frame.join(self.objects)

    @classmethod
    def from_table(cls, table: pd.DataFrame, reference: str) -> Evaluation:
        """An evaluation back from :meth:`to_table`'s frame (indexed by image id)."""
        n = len(CLASS_NAMES)
        columns = [f"cm_{t}_{p}" for t in range(n) for p in range(n)]
        confusions = table[columns].to_numpy(dtype=np.int64).reshape(len(table), n, n)
        ids = [str(i) for i in table.index]
        objects = table.drop(columns=columns).set_axis(pd.Index(ids, name="image_id"))
        return cls(ids=ids, reference=reference, confusions=confusions, objects=objects)

    def per_image(self) -> pd.DataFrame:
        """Per-image recall and IoU of each defect class, with the object counts."""
        cm = self.confusions.astype(np.float64)
        tp = np.diagonal(cm, axis1=1, axis2=2)
        support, predicted = cm.sum(axis=2), cm.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(support > 0, tp / support, np.nan)
            union = support + predicted - tp
            iou = np.where(union > 0, tp / union, np.nan)
        frame = pd.DataFrame(index=pd.Index(self.ids, name="image_id"))
        frame["pixel_accuracy"] = np.trace(cm, axis1=1, axis2=2) / cm.sum(axis=(1, 2))
        for class_id, name in DEFECTS:
            frame[f"{name}_recall"] = recall[:, class_id]
            frame[f"{name}_iou"] = iou[:, class_id]
        return frame.join(self.objects)


def nan_interval(draws: np.ndarray, level: float, axis: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The central ``level`` percentile interval of bootstrap ``draws``, NaN draws left out;
    NaN, without a warning, where every draw is NaN (a score that no resample defines, such
    as the recall of a class absent from every drawn image).

    >>> nan_interval(np.array([[1.0, np.nan], [3.0, np.nan]]), 0.5, axis=0)
    (array([1.5, nan]), array([2.5, nan]))
    """
    import warnings

    alpha = (1 - level) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "All-NaN slice encountered"
        return (np.nanquantile(draws, alpha, axis=axis),
                np.nanquantile(draws, 1 - alpha, axis=axis))


def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """How often each of ``n`` items is drawn in each of ``n_boot`` bootstrap resamples.

    Weighting per-item figures by one row gives that resample's figure, so several figures
    scored on the same rows share their draws (a paired comparison, or the classes of one
    table).

    Examples
    --------
    >>> counts = resample_counts(5, 3, seed=0)
    >>> counts.shape, counts.sum(axis=1).tolist()
    ((3, 5), [5, 5, 5])
    """
    rng = np.random.default_rng(seed)
    return np.stack([np.bincount(rng.integers(0, n, size=n), minlength=n)
                     for _ in range(n_boot)])


def paired_difference(
    a: Evaluation | Sequence[Evaluation], b: Evaluation | Sequence[Evaluation],
    measure: str = "miou_defects", n_boot: int = 1000, level: float = 0.95, seed: int = 0,
    same_reference: bool = True,
) -> dict[str, float]:
    """How much better ``a`` scores than ``b`` on the same images, with a paired interval.

    Two models scored on the same images are compared image by image: each bootstrap
    resample draws images with replacement and scores *both* models on that draw, so the
    interval of the difference reflects how consistently one beats the other, which
    separate intervals (and whether they overlap) do not.

    A recipe trained with several seeds is several models: given a sequence of evaluations
    for ``a`` or ``b``, its score is their mean, on every resample the same draw for each.
    The interval is then that of the difference of the seed means over images; how far the
    seeds themselves spread is apart (:mod:`heatsink.study.results.seeds`).

    Parameters
    ----------
    a, b : Evaluation or sequence of Evaluation
        The same images (in any order) against the same reference: two models (or two
        recipes, each a model per seed). Or, with ``same_reference=False``, one model's
        predictions against two references (the twin's clean truth and its labels), which is
        how much the labels' errors move it.
    measure : str
        A key of :meth:`Evaluation.summary` (pixel scores and object recalls).
    n_boot, level, seed
        As for :meth:`Evaluation.bootstrap`.

    Returns
    -------
    dict
        ``difference`` (a − b on all images), ``low``, ``high`` (percentile interval) and
        ``share_a_higher`` (the share of resamples in which ``a`` scores higher).

    Raises
    ------
    ValueError
        If the evaluations cover different images, or different references where
        ``same_reference``, or a side has none.
    """
    sides = [[x] if isinstance(x, Evaluation) else list(x) for x in (a, b)]
    if not all(sides):
        raise ValueError("a paired comparison needs at least one evaluation on each side")
    first, every = sides[0][0], [*sides[0], *sides[1]]
    if (any(sorted(ev.ids) != sorted(first.ids) for ev in every)
            or (same_reference and len({ev.reference for ev in every}) > 1)):
        raise ValueError("a paired comparison needs the same images against the same reference")
    sides = [[_reordered(ev, first.ids) for ev in side] for side in sides]
    everything = np.ones((1, len(first.ids)))
    counts = resample_counts(len(first.ids), n_boot, seed)  # the same draws for all

    def score(weights: np.ndarray, side: list[Evaluation]) -> np.ndarray:
        return np.mean([ev.scores_weighted(weights, [measure])[:, 0] for ev in side], axis=0)

    difference = (score(everything, sides[0]) - score(everything, sides[1]))[0]
    draws = score(counts, sides[0]) - score(counts, sides[1])
    low, high = nan_interval(draws, level)
    return {"difference": float(difference), "low": float(low), "high": float(high),
            "share_a_higher": float(np.mean(draws[~np.isnan(draws)] > 0))}


def _reordered(ev: Evaluation, ids: Sequence[str]) -> Evaluation:
    """``ev`` with its images in the order of ``ids`` (the same set)."""
    if list(ev.ids) == list(ids):
        return ev
    position = {i: k for k, i in enumerate(ev.ids)}
    order = [position[i] for i in ids]
    return Evaluation(ids=list(ids), reference=ev.reference, confusions=ev.confusions[order],
                      objects=ev.objects.iloc[order])


def evaluate_masks(
    pairs: Iterable[tuple[str, np.ndarray, np.ndarray]], reference: str = "labels"
) -> Evaluation:
    """Score ``(image_id, reference_mask, predicted_mask)`` triples.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((8, 8), np.uint8); truth[2:4, 2:4] = 2
    >>> ev = evaluate_masks([("a", truth, truth)])
    >>> float(ev.summary()["stain_object_recall"]), float(ev.summary()["stain_iou"])
    (1.0, 1.0)
    """
    ids, cms, objects = [], [], []
    for image_id, truth, pred in pairs:
        ids.append(str(image_id))
        cms.append(pixel_confusion(truth, pred))
        objects.append(object_counts(truth, pred))
    n = len(CLASS_NAMES)
    confusions = np.stack(cms) if cms else np.zeros((0, n, n), np.int64)
    table = pd.DataFrame(objects, index=pd.Index(ids, name="image_id"))
    return Evaluation(ids=ids, reference=reference, confusions=confusions, objects=table)


def evaluate_predictions(
    predictions: dict[str, np.ndarray], ds: Dataset, references: Sequence[str] | None = None
) -> dict[str, Evaluation]:
    """Score predicted masks against the labels and, on the twin, the clean truth.

    Parameters
    ----------
    predictions : dict
        Image id -> predicted mask at the mask resolution.
    ds : Dataset
        Where the reference masks come from.
    references : sequence of str, optional
        ``"labels"`` and/or ``"truth"``; default both where the dataset has the truth.

    Returns
    -------
    dict
        Reference name -> :class:`Evaluation`.
    """
    if references is None:
        references = ("labels", "truth") if ds.has_truth else ("labels",)
    out = {}
    for ref in references:
        read = ds.mask if ref == "labels" else ds.truth
        out[ref] = evaluate_masks(
            ((i, read(i), p) for i, p in predictions.items()), reference=ref
        )
    return out


def comparison_table(evaluations: dict[str, Evaluation], n_boot: int = 1000) -> pd.DataFrame:
    """The :data:`HEADLINE` scores with bootstrap intervals, one column group per entry.

    Parameters
    ----------
    evaluations : dict
        Name (a model, or a reference) -> :class:`Evaluation`.

    Returns
    -------
    DataFrame
        Indexed by score; a (name, value|low|high) column MultiIndex.
    """
    frames = {name: ev.bootstrap(n_boot=n_boot) for name, ev in evaluations.items()}
    return pd.concat(frames, axis=1)


__all__ = [
    "HEADLINE",
    "Evaluation",
    "comparison_table",
    "evaluate_masks",
    "evaluate_predictions",
    "nan_interval",
    "object_counts",
    "object_scores",
    "paired_difference",
    "resample_counts",
]
