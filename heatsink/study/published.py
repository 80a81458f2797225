"""Published figures on the real dataset, quoted with their source (never our own runs).

The study runs on a synthetic twin; the only figures about the real heat-sink images are
those their authors published. They are kept here, in one place, as quotations: value,
what it measures, on which split, and where it is printed, so the book can set them beside
the twin's figures without ever presenting them as a result of this code.
"""

from __future__ import annotations

from itertools import pairwise

import pandas as pd

from heatsink.study.results import latency

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
        :func:`heatsink.study.results.load_model_results` of the validation split.
    reference : str
        Which of the twin's references to show (``"labels"``, as the published figures
        are against the real labels).

    Returns
    -------
    DataFrame
        One row per published model the twin run has; columns ``(measure, "twin")`` and
        ``(measure, "published")`` for pixel accuracy, scratch and stain recall (percent)
        and parameters, then the twin's ms/image (on the device that measured it) and the
        published GPU ms/image. The
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
        measured = latency(payload)
        device = measured[1] if measured else "CPU"
        row[("ms/image", f"twin ({device}, batch 1)")] = (measured[0] if measured
                                                          else float("nan"))
        row[("ms/image", "published (GPU)")] = (published.loc[model, "gpu_ms_per_image"]
                                                if model in published.index else float("nan"))
        rows[model] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table.rename_axis("model")


def _order(values: dict[str, float]) -> str:
    """``"a > b = c"``: names from highest to lowest value, equal values joined by ``=``."""
    ranked = sorted(values.items(), key=lambda item: -item[1])
    text = ranked[0][0]
    for (_, previous), (name, value) in pairwise(ranked):
        text += (" = " if value == previous else " > ") + name
    return text


def rank_orders(results: dict[str, dict], reference: str = "labels",
                decimals: int = 1) -> pd.DataFrame:
    """Do the twin's models rank as the published ones do, measure by measure?

    The twin's figures and the published ones are not comparable as numbers; the order of
    the models is what can carry over. For each measure the seed gives for two or more
    models the twin run has (the seed only: the paper's model ran on another protocol), the
    models' order in the seed and on the twin, the twin's values rounded to the published
    precision (``decimals`` places of percent) so that a tie means the same in both
    columns. Where every quoted value is the same (the seed's "~97.8 %" pixel accuracy for
    all three models) the seed gives no order to compare with: ``same order`` is missing.

    Parameters
    ----------
    results : dict
        :func:`heatsink.study.results.load_model_results` of the validation split.
    reference : str
        The twin's reference (``"labels"``, as the published figures are against labels).
    decimals : int
        Decimal places of percent at which the twin's values are compared.

    Returns
    -------
    DataFrame
        One row per measure: ``published`` and ``twin`` orders (``"A > B = C"``) and
        ``same order`` (bool, or None where the published values are all tied).
    """
    table = published_table()
    published = table[table["source"] == "seed"].pivot_table(
        index="model", columns="measure", values="value", sort=False)
    rows = {}
    for measure in ("pixel_accuracy", "scratch_recall", "stain_recall"):
        pairs = {run: model for run, model in TWIN_NAMES.items()
                 if run in results and model in published.index
                 and pd.notna(published.loc[model, measure])}
        if len(pairs) < 2:
            continue
        quoted = {model: float(published.loc[model, measure]) for model in pairs.values()}
        twin = {model: round(100 * results[run]["scores"][reference][measure], decimals)
                for run, model in pairs.items()}
        rows[measure] = {"published": _order(quoted), "twin": _order(twin)}
        tied = len(set(quoted.values())) == 1
        rows[measure]["same order"] = (None if tied
                                       else rows[measure]["published"] == rows[measure]["twin"])
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["published", "twin", "same order"]
                                  ).rename_axis("measure")


__all__ = [
    "PUBLISHED",
    "SOURCES",
    "TWIN_NAMES",
    "published_table",
    "published_wide",
    "rank_orders",
    "side_by_side",
]
