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

from collections.abc import Mapping

import cv2
import numpy as np

from heatsink.classes import DEFECTS
from heatsink.components import components

__all__ = ["at_argmax", "decide", "drop_small", "keep_confident", "per_class"]

#: Probabilities are floored here before the logarithm (a softmax in bfloat16 can give 0).
_FLOOR = 1e-7


def per_class(value: float | Mapping[str, float], what: str) -> dict[str, float]:
    """``value`` for each defect class: one number for all, or a mapping by class name.

    Examples
    --------
    >>> per_class(1.5, "bias"), per_class({"stain": -1}, "bias")
    ({'scratch': 1.5, 'stain': 1.5}, {'scratch': 0.0, 'stain': -1.0})
    >>> per_class({"dent": 1}, "bias")
    Traceback (most recent call last):
    ...
    ValueError: bias: unknown class 'dent' (the defect classes are scratch, stain)
    """
    names = [name for _, name in DEFECTS]
    if not isinstance(value, Mapping):
        return dict.fromkeys(names, float(value))
    unknown = sorted(set(value) - set(names))
    if unknown:
        raise ValueError(f"{what}: unknown class {unknown[0]!r} "
                         f"(the defect classes are {', '.join(names)})")
    return {name: float(value.get(name, 0.0)) for name in names}


def at_argmax(defect_bias: float | Mapping[str, float] = 0.0, min_peak: float = 0.0,
              min_area: int | Mapping[str, int] = 0) -> bool:
    """Whether :func:`decide` with these knobs is the plain argmax (so that a caller may take
    the argmax where the probabilities are, e.g. inside a compiled graph).

    Examples
    --------
    >>> at_argmax(), at_argmax({"stain": 0.0}, min_area=1), at_argmax(min_area={"stain": 31})
    (True, True, False)
    """
    return (not min_peak and not any(per_class(defect_bias, "defect_bias").values())
            and all(a <= 1 for a in per_class(min_area, "min_area").values()))


def decide(probs: np.ndarray, defect_bias: float | Mapping[str, float] = 0.0,
           min_peak: float = 0.0, min_area: int | Mapping[str, int] = 0) -> np.ndarray:
    """Class masks from class probabilities with ``defect_bias`` added to the defect classes'
    log-probabilities, keeping only the objects whose peak probability reaches ``min_peak``
    and whose area reaches ``min_area``.

    Parameters
    ----------
    probs : ndarray
        Class probabilities, classes last (``(..., 3)``, in :data:`heatsink.classes.CLASS_NAMES`
        order).
    defect_bias : float or mapping
        Added to the log-probability of every defect class, or per class name (a class left
        out gets 0); 0 is the plain argmax.
    min_peak : float
        In [0, 1): a defect object is kept only if its class's probability reaches this
        somewhere in it (:func:`keep_confident`); 0 keeps every object.
    min_area : int or mapping
        Pixels: a defect object smaller than this (per class name, or one for all) is dropped
        after the other knobs (:func:`drop_small`); 0 keeps every object.

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
    >>> decide(p, {"stain": 2.0}).tolist(), decide(image, 1.0, min_area=2).tolist()
    ([2], [[0]])
    """
    probs = np.asarray(probs)
    if probs.ndim < 1 or probs.shape[-1] != 1 + len(DEFECTS):
        raise ValueError(f"probs must have {1 + len(DEFECTS)} classes on the last axis, "
                         f"not shape {probs.shape}")
    biases = per_class(defect_bias, "defect_bias")
    if not all(np.isfinite(b) for b in biases.values()):
        raise ValueError(f"defect_bias must be finite, not {defect_bias!r}")
    if not 0 <= min_peak < 1:
        raise ValueError(f"min_peak must be in [0, 1), not {min_peak!r}")
    areas = per_class(min_area, "min_area")
    if not all(a >= 0 for a in areas.values()):
        raise ValueError(f"min_area must be >= 0, not {min_area!r}")
    if not any(biases.values()):
        masks = probs.argmax(axis=-1).astype(np.uint8)
    else:
        scores = np.log(np.maximum(probs.astype(np.float32, copy=False), _FLOOR))
        for class_id, name in DEFECTS:
            scores[..., class_id] += np.float32(biases[name])
        masks = scores.argmax(axis=-1).astype(np.uint8)
    if min_peak == 0 and not any(areas.values()):
        return masks
    if masks.ndim < 2:
        raise ValueError(f"min_peak and min_area need images (..., H, W, 3), "
                         f"not shape {probs.shape}")
    flat = masks.reshape(-1, *masks.shape[-2:])
    p = probs.reshape(-1, *probs.shape[-3:])
    for k in range(len(flat)):
        if min_peak:
            flat[k] = keep_confident(flat[k], p[k], min_peak)
        if any(areas.values()):
            flat[k] = drop_small(flat[k], areas)
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


def drop_small(mask: np.ndarray, min_area: int | Mapping[str, int]) -> np.ndarray:
    """``mask`` without the defect objects of fewer than ``min_area`` pixels (one for every
    class, or per class name; 8-connected components of one class,
    :func:`heatsink.components.components`).

    Examples
    --------
    >>> mask = np.array([[1, 1, 0, 2], [0, 0, 0, 2], [2, 0, 0, 0]], np.uint8)
    >>> drop_small(mask, {"scratch": 3, "stain": 2}).tolist()
    [[0, 0, 0, 2], [0, 0, 0, 2], [0, 0, 0, 0]]
    """
    areas = per_class(min_area, "min_area")
    out = np.array(mask, dtype=np.uint8)
    for class_id, name in DEFECTS:
        if areas[name] <= 1:
            continue
        objects = components(out == class_id)
        if objects.n == 0:
            continue
        small = objects.stats[:, cv2.CC_STAT_AREA] < areas[name]
        small[0] = False
        out[small[objects.labels]] = 0
    return out
