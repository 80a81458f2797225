"""Joining a scratch that a model predicted in pieces, before it is measured.

A segmentation model often predicts a long, thin scratch as a row of short fragments with
background between them. Measured as they are, the longest fragment is far shorter than
the scratch, so a part with one long scratch passes a maximum-scratch-length rule. This
module joins such fragments first.

Method
------
Fragments
    The 8-connected components of the scratch class (every one, whatever its size: a
    fragment smaller than a spec's ``min_object_px`` may still be a piece of a long
    scratch; the size limit applies to the joined objects afterwards).
Direction and ends
    A fragment's direction is the principal axis of its pixel centres (the eigenvector of
    their covariance with the larger eigenvalue); its two ends are the pixels with the
    smallest and the largest projection on that axis. A fragment shorter than twice its
    width (the long and short side of its ``cv2.minAreaRect`` + 1, as measured by
    :mod:`heatsink.line.measurements`) has no reliable direction: it is *directionless*.
Joinable
    Two fragments are joined when, for the closest pair of their ends (one end of each):

    * the **gap**, the distance between the two end pixels' centres minus one pixel (the
      background pixels in between, on a straight run), is at most ``gap_px``;
    * the **bridge**, the segment from one end to the other, points away from each
      fragment (it leaves from the fragment's far side, not back along it), and lies
      within ``max_angle_deg`` of each fragment's direction. A directionless fragment
      passes this test, so a dot in line with a scratch is joined to it.

    Two parallel scratches side by side fail the angle test; two pieces of one scratch in
    line pass it.
Joining
    Candidate pairs are taken shortest gap first, and a pair already connected through
    earlier bridges is skipped (a minimum spanning forest), so each fragment gets at most
    the bridges it needs. Each bridge is an 8-connected line (``cv2.line``, one pixel wide)
    drawn with the scratch class, on background pixels only: a bridge never overwrites a
    stain (a bridge crossing a stain therefore does not connect the pieces).

The joined mask is then measured as before: a scratch's length stays the contour-based
length of :mod:`heatsink.line.measurements` (long side of ``cv2.minAreaRect`` of the
pixel centres, + 1 px), now of the joined object; the bridge pixels count in its area.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from heatsink.classes import SCRATCH
from heatsink.components import components
from heatsink.line.measurements import validate_mask

#: Default largest gap joined, in pixels: 0, joining nothing (the measurements as they were).
DEFAULT_GAP_PX = 0.0
#: Default largest angle, in degrees, between a bridge and each fragment it joins.
DEFAULT_MAX_ANGLE_DEG = 20.0


def _check_gap(gap_px: float) -> float:
    if isinstance(gap_px, bool) or not isinstance(gap_px, int | float | np.number):
        raise ValueError(f"merge gap must be a number of pixels, got {gap_px!r}")
    if not math.isfinite(gap_px) or gap_px < 0:
        raise ValueError(f"merge gap must be a finite number >= 0, got {gap_px!r}")
    return float(gap_px)


def _fragments(binary: np.ndarray) -> list[dict]:
    """Each 8-connected fragment's ends (x, y), outward unit vectors and direction."""
    n, labels, stats, _ = components(binary)
    out = []
    for k in range(1, n + 1):
        left, top, w, h, _ = (int(v) for v in stats[k])
        ys, xs = np.nonzero(labels[top:top + h, left:left + w] == k)
        points = np.column_stack([xs + left, ys + top]).astype(np.float64)
        centre = points.mean(0)
        if len(points) > 1:
            evals, evecs = np.linalg.eigh(np.cov((points - centre).T))
            axis = evecs[:, int(np.argmax(evals))]
        else:
            axis = np.array([1.0, 0.0])
        (_, _), (rw, rh), _ = cv2.minAreaRect(points.astype(np.float32))
        length, width = max(rw, rh) + 1.0, min(rw, rh) + 1.0
        projection = (points - centre) @ axis
        ends = [points[int(np.argmin(projection))], points[int(np.argmax(projection))]]
        outward = [-axis, axis]
        out.append({"ends": ends, "outward": outward, "axis": axis,
                    "directed": length >= 2 * width})
    return out


