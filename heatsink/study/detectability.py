"""Which true defects a model finds, by how large and how marked they are.

Object recall is one number per class; on the twin it hides *which* defects go unfound. The
twin knows every defect's truth, so each one can be measured: its area and its contrast
against the plating around it (:func:`heatsink.synth.noise.object_contrast`, the measure the
twin's annotators use for their faint-defect criterion), and whether the prediction touches
it with its class (the object recall of :mod:`heatsink.evaluate`). Recall by contrast then
says how much of a shortfall is defects too faint to see in the image rather than a model
that could do better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from heatsink.classes import CLASS_NAMES
from heatsink.metrics import wilson_interval
from heatsink.synth.noise import object_contrast

if TYPE_CHECKING:
    from heatsink.data import Dataset

__all__ = ["CONTRAST_BINS", "FINDING_COLUMNS", "findings", "frame_findings", "recall_by",
           "recall_figure", "summary"]

#: Columns of :func:`frame_findings`.
FINDING_COLUMNS = ["image_id", "class", "area", "contrast", "found"]
#: Default contrast bins of :func:`recall_by` (relative to the surface's brightness).
CONTRAST_BINS = (0.0, 0.02, 0.04, 0.08, 0.16, np.inf)


def frame_findings(image: np.ndarray, truth: np.ndarray, pred: np.ndarray,
                   image_id: str = "") -> pd.DataFrame:
    """One row per true defect of a frame (an 8-connected component of one class).

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8
        The frame, BGR, at the truth's resolution.
    truth, pred : ndarray (H, W)
        The clean truth and the predicted class mask (0 background, 1 scratch, 2 stain).
    image_id : str
        Written in the ``image_id`` column.

    Returns
    -------
    DataFrame
        :data:`FINDING_COLUMNS`: the defect's class name, area in pixels, contrast
        (:func:`~heatsink.synth.noise.object_contrast`) and whether a predicted pixel of its
        class touches it.

    Examples
    --------
    >>> image = np.full((40, 40, 3), 100, np.uint8)
    >>> truth = np.zeros((40, 40), np.uint8)
    >>> truth[5:10, 5:10] = 2; truth[20:30, 20:30] = 2; image[20:30, 20:30, 2] = 70
    >>> pred = np.zeros_like(truth); pred[25, 25] = 2
    >>> frame_findings(image, truth, pred, "a")[["class", "area", "found"]].values.tolist()
    [['stain', 25, False], ['stain', 100, True]]
    """
    from heatsink.synth.contrast import labelled_objects

    rows = [(image_id, CLASS_NAMES[k], int(obj.sum()), object_contrast(image, truth, obj),
             bool((pred[obj] == k).any())) for k, obj in labelled_objects(truth)]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def findings(ds: Dataset, predicted: Mapping[str, np.ndarray],
             ids: Sequence[str] | None = None) -> pd.DataFrame:
    """:func:`frame_findings` over frames of a twin (which has a clean truth).

    ``predicted`` maps image ids to predicted masks at the truth's resolution
    (:func:`heatsink.models.predict.predict_masks`); ``ids`` defaults to its keys.
    """
    ids = list(predicted) if ids is None else list(ids)
    frames = [frame_findings(np.ascontiguousarray(ds.image(i)[..., ::-1]), ds.truth(i),
                             predicted[i], str(i)) for i in ids]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=FINDING_COLUMNS)


def recall_by(table: pd.DataFrame, column: str = "contrast",
              bins: Sequence[float] = CONTRAST_BINS) -> pd.DataFrame:
    """Object recall per class and per bin of ``column``, with Wilson 95 % intervals.

    Examples
    --------
    >>> table = pd.DataFrame({"class": ["stain"] * 4, "area": [10, 10, 90, 90],
    ...                       "contrast": [0.01, 0.01, 0.3, 0.3],
    ...                       "found": [False, True, True, True]})
    >>> recall_by(table)[["bin", "objects", "found", "recall"]].values.tolist()
    [['[0, 0.02)', 2, 1, 0.5], ['[0.16, inf)', 2, 2, 1.0]]
    """
    edges = list(bins)
    labels = [f"[{a:g}, {b:g})" for a, b in pairwise(edges)]
    binned = table.assign(bin=pd.cut(table[column], edges, right=False, labels=labels))
    rows = []
    for (cls, label), group in binned.groupby(["class", "bin"], observed=True, sort=True):
        k, n = int(group["found"].sum()), len(group)
        low, high = wilson_interval(k, n)
        rows.append({"class": cls, "bin": label, "objects": n, "found": k, "recall": k / n,
                     "low": low, "high": high,
                     "share": n / int((table["class"] == cls).sum())})
    out = pd.DataFrame(rows, columns=["class", "bin", "objects", "found", "recall", "low",
                                      "high", "share"])
    out["bin"] = pd.Categorical(out["bin"], categories=labels, ordered=True)
    return out


def recall_figure(by: pd.DataFrame, xlabel: str = "contrast against the surrounding plating"):
    """:func:`recall_by`'s table as a figure: recall per bin (in the bins' order) and class
    with its interval, the number of defects beside each point (the classes' overlay
    colours)."""
    import matplotlib.pyplot as plt

    from heatsink.classes import CLASS_NAMES, OVERLAY_COLOURS

    present = set(by["bin"])
    bins = [b for b in by["bin"].cat.categories if b in present]
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for k, (cls, rows) in enumerate(by.groupby("class", sort=False)):
        colour = np.array(OVERLAY_COLOURS[CLASS_NAMES.index(cls)]) / 255 * 0.8
        x = np.array([bins.index(b) for b in rows["bin"]]) + 0.1 * k
        ax.errorbar(x, rows["recall"], yerr=[rows["recall"] - rows["low"],
                                             rows["high"] - rows["recall"]],
                    fmt="o-", capsize=3, label=cls, color=colour)
        for xi, (n, recall) in zip(x, rows[["objects", "recall"]].itertuples(index=False),
                                   strict=True):
            ax.annotate(str(n), (xi, recall), textcoords="offset points", xytext=(6, -10),
                        fontsize=7, color=colour)
    ax.set_xticks(range(len(bins)), bins, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("object recall")
    ax.set_ylim(0, 1.05)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def summary(table: pd.DataFrame, threshold: float = CONTRAST_BINS[4]) -> list[str]:
    """One sentence per class: recall over all its defects, over those with a contrast of at
    least ``threshold`` and over the fainter ones, and their share of the class.

    >>> table = pd.DataFrame({"class": ["stain"] * 4, "contrast": [0.01, 0.01, 0.3, 0.3],
    ...                       "found": [False, True, True, True]})
    >>> print(summary(table)[0])  # doctest: +NORMALIZE_WHITESPACE
    stain: 75 % of 4 found; 100 % of the 2 with a contrast of at least 0.16, 50 % of the 2
    fainter ones (50 % of the class).
    """
    lines = []
    for cls, rows in table.groupby("class"):
        faint = rows[rows["contrast"] < threshold]
        marked = rows.drop(faint.index)

        def pct(part: pd.DataFrame) -> str:
            return f"{100 * part['found'].mean():.0f} %" if len(part) else "none"

        lines.append(f"{cls}: {pct(rows)} of {len(rows)} found; {pct(marked)} of the "
                     f"{len(marked)} with a contrast of at least {threshold:g}, {pct(faint)} "
                     f"of the {len(faint)} fainter ones ({100 * len(faint) / len(rows):.0f} % "
                     "of the class).")
    return lines
