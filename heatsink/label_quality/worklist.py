"""The labeller's worklist (one row per image, most suspect first), its figure, and writing
the tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from heatsink.io import atomic_path
from heatsink.label_quality._inputs import image_ids
from heatsink.label_quality.components import KINDS
from heatsink.label_quality.rankings import flag_top


def _note(c) -> str:
    where = (f"at x={c.left + c.bbox_w // 2}, y={c.top + c.bbox_h // 2} "
             f"({c.bbox_w} px wide, {c.bbox_h} px high)")
    if c.kind == "unlabelled_defect":
        return f"{c.class_predicted}-like region unlabelled {where}"
    if c.kind == "rejected_label":
        return f"{c.class_labelled} label where the model sees background {where}"
    return f"{c.class_labelled} label looks like {c.class_predicted} {where}"


def _pixel_note(mask: np.ndarray) -> str:
    if not mask.any():
        return "no suspect region: check the whole label"
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return (f"{int(mask.sum())} suspect pixels in x={cols[0]}–{cols[-1]}, "
            f"y={rows[0]}–{rows[-1]}: check boundaries")


def ranked_issues(
    scores: pd.Series, components: pd.DataFrame, pixel_issues: np.ndarray | None = None,
    ids: Sequence[str] | None = None, *, top: int | None = None, max_notes: int = 3,
) -> pd.DataFrame:
    """The labeller's worklist: one row per image, most suspect first.

    Columns ``rank`` (1 = most suspect), ``image_id``, ``score``, ``suspect_pixels`` (only
    with ``pixel_issues``, whose rows follow ``ids``), ``n_<kind>`` per kind of
    :data:`KINDS`, and ``what_to_check``: the image's suspect components, most confident
    first (at most ``max_notes``, centre and size of their box), or else the extent of its
    suspect pixels. ``top`` keeps only the first rows.
    """
    order = flag_top(scores, len(scores) if top is None else top)
    score_of = pd.Series(scores.to_numpy(float), index=scores.index.astype(str))
    by_image = dict(iter(components.groupby(components["image_id"].astype(str))))
    pixel_rows = {}
    if pixel_issues is not None:
        if ids is None:
            raise ValueError("ids are needed to read pixel_issues")
        pixel_rows = {i: n for n, i in enumerate(image_ids(ids, len(pixel_issues)))}
    rows = []
    for rank, image_id in enumerate(order, start=1):
        comps = by_image.get(image_id, components.iloc[:0])
        row = {"rank": rank, "image_id": image_id, "score": float(score_of[image_id])}
        mask = None
        if pixel_issues is not None:
            mask = np.asarray(pixel_issues[pixel_rows[image_id]])
            row["suspect_pixels"] = int(mask.sum())
        row |= {f"n_{kind}": int((comps["kind"] == kind).sum()) for kind in KINDS}
        notes = [_note(c) for c in comps.sort_values(
            ["confidence", "pixels"], ascending=False).itertuples()]
        if len(notes) > max_notes:
            notes = [*notes[:max_notes], f"+{len(notes) - max_notes} more"]
        if not notes:
            notes = [_pixel_note(mask) if mask is not None else "no suspect region"]
        rows.append(row | {"what_to_check": "; ".join(notes)})
    columns = ["rank", "image_id", "score", *(["suspect_pixels"] if pixel_issues is not None
                                              else []), *(f"n_{k}" for k in KINDS),
               "what_to_check"]
    return pd.DataFrame(rows, columns=columns)


def write_ranked_issues(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the worklist as CSV, atomically; read it back with ``dtype={"image_id": str}``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
    return path


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        scale = 255.0 if image.size and float(image.max()) <= 1.0 else 1.0
        image = np.clip(image * scale, 0, 255).astype(np.uint8)
    return np.repeat(image[..., None], 3, axis=-1) if image.ndim == 2 else image


def issue_grid(
    images, labels, preds, ids: Sequence[str], scores: pd.Series,
    pixel_issues: np.ndarray | None = None, n: int = 6, alpha: float = 0.45,
    notes: Mapping[str, str] | None = None,
):
    """Figure of the ``n`` most suspect images among ``ids``: one row each.

    Columns: image | label overlay | prediction overlay | suspect pixels in red (the last
    only with ``pixel_issues``). ``images`` (RGB or grey), ``labels``, ``preds`` (class
    maps, or probabilities (…, K) reduced by argmax) and ``pixel_issues`` follow ``ids``;
    ``scores`` may cover more images. ``notes`` adds a second line to an image's title,
    e.g. what a twin injected there (:func:`~heatsink.label_quality.injected_errors`).
    """
    from heatsink.viz import image_grid, overlay

    position = {image_id: j for j, image_id in enumerate(image_ids(ids, len(labels)))}
    order = flag_top(scores[scores.index.astype(str).isin(list(position))], n)
    panels, titles = [], []
    for image_id in order:
        j = position[image_id]
        image = _rgb(images[j])
        pred = np.asarray(preds[j])
        pred = pred.argmax(-1) if pred.ndim == 3 else pred
        panels += [image, overlay(image, np.asarray(labels[j]), alpha),
                   overlay(image, pred, alpha)]
        title = f"{image_id}  score {float(scores[image_id]):.3g}"
        if notes and image_id in notes:
            title += f"\n{notes[image_id]}"
        titles += [title, "label", "prediction"]
        if pixel_issues is not None:
            mask = np.asarray(pixel_issues[j], bool)
            marked = image.astype(np.float32)
            marked[mask] = (1 - alpha) * marked[mask] + alpha * np.array([255.0, 0.0, 0.0])
            panels.append(marked.astype(np.uint8))
            titles.append(f"suspect pixels ({int(mask.sum())})")
    return image_grid(panels, titles, ncols=3 if pixel_issues is None else 4)


def save_tables(folder: str | Path, tables: Mapping[str, pd.DataFrame]) -> list[Path]:
    """Write each table to ``folder/<name>.csv`` atomically; return the paths."""
    paths = []
    for table_name, table in tables.items():
        path = Path(folder) / f"{table_name}.csv"
        with atomic_path(path) as tmp:
            table.to_csv(tmp)
        paths.append(path)
    return paths


__all__ = [
    "issue_grid",
    "ranked_issues",
    "save_tables",
    "write_ranked_issues",
]
