"""Figures of the study's results: many models' scores read from their result files."""

from __future__ import annotations

import numpy as np

from heatsink.classes import OVERLAY_COLOURS, SCRATCH, STAIN
from heatsink.study.results import rank_models, score_intervals


def model_scores_figure(results: dict[str, dict], reference: str = "labels", title: str = ""):
    """Every model's pixel accuracy beside its recall and IoU per defect class.

    Three panels sharing one row per model, best validation defect mIoU at the top, each
    score a dot with its stored 95 % bootstrap interval as a line: pixel accuracy with what
    predicting background everywhere scores (dashed), then recall and IoU of scratch and
    stain. It shows at a glance that pixel accuracy barely separates models that find very
    different shares of the defects. The results page draws it, and the README shows it.

    Parameters
    ----------
    results : dict
        Model name -> saved result (:func:`heatsink.study.results.load_model_results`).
    reference : str
        What the predictions were scored against (``"labels"``, or ``"truth"`` on the twin).
    title : str
        The figure's title (name the data and the split).

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("no model results to draw")
    models = rank_models(results, reference)[::-1]  # the best drawn at the top
    scores = score_intervals({m: results[m] for m in models},
                             ["pixel_accuracy", *(f"{c}_{kind}" for kind in ("recall", "iou")
                                                  for c in ("scratch", "stain"))], reference)
    colours = {c: tuple(v / 255 for v in OVERLAY_COLOURS[k]) for c, k in
               (("scratch", SCRATCH), ("stain", STAIN))}
    fig, axes = plt.subplots(1, 3, figsize=(11, 0.45 * len(models) + 1.6), sharey=True,
                             gridspec_kw={"width_ratios": [1, 1.4, 1.4]})
    rows = {m: k for k, m in enumerate(models)}

    def draw(ax, measure, offset=0.0, **style):
        part = scores[scores["measure"] == measure]
        y = part["model"].map(rows) + offset
        ax.hlines(y, part["low"], part["high"], lw=1.5, color=style.get("color"))
        ax.plot(part["value"], y, "o", ms=5, **style)

    accuracy = axes[0]
    draw(accuracy, "pixel_accuracy", color="0.2")
    floor = 100 * float(np.mean([results[m]["scores"][reference]["all_background_accuracy"]
                                 for m in models]))
    accuracy.axvline(floor, color="0.4", ls="--", lw=1, label="background everywhere")
    accuracy.set_xlim(min(floor, scores.loc[scores["measure"] == "pixel_accuracy", "low"].min())
                      - 0.5, 100.5)
    accuracy.set_title("pixel accuracy", fontsize=10)
    for ax, kind in zip(axes[1:], ("recall", "IoU"), strict=True):
        for defect, offset in (("scratch", 0.12), ("stain", -0.12)):
            draw(ax, f"{defect}_{kind.lower()}", offset, color=colours[defect], label=defect)
        ax.set_xlim(-2, 102)  # a dot at 0 or 100 drawn whole
        ax.set_title(f"{kind} per defect class", fontsize=10)
    axes[0].set_yticks(range(len(models)), models, fontsize=8)
    for ax in axes:
        ax.set_xlabel("percent (95 % interval)", fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="y", visible=False)
    handles = [h for ax in axes[:2] for h in ax.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


__all__ = ["model_scores_figure"]
