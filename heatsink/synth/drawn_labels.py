"""How marked the real labelled stains are, measured through the labels drawn over them.

DatasetNinja's pictures (:mod:`heatsink.synth.real_frames`) draw each stain as a translucent
green polygon over the plating: what the pixel shows is ``a * C + (1 - a) * x``, the
polygon's colour ``C`` laid with opacity ``a`` over the real pixel ``x``. About a quarter of
every real stain is still there, under the fill. This module measures it, so that the twin's
assumption about its stains can be set beside the real annotators' practice, on one
measure, without the real dataset:

- :func:`stain_fill`: the pixels under a stain's green fill.
- :func:`fill_opacity`: the fill's opacity, from how much of the plating's fine grain (the red
  channel less a 1.5 px Gaussian blur) survives under it: ``1 - a`` is the ratio of the grain's
  spread in the fill's core (:data:`OPACITY_DEPTH` px from its edge, where the resampled edge
  no longer mixes in the plating beside it) to its spread on the real surface of the same
  frames. Rounding to 8 bits adds spread under the fill, so ``1 - a`` is an upper bound, the
  opacity a lower one, and the shifts below, divided by ``1 - a``, are read low.
- :func:`margin_shift`: how far a polygon's core is from the polygon's own inner margin. A
  stain's polygon is drawn "a little larger than the blot" (the reference folder's README):
  its inner band of :data:`BAND` px is plating under the same fill as the core, so the unknown
  colour ``C`` cancels in the difference and only ``1 - a`` scales it. The shift is the core's
  mean less the margin's midmean (the mean between its quartiles), relative to the median of
  the plating just outside the polygon (a ring 4 to 8 px away, which no fill covers);
  negative for a darker stain. Means, not the high percentiles of the twin annotators' contrast
  (:func:`heatsink.synth.noise.object_contrast`): under a fill, the margin's pixels next to
  the resampled edge mix in the unfilled plating and widen its spread, which a percentile
  reads as texture and a midmean does not.
- :func:`real_stain_shift`, :func:`twin_stain_shift` and :func:`component_shift` apply it to
  the real labelled stains, to the twin's labelled stains (each frame resampled through a real
  tile's size, :func:`heatsink.synth.appearance.resample_like`, as the real ones were shown)
  and to the stains a model calls on real, unlabelled plating (each component grown by
  :data:`GROW` px into a polygon "a little larger than the blot").

Only the red channel is measured (the twin's contrast channel; under a fill the green and blue
channels of this dark plating keep too few levels to measure). Only stains: a scratch's
visible line is 1–3 px inside a 5–9 px band, so a band has no margin of plating. The poster
is left out: its veil, undone by :func:`heatsink.synth.real_frames.unveil`, leaves the fill's
grain too noisy to give the opacity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from heatsink.data.layout import Dataset
    from heatsink.synth.real_frames import RealFrame

__all__ = [
    "BAND",
    "GRIDS",
    "GROW",
    "OPACITY_DEPTH",
    "SHIFT_COLUMNS",
    "component_shift",
    "fill_opacity",
    "margin_shift",
    "real_stain_shift",
    "stain_fill",
    "twin_stain_shift",
]

#: Width of a polygon's inner margin taken as plating (px at 320²).
BAND = 3
#: Growth of a predicted component into a polygon a little larger than it (px).
GROW = 4
#: Pictures whose fills give the opacity and the stains (the poster is veiled).
GRIDS = ("horizontal_grid", "vertical_grid")
#: Depth into a fill (px) from which its grain gives the opacity.
OPACITY_DEPTH = 3
#: Columns of the shift tables.
SHIFT_COLUMNS = ["frame", "area", "shift"]

_K3 = np.ones((3, 3), np.uint8)


def _erode(mask: np.ndarray, n: int) -> np.ndarray:
    return cv2.erode(mask.astype(np.uint8), _K3, iterations=n).astype(bool)


def _dilate(mask: np.ndarray, n: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), _K3, iterations=n).astype(bool)


def stain_fill(rgb: np.ndarray) -> np.ndarray:
    """The pixels of a real frame under a green (stain) fill.

    >>> px = np.array([[[93, 169, 74], [110, 190, 200], [104, 36, 7]]], np.uint8)
    >>> stain_fill(px).tolist()
    [[True, False, False]]
    """
    c = np.asarray(rgb).astype(np.int32)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    return (g > r + 30) & (g > b + 30)


def _grain(channel: np.ndarray) -> np.ndarray:
    x = channel.astype(np.float64)
    return x - cv2.GaussianBlur(x, (0, 0), 1.5)


def fill_opacity(frames: Iterable[RealFrame]) -> float:
    """The green fill's opacity: 1 − the median over frames of the red grain's spread under
    the fill (:data:`OPACITY_DEPTH` px from its edge) over its spread on the frame's real
    surface.

    Examples
    --------
    A grainy frame under a fill of opacity 0.7:

    >>> from heatsink.synth.real_frames import RealFrame
    >>> rng = np.random.default_rng(0)
    >>> plating = np.clip(rng.normal(100, 12, (80, 80, 3)), 0, 255)
    >>> plating[..., 1], plating[..., 2] = 36, 7
    >>> shown = plating.copy()
    >>> shown[20:60, 20:60] = 0.7 * np.array([90, 215, 97]) + 0.3 * plating[20:60, 20:60]
    >>> surface = np.ones((80, 80), bool); surface[16:64, 16:64] = False
    >>> frame = RealFrame("grid-0-0", np.round(shown).astype(np.uint8), surface, 320,
    ...                   (0, 0, 80, 80))
    >>> round(fill_opacity([frame]), 2)
    0.7
    """
    ratios = []
    for f in frames:
        green = stain_fill(f.image)
        core = _erode(green, OPACITY_DEPTH)
        if core.sum() < 50 or f.surface.sum() < 50:
            continue
        grain = _grain(f.image[..., 0])
        ratios.append(grain[core].std() / grain[f.surface].std())
    if not ratios:
        raise ValueError("no frame has enough green fill and real surface to measure")
    return float(1.0 - np.median(ratios))


def margin_shift(channel: np.ndarray, polygon: np.ndarray, plating: np.ndarray,
                 opacity: float = 0.0, band: int = BAND) -> float | None:
    """How far a polygon's core is from its own inner margin, relative to the plating
    outside it (module docstring); negative when the core is darker.

    Parameters
    ----------
    channel : ndarray (H, W)
        The red channel as shown (under the fill where ``polygon`` is drawn).
    polygon : ndarray (H, W) bool
        The labelled polygon (its outermost pixel, anti-aliased, is left out).
    plating : ndarray (H, W) bool
        Unlabelled plating; the ring 4–8 px outside the polygon taken on it gives the
        brightness the shift is relative to.
    opacity : float
        The fill's opacity over the polygon (0: nothing drawn, as on the twin).
    band : int
        See :data:`BAND`.

    Returns
    -------
    float or None
        ``(mean(core) - midmean(margin)) / ((1 - opacity) * median(ring))``, the margin's
        midmean the mean of its values between their quartiles; None when the
        polygon is too small for a core and a margin of 8 px each, or the ring has fewer
        than 20 plating pixels.

    Examples
    --------
    A blot 30 levels darker on 100 covering 256 of its polygon's 324 core pixels, under a
    fill of opacity 0.7 or under none:

    >>> x = np.full((60, 60), 100.0); x[22:38, 22:38] = 70
    >>> poly = np.zeros((60, 60), bool); poly[17:43, 17:43] = True
    >>> shown = np.where(poly, 0.7 * 90 + 0.3 * x, x)
    >>> bare, under = margin_shift(x, poly, ~poly), margin_shift(shown, poly, ~poly, 0.7)
    >>> round(bare, 2), round(under, 2)
    (-0.24, -0.24)
    """
    inner = _erode(polygon, 1)
    core = _erode(inner, band)
    margin = inner & ~core
    ring = _dilate(polygon, 8) & ~_dilate(polygon, 4) & plating
    if core.sum() < 8 or margin.sum() < 8 or ring.sum() < 20:
        return None
    x = np.asarray(channel, np.float64)
    outside = float(np.median(x[ring]))
    if outside <= 0:
        return None
    return float((x[core].mean() - _midmean(x[margin])) / ((1.0 - opacity) * outside))


def _midmean(values: np.ndarray) -> float:
    """The mean of the middle half of the values by rank (scipy's ``trim_mean`` at 25 %):
    as robust as a median to the few pixels at the edge, without a median's steps of one
    8-bit level (under a fill of opacity 0.75, one shown level is four of the plating's)."""
    from scipy.stats import trim_mean

    return float(trim_mean(values, 0.25))


def _table(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    """The rows as a table whose columns keep their types when it is empty."""
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS).astype(
        {"frame": str, "area": np.int64, "shift": np.float64})


def real_stain_shift(frames: Iterable[RealFrame], opacity: float) -> pd.DataFrame:
    """One row per real labelled stain (8-connected green fill) of the grids' frames with a
    measurable shift: ``frame``, ``area`` (polygon px at 320²), ``shift``."""
    rows = []
    for f in frames:
        if not f.name.startswith(GRIDS):
            continue
        green = stain_fill(f.image)
        n, labels = cv2.connectedComponents(green.astype(np.uint8), connectivity=8)
        for k in range(1, n):
            polygon = labels == k
            c = margin_shift(f.image[..., 0], polygon, f.surface, opacity)
            if c is not None:
                rows.append((f.name, int(polygon.sum()), c))
    return _table(rows)


def twin_stain_shift(ds: Dataset, ids: Sequence[str], tile_sizes: Sequence[int],
                        reference: str = "labels") -> pd.DataFrame:
    """:func:`margin_shift` of the twin's stains (label or truth polygons) on frames
    resampled through the real tiles' sizes (frame ``j`` through ``tile_sizes[j % n]``)."""
    from heatsink.synth.appearance import resample_like

    read = ds.mask if reference == "labels" else ds.truth
    rows = []
    for j, image_id in enumerate(ids):
        image = resample_like(ds.image(image_id), int(tile_sizes[j % len(tile_sizes)]))
        mask = np.asarray(read(image_id))
        plating = ~_dilate(mask > 0, 4)
        n, labels = cv2.connectedComponents((mask == 2).astype(np.uint8), connectivity=8)
        for k in range(1, n):
            polygon = labels == k
            c = margin_shift(image[..., 0], polygon, plating)
            if c is not None:
                rows.append((str(image_id), int(polygon.sum()), c))
    return _table(rows)


def component_shift(masks: Sequence[np.ndarray], frames: Sequence[RealFrame],
                       images: np.ndarray | None = None, mostly: float = 0.5) -> pd.DataFrame:
    """:func:`margin_shift` of the stains a model calls on real plating: each stain
    component mostly on real surface (``mostly``, as :mod:`heatsink.real_surface` counts a
    false component), grown by :data:`GROW` px into a polygon, measured on ``images`` (what
    the model saw; default the frames as shown)."""
    rows = []
    for j, (mask, f) in enumerate(zip(masks, frames, strict=True)):
        image = f.image if images is None else images[j]
        plating = f.surface & ~_dilate(np.asarray(mask) > 0, 4)
        n, labels = cv2.connectedComponents((np.asarray(mask) == 2).astype(np.uint8),
                                            connectivity=8)
        for k in range(1, n):
            comp = labels == k
            if (comp & f.surface).sum() < mostly * comp.sum():
                continue
            polygon = _dilate(comp, GROW)
            c = margin_shift(image[..., 0], polygon, plating)
            if c is not None:
                rows.append((f.name, int(polygon.sum()), c))
    return _table(rows)
