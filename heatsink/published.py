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


#: The study's model names for the published models (twin run name -> published name).
TWIN_NAMES = {
    "unet": "U-Net (half width)",
    "resnet50": "ResNet50 U-Net",
    "vgg16": "VGG16 U-Net",
    "gslu": "GSLU (lightweight)",
}

_SIDE_BY_SIDE = ("pixel_accuracy", "scratch_recall", "stain_recall", "parameters")


def side_by_side(results: dict[str, dict], reference: str = "labels") -> pd.DataFrame:
    """The twin's figures for the published models beside the published real-data figures.

    Parameters
    ----------
    results : dict
        :func:`heatsink.results.load_model_results` of the validation split.
    reference : str
        Which of the twin's references to show (``"labels"``, as the published figures
        are against the real labels).

    Returns
    -------
    DataFrame
        One row per published model the twin run has; columns ``(measure, "twin")`` and
        ``(measure, "published")`` for pixel accuracy, scratch and stain recall (percent)
        and parameters, then the twin's CPU ms/image and the published GPU ms/image. The
        two columns of a pair are not comparable as numbers: different images, labels and
        hardware.
    """
    published = published_wide()
    rows = {}
    for run_name, model in TWIN_NAMES.items():
        if run_name not in results:
            continue
        payload = results[run_name]
        scores = payload["scores"][reference]
        row = {}
        for measure in _SIDE_BY_SIDE:
            twin = payload["parameters"] if measure == "parameters" else 100 * scores[measure]
            row[(measure, "twin")] = twin
            row[(measure, "published")] = (published.loc[model, measure]
                                           if model in published.index
                                           and measure in published.columns else float("nan"))
        row[("ms/image", "twin (CPU, batch 1)")] = payload.get("cpu_ms_per_image", float("nan"))
        row[("ms/image", "published (GPU)")] = (published.loc[model, "gpu_ms_per_image"]
                                                if model in published.index else float("nan"))
        rows[model] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table.rename_axis("model")
