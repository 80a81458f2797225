"""Class masks from class probabilities, at a chosen operating point.

A segmentation net's argmax is one operating point among many. Adding a log-odds bias to
the defect classes before the argmax moves along the net's trade-off between defects found
and false alarms, as a score threshold does for a detector: a positive bias calls more
pixels defect, a negative one fewer. Comparing two nets at a single operating point cannot
tell a better net from a more cautious one; comparing them along the bias can.

A second knob acts on objects rather than pixels, as hysteresis thresholding does (Canny's
edges, :func:`skimage.filters.apply_hysteresis_threshold`): a defect object (a component of
one class, :mod:`heatsink.components`) is kept only where the net is sure of it somewhere,
its peak probability of that class reaching ``min_peak``; its extent stays the argmax's. A
low-confidence blob is dropped whole, while a confident object keeps its faint ends.
"""

from __future__ import annotations

import numpy as np

from heatsink.classes import DEFECTS
from heatsink.components import components

__all__ = ["decide", "keep_confident"]

#: Probabilities are floored here before the logarithm (a softmax in bfloat16 can give 0).
_FLOOR = 1e-7


def decide(probs: np.ndarray, defect_bias: float = 0.0, min_peak: float = 0.0) -> np.ndarray:
    """Class masks from class probabilities with ``defect_bias`` added to the defect classes'
    log-probabilities, keeping only the objects whose peak probability reaches ``min_peak``.

    Parameters
    ----------
    probs : ndarray
        Class probabilities, classes last (``(..., 3)``, in :data:`heatsink.classes.CLASS_NAMES`
        order).
    defect_bias : float
        Added to the log-probability of every defect class; 0 is the plain argmax.
    min_peak : float
        In [0, 1): a defect object is kept only if its class's probability reaches this
        somewhere in it (:func:`keep_confident`); 0 keeps every object.

    Returns
    -------
    ndarray
        uint8 class masks, ``probs``' shape without its last axis.

    Examples
    --------
    >>> p = np.array([[0.6, 0.3, 0.1]])
    >>> decide(p).tolist(), decide(p, 1.0).tolist(), decide(p, -5.0).tolist()
    ([0], [1], [0])
    >>> image = p.reshape(1, 1, 3)  # objects need images: one of 1 x 1 pixel
    >>> decide(image, 1.0).tolist(), decide(image, 1.0, min_peak=0.5).tolist()
    ([[1]], [[0]])
    """
    probs = np.asarray(probs)
    if probs.ndim < 1 or probs.shape[-1] != 1 + len(DEFECTS):
        raise ValueError(f"probs must have {1 + len(DEFECTS)} classes on the last axis, "
                         f"not shape {probs.shape}")
    if not np.isfinite(defect_bias):
        raise ValueError(f"defect_bias must be finite, not {defect_bias!r}")
    if not 0 <= min_peak < 1:
        raise ValueError(f"min_peak must be in [0, 1), not {min_peak!r}")
    if defect_bias == 0:
        masks = probs.argmax(axis=-1).astype(np.uint8)
    else:
        scores = np.log(np.maximum(probs.astype(np.float32, copy=False), _FLOOR))
        scores[..., [class_id for class_id, _ in DEFECTS]] += np.float32(defect_bias)
        masks = scores.argmax(axis=-1).astype(np.uint8)
    if min_peak == 0:
        return masks
    if masks.ndim < 2:
        raise ValueError(f"min_peak needs images (..., H, W, 3), not shape {probs.shape}")
    flat = masks.reshape(-1, *masks.shape[-2:])
    p = probs.reshape(-1, *probs.shape[-3:])
    for k in range(len(flat)):
        flat[k] = keep_confident(flat[k], p[k], min_peak)
    return flat.reshape(masks.shape)


def keep_confident(mask: np.ndarray, probs: np.ndarray, min_peak: float) -> np.ndarray:
    """``mask`` without the defect objects whose class probability stays below ``min_peak``.

    Parameters
    ----------
    mask : ndarray of shape (H, W)
        A class mask (0 background, then the :data:`heatsink.classes.DEFECTS` ids).
    probs : ndarray of shape (H, W, 3)
        The class probabilities the mask was decided from.
    min_peak : float
        An object of class ``c`` is kept when ``probs[..., c]`` reaches this at one of its
        pixels at least.

    Returns
    -------
    ndarray of shape (H, W), uint8
        A new mask; dropped objects become background.

    Examples
    --------
    >>> mask = np.array([[1, 1, 0, 2]], np.uint8)
    >>> probs = np.array([[[.3, .6, .1], [.1, .9, 0], [1, 0, 0], [.4, 0, .6]]])
    >>> keep_confident(mask, probs, 0.8).tolist()  # the stain never reaches 0.8
    [[1, 1, 0, 0]]
    """
    out = np.array(mask, dtype=np.uint8)
    for class_id, _ in DEFECTS:
        objects = components(out == class_id)
        if objects.n == 0:
            continue
        peak = np.zeros(objects.n + 1, np.float32)
        np.maximum.at(peak, objects.labels.ravel(), probs[..., class_id].ravel())
        weak = peak < min_peak
        weak[0] = False
        out[weak[objects.labels]] = 0
    return out
