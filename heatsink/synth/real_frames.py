"""Real frames from DatasetNinja's published pictures: tiles, drawn labels, real surface.

DatasetNinja's three pictures (``horizontal_grid.png``, ``vertical_grid.png``, ``poster.png``;
see the reference folder's README) show 34 real images with their labels drawn over them:
cyan polylines for scratches, green polygons for stains, plus white gutters, a white logo
box and (on the poster) a title banner. Everything that is not drawn is real, unlabelled
gold plating: the one sample of real pixels this project has. This module finds the tiles,
finds the drawn pixels, and returns each usable tile resampled to 320² with its *real
surface* mask (pixels at least :data:`SURFACE_MARGIN` px from anything drawn), so that the
plating can be **measured** (:mod:`heatsink.synth.appearance`). The pictures are CC BY-NC-SA:
nothing here copies their pixels anywhere; callers must not either.

The poster is shown under a translucent white veil (its plating's median blue is ≈57 where
the grids' is ≈8); :func:`unveil` estimates the veil from the blue channel and undoes it
first (a no-op on the grids).

How the tiles are found, from the picture itself (:func:`find_tiles`): a pixel is
*copper* when red ≥ 40, no channel ≥ 235, blue ≤ 45 and green ≤ 0.55 × red + 8 (the
plating; not the cyan, green, white or black drawing, nor the banner's orange gradient).
Rows of the picture with (almost) no copper pixel (≤ 1 %) are horizontal gutters; within each
band between them, columns with none are vertical gutters (so the poster's two rows of
different widths are handled, and its title banner, which leaves plating on either side of
it, does not cut a tile). Each cell's tile is the extent of its rows and columns that are at
least 30 % copper, trimmed by :data:`TRIM` px against anti-aliased gutter edges. A tile's
*size* is the longest side in its row of tiles (a tile cut by the picture's edge or by the
banner is shown at its row's size).

Drawn pixels (:func:`drawn_mask`) are all that is not *plating-coloured*: copper with green
≤ 0.62 × red + 8 (99.9 % of the plating), or dark (max channel < 48) with red above green
and blue (the dark vignetted edges; not black text).

Unusable tiles, excluded by stated rules: a cell smaller than :data:`MIN_SIDE` px is not a
tile (the last row of ``vertical_grid.png`` fades to white after ≈110 px, so its cells are
dropped by this rule, as are logo fragments); a tile with more than :data:`PALE_MAX` *pale*
pixels (all channels in [90, 230) and neither cyan nor green: plating faded towards white)
is dropped too. That leaves 31 frames: 12 + 12 + 7. Some real images appear in two pictures
(e.g. two frames of ``horizontal_grid.png`` are also in ``vertical_grid.png``, at another
size); they are kept, as they were shown.

A tile is a 320×320 frame shown at another size (≈205–415 px). It is resampled
isotropically to 320 px on its row's tile size (``INTER_AREA`` when shrinking,
``INTER_CUBIC`` when enlarging); what lies outside the tile (cut off by the picture's edge
or the banner) is padding, and the padding is not surface. A drawn pixel anywhere in a
resampled pixel's footprint makes it drawn; the surface is then ≥ :data:`SURFACE_MARGIN` px
(Euclidean, at 320²) from any drawn or padding pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from heatsink.reference import find_dir

__all__ = [
    "FRAME",
    "PICTURES",
    "SURFACE_MARGIN",
    "RealFrame",
    "copper_mask",
    "drawn_mask",
    "fill_drawn",
    "find_tiles",
    "load_real_frames",
    "plating_mask",
    "resize_to_frame",
    "surface_mask",
    "unveil",
]

#: Side of a frame (px), as in the dataset.
FRAME = 320
#: The published pictures, in the order their frames are numbered.
PICTURES = ("horizontal_grid.png", "vertical_grid.png", "poster.png")
#: Real surface: at least this many px (at 320²) from any drawn pixel.
SURFACE_MARGIN = 4
#: Pixels trimmed from each side of a tile (anti-aliased gutter edge).
TRIM = 2
#: A tile with more than this share of pale (faded-to-white) pixels is unusable.
PALE_MAX = 0.02
#: Cells smaller than this (px, either side) are not tiles (logos, banner pieces).
MIN_SIDE = 120


@dataclass
class RealFrame:
    """One real frame cut out of a published picture.

    Attributes
    ----------
    name : str
        ``"<picture stem>-<row>-<col>"``.
    image : ndarray of uint8, shape (320, 320, 3)
        RGB, resampled to 320 px on the tile's longer side (padding, if any, is not surface).
    surface : ndarray of bool, shape (320, 320)
        Real surface: at least :data:`SURFACE_MARGIN` px from any drawn pixel, not padding.
    tile_size : int
        The tile's side in the picture (px): the size the frame was shown at.
    box : tuple of int
        ``(top, left, height, width)`` of the tile in the picture.
    drawn : ndarray of bool, shape (320, 320), optional
        What is not plating: the drawn labels, banners and logos, and the padding (None: not
        known; :func:`fill_drawn` then takes every pixel that is not plating-coloured).
    """

    name: str
    image: np.ndarray
    surface: np.ndarray
    tile_size: int
    box: tuple[int, int, int, int]
    drawn: np.ndarray | None = None


def plating_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels coloured like the plating: reddish-copper, or dark and reddish.

    Examples
    --------
    >>> import numpy as np
    >>> px = np.array([[[120, 40, 8], [90, 180, 200], [80, 190, 70], [255, 255, 255],
    ...                 [20, 12, 10]]], np.uint8)
    >>> plating_mask(px).tolist()
    [[True, False, False, False, True]]
    """
    c = rgb.astype(np.int32)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    dark = (c.max(axis=-1) < 48) & (r > g) & (r > b)
    copper = (r >= 40) & (c.max(axis=-1) < 235) & (b <= 45) & (100 * g <= 62 * r + 800)
    return dark | copper


