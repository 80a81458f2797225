"""Neighbouring frames found from the pixels alone, and label consistency across their seams.

A heat sink is larger than one camera frame, so neighbouring frames of the real dataset
show the same part; the dataset says nothing about which frames these are. Two frames are
neighbours if one continues the other smoothly across their shared edge. The seam cost of
"b lies to the right of a" is the mean absolute second difference of the grey levels across
the seam, at the two pixels beside it (``|a[-2] - 2 a[-1] + b[0]|`` and
``|a[-1] - 2 b[0] + b[1]|`` per row: how badly each side's linear extrapolation predicts
the other), divided by the same quantity measured at a seam two pixels inside each frame.
A true seam therefore costs about 1 whatever the texture, exposure or blur of the frames;
unrelated edges cost far more (on the 1000-image twin of generator 1.4.4: true seams
0.87–1.15, unrelated edges 4.8 at the median; on generator 1.3.2's coarser plating 0.85–1.22
and 12). Every pair of edges is scored with
:func:`scipy.spatial.distance.cdist` on the stacked edge vectors; a pair is accepted if each
is the other's best match and its cost is below a threshold (:data:`MAX_COST`, lowered for
data where unrelated edges are not much rougher than real seams).

On the synthetic twin, :func:`neighbour_recovery` scores the pairs against the twin's
``adjacency.csv`` and :func:`seam_errors_caught` checks that the seams flagged by
:func:`seam_consistency` hold the twin's injected "seam inconsistency" label errors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import cv2
import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial.distance import cdist
from tqdm import tqdm

from heatsink.classes import SCRATCH, STAIN

#: Edges of a frame, as returned by :func:`edge_strips`.
EDGES: tuple[str, ...] = ("top", "bottom", "left", "right")
#: Pair sides: ``b`` lies to the right of ``a``, or below it. Each names the facing edges.
SIDES: dict[str, tuple[str, str]] = {"right": ("right", "left"), "below": ("bottom", "top")}
#: Rows/columns kept per edge: two for the seam, two more for the interior reference.
STRIP_WIDTH = 4
#: Default acceptance threshold on the normalised seam cost: a seam at most twice as rough
#: as the frames' own interior (a true seam costs ≈1).
MAX_COST = 2.0
#: ... lowered to this fraction of the median cost of all pairs (nearly all unrelated) when
#: unrelated edges are not much rougher than a true seam (e.g. white-noise-like images).
MEDIAN_FRACTION = 0.25
#: Rows of the cost matrix computed at once (bounds cdist's temporaries).
CHUNK = 256
NEIGHBOUR_COLUMNS = ["a", "b", "side", "cost", "ratio"]
CONSISTENCY_COLUMNS = [
    "a", "b", "side", "n_edge_defect_px_a", "n_edge_defect_px_b", "agree_px",
    "class_conflict_px", "missing_px", "consistent",
]
_EPS = 1e-3  # grey levels; keeps flat frames from dividing by zero


class _Frames(Protocol):
    """What :func:`find_neighbours` needs of a dataset: ids and pixels, nothing else."""

    ids: list[str]

    def image(self, i: str) -> np.ndarray: ...


class _Labelled(Protocol):
    def mask(self, i: str) -> np.ndarray: ...


# --------------------------------------------------------------------------------------
# edges
# --------------------------------------------------------------------------------------


def _strip(array: np.ndarray, edge: str, width: int) -> np.ndarray:
    """The ``width`` rows/columns at ``edge``, as (L, width): column 0 is the border.

    The along-edge coordinate runs top to bottom for left/right edges and left to right for
    top/bottom edges, so facing edges of two neighbours line up index for index.
    """
    if edge == "top":
        return array[:width].T
    if edge == "bottom":
        return array[::-1][:width].T
    if edge == "left":
        return array[:, :width]
    if edge == "right":
        return array[:, ::-1][:, :width]
    raise ValueError(f"edge must be one of {EDGES}, not {edge!r}")


def edge_strips(image: np.ndarray, width: int = STRIP_WIDTH) -> dict[str, np.ndarray]:
    """The border rows and columns of an image, in float32 grey levels.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3) or (H, W)
        RGB (or already grey) image.
    width : int
        Rows/columns kept per edge.

    Returns
    -------
    dict of str to ndarray
        ``top, bottom, left, right``: arrays of shape (L, width), L the edge's length;
        ``[:, 0]`` is the border row/column, ``[:, 1]`` the next one inwards, and so on.
        Along the edge, rows run top to bottom and columns left to right.
    """
    grey = image.astype(np.float32)
    if grey.ndim == 3:
        grey = cv2.cvtColor(grey, cv2.COLOR_RGB2GRAY)
    return {edge: np.ascontiguousarray(_strip(grey, edge, width)) for edge in EDGES}


def _second_diff(l2: np.ndarray, l1: np.ndarray, r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Mean |second difference| at the two pixels beside a seam between l1 and r1."""
    return 0.5 * (np.abs(l2 - 2 * l1 + r1).mean(-1) + np.abs(l1 - 2 * r1 + r2).mean(-1))


