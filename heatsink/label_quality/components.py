"""Suspect connected components: unlabelled defects, rejected labels, class swaps."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import pandas as pd

from heatsink.classes import BACKGROUND
from heatsink.components import components
from heatsink.label_quality._inputs import check, class_name, image_ids

#: Kinds of suspect component, in report order.
KINDS: tuple[str, ...] = ("unlabelled_defect", "rejected_label", "class_swap")
COMPONENT_COLUMNS = [
    "image_id", "kind", "class_labelled", "class_predicted", "pixels", "top", "left",
    "bbox_h", "bbox_w", "confidence",
]
#: Defaults of :func:`component_issues`: smallest component reported (px), probability a
#: component's predicted class must reach, and band (px) around a labelled defect within
#: which an unlabelled prediction of the same class is taken as boundary imprecision.
MIN_PIXELS = 16
CONFIDENCE = 0.5
BOUNDARY = 2


def _components(mask: np.ndarray, min_pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8-connected components of ``mask``: label image, stats (x, y, w, h, area), kept ids."""
    _, comp, stats, _ = components(mask)
    keep = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_pixels)
    return comp, stats, keep[keep > 0]


def _component_means(comp: np.ndarray, stats: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Mean class probabilities over each component, (n_components, K)."""
    flat = comp.ravel()
    sums = [np.bincount(flat, weights=prob[..., k].ravel(), minlength=len(stats))
            for k in range(prob.shape[-1])]
    return np.stack(sums, axis=-1) / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)[:, None]


def _row(image_id, kind, labelled, predicted, stat, confidence) -> dict:
    x, y, w, h, area = (int(v) for v in stat)
    return {"image_id": image_id, "kind": kind, "class_labelled": class_name(labelled),
            "class_predicted": class_name(predicted), "pixels": area, "top": y, "left": x,
            "bbox_h": h, "bbox_w": w, "confidence": float(confidence)}


def _image_components(image_id: str, label: np.ndarray, prob: np.ndarray, min_pixels: int,
                      confidence: float, boundary: int) -> list[dict]:
    rows = []
    kernel = np.ones((2 * boundary + 1, 2 * boundary + 1), np.uint8)
    for c in range(1, prob.shape[-1]):
        labelled = label == c
        # unlabelled: background-labelled pixels confidently predicted as class c, away
        # from the boundary band of a labelled class-c defect
        near = cv2.dilate(labelled.astype(np.uint8), kernel).astype(bool) if boundary else labelled
        comp, stats, keep = _components((label == BACKGROUND) & (prob[..., c] >= confidence)
                                        & ~near, min_pixels)
        means = _component_means(comp, stats, prob)
        rows += [_row(image_id, "unlabelled_defect", BACKGROUND, c, stats[j], means[j, c])
                 for j in keep]
        # labelled class-c components whose mean prediction is confidently another class
        comp, stats, keep = _components(labelled, min_pixels)
        means = _component_means(comp, stats, prob)
        for j in keep:
            k = int(np.argmax(means[j]))
            if k != c and means[j, k] >= confidence:
                kind = "rejected_label" if k == BACKGROUND else "class_swap"
                rows.append(_row(image_id, kind, c, k, stats[j], means[j, k]))
    return rows


def component_issues(
    labels, probs, ids: Sequence[str] | None = None, *, min_pixels: int = MIN_PIXELS,
    confidence: float = CONFIDENCE, boundary: int = BOUNDARY,
) -> pd.DataFrame:
    """Suspect connected components (8-connectivity), one row each.

    * ``unlabelled_defect``: a component of background-labelled pixels where the
      probability of one defect class is ≥ ``confidence``; pixels within ``boundary`` px
      of a labelled defect of that class are left out (ordinary boundary imprecision);
    * ``rejected_label``: a labelled defect component whose mean probabilities favour
      background, at ≥ ``confidence``;
    * ``class_swap``: a labelled defect component whose mean probabilities favour the
      other defect class, at ≥ ``confidence``.

    Components under ``min_pixels`` are dropped. ``confidence`` in the table is the mean
    probability of ``class_predicted`` over the component; the box is in frame pixels.

    Returns
    -------
    DataFrame
        :data:`COMPONENT_COLUMNS`, in image order, then by kind and position.
    """
    labels, probs = check(labels, probs)
    ids = image_ids(ids, len(labels))
    rows = []
    for i, image_id in enumerate(ids):
        rows += _image_components(image_id, labels[i], probs[i].astype(np.float32),
                                  min_pixels, confidence, boundary)
    table = pd.DataFrame(rows, columns=COMPONENT_COLUMNS)
    order = {k: n for n, k in enumerate(KINDS)}
    position = {i: n for n, i in enumerate(ids)}
    table = table.sort_values(["image_id", "kind", "top", "left"], kind="mergesort",
                              key=lambda s: s.map(position) if s.name == "image_id"
                              else s.map(order) if s.name == "kind" else s)
    ints = ["pixels", "top", "left", "bbox_h", "bbox_w"]
    return table.astype(dict.fromkeys(ints, int) | {"confidence": float}).reset_index(drop=True)


__all__ = [
    "BOUNDARY",
    "COMPONENT_COLUMNS",
    "CONFIDENCE",
    "KINDS",
    "MIN_PIXELS",
    "component_issues",
]
