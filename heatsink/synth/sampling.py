"""Draw per-image object counts and per-object bounding boxes from the calibration targets."""

from __future__ import annotations

from contextvars import ContextVar

import numpy as np

from heatsink.synth import targets

_HIST = {
    "scratch": (targets.SCRATCH_BBOX_EDGES, targets.SCRATCH_BBOX_CELLS),
    "stain": (targets.STAIN_BBOX_EDGES, targets.STAIN_BBOX_CELLS),
}

#: Factors on the drawn bounding-box sides, per class (None: the calibrated sizes). Set only
#: by :func:`heatsink.synth.drift.scaled_sizes`, around one part's rendering.
SIDE_SCALE: ContextVar[dict[str, float] | None] = ContextVar("SIDE_SCALE", default=None)


def sample_bboxes(rng: np.random.Generator, class_name: str, n: int) -> np.ndarray:
    """Draw ``n`` object bounding boxes ``(height, width)`` of one class.

    A cell of the 2-D target histogram is drawn in proportion to its count, then an integer
    height and width uniformly within the cell's bins. Inside
    :func:`heatsink.synth.drift.scaled_sizes` both sides are then multiplied by the class's
    factor and rounded (the same random draws, so a factor of 1 changes nothing).

    Returns
    -------
    ndarray of int, shape (n, 2)
    """
    edges, cells = _HIST[class_name]
    keys = list(cells)
    p = np.array([cells[k] for k in keys], float)
    idx = rng.choice(len(keys), size=n, p=p / p.sum())
    out = np.empty((n, 2), np.int64)
    for j, i in enumerate(idx):
        for axis in (0, 1):
            b = keys[i][axis]
            out[j, axis] = rng.integers(edges[b], edges[b + 1])
    factor = (SIDE_SCALE.get() or {}).get(class_name, 1.0)
    if factor != 1.0:
        out = np.rint(out * factor).astype(np.int64)
    return np.clip(out, 1, 320)


def count_pairs(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` (scratch count, stain count) pairs with the targets' joint distribution.

    Quotas are fixed by the largest-remainder method (so the class co-occurrence of the
    twin matches the real one as closely as ``n`` allows) and then shuffled.

    Returns
    -------
    ndarray of int, shape (n, 2)
    """
    keys = list(targets.COUNT_PAIRS)
    p = np.array([targets.COUNT_PAIRS[k] for k in keys], float)
    p /= p.sum()
    exact = p * n
    quota = np.floor(exact).astype(int)
    rest = n - quota.sum()
    # largest remainders first; ties broken by a seeded random key
    order = np.lexsort((rng.random(len(keys)), -(exact - quota)))
    quota[order[:rest]] += 1
    pairs = np.repeat(np.array(keys, np.int64), quota, axis=0)
    return pairs[rng.permutation(n)]


__all__ = [
    "SIDE_SCALE",
    "count_pairs",
    "sample_bboxes",
]
