"""Class frequencies and the loss weights that counter the class imbalance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heatsink.classes import CLASS_NAMES


def class_weights(counts: pd.Series | np.ndarray, method: str = "balanced") -> pd.Series:
    """Per-class loss weights from pixel counts.

    Parameters
    ----------
    counts : Series or array of length n_classes
        Pixels per class (see :func:`heatsink.stats.pixel_counts`).
    method : {"balanced", "median_frequency", "inverse_sqrt"}
        ``balanced`` is scikit-learn's ``compute_class_weight("balanced")``,
        ``n / (n_classes * count)``, computed from the counts so that no per-pixel label array
        has to be built (``tests/test_imbalance.py`` checks it against scikit-learn);
        ``median_frequency`` is median(freq) / freq (Eigen & Fergus, 2015);
        ``inverse_sqrt`` is 1 / sqrt(freq), a milder correction. The last two are scaled so
        that the background weight is 1.

    Returns
    -------
    Series
        Weight per class name.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if np.any(counts <= 0):
        raise ValueError(f"every class needs at least one pixel to weight it, got {counts}")
    freq = counts / counts.sum()
    if method == "balanced":
        weights = counts.sum() / (len(counts) * counts)
    elif method == "median_frequency":
        weights = np.median(freq) / freq
        weights = weights / weights[0]
    elif method == "inverse_sqrt":
        weights = 1.0 / np.sqrt(freq)
        weights = weights / weights[0]
    else:
        raise ValueError(
            f"unknown method {method!r}: use 'balanced', 'median_frequency' or 'inverse_sqrt'"
        )
    return pd.Series(weights, index=list(CLASS_NAMES[: len(counts)]), name=method)


__all__ = [
    "class_weights",
]
