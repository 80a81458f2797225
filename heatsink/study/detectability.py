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

import cv2
import numpy as np
import pandas as pd

from heatsink.classes import CLASS_NAMES
from heatsink.metrics import wilson_interval
from heatsink.synth.noise import object_contrast

if TYPE_CHECKING:
    from heatsink.data import Dataset

__all__ = ["CONTRAST_BINS", "FINDING_COLUMNS", "findings", "frame_findings", "recall_by"]

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
    rows = []
    for k in (1, 2):
        n, labels = cv2.connectedComponents((truth == k).astype(np.uint8), connectivity=8)
        for j in range(1, n):
            obj = labels == j
            rows.append((image_id, CLASS_NAMES[k], int(obj.sum()),
                         object_contrast(image, truth, obj), bool((pred[obj] == k).any())))
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
    return pd.DataFrame(rows, columns=["class", "bin", "objects", "found", "recall", "low",
                                       "high", "share"])