# --------------------------------------------------------------------------------------
# matching
# --------------------------------------------------------------------------------------


def _side_costs(out_edge: np.ndarray, in_edge: np.ndarray) -> np.ndarray:
    """Normalised cost matrix ``C[a, b]`` of b continuing a across a's ``out_edge``.

    ``out_edge`` and ``in_edge`` are stacked strips (N, L, 4), border first. The self-pairs
    (diagonal) are infinite.
    """
    s, t = out_edge.astype(np.float32), in_edge.astype(np.float32)
    # seam l2 l1 | r1 r2 = a[1] a[0] | b[0] b[1]; as an L1 distance between two vectors:
    # mean|2 a0 - a1 - b0| + mean|a0 - (2 b0 - b1)|
    fa = np.concatenate([2 * s[..., 0] - s[..., 1], s[..., 0]], axis=1)
    fb = np.concatenate([t[..., 0], 2 * t[..., 0] - t[..., 1]], axis=1)
    # the same measured two pixels inside each frame
    ref_a = _second_diff(s[..., 3], s[..., 2], s[..., 1], s[..., 0])
    ref_b = _second_diff(t[..., 0], t[..., 1], t[..., 2], t[..., 3])
    n, dims = fa.shape
    cost = np.empty((n, len(fb)), np.float32)
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        raw = cdist(fa[start:stop], fb, "cityblock") / dims
        cost[start:stop] = raw / (0.5 * (ref_a[start:stop, None] + ref_b[None, :]) + _EPS)
    np.fill_diagonal(cost, np.inf)
    return cost


def _second_smallest(cost: np.ndarray, axis: int) -> np.ndarray:
    if cost.shape[axis] < 2:
        return np.full(cost.shape[1 - axis], np.inf, cost.dtype)
    return np.partition(cost, 1, axis=axis).take(1, axis=axis)


