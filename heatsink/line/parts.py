"""Whole parts: frames put back together, measured and judged as one.

A heat sink larger than the camera's field is imaged as a grid of frames. Judged frame by
frame, a scratch crossing a seam is measured in two pieces, each perhaps under the length
limit; judged as a part, it is one scratch. Here:

* a **layout** says where each frame sits: one row per frame with ``image_id, part_id,
  row, col`` (:data:`LAYOUT_COLUMNS`). It comes from the synthetic twin's
  ``adjacency.csv`` (:func:`layout_from_adjacency`) or, on data without such a record,
  from the neighbour pairs :func:`heatsink.seams.find_neighbours` finds from the pixels
  (:func:`layout_from_neighbours`); :func:`part_layout` takes either;
* :func:`stitch` lays one part's frames (masks or images) side by side on a canvas, with no
  overlap between frames (the twin's tiles abut);
* :func:`measure_parts` measures each part's stitched mask with
  :func:`heatsink.line.measurements.defect_table`, optionally joining scratch fragments
  first (``merge_gap_px``), and :func:`judge_parts` judges the result with a
  :class:`~heatsink.line.spec.Spec`: one row per part.

Percentages (``TotalStain%``, ``TotalScratch%``, and so the defect-percent rule) are of
the part's frames' pixels; a frame of the layout whose mask is not given is left out (its
place on the canvas is background and not counted in the denominator) and counted in
``n_missing``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from heatsink.line import measurements
from heatsink.line.spec import Spec, judge_table

#: Columns of a layout: the frame, its part, and its row and column in the part's grid.
LAYOUT_COLUMNS = ["image_id", "part_id", "row", "col"]
#: Columns :func:`measure_parts` puts before the measurements.
PART_COLUMNS = ["n_frames", "n_missing", "frames"]
#: Row and column step to the neighbour on each side of a neighbour pair.
_STEP = {"right": (0, 1), "below": (1, 0)}

#: Frames by image id: a mapping, or a function such as ``ds.mask`` or ``ds.image``.
Source = Mapping[str, np.ndarray] | Callable[[str], np.ndarray]


def _tidy(layout: pd.DataFrame) -> pd.DataFrame:
    """Check a layout and return it sorted by part, row, column, with a fresh index."""
    missing = [c for c in LAYOUT_COLUMNS if c not in layout.columns]
    if missing:
        raise ValueError(f"a layout needs columns {LAYOUT_COLUMNS}; missing {missing}")
    out = layout[LAYOUT_COLUMNS].copy()
    out["image_id"] = out["image_id"].astype(str)
    out[["row", "col"]] = out[["row", "col"]].astype(np.int64)
    if out["image_id"].duplicated().any():
        dup = out.loc[out["image_id"].duplicated(), "image_id"].tolist()[:5]
        raise ValueError(f"frames placed twice in the layout: {dup}")
    if (out[["row", "col"]] < 0).any().any():
        raise ValueError("rows and columns of a layout must be >= 0")
    clash = out.duplicated(["part_id", "row", "col"], keep=False)
    if clash.any():
        raise ValueError("two frames share one place in a part: "
                         f"{out.loc[clash, 'image_id'].tolist()[:6]}")
    return out.sort_values(["part_id", "row", "col"], kind="stable").reset_index(drop=True)


def layout_from_adjacency(adjacency: pd.DataFrame, ids: Sequence[str] | None = None
                          ) -> pd.DataFrame:
    """The layout recorded in a twin's ``adjacency.csv``.

    Parameters
    ----------
    adjacency : DataFrame
        :func:`heatsink.synth.records.read_adjacency` (columns ``image_id, part_id, row,
        col`` at least).
    ids : sequence of str, optional
        Keep only these frames (e.g. one split's); parts keep their recorded positions.

    Returns
    -------
    DataFrame
        Columns :data:`LAYOUT_COLUMNS`, sorted by part, row and column.

    Examples
    --------
    >>> adj = pd.DataFrame({"image_id": ["7", "3", "5"], "part_id": [0, 0, 1],
    ...                     "row": [0, 0, 0], "col": [1, 0, 0]})
    >>> layout_from_adjacency(adj)["image_id"].tolist()
    ['3', '7', '5']
    """
    layout = _tidy(adjacency)
    if ids is not None:
        layout = layout[layout["image_id"].isin([str(i) for i in ids])]
    return layout.reset_index(drop=True)


def layout_from_neighbours(pairs: pd.DataFrame, ids: Sequence[str] | None = None
                           ) -> pd.DataFrame:
    """A layout assembled from neighbour pairs (``b`` to the ``right`` of ``a``, or ``below``).

    Frames linked by pairs form one part; a frame's row and column follow from the steps
    along the pairs, shifted so that each part starts at row 0, column 0. Parts are
    numbered 0, 1, … in the order of their smallest frame id; a frame of ``ids`` in no pair
    is a part of its own.

    Parameters
    ----------
    pairs : DataFrame
        Columns ``a, b, side``, e.g. from :func:`heatsink.seams.find_neighbours` (or the
        twin's :func:`heatsink.seams.true_neighbours`).
    ids : sequence of str, optional
        Every frame to place (default: the frames named in ``pairs``).

    Returns
    -------
    DataFrame
        Columns :data:`LAYOUT_COLUMNS`.

    Raises
    ------
    ValueError
        If the pairs contradict each other: a frame reached at two places, or two frames at
        one place (the neighbour search made a false match).

    Examples
    --------
    >>> pairs = pd.DataFrame({"a": ["a", "a"], "b": ["b", "c"], "side": ["right", "below"]})
    >>> layout_from_neighbours(pairs, ids=["a", "b", "c", "z"]).values.tolist()
    [['a', 0, 0, 0], ['b', 0, 0, 1], ['c', 0, 1, 0], ['z', 1, 0, 0]]
    """
    edges = [(str(a), str(b), side) for a, b, side in
             pairs[["a", "b", "side"]].itertuples(index=False, name=None)]
    bad = sorted({side for _, _, side in edges} - set(_STEP))
    if bad:
        raise ValueError(f"side must be one of {tuple(_STEP)}, got {bad}")
    frames = list(dict.fromkeys([*(str(i) for i in ([] if ids is None else ids)),
                                 *(f for a, b, _ in edges for f in (a, b))]))
    links: dict[str, list[tuple[str, int, int]]] = {f: [] for f in frames}
    for a, b, side in edges:
        dr, dc = _STEP[side]
        links[a].append((b, dr, dc))
        links[b].append((a, -dr, -dc))
    place: dict[str, tuple[int, int]] = {}
    groups = []
    for start in sorted(frames):
        if start in place:
            continue
        place[start] = (0, 0)
        group, queue = [start], [start]
        while queue:
            here = queue.pop()
            r, c = place[here]
            for there, dr, dc in links[here]:
                want = (r + dr, c + dc)
                if there not in place:
                    place[there] = want
                    group.append(there)
                    queue.append(there)
                elif place[there] != want:
                    raise ValueError(f"neighbour pairs contradict each other at frame "
                                     f"{there!r}: placed at {place[there]} and at {want}")
        groups.append(group)
    rows = []
    for part_id, group in enumerate(groups):
        r0 = min(place[f][0] for f in group)
        c0 = min(place[f][1] for f in group)
        rows += [(f, part_id, place[f][0] - r0, place[f][1] - c0) for f in group]
    return _tidy(pd.DataFrame(rows, columns=LAYOUT_COLUMNS))


def part_layout(table: pd.DataFrame, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """A layout from either kind of table: an adjacency (``row, col``) or neighbour pairs.

    See :func:`layout_from_adjacency` and :func:`layout_from_neighbours`.

    Examples
    --------
    >>> pairs = pd.DataFrame({"a": ["x"], "b": ["y"], "side": ["below"]})
    >>> part_layout(pairs)[["image_id", "row", "col"]].values.tolist()
    [['x', 0, 0], ['y', 1, 0]]
    """
    if {"row", "col", "part_id", "image_id"} <= set(table.columns):
        return layout_from_adjacency(table, ids)
    if {"a", "b", "side"} <= set(table.columns):
        return layout_from_neighbours(table, ids)
    raise ValueError("a part layout needs an adjacency table (image_id, part_id, row, col) "
                     f"or neighbour pairs (a, b, side); got columns {list(table.columns)}")


def _getter(source: Source) -> Callable[[str], np.ndarray | None]:
    if isinstance(source, Mapping):
        return source.get
    return source


def stitch(tiles: pd.DataFrame, source: Source, fill: int = 0) -> np.ndarray:
    """One part's frames laid side by side on a canvas, each at its row and column.

    Parameters
    ----------
    tiles : DataFrame
        The part's rows of a layout (``image_id, row, col``).
    source : mapping or callable
        The frame arrays by image id: a mapping (a frame missing from it is left as
        ``fill``) or a function such as ``ds.mask`` or ``ds.image``. All frames must have
        the same shape, (H, W) or (H, W, C).
    fill : int
        The value of canvas places without a frame.

    Returns
    -------
    ndarray of shape (rows × H, cols × W[, C])
        In the frames' dtype.

    Examples
    --------
    >>> tiles = pd.DataFrame({"image_id": ["a", "b"], "row": [0, 0], "col": [0, 1]})
    >>> stitch(tiles, {"a": np.zeros((2, 2), np.uint8), "b": np.ones((2, 2), np.uint8)})
    array([[0, 0, 1, 1],
           [0, 0, 1, 1]], dtype=uint8)
    """
    get = _getter(source)
    frames = {str(i): get(str(i)) for i in tiles["image_id"]}
    present = [np.asarray(f) for f in frames.values() if f is not None]
    if not present:
        raise ValueError("none of the part's frames is available")
    first = present[0]
    if any(f.shape != first.shape for f in present):
        raise ValueError(f"a part's frames must have one shape, got "
                         f"{sorted({f.shape for f in present})}")
    h, w = first.shape[:2]
    n_rows, n_cols = int(tiles["row"].max()) + 1, int(tiles["col"].max()) + 1
    canvas = np.full((n_rows * h, n_cols * w, *first.shape[2:]), fill, first.dtype)
    for image_id, r, c in tiles[["image_id", "row", "col"]].itertuples(index=False):
        frame = frames[str(image_id)]
        if frame is not None:
            canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = frame
    return canvas


def measure_parts(
    masks: Source, layout: pd.DataFrame, mm_per_px: float | None = None,
    min_area_px: int = 1, merge_gap_px: float = 0,
) -> pd.DataFrame:
    """Stain and scratch measurements of each part's stitched label mask.

    Parameters
    ----------
    masks : mapping or callable
        Label masks (0/1/2) by image id; frames of the layout missing from a mapping are
        left out and counted in ``n_missing`` (a part with none is dropped).
    layout : DataFrame
        :func:`part_layout` (or either table it takes).
    mm_per_px, min_area_px, merge_gap_px
        As in :func:`heatsink.line.measurements.defect_table`.

    Returns
    -------
    DataFrame
        Indexed by ``part_id``: ``n_frames`` (frames measured), ``n_missing``, ``frames``
        (their ids, "; "-joined, in row-major order), then the measurement columns
        (:data:`~heatsink.line.measurements.DEFECT_COLUMNS`) of the stitched mask, with the
        percentages of the measured frames' pixels. ``attrs`` as
        :func:`~heatsink.line.measurements.defect_table` makes them.

    Examples
    --------
    A stain of 100 pixels on a part of two 100 × 100 frames, one of them missing:

    >>> a = np.zeros((100, 100), np.uint8)
    >>> a[:10, :10] = 2
    >>> layout = pd.DataFrame({"image_id": ["a", "b"], "part_id": 7, "row": 0, "col": [0, 1]})
    >>> row = measure_parts({"a": a}, layout).loc[7]
    >>> row["frames"], int(row["n_missing"]), float(row["TotalStain%"])
    ('a', 1, 1.0)
    """
    layout = part_layout(layout)
    get = _getter(masks)
    info, stitched, covered = {}, {}, {}
    for part_id, tiles in layout.groupby("part_id", sort=True):
        arrays = {i: get(i) for i in tiles["image_id"]}
        present = [i for i, a in arrays.items() if a is not None]
        if not present:
            continue
        canvas = stitch(tiles, arrays)
        stitched[part_id] = canvas
        frame_px = np.asarray(arrays[present[0]]).size
        covered[part_id] = canvas.size / (len(present) * frame_px)
        info[part_id] = {"n_frames": len(present), "n_missing": len(tiles) - len(present),
                         "frames": "; ".join(present)}
    table = measurements.defect_table(stitched.items(), mm_per_px=mm_per_px,
                                      min_area_px=min_area_px, merge_gap_px=merge_gap_px)
    factor = pd.Series(covered, dtype=float).reindex(table.index)
    for column in ("TotalStain%", "TotalScratch%"):
        table[column] = table[column] * factor
    head = pd.DataFrame.from_dict(info, orient="index", columns=PART_COLUMNS)
    head.index = table.index
    out = head.join(table)
    out.index.name = "part_id"
    out.attrs = dict(table.attrs)
    return out


def judge_parts(masks: Source, layout: pd.DataFrame, spec: Spec, merge_gap_px: float = 0
                ) -> pd.DataFrame:
    """Measure each stitched part (with the spec's settings) and judge it against ``spec``.

    Parameters
    ----------
    masks : mapping or callable
        Label masks by image id (see :func:`measure_parts`).
    layout : DataFrame
        :func:`part_layout` (or either table it takes).
    spec : Spec
    merge_gap_px : float
        Join scratch fragments across gaps up to this many pixels first (0: as the frames
        are measured today).

    Returns
    -------
    DataFrame
        :func:`measure_parts` with ``verdict`` and ``failed_rules`` added, one row per part.

    Examples
    --------
    A 200-px scratch crossing the seam between two 160-px frames: each frame holds 100 px of
    it, under a 150-px limit, but the part fails.

    >>> a, b = np.zeros((160, 160), np.uint8), np.zeros((160, 160), np.uint8)
    >>> a[80, 60:], b[80, :100] = 1, 1
    >>> layout = pd.DataFrame({"image_id": ["a", "b"], "part_id": 0, "row": 0, "col": [0, 1]})
    >>> spec = Spec("demo", max_scratch_length=150)
    >>> judged = judge_parts({"a": a, "b": b}, layout, spec)
    >>> row = judged.loc[0]
    >>> row["frames"], float(row["LongestScratchLength"]), row["verdict"]
    ('a; b', 200.0, 'FAIL')
    """
    table = measure_parts(masks, layout, mm_per_px=spec.mm_per_px,
                          min_area_px=spec.min_object_px, merge_gap_px=merge_gap_px)
    return judge_table(table, spec)


__all__ = [
    "LAYOUT_COLUMNS",
    "PART_COLUMNS",
    "Source",
    "judge_parts",
    "layout_from_adjacency",
    "layout_from_neighbours",
    "measure_parts",
    "part_layout",
    "stitch",
]
