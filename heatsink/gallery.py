"""Prediction galleries: which objects a model got right, missed, typed wrong or invented.

The seed study showed its models' predictions frame by frame: examples where the predicted
defect type disagreed with the label, and three models side by side with circles around
the defects only one of them found. This module draws those figures from masks, so any
chapter (or a quality engineer) can put them beside the confusion matrices.

An object is an 8-connected component of one class (:func:`heatsink.components.components`).
Each object of the reference mask (labels or clean truth) and of the prediction gets one
**outcome**, with the matching rule of :func:`heatsink.evaluate.object_counts`:

* a reference object is **correct** when the prediction gives its class to at least one of
  its pixels (``object_counts``' *found*), else **wrong type** when the prediction gives it
  the other defect class somewhere, else **missed**;
* a predicted object is **correct** when at least one reference pixel under it has its
  class, else **wrong type** when one has the other defect class, else **false alarm**
  (``object_counts``' *false* are its wrong-type and false-alarm objects together).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import pandas as pd

from heatsink.classes import DEFECTS, OVERLAY_COLOURS, SCRATCH, STAIN
from heatsink.components import components

#: The outcomes, in the order tables and galleries list them.
OUTCOMES: tuple[str, ...] = ("correct", "missed", "wrong type", "false alarm")

#: Columns of :func:`classify_objects`.
OBJECT_OUTCOME_COLUMNS = [
    "side", "object", "class_id", "class_name", "outcome", "area_px", "top", "left",
    "bbox_h", "bbox_w", "cy", "cx",
]

_OTHER = {SCRATCH: STAIN, STAIN: SCRATCH}


def _side_rows(side: str, own: np.ndarray, other: np.ndarray) -> list[tuple]:
    """The objects of ``own`` (a mask), each judged against ``other``."""
    rows = []
    for class_id, name in DEFECTS:
        found = components(own == class_id)
        for k in range(1, found.n + 1):
            under = other[found.labels == k]
            if (under == class_id).any():
                outcome = "correct"
            elif (under == _OTHER[class_id]).any():
                outcome = "wrong type"
            else:
                outcome = "missed" if side == "reference" else "false alarm"
            left, top, w, h, area = (int(v) for v in found.stats[k])
            cx, cy = (float(v) for v in found.centroids[k])
            rows.append((side, k, class_id, name, outcome, area, top, left, h, w, cy, cx))
    return rows


def classify_objects(reference: np.ndarray, prediction: np.ndarray) -> pd.DataFrame:
    """One row per object of ``reference`` and of ``prediction``, with its outcome.

    Parameters
    ----------
    reference, prediction : ndarray of shape (H, W)
        Label masks with values in {0, 1, 2}: what the frame holds (labels or clean truth)
        and what a model predicted.

    Returns
    -------
    DataFrame
        Columns :data:`OBJECT_OUTCOME_COLUMNS`: ``side`` (``"reference"`` or
        ``"prediction"``), ``object`` (its component number within its class and side),
        ``class_id, class_name``, ``outcome`` (one of :data:`OUTCOMES`), ``area_px``, the
        bounding box ``top, left, bbox_h, bbox_w`` and the centroid ``cy, cx``.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((12, 12), np.uint8)
    >>> truth[1:3, 1:3] = 2   # a stain the model finds
    >>> truth[8:10, 1:3] = 2  # a stain the model calls a scratch
    >>> truth[1:3, 8:10] = 1  # a scratch the model misses
    >>> pred = np.zeros_like(truth)
    >>> pred[1:3, 1:3] = 2
    >>> pred[8:10, 1:3] = 1
    >>> pred[8:10, 8:10] = 2  # a stain on clean surface
    >>> table = classify_objects(truth, pred)
    >>> table[["side", "class_name", "outcome"]].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['reference', 'scratch', 'missed'], ['reference', 'stain', 'correct'],
     ['reference', 'stain', 'wrong type'], ['prediction', 'scratch', 'wrong type'],
     ['prediction', 'stain', 'correct'], ['prediction', 'stain', 'false alarm']]
    """
    reference, prediction = np.asarray(reference), np.asarray(prediction)
    if reference.shape != prediction.shape:
        raise ValueError(f"reference {reference.shape} and prediction {prediction.shape} "
                         "differ in size")
    rows = (_side_rows("reference", reference, prediction)
            + _side_rows("prediction", prediction, reference))
    return pd.DataFrame(rows, columns=OBJECT_OUTCOME_COLUMNS)


def outcome_counts(
    references: Mapping[str, np.ndarray], predictions: Mapping[str, Mapping[str, np.ndarray]],
) -> pd.DataFrame:
    """How many objects of each outcome each model has in each frame.

    Parameters
    ----------
    references : mapping
        Image id -> reference mask (labels or clean truth).
    predictions : mapping
        Model name -> (image id -> predicted mask); every model covers the same ids, which
        must all be in ``references``.

    Returns
    -------
    DataFrame
        Indexed by ``(model, image_id)`` in the given orders; one column per outcome of
        :data:`OUTCOMES` (a ``wrong type`` object counts once per side: the reference
        object and the predicted one).

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((6, 6), np.uint8); truth[1:3, 1:3] = 2
    >>> counts = outcome_counts({"a": truth}, {"m": {"a": np.zeros_like(truth)}})
    >>> counts.loc[("m", "a")].to_dict()
    {'correct': 0, 'missed': 1, 'wrong type': 0, 'false alarm': 0}
    """
    rows, index = [], []
    for model, preds in predictions.items():
        for image_id, pred in preds.items():
            table = classify_objects(references[image_id], pred)
            counts = table["outcome"].value_counts()
            rows.append([int(counts.get(o, 0)) for o in OUTCOMES])
            index.append((model, str(image_id)))
    return pd.DataFrame(rows, columns=list(OUTCOMES),
                        index=pd.MultiIndex.from_tuples(index, names=["model", "image_id"]))


def pick_frames(
    counts: pd.DataFrame, per_outcome: int = 2, seed: int = 0,
    outcomes: Sequence[str] = ("missed", "wrong type", "false alarm", "correct"),
    model: str | None = None,
) -> pd.DataFrame:
    """Example frames for each outcome, drawn at random but reproducibly.

    For each outcome in turn, ``per_outcome`` frames are drawn (seeded) among those where
    ``model`` has at least one object of that outcome, leaving out frames already drawn for
    an earlier outcome; fewer when there are not enough.

    Parameters
    ----------
    counts : DataFrame
        :func:`outcome_counts`'s table.
    per_outcome : int
        Frames wanted per outcome.
    seed : int
        Seed of the draw (the same seed and table give the same frames).
    outcomes : sequence of str
        Which outcomes, in the gallery's order.
    model : str, optional
        Whose outcomes choose the frames (default: the first model of ``counts``).

    Returns
    -------
    DataFrame
        ``image_id, outcome``, one row per chosen frame, in gallery order.

    Examples
    --------
    >>> import pandas as pd
    >>> counts = pd.DataFrame(
    ...     {"correct": [1, 0, 2], "missed": [0, 1, 0], "wrong type": [0, 0, 1],
    ...      "false alarm": [0, 0, 0]},
    ...     index=pd.MultiIndex.from_product([["m"], ["a", "b", "c"]]))
    >>> pick_frames(counts, per_outcome=1).values.tolist()
    [['b', 'missed'], ['c', 'wrong type'], ['a', 'correct']]
    """
    unknown = set(outcomes) - set(OUTCOMES)
    if unknown:
        raise ValueError(f"unknown outcome(s) {sorted(unknown)}; choose from {OUTCOMES}")
    model = counts.index.get_level_values(0)[0] if model is None else model
    table = counts.xs(model, level=0)
    rng = np.random.default_rng(seed)
    chosen: list[tuple[str, str]] = []
    taken: set[str] = set()
    for outcome in outcomes:
        pool = sorted(str(i) for i in table.index[table[outcome] > 0] if str(i) not in taken)
        draw = rng.permutation(len(pool))[:per_outcome]
        for k in sorted(draw):
            chosen.append((pool[k], outcome))
            taken.add(pool[k])
    return pd.DataFrame(chosen, columns=["image_id", "outcome"])


def unique_objects(
    reference: np.ndarray, predictions: Mapping[str, np.ndarray], margin: float = 4.0,
) -> pd.DataFrame:
    """The reference objects that only one model found, or only one model missed.

    With two models or more, a reference object found (:func:`classify_objects`'
    ``correct``) by exactly one model is ``only found`` in that model's panel; one found by
    every model but one is ``only missed`` in that one's panel. With two models an object
    one model found and the other did not is both. Nothing is unique with fewer than two
    models.

    Parameters
    ----------
    reference : ndarray (H, W)
        The reference mask.
    predictions : mapping
        Model name -> predicted mask of the same frame.
    margin : float
        Pixels added to the circle's radius beyond half the object's bounding-box diagonal.

    Returns
    -------
    DataFrame
        ``model, kind`` (``"only found"`` or ``"only missed"``), ``class_name``, the circle
        ``cy, cx, radius``.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((20, 20), np.uint8); truth[2:5, 2:5] = 2; truth[12:15, 12:15] = 2
    >>> a = truth.copy()                       # finds both
    >>> b = truth.copy(); b[12:15, 12:15] = 0  # misses the second
    >>> c = np.zeros_like(truth); c[2:5, 2:5] = 2
    >>> unique_objects(truth, {"a": a, "b": b, "c": c})[["model", "kind"]].values.tolist()
    [['a', 'only found']]
    >>> unique_objects(truth, {"a": a, "b": b})[["model", "kind"]].values.tolist()
    [['a', 'only found'], ['b', 'only missed']]
    """
    columns = ["model", "kind", "class_name", "cy", "cx", "radius"]
    models = list(predictions)
    if len(models) < 2:
        return pd.DataFrame(columns=columns)
    tables = {m: classify_objects(reference, p) for m, p in predictions.items()}
    objects = tables[models[0]]
    objects = objects[objects["side"] == "reference"].reset_index(drop=True)
    found = np.column_stack([
        (t.loc[t["side"] == "reference", "outcome"] == "correct").to_numpy()
        for t in tables.values()]) if len(objects) else np.zeros((0, len(models)), bool)
    rows = []
    for k, obj in objects.iterrows():
        radius = 0.5 * float(np.hypot(obj["bbox_h"], obj["bbox_w"])) + margin
        circle = (obj["class_name"], obj["top"] + (obj["bbox_h"] - 1) / 2,
                  obj["left"] + (obj["bbox_w"] - 1) / 2, radius)
        if found[k].sum() == 1:
            rows.append((models[int(np.flatnonzero(found[k])[0])], "only found", *circle))
        if (~found[k]).sum() == 1:
            rows.append((models[int(np.flatnonzero(~found[k])[0])], "only missed", *circle))
    return pd.DataFrame(rows, columns=columns)


def outline(image: np.ndarray, mask: np.ndarray, thickness: int = 1) -> np.ndarray:
    """``image`` with the outline of each defect object drawn in its class colour.

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8 or (H, W)
        RGB image (a grayscale one is repeated into three channels).
    mask : ndarray (H, W)
        Label mask with values in {0, 1, 2}.
    thickness : int
        Line width in pixels.

    Returns
    -------
    ndarray (H, W, 3) uint8
        A copy; the class colours are :data:`heatsink.classes.OVERLAY_COLOURS`.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((10, 10), np.uint8); mask[2:8, 2:8] = 1
    >>> drawn = outline(np.zeros((10, 10, 3), np.uint8), mask)
    >>> tuple(int(v) for v in drawn[2, 5]), tuple(int(v) for v in drawn[5, 5])
    ((0, 220, 255), (0, 0, 0))
    """
    image, mask = np.asarray(image), np.asarray(mask)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.shape[:2] != mask.shape:
        raise ValueError(f"image {image.shape[:2]} and mask {mask.shape} differ in size")
    out = np.ascontiguousarray(image, dtype=np.uint8).copy()
    for class_id, colour in OVERLAY_COLOURS.items():
        binary = (mask == class_id).astype(np.uint8)
        if binary.any():
            contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(out, contours, -1, tuple(int(v) for v in colour), thickness)
    return out


#: Circle styles of :func:`prediction_gallery`: only found (solid), only missed (dashed).
CIRCLE_STYLES: dict[str, dict] = {
    "only found": {"edgecolor": "white", "linestyle": "-", "linewidth": 1.4},
    "only missed": {"edgecolor": "yellow", "linestyle": "--", "linewidth": 1.4},
}


def prediction_gallery(
    images: Mapping[str, np.ndarray],
    references: Mapping[str, np.ndarray],
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    ids: Sequence[str],
    *,
    row_titles: Mapping[str, str] | None = None,
    reference_name: str = "labels",
    circles: bool = True,
    thickness: int = 1,
    size: float = 2.4,
    title: str = "",
):
    """Frames side by side: image, reference and each model's prediction, outlined by class.

    One row per frame of ``ids``; columns the image, the reference's objects and each
    model's predicted objects, outlined in the class colours (scratch cyan, stain green).
    With two models or more, circles mark the reference objects only one model found (solid
    white, in that model's panel) or only one model missed (dashed yellow, in that
    model's panel); see :func:`unique_objects`.

    Parameters
    ----------
    images : mapping
        Image id -> RGB image.
    references : mapping
        Image id -> reference mask (labels or clean truth).
    predictions : mapping
        Model name -> (image id -> predicted mask); the column order is this order.
    ids : sequence of str
        The frames, top to bottom (e.g. :func:`pick_frames`' ``image_id``).
    row_titles : mapping, optional
        Image id -> text written above the row's image (default: the id).
    reference_name : str
        The reference column's title (``"labels"`` or ``"clean truth"``).
    circles : bool
        Draw the circles.
    thickness : int
        Outline width in image pixels (2 reads better in a small figure of 320² frames).
    size : float
        Inches per panel.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib Figure
        Axes ``fig.axes`` row by row; each circle is a ``matplotlib.patches.Circle``
        whose ``gid`` is its kind.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    ids = [str(i) for i in ids]
    if not ids:
        raise ValueError("no frames to show")
    models = list(predictions)
    ncols = 2 + len(models)
    fig, axes = plt.subplots(len(ids), ncols, figsize=(size * ncols, size * len(ids)),
                             squeeze=False)
    for r, image_id in enumerate(ids):
        image, reference = images[image_id], references[image_id]
        preds = {m: predictions[m][image_id] for m in models}
        panels = [image, outline(image, reference, thickness),
                  *(outline(image, p, thickness) for p in preds.values())]
        names = [(row_titles or {}).get(image_id, image_id), reference_name, *models]
        for c, (ax, panel) in enumerate(zip(axes[r], panels, strict=True)):
            ax.imshow(panel, cmap="gray" if panel.ndim == 2 else None)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0 or c == 0:
                ax.set_title(names[c], fontsize=8)
        if circles:
            marks = unique_objects(reference, preds)
            for mark in marks.itertuples():
                ax = axes[r][2 + models.index(mark.model)]
                ax.add_patch(Circle((mark.cx, mark.cy), mark.radius, fill=False,
                                    gid=mark.kind, **CIRCLE_STYLES[mark.kind]))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


__all__ = [
    "CIRCLE_STYLES",
    "OBJECT_OUTCOME_COLUMNS",
    "OUTCOMES",
    "classify_objects",
    "outcome_counts",
    "outline",
    "pick_frames",
    "prediction_gallery",
    "unique_objects",
]