def _mutual_best(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Indices (a, b) of mutual best matches, their cost and cost / second-best cost."""
    n = len(cost)
    best_b = cost.argmin(1)
    best_a = cost.argmin(0)
    a = np.flatnonzero(best_a[best_b] == np.arange(n))
    b = best_b[a]
    c = cost[a, b]
    keep = np.isfinite(c)
    a, b, c = a[keep], b[keep], c[keep]
    second = np.minimum(_second_smallest(cost, 1)[a], _second_smallest(cost, 0)[b])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.isfinite(second), c / second, np.nan)
    return a, b, c, ratio


def default_threshold(costs: Sequence[np.ndarray]) -> float:
    """The acceptance threshold for the given cost matrices (one per side).

    :data:`MAX_COST`, or :data:`MEDIAN_FRACTION` of the median finite cost if that is lower:
    almost every pair is unrelated, so the median is the typical unrelated cost, and a
    match must be far below it.
    """
    finite = np.concatenate([c[np.isfinite(c)] for c in costs])
    if finite.size == 0:
        return MAX_COST
    return float(min(MAX_COST, MEDIAN_FRACTION * np.median(finite)))


def match_strips(
    ids: Sequence[str], strips: dict[str, np.ndarray], max_cost: float | None = None
) -> pd.DataFrame:
    """Neighbour pairs from stacked edge strips.

    Parameters
    ----------
    ids : sequence of str
        Image ids, in the order of the stacks.
    strips : dict of str to ndarray
        For each edge of :data:`EDGES`, the strips of all images stacked: (N, L, width≥4).
    max_cost : float, optional
        Acceptance threshold on the normalised cost; default :func:`default_threshold`.

    Returns
    -------
    DataFrame
        Columns ``a, b, side, cost, ratio`` (see :func:`find_neighbours`); ``attrs`` holds
        ``max_cost`` (the threshold used) and ``median_cost``.
    """
    ids = list(ids)
    costs = {side: _side_costs(strips[out], strips[into]) for side, (out, into) in SIDES.items()}
    threshold = default_threshold(list(costs.values())) if max_cost is None else float(max_cost)
    rows = []
    for side, cost in costs.items():
        a, b, c, ratio = _mutual_best(cost)
        keep = c < threshold
        rows.append(pd.DataFrame({
            "a": [ids[k] for k in a[keep]], "b": [ids[k] for k in b[keep]], "side": side,
            "cost": c[keep].astype(float), "ratio": ratio[keep].astype(float),
        }, columns=NEIGHBOUR_COLUMNS))
    found = pd.concat(rows, ignore_index=True).sort_values(["side", "a"], ignore_index=True)
    finite = np.concatenate([c[np.isfinite(c)] for c in costs.values()])
    found.attrs = {
        "max_cost": threshold,
        "median_cost": float(np.median(finite)) if finite.size else float("nan"),
    }
    return found


def _stack(per_image: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {edge: np.stack([s[edge] for s in per_image]) for edge in EDGES}


def match_images(
    images: Sequence[np.ndarray], ids: Sequence[str] | None = None,
    max_cost: float | None = None,
) -> pd.DataFrame:
    """Neighbour pairs among in-memory images (all the same size); see :func:`find_neighbours`.

    ``ids`` defaults to ``"0", "1", …``.
    """
    ids = [str(k) for k in range(len(images))] if ids is None else list(ids)
    return match_strips(ids, _stack([edge_strips(im) for im in images]), max_cost)


def find_neighbours(
    ds: _Frames, ids: Sequence[str] | None = None, max_cost: float | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Find neighbouring frames from their pixels alone.

    Parameters
    ----------
    ds : Dataset
        Anything with ``ids`` and ``image(id)`` (an RGB uint8 array); no metadata is used.
    ids : sequence of str, optional
        Images to consider (default all; all must have the same size).
    max_cost : float, optional
        Accept mutual best matches with a normalised cost below this (default
        :func:`default_threshold`: 2, or a quarter of the median cost if lower).
    progress : bool
        Show a tqdm bar while reading the images.

    Returns
    -------
    DataFrame
        One row per found seam: ``a, b, side`` (b lies to the ``right`` of a, or ``below``
        it), ``cost`` (the seam's roughness over the frames' own, ≈1 for a true seam) and
        ``ratio`` (cost over the next best candidate of a or of b, whichever is lower:
        small means unambiguous; NaN if there is no other candidate). ``attrs`` holds the
        threshold used (``max_cost``) and the median cost of all pairs (``median_cost``).
    """
    ids = list(ds.ids if ids is None else ids)
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda i: edge_strips(ds.image(i)), ids)
        per_image = list(tqdm(results, total=len(ids), desc="edges", unit="img",
                              disable=not progress, leave=False))
    return match_strips(ids, _stack(per_image), max_cost)


# --------------------------------------------------------------------------------------
# label consistency across seams
# --------------------------------------------------------------------------------------