def copper_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels of a clearly reddish-copper colour (not dark): what the tile finder counts.

    Examples
    --------
    >>> import numpy as np
    >>> copper_mask(np.array([[[120, 40, 8], [20, 12, 10], [0, 0, 0]]], np.uint8)).tolist()
    [[True, False, False]]
    """
    c = rgb.astype(np.int32)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    return (r >= 40) & (c.max(axis=-1) < 235) & (b <= 45) & (100 * g <= 55 * r + 800)


def unveil(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """Undo a translucent white veil laid over a picture; return the image and the veil.

    ``poster.png`` shows its frames under a white veil (its plating's median blue is ≈57
    where the grids' is ≈8). Copper-hued pixels (red > green + 20 > blue + 30) give the
    picture's median blue ``m``; the veil is ``v = (m - 8) / 247`` when ``m > 20`` (8 is the
    grids' median plating blue), else 0, and ``x' = (x - 255 v) / (1 - v)``.

    Examples
    --------
    >>> import numpy as np
    >>> pic = np.zeros((4, 4, 3), np.uint8); pic[:] = (100, 35, 8)
    >>> veiled = np.round(0.8 * pic + 0.2 * 255).astype(np.uint8)
    >>> out, v = unveil(veiled)
    >>> round(v, 2), out[0, 0].tolist()
    (0.2, [100, 35, 8])
    """
    c = rgb.astype(np.float64)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    hue = (r > g + 20) & (g > b + 10)
    m = float(np.median(b[hue])) if hue.any() else 0.0
    v = (m - 8.0) / 247.0 if m > 20 else 0.0
    if v <= 0:
        return rgb, 0.0
    out = np.clip(np.round((c - 255.0 * v) / (1.0 - v)), 0, 255).astype(np.uint8)
    return out, v


def drawn_mask(rgb: np.ndarray) -> np.ndarray:
    """Pixels drawn over the plating (labels, banners, logos): all that is not plating."""
    return ~plating_mask(rgb)


def _pale(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.int32)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    cyan_or_green = (g > r + 20) | (b > r + 20)
    return (c.min(axis=-1) >= 90) & (c.min(axis=-1) < 230) & ~cyan_or_green


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``[start, stop)`` runs of True in a 1-D boolean array."""
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def find_tiles(rgb: np.ndarray, min_side: int = MIN_SIDE) -> list[tuple[int, int, int, int]]:
    """Tiles of a grid picture, as ``(top, left, height, width)``, row by row.

    Rows without plating-coloured pixels cut the picture into bands, columns without them
    cut each band into cells; a tile is the extent of a cell's rows and columns that are at
    least 30 % plating-coloured, trimmed by :data:`TRIM` px.

    Examples
    --------
    >>> import numpy as np
    >>> pic = np.full((100, 210, 3), 255, np.uint8)
    >>> pic[10:90, 10:100] = (120, 40, 8)
    >>> pic[10:90, 110:200] = (100, 35, 6)
    >>> find_tiles(pic, min_side=20)
    [(12, 12, 76, 86), (12, 112, 76, 86)]
    """
    plating = copper_mask(rgb)
    tiles = []
    for top, bottom in _runs(plating.mean(axis=1) > 0.01):
        band = plating[top:bottom]
        for left, right in _runs(band.mean(axis=0) > 0.01):
            cell = band[:, left:right]
            rows = np.flatnonzero(cell.mean(axis=1) >= 0.3)
            cols = np.flatnonzero(cell.mean(axis=0) >= 0.3)
            if len(rows) == 0 or len(cols) == 0:
                continue
            t, b = top + rows[0] + TRIM, top + rows[-1] + 1 - TRIM
            le, ri = left + cols[0] + TRIM, left + cols[-1] + 1 - TRIM
            if b - t >= min_side and ri - le >= min_side:
                tiles.append((int(t), int(le), int(b - t), int(ri - le)))
    return tiles


def resize_to_frame(tile: np.ndarray, size: int = FRAME, pad_value: int = 0) -> np.ndarray:
    """Resample a tile isotropically so its longer side is ``size``; pad the rest.

    ``INTER_AREA`` when shrinking, ``INTER_CUBIC`` when enlarging; the tile sits at the
    top-left, the padding (bottom/right) is ``pad_value``.

    Examples
    --------
    >>> import numpy as np
    >>> resize_to_frame(np.ones((150, 160), np.uint8), 320).shape
    (320, 320)
    """
    h, w = tile.shape[:2]
    scale = size / max(h, w)
    nh, nw = min(size, round(h * scale)), min(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    small = cv2.resize(tile, (nw, nh), interpolation=interp)
    out = np.full((size, size, *tile.shape[2:]), pad_value, dtype=tile.dtype)
    out[:nh, :nw] = small
    return out


def fill_drawn(frame: RealFrame, seed: int = 0) -> np.ndarray:
    """The frame's image with what is drawn over it filled with plating, for a model to see.

    The drawn labels are saturated cyan and green, the banners white, the padding black:
    nothing a camera on the line shows, and a model's answer to them spills past the
    :data:`SURFACE_MARGIN` onto the surface it is judged on. The drawn pixels (grown by 1 px
    for their anti-aliased edges) are inpainted from their surroundings (``cv2.inpaint``,
    Telea) and given the frame's own grain: the fine residual of its plating (the image less
    a 1.5 px Gaussian blur), drawn at random from pixels away from anything drawn, slightly
    blurred (0.8 px) and scaled back to its spread, per channel. Nothing of the surface
    changes. The result is for the model only: like the frame, never save or show it.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> image = np.clip(rng.normal([100, 35, 8], 3, (40, 40, 3)), 0, 255).astype(np.uint8)
    >>> drawn = np.zeros((40, 40), bool); drawn[18:22, 5:35] = True
    >>> image[drawn] = (90, 220, 230)                        # a cyan scratch label
    >>> frame = RealFrame("f", image, surface_mask(drawn), 320, (0, 0, 40, 40), drawn)
    >>> out = fill_drawn(frame)
    >>> far = surface_mask(drawn, margin=2)                  # the label's 1 px edge aside,
    >>> bool((out[far] == image[far]).all())                 # no plating pixel changes
    True
    >>> out[drawn].mean(axis=0).round().tolist()             # and the label is plating now
    [100.0, 35.0, 8.0]
    """
    drawn = frame.drawn if frame.drawn is not None else ~plating_mask(frame.image)
    hole = cv2.dilate(drawn.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if not hole.any():
        return frame.image.copy()
    image = frame.image
    base = cv2.inpaint(image, hole.astype(np.uint8), 5, cv2.INPAINT_TELEA).astype(np.float32)
    plating = image.astype(np.float32)
    residual = plating - cv2.GaussianBlur(plating, (0, 0), 1.5)
    pool = residual[surface_mask(hole, margin=3)]
    if len(pool) < 100:  # (almost) no plating to learn the grain from
        return np.clip(np.round(base), 0, 255).astype(np.uint8)
    rng = np.random.default_rng(seed)
    grain = pool[rng.integers(0, len(pool), hole.size)].reshape(image.shape)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.8)
    grain *= pool.std(axis=0) / np.maximum(grain.reshape(-1, 3).std(axis=0), 1e-6)
    base[hole] += grain[hole]
    return np.clip(np.round(base), 0, 255).astype(np.uint8)


def surface_mask(drawn: np.ndarray, valid: np.ndarray | None = None,
                 margin: int = SURFACE_MARGIN) -> np.ndarray:
    """Pixels at least ``margin`` px (Euclidean) from any drawn pixel, and valid.

    Examples
    --------
    >>> import numpy as np
    >>> d = np.zeros((9, 9), bool); d[4, 4] = True
    >>> int(surface_mask(d, margin=2).sum())    # 81 minus the disc of radius < 2 (9 px)
    72
    """
    free = (~drawn).astype(np.uint8)
    dist = cv2.distanceTransform(free, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    out = dist >= margin
    return out if valid is None else out & valid


def _frames_of(rgb: np.ndarray, stem: str) -> list[RealFrame]:
    """The usable frames of one picture; a tile's size is the longest side in its row of
    tiles (a tile cut by the picture's edge or a banner is shown at its row's size)."""
    rows: list[list[tuple[int, int, int, int]]] = []
    for tile in find_tiles(rgb):
        if rows and tile[0] - rows[-1][0][0] <= MIN_SIDE // 2:
            rows[-1].append(tile)
        else:
            rows.append([tile])
    frames = []
    for i, row in enumerate(rows):
        side = max(max(h, w) for _, _, h, w in row)
        for j, (top, left, h, w) in enumerate(row):
            tile = rgb[top : top + h, left : left + w]
            if _pale(tile).mean() > PALE_MAX:
                continue
            shown = np.zeros((side, side, *tile.shape[2:]), tile.dtype)
            shown[:h, :w] = tile
            valid = np.zeros((side, side), np.uint8)
            valid[:h, :w] = 255
            image = resize_to_frame(shown)
            ok = resize_to_frame(valid) == 255
            # a drawn pixel anywhere in a resampled pixel's footprint counts as drawn
            drawn = resize_to_frame(drawn_mask(shown).astype(np.uint8) * 255) > 0
            surface = surface_mask(drawn | ~ok, ok)
            frames.append(RealFrame(f"{stem}-{i}-{j}", image, surface, side,
                                    (top, left, h, w), drawn | ~ok))
    return frames


def load_real_frames(directory: str | Path | None = None) -> list[RealFrame]:
    """The usable real frames of the three published pictures, with their real surface.

    Parameters
    ----------
    directory : str or Path, optional
        The DatasetNinja reference folder (default :func:`heatsink.reference.find_dir`).

    Returns
    -------
    list of RealFrame
        In picture order, row by row. Measure them; never save or show their pixels.

    Raises
    ------
    HeatsinkError
        If the reference folder is not found; FileNotFoundError if a picture is missing.
    """
    folder = find_dir(directory)
    frames: list[RealFrame] = []
    for name in PICTURES:
        path = folder / name
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"{path}: missing or unreadable")
        rgb, _ = unveil(np.ascontiguousarray(bgr[..., ::-1]))
        frames.extend(_frames_of(rgb, Path(name).stem))
    return frames
