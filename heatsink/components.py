"""Connected components: the one definition of an *object* used everywhere in the package.

An object is an 8-connected component of one class in a mask, as DatasetNinja counts the
real dataset's objects. Statistics (:mod:`heatsink.objects`), evaluation
(:mod:`heatsink.evaluate`), the line's measurements (:mod:`heatsink.line.measurements`),
label checks (:mod:`heatsink.label_quality`) and the twin's generator all call
:func:`components`, so that an object means the same thing in each of them.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

#: Pixel connectivity of an object: 8 (diagonal neighbours belong to the same object).
CONNECTIVITY = 8


class Components(NamedTuple):
    """The objects of a binary mask.

    Attributes
    ----------
    n : int
        Number of objects (the background is not one).
    labels : ndarray of shape (H, W), int32
        0 on the background, ``k`` on the pixels of object ``k`` (1 … n).
    stats : ndarray of shape (n + 1, 5), int32
        Per label (row 0 is the background): ``left, top, width, height, area`` in
        pixels, OpenCV's ``CC_STAT_*`` columns.
    centroids : ndarray of shape (n + 1, 2), float64
        Per label: ``x, y``.
    """

    n: int
    labels: np.ndarray
    stats: np.ndarray
    centroids: np.ndarray


def components(binary: np.ndarray) -> Components:
    """The 8-connected components of the non-zero pixels of ``binary``.

    Parameters
    ----------
    binary : array_like of shape (H, W)
        Any numeric or boolean array; non-zero pixels are foreground.

    Returns
    -------
    Components

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((5, 5), bool)
    >>> mask[0, 0] = mask[1, 1] = True  # diagonal neighbours: one object
    >>> mask[4, 4] = True
    >>> found = components(mask)
    >>> found.n, found.stats[1:, 4].tolist()
    (2, [2, 1])
    """
    binary = (np.asarray(binary) != 0).astype(np.uint8)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(
        binary, connectivity=CONNECTIVITY)
    return Components(int(count) - 1, labels, stats, centroids)


__all__ = ["CONNECTIVITY", "Components", "components"]
