"""Figures shared by the chapters: mask overlays and image grids."""

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