def _run_touches(own: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Positions of ``own`` (1-D bool) whose run (consecutive positions) touches ``near``."""
    runs, n = ndimage.label(own)
    hit = np.zeros(n + 1, bool)
    hit[runs[own & near]] = True
    hit[0] = False
    return hit[runs]


def compare_seam(
    mask_a: np.ndarray, mask_b: np.ndarray, side: str, band: int = 2, tolerance: int = 2
) -> dict[str, int | bool]:
    """Compare the labels on the two sides of one seam.

    Parameters
    ----------
    mask_a, mask_b : ndarray of shape (H, W)
        Label masks (0 background, 1 scratch, 2 stain); b lies on ``side`` of a.
    side : {"right", "below"}
    band : int
        Rows/columns on each side of the seam in which a defect counts as on the edge.
    tolerance : int
        Slack along the edge, in px, when looking for the facing defect (absorbs
        antialiasing and 1–2 px boundary differences).

    Returns
    -------
    dict
        ``n_edge_defect_px_a, n_edge_defect_px_b``: edge positions (per class) with a defect
        in a's / b's band. Each run of consecutive such positions is matched as a whole: it
        agrees if the other side has the same class anywhere within ``tolerance`` of it (a
        scratch crossing the seam at a shallow angle covers different positions on the two
        sides), else conflicts if the other side has the other class there, else misses.
        ``agree_px, class_conflict_px, missing_px`` count the positions of such runs on both
        sides together; ``consistent`` is True if none conflict or miss.

    Notes
    -----
    A defect that ends exactly at the frame edge with nothing across it is flagged as
    missing on the other side: from the labels alone it cannot be told from a defect left
    unlabelled there.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {tuple(SIDES)}, not {side!r}")
    out_edge, in_edge = SIDES[side]
    present = [
        np.stack([(_strip(m, edge, band) == k).any(1) for k in (SCRATCH, STAIN)])
        for m, edge in ((mask_a, out_edge), (mask_b, in_edge))
    ]
    grow = np.ones((1, 2 * tolerance + 1), bool)
    near = [ndimage.binary_dilation(p, structure=grow) for p in present]
    agree = conflict = missing = 0
    for own, other in ((present[0], near[1]), (present[1], near[0])):
        for k in range(2):
            same = _run_touches(own[k], other[k])
            swapped = _run_touches(own[k], other[1 - k]) & ~same
            agree += int(same.sum())
            conflict += int(swapped.sum())
            missing += int((own[k] & ~same & ~swapped).sum())
    return {
        "n_edge_defect_px_a": int(present[0].sum()),
        "n_edge_defect_px_b": int(present[1].sum()),
        "agree_px": agree,
        "class_conflict_px": conflict,
        "missing_px": missing,
        "consistent": conflict == 0 and missing == 0,
    }


def seam_consistency(
    ds: _Labelled, pairs: pd.DataFrame, band: int = 2, tolerance: int = 2
) -> pd.DataFrame:
    """Label consistency across each seam of ``pairs`` (see :func:`compare_seam`).

    Parameters
    ----------
    ds : Dataset
        Anything with ``mask(id)``.
    pairs : DataFrame
        Seams with columns ``a, b, side``, e.g. from :func:`find_neighbours`.
    band, tolerance : int
        See :func:`compare_seam`.

    Returns
    -------
    DataFrame
        Columns ``a, b, side, n_edge_defect_px_a, n_edge_defect_px_b, agree_px,
        class_conflict_px, missing_px, consistent``, one row per seam.
    """
    masks: dict[str, np.ndarray] = {}

    def mask(i: str) -> np.ndarray:
        if i not in masks:
            masks[i] = ds.mask(i)
        return masks[i]

    rows = [
        {"a": a, "b": b, "side": side,
         **compare_seam(mask(a), mask(b), side, band=band, tolerance=tolerance)}
        for a, b, side in pairs[["a", "b", "side"]].itertuples(index=False)
    ]
    return pd.DataFrame(rows, columns=CONSISTENCY_COLUMNS).astype({"consistent": bool})


# --------------------------------------------------------------------------------------
# scoring on the synthetic twin
# --------------------------------------------------------------------------------------


def true_neighbours(adjacency: pd.DataFrame) -> pd.DataFrame:
    """The twin's true neighbour pairs (columns ``a, b, side``) from its ``adjacency.csv``."""
    tiles = adjacency[["image_id", "part_id", "row", "col"]]
    out = []
    for side, (dr, dc) in (("right", (0, 1)), ("below", (1, 0))):
        shifted = tiles.assign(row=tiles["row"] - dr, col=tiles["col"] - dc)
        pairs = tiles.merge(shifted, on=["part_id", "row", "col"], suffixes=("_a", "_b"))
        out.append(pd.DataFrame({"a": pairs["image_id_a"], "b": pairs["image_id_b"],
                                 "side": side}))
    return pd.concat(out, ignore_index=True).sort_values(["side", "a"], ignore_index=True)


def neighbour_recovery(found: pd.DataFrame, adjacency: pd.DataFrame) -> dict[str, float]:
    """Found pairs against the twin's true adjacency.

    Parameters
    ----------
    found : DataFrame
        Columns ``a, b, side`` (from :func:`find_neighbours`).
    adjacency : DataFrame
        The twin's ``adjacency.csv`` (:func:`heatsink.synth.records.read_adjacency`),
        restricted to the images searched.

    Returns
    -------
    dict
        ``true_pairs, found_pairs, correct, precision, recall`` (precision NaN if nothing
        was found, recall NaN if there is nothing to find).
    """
    truth = set(true_neighbours(adjacency).itertuples(index=False, name=None))
    got = set(found[["a", "b", "side"]].astype(str).itertuples(index=False, name=None))
    correct = len(truth & got)
    return {
        "true_pairs": len(truth),
        "found_pairs": len(got),
        "correct": correct,
        "precision": correct / len(got) if got else float("nan"),
        "recall": correct / len(truth) if truth else float("nan"),
    }


def seam_errors_caught(consistency: pd.DataFrame, manifest: pd.DataFrame) -> dict[str, float]:
    """How many of the twin's injected seam inconsistencies fall on a seam flagged inconsistent.

    The manifest records a seam inconsistency in the tile whose piece is mislabelled
    (``image_id``); its ``detail`` ends with the id of the correctly labelled neighbour.

    Parameters
    ----------
    consistency : DataFrame
        From :func:`seam_consistency`.
    manifest : DataFrame
        The twin's ``noise_manifest.csv`` (:func:`heatsink.synth.records.read_manifest`).

    Returns
    -------
    dict
        ``seam_errors`` (in the manifest), ``on_found_seam`` (on a seam in
        ``consistency``), ``caught`` (on a seam flagged inconsistent), ``catch_rate``
        (caught / seam_errors), ``flagged`` (seams flagged inconsistent) and
        ``flagged_explained`` (of those, seams holding a manifest seam inconsistency).
    """
    errors = manifest[manifest["error"] == "seam_inconsistency"]
    neighbour = errors["detail"].astype(str).str.extract(r"(\S+)\s*$")[0]
    error_seams = [frozenset(p) for p in zip(errors["image_id"].astype(str), neighbour,
                                             strict=True)]
    seams = [frozenset(p) for p in zip(consistency["a"].astype(str),
                                       consistency["b"].astype(str), strict=True)]
    flagged = {s for s, ok in zip(seams, consistency["consistent"], strict=True) if not ok}
    found = set(seams)
    caught = sum(s in flagged for s in error_seams)
    return {
        "seam_errors": len(error_seams),
        "on_found_seam": sum(s in found for s in error_seams),
        "caught": caught,
        "catch_rate": caught / len(error_seams) if error_seams else float("nan"),
        "flagged": len(flagged),
        "flagged_explained": len(flagged & set(error_seams)),
    }


__all__ = [
    "CHUNK",
    "CONSISTENCY_COLUMNS",
    "EDGES",
    "MAX_COST",
    "MEDIAN_FRACTION",
    "NEIGHBOUR_COLUMNS",
    "SIDES",
    "STRIP_WIDTH",
    "compare_seam",
    "default_threshold",
    "edge_strips",
    "find_neighbours",
    "match_images",
    "match_strips",
    "neighbour_recovery",
    "seam_consistency",
    "seam_errors_caught",
    "true_neighbours",
]
