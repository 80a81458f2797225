"""Class masks from class probabilities, at a chosen operating point.

A segmentation net's argmax is one operating point among many. Adding a log-odds bias to
the defect classes before the argmax moves along the net's trade-off between defects found
and false alarms, as a score threshold does for a detector: a positive bias calls more
pixels defect, a negative one fewer. Comparing two nets at a single operating point cannot
tell a better net from a more cautious one; comparing them along the bias can.
"""

from __future__ import annotations

import numpy as np

from heatsink.classes import DEFECTS

__all__ = ["decide"]

#: Probabilities are floored here before the logarithm (a softmax in bfloat16 can give 0).
_FLOOR = 1e-7


def decide(probs: np.ndarray, defect_bias: float = 0.0) -> np.ndarray:
    """Class masks from class probabilities with ``defect_bias`` added to the defect classes'
    log-probabilities.

    Parameters
    ----------
    probs : ndarray
        Class probabilities, classes last (``(..., 3)``, in :data:`heatsink.classes.CLASS_NAMES`
        order).
    defect_bias : float
        Added to the log-probability of every defect class; 0 is the plain argmax.

    Returns
    -------
    ndarray
        uint8 class masks, ``probs``' shape without its last axis.

    Examples
    --------
    >>> p = np.array([[0.6, 0.3, 0.1]])
    >>> decide(p).tolist(), decide(p, 1.0).tolist(), decide(p, -5.0).tolist()
    ([0], [1], [0])
    """
    probs = np.asarray(probs)
    if probs.ndim < 1 or probs.shape[-1] != 1 + len(DEFECTS):
        raise ValueError(f"probs must have {1 + len(DEFECTS)} classes on the last axis, "
                         f"not shape {probs.shape}")
    if not np.isfinite(defect_bias):
        raise ValueError(f"defect_bias must be finite, not {defect_bias!r}")
    if defect_bias == 0:
        return probs.argmax(axis=-1).astype(np.uint8)
    scores = np.log(np.maximum(probs.astype(np.float32, copy=False), _FLOOR))
    scores[..., [class_id for class_id, _ in DEFECTS]] += np.float32(defect_bias)
    return scores.argmax(axis=-1).astype(np.uint8)