def _angle_ok(fragment: dict, end: int, bridge: np.ndarray, cos_max: float) -> bool:
    """The bridge (unit vector leaving ``end``) points away from and along the fragment."""
    if not fragment["directed"]:
        return True
    return float(bridge @ fragment["outward"][end]) >= cos_max


def _bridges(fragments: list[dict], gap_px: float, max_angle_deg: float
             ) -> list[tuple[float, int, int, np.ndarray, np.ndarray]]:
    """Joinable pairs as (gap, i, j, end of i, end of j), shortest gap first."""
    cos_max = math.cos(math.radians(max_angle_deg))
    pairs = []
    for i in range(len(fragments)):
        for j in range(i + 1, len(fragments)):
            a, b = fragments[i], fragments[j]
            options = [(float(np.hypot(*(b["ends"][q] - a["ends"][p]))), p, q)
                       for p in range(2) for q in range(2)]
            distance, p, q = min(options, key=lambda o: o[0])
            gap = distance - 1.0
            if gap > gap_px or distance == 0:
                continue
            bridge = (b["ends"][q] - a["ends"][p]) / distance
            if _angle_ok(a, p, bridge, cos_max) and _angle_ok(b, q, -bridge, cos_max):
                pairs.append((gap, i, j, a["ends"][p], b["ends"][q]))
    return sorted(pairs, key=lambda t: (t[0], t[1], t[2]))


def merge_scratch_fragments(
    mask: np.ndarray, gap_px: float = DEFAULT_GAP_PX,
    max_angle_deg: float = DEFAULT_MAX_ANGLE_DEG,
) -> np.ndarray:
    """Join scratch fragments lying in line across short gaps (see the module notes).

    Parameters
    ----------
    mask : ndarray of shape (H, W)
        Integer label mask with values in {0, 1, 2}; it is not modified.
    gap_px : float
        The largest gap joined, in pixels (distance between the two ends' pixel centres
        minus one). 0 joins nothing.
    max_angle_deg : float
        The largest angle between a bridge and the direction of each fragment it joins.

    Returns
    -------
    ndarray
        A copy of ``mask`` with the bridges drawn as scratch on background pixels.

    Examples
    --------
    A 40-px scratch cut into four 10-px pieces by 4-px gaps is one scratch again:

    >>> import numpy as np
    >>> mask = np.zeros((20, 60), np.uint8)
    >>> for start in (0, 14, 28, 42):
    ...     mask[10, start:start + 10] = 1
    >>> merged = merge_scratch_fragments(mask, gap_px=5)
    >>> int((merged == 1).sum()), int((merged[10, :52] == 1).all())
    (52, 1)
    >>> int((merge_scratch_fragments(mask, gap_px=3) != mask).sum())  # gaps too wide
    0
    """
    mask = validate_mask(mask)
    gap_px = _check_gap(gap_px)
    if not (0 <= max_angle_deg <= 90):
        raise ValueError(f"max_angle_deg must be in [0, 90], got {max_angle_deg!r}")
    out = mask.copy()
    if gap_px == 0:
        return out
    fragments = _fragments((mask == SCRATCH).astype(np.uint8))
    parent = list(range(len(fragments)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    drawn = np.zeros(mask.shape, np.uint8)
    for _, i, j, start, end in _bridges(fragments, gap_px, max_angle_deg):
        ri, rj = root(i), root(j)
        if ri == rj:
            continue
        parent[ri] = rj
        cv2.line(drawn, (int(start[0]), int(start[1])), (int(end[0]), int(end[1])), 1,
                 thickness=1, lineType=cv2.LINE_8)
    out[(drawn == 1) & (mask == 0)] = SCRATCH
    return out


__all__ = ["DEFAULT_GAP_PX", "DEFAULT_MAX_ANGLE_DEG", "merge_scratch_fragments"]
