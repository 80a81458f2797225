"""Figures shared by the chapters: mask overlays, image grids, and every model's scores."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from heatsink.classes import OVERLAY_COLOURS


def overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend the defect classes of ``mask`` over an RGB ``image`` in the overlay colours.

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8
        RGB image.
    mask : ndarray (H, W)
        Label mask with values in {0, 1, 2}.
    alpha : float
        Opacity of the class colours.

    Returns
    -------
    ndarray (H, W, 3) uint8
    """
    image = np.asarray(image)
    mask = np.asarray(mask)
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
    out = image.astype(np.float32)
    for class_id, colour in OVERLAY_COLOURS.items():
        where = mask == class_id
        out[where] = (1 - alpha) * out[where] + alpha * np.asarray(colour, np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def image_grid(
    panels: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    size: float = 2.6,
):
    """Show images in a grid with optional titles; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    nrows = max(1, -(-len(panels) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(panels):
            ax.imshow(panels[k], cmap="gray" if panels[k].ndim == 2 else None)
            if titles is not None:
                ax.set_title(titles[k], fontsize=9)
    fig.tight_layout()
    return fig


def compare_hist(
    ax,
    ours,
    real=None,
    *,
    discrete: bool = False,
    log: bool = False,
    upper: float | None = None,
    bins: int = 30,
    labels: tuple[str, str] = ("this dataset", "real (published)"),
) -> None:
    """Histogram of ``ours`` as bars and of ``real`` as a step line, on shared bins.

    Both are drawn as densities, so datasets of different sizes compare.

    Parameters
    ----------
    ax : matplotlib Axes
    ours, real : array-like
        Values of this dataset and of the published reference (``real`` may be None).
    discrete : bool
        Integer values (counts): one bin per integer.
    log : bool
        Log-spaced bins and a log x axis (for sizes spanning decades).
    upper : float, optional
        Clip the bins' range at this value (long tails).
    bins : int
        Number of bins when not ``discrete``.
    labels : (str, str)
        Legend labels of ``ours`` and ``real``.
    """
    series = [np.asarray(ours, float)] + ([] if real is None else [np.asarray(real, float)])
    top = max(float(s.max()) for s in series)
    if upper is not None:
        top = min(top, upper)
    if discrete:
        edges = np.arange(0, top + 2) - 0.5
    elif log:
        low = max(min(float(s[s > 0].min()) for s in series), 1e-3)
        edges = np.geomspace(low, top, bins)
        ax.set_xscale("log")
    else:
        edges = np.linspace(0, top, bins + 1)
    ax.hist(series[0], bins=edges, density=True, alpha=0.6, label=labels[0])
    if real is not None:
        density, _ = np.histogram(series[1], bins=edges, density=True)
        ax.stairs(density, edges, color="k", lw=1.2, label=labels[1])


def part_mosaic(ds, tiles, alpha: float = 0.35) -> np.ndarray:
    """The tiles of one part put back together, with their labels overlaid.

    Parameters
    ----------
    ds : heatsink.data.Dataset
    tiles : DataFrame
        ``image_id, row, col`` of each tile (:func:`heatsink.synth.records.part_tiles`).
    alpha : float
        Opacity of the label colours.
    """
    first = ds.image(tiles["image_id"].iloc[0])
    h, w = first.shape[:2]
    canvas = np.zeros((h * (tiles["row"].max() + 1), w * (tiles["col"].max() + 1), 3), np.uint8)
    for t in tiles.itertuples():
        canvas[t.row * h:(t.row + 1) * h, t.col * w:(t.col + 1) * w] = overlay(
            ds.image(t.image_id), ds.mask(t.image_id), alpha=alpha
        )
    return canvas


def show_photo(fig, quality: int = 85, dpi: int = 100) -> None:
    """Display a figure of photographs as JPEG, then close it.

    Grainy surface images compress badly as PNG (about 1 MB per grid); as JPEG they stay
    small enough to keep executed notebooks in the repository. Plots with lines and text
    should keep using ``plt.show()`` (PNG).
    """
    import io

    import matplotlib.pyplot as plt
    from IPython.display import Image, display

    buffer = io.BytesIO()
    fig.savefig(buffer, format="jpeg", dpi=dpi, bbox_inches="tight",
                pil_kwargs={"quality": quality})
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="jpeg"))


def model_scores_figure(results: dict[str, dict], reference: str = "labels", title: str = ""):
    """Every model's pixel accuracy beside its recall and IoU per defect class.

    Three panels sharing one row per model, best validation defect mIoU at the top, each
    score a dot with its stored 95 % bootstrap interval as a line: pixel accuracy with what
    predicting background everywhere scores (dashed), then recall and IoU of scratch and
    stain. It shows at a glance what chapter 2 argues: pixel accuracy barely separates
    models that find very different shares of the defects. Chapter 7 draws it, and the
    README shows it.

    Parameters
    ----------
    results : dict
        Model name -> saved result (:func:`heatsink.results.load_model_results`).
    reference : str
        What the predictions were scored against (``"labels"``, or ``"truth"`` on the twin).
    title : str
        The figure's title (name the data and the split).

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    from heatsink.classes import SCRATCH, STAIN
    from heatsink.results import score_intervals

    if not results:
        raise ValueError("no model results to draw")
    models = sorted(results, key=lambda m: results[m]["scores"][reference]["miou_defects"])
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


def confusion_heatmap(confusion: np.ndarray, ax=None, title: str = "",
                      ylabel: str | None = "as labelled", colorbar: bool = False):
    """A row-normalised confusion matrix as an annotated heatmap, classes on both axes.

    Each row (a true class) sums to 1, so the diagonal reads as recall per class. Class
    names are written horizontally on both axes; ``ylabel=None`` leaves out the y axis's
    names and label (a panel right of another one).

    Parameters
    ----------
    confusion : array of shape (3, 3)
        Pixel counts, true class by row, predicted by column
        (:class:`heatsink.metrics.SegmentationScores` ``.confusion``).
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str
        The panel's title.
    ylabel : str or None
        What the rows are (``"as labelled"``, ``"clean truth"``).
    colorbar : bool
        Draw the colour bar.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from heatsink.classes import CLASS_NAMES
    from heatsink.metrics import normalise_rows

    if ax is None:
        _, ax = plt.subplots(figsize=(4.6, 3.8))
    sns.heatmap(normalise_rows(np.asarray(confusion)), annot=True, fmt=".2f", cmap="Blues",
                vmin=0, vmax=1, xticklabels=CLASS_NAMES,
                yticklabels=CLASS_NAMES if ylabel is not None else False, cbar=colorbar, ax=ax)
    ax.tick_params(axis="y", labelrotation=0)
    ax.set_xlabel("predicted")
    ax.set_ylabel(ylabel or "")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
