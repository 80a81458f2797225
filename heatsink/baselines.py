"""Predictors that involve no learning, to calibrate what a score means.

They answer questions such as "what does predicting background everywhere score?" and
"how much does a 2-pixel-wide error on a thin scratch cost in IoU but not in accuracy?".
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pandas as pd

from heatsink.classes import BACKGROUND
from heatsink.metrics import score_masks


def all_background(mask: np.ndarray) -> np.ndarray:
    """Predict background for every pixel."""
    return np.full_like(np.asarray(mask), BACKGROUND)


def grown(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Grow every defect region by ``pixels`` (a prediction that is right but too fat).

    Where two classes' growth meets, the class that was there keeps its pixels and the
    stain class wins over scratch on new ones.
    """
    mask = np.asarray(mask)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    out = mask.copy()
    for class_id in (1, 2):
        grown_class = cv2.dilate((mask == class_id).astype(np.uint8), kernel).astype(bool)
        out[grown_class & (mask == BACKGROUND)] = class_id
    return out


def shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift the whole mask by ``(dy, dx)`` pixels (a prediction that is right but misplaced).

    Pixels shifted in from outside the frame are background.
    """
    mask = np.asarray(mask)
    out = np.full_like(mask, BACKGROUND)
    h, w = mask.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = mask[ys, xs]
    return out


def score_predictors(
    truth_masks: dict[str, np.ndarray],
    predictors: dict[str, Callable[[np.ndarray], np.ndarray]],
) -> pd.DataFrame:
    """Score each non-learned predictor against the same reference masks.

    Parameters
    ----------
    truth_masks : dict
        Image id -> reference mask.
    predictors : dict
        Name -> function from a reference mask to a predicted mask.

    Returns
    -------
    DataFrame
        One row per predictor: :meth:`heatsink.metrics.SegmentationScores.summary`.
    """
    rows = {
        name: score_masks((m, predict(m)) for m in truth_masks.values()).summary()
        for name, predict in predictors.items()
    }
    return pd.DataFrame(rows).T


__all__ = [
    "all_background",
    "grown",
    "score_predictors",
    "shifted",
]
