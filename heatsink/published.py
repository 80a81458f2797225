"""Published figures on the real dataset, quoted with their source (never our own runs).

The study runs on a synthetic twin; the only figures about the real heat-sink images are
those their authors published. They are kept here, in one place, as quotations: value,
what it measures, on which split, and where it is printed, so the book can set them beside
the twin's figures without ever presenting them as a result of this code.
"""

from __future__ import annotations

import pandas as pd

#: Where each quoted figure comes from (keys of :data:`PUBLISHED`'s ``source``).
SOURCES = {
    "seed": "the seed study (blog post), validation split; ../shared/seed/study.txt",
    "paper": "Yang et al., IEEE TIM 2022 (yang2022heatsink); split not restated here",
}

#: ``(model, measure, value, unit, split, source)``; values exactly as published.
PUBLISHED: tuple[tuple[str, str, float, str, str, str], ...] = (
    ("U-Net (half width)", "pixel_accuracy", 97.8, "%", "val", "seed"),
    ("ResNet50 U-Net", "pixel_accuracy", 97.8, "%", "val", "seed"),
    ("VGG16 U-Net", "pixel_accuracy", 97.8, "%", "val", "seed"),
    ("U-Net (half width)", "scratch_recall", 25.0, "%", "val", "seed"),
    ("U-Net (half width)", "stain_recall", 43.0, "%", "val", "seed"),
    ("ResNet50 U-Net", "scratch_recall", 40.0, "%", "val", "seed"),
    ("ResNet50 U-Net", "stain_recall", 48.0, "%", "val", "seed"),
    ("GSLU (lightweight)", "pixel_accuracy", 97.96, "%", "", "paper"),
    ("GSLU (lightweight)", "parameters", 276_000, "", "", "paper"),
    ("GSLU (lightweight)", "gpu_ms_per_image", 14.115, "ms", "RTX 2070", "paper"),
)


def published_table() -> pd.DataFrame:
    """The quoted figures as a table: one row per (model, measure), with its source.

    Returns
    -------
    DataFrame
        Columns ``model, measure, value, unit, split, source, citation``.
    """
    table = pd.DataFrame(list(PUBLISHED),
                         columns=["model", "measure", "value", "unit", "split", "source"])
    table["citation"] = table["source"].map(SOURCES)
    return table


def published_wide() -> pd.DataFrame:
    """The quoted figures, one row per model and one column per measure (NaN: not given)."""
    return published_table().pivot_table(index="model", columns="measure", values="value",
                                         sort=False)
