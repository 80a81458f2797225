"""Scratch and stain shapes: their label masks and their faint appearance in the image.

Labels follow the real annotators' convention (see the DatasetNinja grid): a scratch is a
thick polyline band (≈4–7 px) around a visible line only 1–3 px wide; a stain is a
polygon a little larger than the blot it marks. A label shape is built to an exact
bounding box (height × width drawn from the calibration targets), because the
statistics are taken on connected components of the label mask.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import cv2
import numpy as np

from heatsink.components import components

#: Nominal label band thickness of scratches (px) and relative frequencies; rasterised
#: bands come out ≈1 px wider (≈4–7 px, matching the real area / length ratio).
SCRATCH_THICKNESS = (3, 4, 5, 6)
SCRATCH_THICKNESS_P = (0.3, 0.4, 0.2, 0.1)
#: Probability that a scratch object is two crossing or branching lines (one component).
COMPOUND_P = 0.25
#: Share of stains drawn as a darker blot (the rest lighter), unless
#: :func:`dark_blot_share` sets another for a twin.
DARK_BLOT_SHARE = 0.6
_dark_share = DARK_BLOT_SHARE


@contextmanager
def dark_blot_share(share: float | None) -> Iterator[None]:
    """Draw stains darker than the plating with probability ``share`` (None:
    :data:`DARK_BLOT_SHARE`) within the block; the random draws are the same whatever it is.

    >>> with dark_blot_share(1.0):
    ...     app = blot_appearance(np.random.default_rng(0), np.ones((9, 9), bool), 0, 0)
    >>> app.amplitude < 0
    True
    """
    global _dark_share
    if share is not None and not 0.0 <= share <= 1.0:
        raise ValueError(f"the share of dark stains must be in [0, 1], not {share!r}")
    before = _dark_share
    _dark_share = DARK_BLOT_SHARE if share is None else float(share)
    try:
        yield
    finally:
        _dark_share = before


@dataclass
class Appearance:
    """How one true defect shows in the image.

    Attributes
    ----------
    kind : str
        ``'line'`` (a scratch: thin line along ``lines``) or ``'blot'`` (a stain).
    lines : list of ndarray
        Line centrelines, each ``(k, 2)`` float ``(x, y)`` in part-canvas coordinates.
    blot : ndarray or None
        Boolean mask of the blot (for ``'blot'``), placed at ``(top, left)``.
    top, left : int
        Position of ``blot`` in the part canvas.
    amplitude : float
        Relative brightness change (negative: darker).
    width : float
        Visible line width in px (``'line'`` only).
    """

    kind: str
    lines: list[np.ndarray] = field(default_factory=list)
    blot: np.ndarray | None = None
    top: int = 0
    left: int = 0
    amplitude: float = 0.0
    width: float = 1.5

    def shifted(self, dy: int, dx: int) -> Appearance:
        """The same appearance moved by ``(dy, dx)`` pixels."""
        return Appearance(
            self.kind,
            [ln + np.array([dx, dy], dtype=float) for ln in self.lines],
            self.blot,
            self.top + dy,
            self.left + dx,
            self.amplitude,
            self.width,
        )


def _band_polygons(line: np.ndarray, thickness: float) -> list[np.ndarray]:
    """Convex pieces (segment quads and joint hulls) of a thick polyline band."""
    half = thickness / 2.0
    pieces: list[np.ndarray] = []
    normals = []
    for p, q in itertools.pairwise(line):
        d = q - p
        norm = float(np.hypot(*d)) or 1.0
        n = np.array([-d[1], d[0]]) / norm * half
        normals.append(n)
        pieces.append(np.array([p + n, q + n, q - n, p - n]))
    for k in range(1, len(line) - 1):
        q, n1, n2 = line[k], normals[k - 1], normals[k]
        pieces.append(np.array([q + n1, q + n2, q - n1, q - n2]))
    return pieces


def _fill(mask: np.ndarray, pieces: list[np.ndarray]) -> None:
    for piece in pieces:
        pts = np.round(piece).astype(np.int32)
        hull = cv2.convexHull(pts)
        cv2.fillConvexPoly(mask, hull, 1)


def rasterize_band(
    lines: list[np.ndarray], thickness: float, shape: tuple[int, int], offset=(0.0, 0.0)
) -> np.ndarray:
    """Boolean mask of thick polyline bands (lines in ``(x, y)``), shifted by ``offset``."""
    mask = np.zeros(shape, np.uint8)
    off = np.asarray(offset, float)
    for line in lines:
        _fill(mask, _band_polygons(np.asarray(line, float) - off, thickness))
    return mask.astype(bool)


def _curve(p0: np.ndarray, p1: np.ndarray, bend: float, n: int = 8) -> np.ndarray:
    """Quadratic curve from ``p0`` to ``p1`` whose middle is pushed sideways by ``bend``."""
    d = p1 - p0
    normal = np.array([-d[1], d[0]]) / (float(np.hypot(*d)) or 1.0)
    ctrl = (p0 + p1) / 2 + normal * bend * 2
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t**2 * p1


def _fit_to_box(
    pieces: list[np.ndarray], lines: list[np.ndarray], h: int, w: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Affinely map the pieces' vertex extent onto ``[0, w-1] × [0, h-1]`` (lines follow)."""
    allv = np.concatenate(pieces)
    lo, hi = allv.min(axis=0), allv.max(axis=0)
    span = np.maximum(hi - lo, 1e-9)
    scale = np.array([(w - 1) / span[0], (h - 1) / span[1]])

    def tf(a: np.ndarray) -> np.ndarray:
        return (a - lo) * scale

    return [tf(p) for p in pieces], [tf(ln) for ln in lines]


