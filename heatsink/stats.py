"""Dataset-level statistics: per-image and per-object tables, co-occurrence, heatmaps.

Every function takes an iterable of ``(image_id, mask)`` pairs, so it works on the real
dataset, the synthetic twin, the twin's clean truth or a model's predictions alike
(see :meth:`heatsink.data.Dataset.masks`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from heatsink.classes import CLASS_NAMES, DEFECTS
from heatsink.objects import class_pixel_counts, image_summary, object_table

MaskPairs = Iterable[tuple[str, np.ndarray]]


def image_table(masks: MaskPairs) -> pd.DataFrame:
    """One row per image: ``image_id, scratch_count, scratch_pct, stain_count, stain_pct``."""
    rows = [{"image_id": image_id, **image_summary(mask)} for image_id, mask in masks]
    return pd.DataFrame(rows)


def objects_table(masks: MaskPairs) -> pd.DataFrame:
    """One row per defect object over all images (see :func:`heatsink.objects.object_table`)."""
    frames = []
    for image_id, mask in masks:
        frame = object_table(mask)
        frame.insert(0, "image_id", image_id)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def cooccurrence(images: pd.DataFrame) -> pd.Series:
    """Images per class combination from an :func:`image_table`.

    Returns
    -------
    Series
        Counts indexed ``scratch only, stain only, both, neither``.
    """
    has_scratch = images["scratch_count"] > 0
    has_stain = images["stain_count"] > 0
    return pd.Series(
        {
            "scratch only": int((has_scratch & ~has_stain).sum()),
            "stain only": int((~has_scratch & has_stain).sum()),
            "both": int((has_scratch & has_stain).sum()),
            "neither": int((~has_scratch & ~has_stain).sum()),
        },
        name="images",
    )


def pixel_counts(masks: MaskPairs) -> pd.Series:
    """Pixels of each class over every mask."""
    total = np.zeros(len(CLASS_NAMES), dtype=np.int64)
    for _, mask in masks:
        total += class_pixel_counts(mask)
    return pd.Series(total, index=list(CLASS_NAMES), name="pixels")


def pixel_composition(masks: MaskPairs) -> pd.Series:
    """Share of all pixels (percent) that belong to each class, over every mask."""
    counts = pixel_counts(masks)
    return (100.0 * counts / counts.sum()).rename("pixel %")


def spatial_heatmaps(masks: MaskPairs) -> dict[str, np.ndarray]:
    """Per defect class, the fraction of images in which each pixel carries that class."""
    sums: dict[str, np.ndarray] = {}
    n = 0
    for _, mask in masks:
        for class_id, name in DEFECTS:
            hit = (np.asarray(mask) == class_id).astype(np.float64)
            sums[name] = sums[name] + hit if name in sums else hit
        n += 1
    return {name: total / max(n, 1) for name, total in sums.items()}


__all__ = [
    "MaskPairs",
    "cooccurrence",
    "image_table",
    "objects_table",
    "pixel_composition",
    "pixel_counts",
    "spatial_heatmaps",
]
