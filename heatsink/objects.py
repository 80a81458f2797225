"""Defect objects: the connected components of each class in a label mask.

This is the definition DatasetNinja uses for the real dataset's published statistics
(an object is a connected component of one class in the mask), so figures computed with
these functions can be put beside the published ones. Components are 8-connected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heatsink.classes import CLASS_NAMES, DEFECTS
from heatsink.components import components

OBJECT_COLUMNS = [
    "class_id",
    "class_name",
    "area_px",
    "area_pct",
    "bbox_h",
    "bbox_w",
    "top",
    "left",
    "cy",
    "cx",
]


def object_table(mask: np.ndarray) -> pd.DataFrame:
    """One row per defect object (connected component) in ``mask``.

    Parameters
    ----------
    mask : ndarray of shape (H, W)
        Label mask with values in {0, 1, 2}.

    Returns
    -------
    DataFrame
        Columns ``class_id, class_name, area_px, area_pct`` (percent of the image),
        ``bbox_h, bbox_w`` (pixels, inclusive extent as DatasetNinja counts it),
        ``top, left`` and the centroid ``cy, cx``.
    """
    mask = np.asarray(mask)
    total = mask.size
    rows = []
    for class_id, name in DEFECTS:
        binary = (mask == class_id).astype(np.uint8)
        n, _, stats, cents = components(binary)
        for k in range(1, n + 1):
            left, top, w, h, area = (int(v) for v in stats[k])
            rows.append(
                (class_id, name, area, 100.0 * area / total, h, w, top, left,
                 float(cents[k][1]), float(cents[k][0]))
            )
    return pd.DataFrame(rows, columns=OBJECT_COLUMNS)


def image_summary(mask: np.ndarray) -> dict[str, float]:
    """Per-image object counts and pixel shares for each defect class.

    Returns
    -------
    dict
        ``scratch_count, scratch_pct, stain_count, stain_pct`` (pct = percent of pixels).
    """
    mask = np.asarray(mask)
    out: dict[str, float] = {}
    for class_id, name in DEFECTS:
        binary = (mask == class_id).astype(np.uint8)
        out[f"{name}_count"] = components(binary).n
        out[f"{name}_pct"] = 100.0 * float(binary.mean())
    return out


def class_pixel_counts(mask: np.ndarray) -> np.ndarray:
    """Pixels of each class in ``mask``, as an array of length ``len(CLASS_NAMES)``."""
    return np.bincount(np.asarray(mask).ravel(), minlength=len(CLASS_NAMES))[: len(CLASS_NAMES)]


__all__ = [
    "OBJECT_COLUMNS",
    "class_pixel_counts",
    "image_summary",
    "object_table",
]