def scratch_label(
    rng: np.random.Generator, h: int, w: int, compound: bool | None = None
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """A scratch label: one connected thick band whose bounding box is exactly ``h × w``.

    Parameters
    ----------
    rng : Generator
    h, w : int
        Bounding box height and width (px).
    compound : bool, optional
        Force (or forbid) two crossing/branching lines; default random.

    Returns
    -------
    mask : ndarray of bool, shape (h, w)
    lines : list of ndarray
        Centrelines ``(k, 2)`` as ``(x, y)`` in the mask's coordinates.
    thickness : float
        Label band thickness (px).
    """
    t = float(rng.choice(SCRATCH_THICKNESS, p=SCRATCH_THICKNESS_P))
    if compound is None:
        compound = bool(min(h, w) > 25 and max(h, w) > 50 and rng.random() < COMPOUND_P)
    for attempt in range(4):
        W0, H0 = max(w - t, 1.0), max(h - t, 1.0)
        p0, p1 = np.array([0.0, 0.0]), np.array([W0, H0])
        if rng.random() < 0.5:  # anti-diagonal
            p0, p1 = np.array([0.0, H0]), np.array([W0, 0.0])
        length = float(np.hypot(W0, H0))
        bend = rng.normal(0, 0.03) * length if (rng.random() < 0.4 and attempt < 2) else 0.0
        lines = [_curve(p0, p1, bend) if bend else np.array([p0, p1])]
        if compound and attempt < 2:
            first = lines[0]
            anchor = first[rng.integers(1, len(first) - 1)] if len(first) > 2 else (p0 + p1) / 2
            # the second line passes through (crossing) or starts at (branch) the anchor
            q_end = np.array([rng.uniform(0, W0), rng.uniform(0, H0)])
            if rng.random() < 0.6:
                q_start = 2 * anchor - q_end
                q_start = np.clip(q_start, [0, 0], [W0, H0])
            else:
                q_start = anchor
            if np.hypot(*(q_end - q_start)) > 2 * t:
                lines.append(np.array([q_start, q_end]))
        pieces = [pc for ln in lines for pc in _band_polygons(ln, t)]
        pieces, lines = _fit_to_box(pieces, lines, h, w)
        mask = np.zeros((h, w), np.uint8)
        _fill(mask, pieces)
        n = components(mask).n + 1
        if n == 2 and mask[:, 0].any() and mask[:, -1].any() and mask[0].any() and mask[-1].any():
            return mask.astype(bool), lines, t
        compound = False
    # degenerate fallback: a filled box (only for tiny boxes)
    return np.ones((h, w), bool), [np.array([[0.0, h / 2], [w - 1.0, h / 2]])], t


def stain_label(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A stain label: an irregular polygon whose bounding box is exactly ``h × w``.

    The polygon has 6–13 vertices on a noisy ellipse; its fill ratio (area / box) is
    ≈0.5–0.75, as for the real stain labels.
    """
    for _ in range(6):
        k = int(rng.integers(6, 14))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = np.clip(1.0 + rng.normal(0, 0.22, k), 0.45, 1.5)
        pts = np.stack([np.cos(ang) * rad, np.sin(ang) * rad], axis=1)
        lo, hi = pts.min(0), pts.max(0)
        span = np.maximum(hi - lo, 1e-9)
        pts = (pts - lo) / span * np.array([w - 1, h - 1])
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 1)
        n = components(mask).n + 1
        if n == 2:
            return mask.astype(bool)
    return np.ones((h, w), bool)


def line_appearance(rng: np.random.Generator, lines: list[np.ndarray]) -> Appearance:
    """A faint visible scratch line (1–3 px) along label centrelines (part coordinates)."""
    sign = 1.0 if rng.random() < 0.7 else -1.0
    return Appearance(
        "line",
        lines=lines,
        amplitude=sign * float(rng.uniform(0.25, 0.6)),
        width=float(rng.uniform(1.0, 2.6)),
    )


def blot_appearance(
    rng: np.random.Generator, label: np.ndarray, top: int, left: int
) -> Appearance:
    """A faint blot inside a label shape (the label is a little larger than the blot)."""
    h, w = label.shape
    margin = 1 if min(h, w) < 12 else int(rng.integers(1, 4))
    blot = cv2.erode(label.astype(np.uint8), np.ones((2 * margin + 1,) * 2, np.uint8))
    if not blot.any():
        blot = label.astype(np.uint8)
    sign = -1.0 if rng.random() < _dark_share else 1.0
    return Appearance(
        "blot", blot=blot.astype(bool), top=top, left=left,
        amplitude=sign * float(rng.uniform(0.25, 0.5)),
    )


def principal_line(mask: np.ndarray, top: int, left: int) -> np.ndarray:
    """End points ``(2, 2)`` (x, y, part coordinates) of a shape's principal axis."""
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], 1).astype(float)
    c = pts.mean(0)
    if len(pts) < 3:
        return np.array([c, c + 0.5]) + np.array([left, top], float)
    _, _, vt = np.linalg.svd(pts - c, full_matrices=False)
    proj = (pts - c) @ vt[0]
    ends = np.array([c + vt[0] * proj.min(), c + vt[0] * proj.max()])
    return ends + np.array([left, top], float)


__all__ = [
    "COMPOUND_P",
    "DARK_BLOT_SHARE",
    "SCRATCH_THICKNESS",
    "SCRATCH_THICKNESS_P",
    "Appearance",
    "blot_appearance",
    "dark_blot_share",
    "line_appearance",
    "principal_line",
    "rasterize_band",
    "scratch_label",
    "stain_label",
]
