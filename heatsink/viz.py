"""Figures of images, masks and scores: overlays, image grids, confusion heatmaps, learning
curves."""

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
        low = max(min(float(s[s > 0].min(initial=np.inf)) for s in series), 1e-3)
        low = min(low, top) if top > 0 else 1e-3  # values all below 1e-3, or none above 0
        edges = np.geomspace(low, max(top, 10 * low), bins)
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
        ``image_id, row, col`` of each tile (:func:`heatsink.synth.records.part_tiles`, or
        one part of a :func:`heatsink.line.parts.part_layout`).
    alpha : float
        Opacity of the label colours.
    """
    from heatsink.line.parts import stitch

    return stitch(tiles, lambda i: overlay(ds.image(i), ds.mask(i), alpha=alpha))


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


def learning_curves(history, keys=("loss", "accuracy", "defect_iou"), axes=None, title: str = ""):
    """A training run's learning curves: each key on training and on validation, per epoch.

    Parameters
    ----------
    history : DataFrame
        One row per epoch, indexed from 0, with ``key`` and ``val_<key>`` columns
        (:attr:`heatsink.models.Run.history`).
    keys : sequence of str
        One panel each.
    axes : sequence of matplotlib Axes, optional
        Where to draw (a new row of panels when omitted).
    title : str
        The figure's title.

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
        axes = list(axes.flat)
    fig = axes[0].figure
    for ax, key in zip(axes, keys, strict=True):
        ax.plot(history.index + 1, history[key], label="train")
        ax.plot(history.index + 1, history[f"val_{key}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key.replace("_", " "), fontsize=10)
    axes[0].legend()
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


__all__ = [
    "compare_hist",
    "confusion_heatmap",
    "image_grid",
    "learning_curves",
    "overlay",
    "part_mosaic",
    "show_photo",
]
