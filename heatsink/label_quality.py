"""Label quality: which labels a model that never saw them disagrees with.

Every function takes the labels as drawn, ``labels`` (N, H, W) of integer classes, and
**out-of-sample** class probabilities ``probs`` (N, H, W, K), each image predicted by a
model trained on folds that did not contain it; ``ids`` name the images in that order. On
in-sample probabilities the model has learnt the label errors and every method goes blind.

Three views of the same probabilities:

* image rankings: :func:`cleanlab_scores` (cleanlab's per-image label quality score, the
  softmin of the per-pixel probability of the given label) and two baselines,
  :func:`loss_scores` and :func:`disagreement_scores`. All return a Series indexed by
  image id in which **lower means more suspect**, so every ranking sorts the same way
  (:func:`rank_order`, ties broken by image id);
* suspect pixels: :func:`cleanlab_pixel_issues` (cleanlab's confident-learning filter);
* suspect components (:func:`component_issues`): unlabelled regions the model is confident
  are a defect, labelled defects it calls background, and scratch/stain swaps.

:func:`precision_at_k`, :func:`image_detection_table` and :func:`component_detection_table`
score these against a twin's ``noise_manifest.csv``; :func:`ranked_issues` turns a ranking
into a labeller's worklist and :func:`issue_grid` shows its top entries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from heatsink.classes import BACKGROUND, CLASS_NAMES
from heatsink.io import atomic_path

#: Kinds of suspect component, in report order.
KINDS: tuple[str, ...] = ("unlabelled_defect", "rejected_label", "class_swap")
COMPONENT_COLUMNS = [
    "image_id", "kind", "class_labelled", "class_predicted", "pixels", "top", "left",
    "bbox_h", "bbox_w", "confidence",
]
#: Largest block side :func:`cleanlab_pixel_issues` pools to by default (320 px → 160 px).
MAX_DOWNSAMPLE = 2
#: Defaults of :func:`component_issues`: smallest component reported (px), probability a
#: component's predicted class must reach, and band (px) around a labelled defect within
#: which an unlabelled prediction of the same class is taken as boundary imprecision.
MIN_PIXELS = 16
CONFIDENCE = 0.5
BOUNDARY = 2
#: Margin (px) by which manifest boxes are grown when matching components to them.
MATCH_MARGIN = 2
_BATCH = 32  # images converted to float32 at once
_EPS = 1e-6
_SUM_TOLERANCE = 1e-2  # float16 probabilities sum to 1 within ~1e-3


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------


def _quiet_tqdm() -> None:
    """Silence tqdm's "IProgress not found" warning, raised when cleanlab imports
    ``tqdm.auto`` in a notebook without ipywidgets (cleanlab's bars are off anyway)."""
    import warnings

    from tqdm import TqdmWarning

    warnings.filterwarnings("ignore", category=TqdmWarning)


def _check(labels, probs) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``labels`` (N, H, W) integer and ``probs`` (N, H, W, K) float arrays."""
    labels, probs = np.asarray(labels), np.asarray(probs)
    if labels.ndim != 3:
        raise ValueError(f"labels must have shape (N, H, W), got {labels.shape}")
    if probs.ndim != 4:
        raise ValueError(f"probs must have shape (N, H, W, K), got {probs.shape}")
    if probs.shape[:3] != labels.shape:
        raise ValueError(
            f"labels {labels.shape} and probs {probs.shape} differ in (N, H, W); "
            "probs must be channels-last (N, H, W, K)"
        )
    if labels.shape[0] == 0:
        raise ValueError("no images")
    k = probs.shape[-1]
    if k < 2:
        raise ValueError(f"probs need at least 2 classes, got K={k}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= k:
        raise ValueError(f"labels hold classes {low}..{high}, outside 0..{k - 1} of probs")
    if not np.issubdtype(probs.dtype, np.floating):
        raise ValueError(f"probs must be floating point, got dtype {probs.dtype}")
    for batch in _batches(len(probs)):
        chunk = probs[batch].astype(np.float32)
        if not np.isfinite(chunk).all() or chunk.min() < 0:
            raise ValueError("probs must be finite and non-negative (probabilities, not logits)")
        error = float(np.abs(chunk.sum(-1) - 1).max())
        if error > _SUM_TOLERANCE:
            raise ValueError(f"probs must sum to 1 over the last axis; off by up to {error:.3g}")
    return labels, probs


def _ids(ids: Sequence[str] | None, n: int) -> list[str]:
    """Image ids as str; default the zero-padded positions ``0000, 0001, …``."""
    if ids is None:
        return [f"{i:04d}" for i in range(n)]
    ids = [str(i) for i in ids]
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} images")
    if len(set(ids)) != n:
        raise ValueError("ids are not unique")
    return ids


def _batches(n: int, size: int = _BATCH) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _class_name(k: int) -> str:
    return CLASS_NAMES[k] if k < len(CLASS_NAMES) else f"class {k}"


def _label_probability(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Probability of the given label at each pixel, float32 (N, H, W)."""
    out = np.empty(labels.shape, np.float32)
    for b in _batches(len(labels)):
        lab = labels[b, ..., None].astype(np.intp)
        out[b] = np.take_along_axis(probs[b], lab, axis=-1)[..., 0]
    return out


# --------------------------------------------------------------------------------------
# image rankings (lower = more suspect)
# --------------------------------------------------------------------------------------


def cleanlab_scores(
    labels, probs, ids: Sequence[str] | None = None, *, method: str = "softmin",
    temperature: float = 0.1, downsample: int | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """Cleanlab's label quality score of each image (lower = more suspect).

    Parameters
    ----------
    labels : ndarray (N, H, W) int
    probs : ndarray (N, H, W, K) float
        Out-of-sample class probabilities (float16 is fine; used as float32).
    ids : sequence of str, optional
        Image ids in array order; default ``0000, 0001, …``.
    method : {"softmin", "num_pixel_issues"}
        ``softmin``: :func:`cleanlab.segmentation.rank.get_label_quality_scores`, a
        soft minimum (temperature ``temperature``) of the per-pixel probability of the
        given label, so a few confidently contradicted pixels pull an image down however
        large the rest. ``num_pixel_issues``: 1 − the fraction of the image's pixels that
        :func:`cleanlab_pixel_issues` flags (with ``downsample``).

    Returns
    -------
    scores : Series
        Score in [0, 1] per image, indexed by image id.
    pixel_scores : ndarray (N, H, W) float32
        Probability of the given label at each pixel.
    """
    labels, probs = _check(labels, probs)
    ids = _ids(ids, len(labels))
    if method == "num_pixel_issues":
        issues = _pixel_issues(labels, probs, downsample)
        image = 1.0 - issues.mean(axis=(1, 2))
        pixel = _label_probability(labels, probs)
    elif method == "softmin":
        _quiet_tqdm()
        from cleanlab.segmentation.rank import get_label_quality_scores

        image = np.empty(len(labels))
        pixel = np.empty(labels.shape, np.float32)
        for b in _batches(len(labels)):  # softmin is per image: batching changes nothing
            nkhw = np.moveaxis(probs[b].astype(np.float32), -1, 1)
            image[b], pixel[b] = get_label_quality_scores(
                labels[b].astype(np.int64), nkhw, method="softmin", verbose=False,
                temperature=temperature,
            )
    else:
        raise ValueError(f"method must be 'softmin' or 'num_pixel_issues', not {method!r}")
    return pd.Series(image, index=pd.Index(ids, name="image_id"), name="cleanlab"), pixel


def _defect_region(label: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return (label != BACKGROUND) | (pred != BACKGROUND)


def loss_scores(
    labels, probs, ids: Sequence[str] | None = None, *, focus: str = "defects"
) -> pd.Series:
    """Baseline: minus the mean out-of-sample cross-entropy of the given label.

    With ``focus="defects"`` (default) the mean runs over the image's defect region, the
    pixels labelled or predicted as a defect, and over the whole frame only if that region
    is empty. A missed 200 px stain in a 320×320 frame moves a whole-frame mean by 0.2 %,
    below the spread of ordinary boundary losses between images; over the defect region it
    counts. ``focus="all"`` averages over every pixel. Probabilities are clipped at 1e-6.

    Returns
    -------
    Series
        ``−loss`` per image, indexed by image id: lower = more suspect.
    """
    labels, probs = _check(labels, probs)
    ids = _ids(ids, len(labels))
    if focus not in ("defects", "all"):
        raise ValueError(f"focus must be 'defects' or 'all', not {focus!r}")
    p_label = _label_probability(labels, probs)
    out = np.empty(len(labels))
    for i in range(len(labels)):
        loss = -np.log(np.clip(p_label[i], _EPS, 1.0))
        region = _defect_region(labels[i], probs[i].argmax(-1)) if focus == "defects" else None
        out[i] = -(loss[region].mean() if region is not None and region.any() else loss.mean())
    return pd.Series(out, index=pd.Index(ids, name="image_id"), name="loss")


def disagreement_scores(
    labels, probs, ids: Sequence[str] | None = None, *, relative: bool = False
) -> pd.Series:
    """Baseline: minus the number of pixels whose predicted class (argmax) is not the label.

    With ``relative=True``, minus the fraction of the defect region (pixels labelled or
    predicted as a defect) in disagreement, 0 for an image with no defect region; this
    favours small defects, the count favours large ones.

    Returns
    -------
    Series
        Indexed by image id: lower = more suspect.
    """
    labels, probs = _check(labels, probs)
    ids = _ids(ids, len(labels))
    out = np.empty(len(labels))
    for i in range(len(labels)):
        pred = probs[i].argmax(-1)
        wrong = int((pred != labels[i]).sum())
        if relative:
            region = int(_defect_region(labels[i], pred).sum())
            out[i] = -(wrong / region) if region else 0.0
        else:
            out[i] = -wrong
    return pd.Series(out, index=pd.Index(ids, name="image_id"), name="disagreement")


# --------------------------------------------------------------------------------------
# suspect pixels
# --------------------------------------------------------------------------------------


def default_downsample(height: int, width: int, largest: int = MAX_DOWNSAMPLE) -> int:
    """The largest block side ≤ ``largest`` that divides both ``height`` and ``width``."""
    return max(d for d in range(1, max(1, largest) + 1) if height % d == 0 and width % d == 0)


def _pool(labels: np.ndarray, probs: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels by majority vote (ties to the lower class) and mean probabilities per d×d block."""
    n, h, w, k = probs.shape
    small_labels = np.empty((n, h // d, w // d), np.int64)
    small_probs = np.empty((n, k, h // d, w // d), np.float32)
    for b in _batches(n):
        m = b.stop - b.start
        p = probs[b].astype(np.float32).reshape(m, h // d, d, w // d, d, k).mean(axis=(2, 4))
        small_probs[b] = np.moveaxis(p / p.sum(-1, keepdims=True), -1, 1)
        votes = [(labels[b] == c).reshape(m, h // d, d, w // d, d).sum(axis=(2, 4))
                 for c in range(k)]
        small_labels[b] = np.argmax(np.stack(votes, axis=-1), axis=-1)
    return small_labels, small_probs


def _pixel_issues(labels: np.ndarray, probs: np.ndarray, downsample: int | None) -> np.ndarray:
    _quiet_tqdm()
    from cleanlab.segmentation.filter import find_label_issues

    n, h, w, _ = probs.shape
    d = default_downsample(h, w) if downsample is None else int(downsample)
    if d < 1 or h % d or w % d:
        raise ValueError(f"downsample {d} does not divide the frame size {h}×{w}")
    small_labels, small_probs = _pool(labels, probs, d)
    blocks = find_label_issues(small_labels, small_probs, downsample=1, n_jobs=1, verbose=False)
    issues = np.empty(labels.shape, bool)
    for b in _batches(n):
        full = blocks[b].repeat(d, axis=1).repeat(d, axis=2)
        issues[b] = full & (probs[b].argmax(-1) != labels[b])
    return issues


def cleanlab_pixel_issues(labels, probs, *, downsample: int | None = None) -> np.ndarray:
    """Pixels whose label cleanlab's confident learning calls an issue, bool (N, H, W).

    :func:`cleanlab.segmentation.filter.find_label_issues` runs on ``downsample``-pooled
    frames (default :func:`default_downsample`, 2 for 320×320: a 1000-image dataset then
    takes ~15 s on one core instead of ~1 min). The pooling is done here, not by cleanlab,
    whose own downsampling rounds the *mean class index* of a block, which turns a block
    half stain, half background into "scratch"; here a block's label is its majority class
    and its probabilities the block mean. A flagged block marks those of its pixels whose
    predicted class (argmax) differs from their label, as cleanlab does. Defects thinner
    than about half a block can vanish in the pooling; use ``downsample=1`` for them.
    """
    labels, probs = _check(labels, probs)
    return _pixel_issues(labels, probs, downsample)


# --------------------------------------------------------------------------------------
# suspect components
# --------------------------------------------------------------------------------------


def _components(mask: np.ndarray, min_pixels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """8-connected components of ``mask``: label image, stats (x, y, w, h, area), kept ids."""
    _, comp, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
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
    return {"image_id": image_id, "kind": kind, "class_labelled": _class_name(labelled),
            "class_predicted": _class_name(predicted), "pixels": area, "top": y, "left": x,
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
    labels, probs = _check(labels, probs)
    ids = _ids(ids, len(labels))
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


# --------------------------------------------------------------------------------------
# evaluation against a noise manifest
# --------------------------------------------------------------------------------------


def rank_order(scores: pd.Series) -> list[str]:
    """Image ids from most to least suspect: ascending score, ties by image id, NaN last."""
    frame = pd.DataFrame({"id": scores.index.astype(str), "score": scores.to_numpy(float)})
    return frame.sort_values(["score", "id"], kind="mergesort", na_position="last")["id"].tolist()


def flag_top(scores: pd.Series, n: int) -> list[str]:
    """The ``n`` most suspect image ids, in rank order (for comparisons at equal budget)."""
    return rank_order(scores)[: max(0, int(n))]


def _top_k(fraction: float, n: int) -> int:
    if not 0 < fraction <= 1:
        raise ValueError(f"fractions must be in (0, 1], got {fraction}")
    return max(1, math.floor(fraction * n + 0.5))


def precision_at_k(
    scores: pd.Series, positives: Iterable[str],
    fractions: Sequence[float] = (0.05, 0.1, 0.2, 0.3),
) -> pd.DataFrame:
    """Precision and recall of the top ``fraction`` of a ranking.

    ``k`` is ``fraction × N`` rounded half up (at least 1); positives not among the
    scored images are ignored. Recall is NaN when there are no positives. ``ci_low`` and
    ``ci_high`` bound the precision (95 % Wilson interval, :func:`scipy.stats.binomtest`):
    with ``k`` = 50 images, one hit more or less moves precision by 0.02.

    Returns
    -------
    DataFrame
        ``fraction, k, hits, precision, ci_low, ci_high, recall``.
    """
    from scipy.stats import binomtest

    order = rank_order(scores)
    positives = {str(p) for p in positives} & set(order)
    rows = []
    for fraction in fractions:
        k = _top_k(fraction, len(order))
        hits = len(set(order[:k]) & positives)
        ci = binomtest(hits, k).proportion_ci(confidence_level=0.95, method="wilson")
        rows.append({"fraction": float(fraction), "k": k, "hits": hits, "precision": hits / k,
                     "ci_low": ci.low, "ci_high": ci.high,
                     "recall": hits / len(positives) if positives else np.nan})
    return pd.DataFrame(rows, columns=["fraction", "k", "hits", "precision", "ci_low",
                                       "ci_high", "recall"])


def _error_types(manifest: pd.DataFrame) -> list[str]:
    from heatsink.synth.noise import ERROR_TYPES

    extra = sorted(set(manifest["error"]) - set(ERROR_TYPES))
    return [*ERROR_TYPES, *extra]


def _ratio(a: int, b: int) -> float:
    return a / b if b else np.nan


def image_detection_table(
    flagged: Mapping[str, Iterable[str]], manifest: pd.DataFrame, ids: Iterable[str]
) -> pd.DataFrame:
    """How well each method's flagged images cover the manifest's images, per error type.

    ``ids`` are the images evaluated (the manifest is restricted to them). Per method and
    error type (and ``any``): ``images`` with that error, ``flagged`` by the method,
    ``caught`` (both), ``recall`` = caught / images, ``share_of_flagged`` = caught /
    flagged; ``precision_any`` = share of flagged images with any manifest error, the
    method's precision (repeated on its rows; equal to ``share_of_flagged`` on ``any``).
    """
    ids = {str(i) for i in ids}
    manifest = manifest[manifest["image_id"].astype(str).isin(ids)]
    images = manifest["image_id"].astype(str)
    types = _error_types(manifest)
    with_error = {t: set(images[manifest["error"] == t]) for t in types} | {"any": set(images)}
    rows = []
    for method, chosen in flagged.items():
        chosen = {str(i) for i in chosen}
        if chosen - ids:
            raise ValueError(f"{method}: flagged ids not among ids: {sorted(chosen - ids)[:5]}")
        precision_any = _ratio(len(chosen & with_error["any"]), len(chosen))
        for error, having in with_error.items():
            caught = len(chosen & having)
            rows.append({"method": method, "error": error, "images": len(having),
                         "flagged": len(chosen), "caught": caught,
                         "recall": _ratio(caught, len(having)),
                         "share_of_flagged": _ratio(caught, len(chosen)),
                         "precision_any": precision_any})
    return pd.DataFrame(rows, columns=["method", "error", "images", "flagged", "caught",
                                       "recall", "share_of_flagged", "precision_any"])


def _overlapping(components: pd.DataFrame, manifest: pd.DataFrame, margin: int) -> pd.DataFrame:
    """Pairs ``(component, error)`` of row positions in the same image with overlapping boxes."""
    box = ["top", "left", "bbox_h", "bbox_w"]
    c = components[box].apply(pd.to_numeric).assign(
        image_id=components["image_id"].astype(str).to_numpy(), component=range(len(components)))
    m = manifest[box].apply(pd.to_numeric).assign(
        image_id=manifest["image_id"].astype(str).to_numpy(), error=range(len(manifest)))
    p = c.merge(m, on="image_id", suffixes=("", "_m"))
    hit = ((p["top"] < p["top_m"] + p["bbox_h_m"] + margin)
           & (p["top_m"] - margin < p["top"] + p["bbox_h"])
           & (p["left"] < p["left_m"] + p["bbox_w_m"] + margin)
           & (p["left_m"] - margin < p["left"] + p["bbox_w"]))
    return p.loc[hit, ["component", "error"]]


def match_components(
    components: pd.DataFrame, manifest: pd.DataFrame, margin: int = MATCH_MARGIN
) -> pd.DataFrame:
    """``components`` with ``matched_errors``: the manifest error types it overlaps (";"-joined).

    A component matches a manifest error in the same image if their boxes overlap once
    the manifest box is grown by ``margin`` px on every side (a 1–2 px sloppy boundary
    leaves a sliver just outside the true box).
    """
    pairs = _overlapping(components, manifest, margin)
    kinds = manifest["error"].to_numpy()[pairs["error"].to_numpy()]
    matched = pd.Series(kinds).groupby(pairs["component"].to_numpy()).agg(
        lambda s: ";".join(sorted(set(s))))
    out = components.reset_index(drop=True).copy()
    out["matched_errors"] = [matched.get(i, "") for i in range(len(out))]
    return out


def component_detection_table(
    components: Mapping[str, pd.DataFrame], manifest: pd.DataFrame,
    ids: Iterable[str] | None = None, margin: int = MATCH_MARGIN,
) -> pd.DataFrame:
    """Recall of the manifest's errors and precision of each method's suspect components.

    Matching as in :func:`match_components`. Per method and error type (and ``any``):
    ``n_errors`` in the manifest (restricted to ``ids`` if given), ``found`` (matched by at
    least one component), ``recall``; and, the same on every row of a method,
    ``n_components``, ``precision`` (share of its components matching any manifest error)
    and ``precision_<kind>`` for each kind of :data:`KINDS` (NaN where it has none).
    """
    if ids is not None:
        manifest = manifest[manifest["image_id"].astype(str).isin({str(i) for i in ids})]
    manifest = manifest.reset_index(drop=True)
    types = _error_types(manifest)
    rows = []
    for method, comps in components.items():
        comps = comps.reset_index(drop=True)
        pairs = _overlapping(comps, manifest, margin)
        hit_components, found = set(pairs["component"]), set(pairs["error"])
        per_kind = {f"precision_{kind}": _ratio(
            len(hit_components & set(np.flatnonzero(comps["kind"] == kind))),
            int((comps["kind"] == kind).sum())) for kind in KINDS}
        for error in [*types, "any"]:
            rows_of = set(range(len(manifest))) if error == "any" else set(
                np.flatnonzero(manifest["error"] == error))
            rows.append({"method": method, "error": error, "n_errors": len(rows_of),
                         "found": len(rows_of & found),
                         "recall": _ratio(len(rows_of & found), len(rows_of)),
                         "n_components": len(comps),
                         "precision": _ratio(len(hit_components), len(comps))} | per_kind)
    return pd.DataFrame(rows, columns=["method", "error", "n_errors", "found", "recall",
                                       "n_components", "precision",
                                       *(f"precision_{k}" for k in KINDS)])


def component_precision_at_n(
    matched: pd.DataFrame, ns: Sequence[int] = (25, 50, 100, 200), by: str = "confidence",
) -> pd.DataFrame:
    """Precision of the ``n`` most confident suspect components, per kind and overall.

    A worklist is read from the top, so what matters is how clean its first rows are, not
    the precision of every component. ``matched`` is :func:`match_components`'s table;
    components are ordered by ``by`` (descending; ties by table order) within each kind
    and, for ``all``, across kinds.

    Returns
    -------
    DataFrame
        Indexed by kind (``all`` first): ``components`` (how many), ``precision_all`` (the
        share of them that match a manifest error: the bar a ranking has to beat) and
        ``top_<n>`` (the share among the ``n`` most confident; NaN with fewer than ``n``).
    """
    if by not in matched.columns or "matched_errors" not in matched.columns:
        raise ValueError(f"matched needs the columns {by!r} and 'matched_errors' "
                         "(see match_components)")
    rows = {}
    groups = [("all", matched), *((k, matched[matched["kind"] == k]) for k in KINDS)]
    for kind, table in groups:
        hit = (table.sort_values(by, ascending=False, kind="mergesort")["matched_errors"]
               != "").to_numpy()
        rows[kind] = {"components": len(hit),
                      "precision_all": float(hit.mean()) if len(hit) else np.nan,
                      **{f"top_{n}": float(hit[:n].mean()) if len(hit) >= n else np.nan
                         for n in ns}}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("kind")


# --------------------------------------------------------------------------------------
# the labeller's worklist and figure
# --------------------------------------------------------------------------------------


def scores_with_exclusion(
    preds: Mapping[str, np.ndarray],
    references: Mapping[str, Mapping[str, np.ndarray]],
    scores: pd.Series,
    fractions: Iterable[float] = (0.0, 0.05, 0.1, 0.2),
) -> pd.DataFrame:
    """Segmentation scores with the most suspect images left out, per reference.

    Parameters
    ----------
    preds : mapping
        Image id -> predicted mask.
    references : mapping
        Reference name (e.g. ``"labels"``, ``"truth"``) -> (image id -> mask).
    scores : Series
        A label-quality ranking (lower = more suspect) covering the ids of ``preds``.
    fractions : iterable of float
        Shares of the images to leave out, most suspect first (0 = all images).

    Returns
    -------
    DataFrame
        One row per (reference, fraction): ``images`` scored and the pooled summary of
        :meth:`heatsink.evaluate.Evaluation.summary` (pixel accuracy, recall, IoU, ...).
    """
    from heatsink.evaluate import evaluate_masks

    ids = [str(i) for i in preds]
    order = rank_order(scores[scores.index.astype(str).isin(ids)])
    rows = []
    for fraction in fractions:
        if not 0 <= fraction < 1:
            raise ValueError(f"fractions must be in [0, 1), not {fraction}")
        left_out = set(order[: _top_k(fraction, len(order))]) if fraction else set()
        kept = [i for i in ids if i not in left_out]
        for ref, masks in references.items():
            ev = evaluate_masks(((i, masks[i], preds[i]) for i in kept), reference=ref)
            rows.append({"reference": ref, "left_out": fraction, "images": len(kept),
                         **ev.summary().to_dict()})
    return pd.DataFrame(rows).set_index(["reference", "left_out"])


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
        pixel_rows = {i: n for n, i in enumerate(_ids(ids, len(pixel_issues)))}
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
):
    """Figure of the ``n`` most suspect images among ``ids``: one row each.

    Columns: image | label overlay | prediction overlay | suspect pixels in red (the last
    only with ``pixel_issues``). ``images`` (RGB or grey), ``labels``, ``preds`` (class
    maps, or probabilities (…, K) reduced by argmax) and ``pixel_issues`` follow ``ids``;
    ``scores`` may cover more images.
    """
    from heatsink.viz import image_grid, overlay

    position = {image_id: j for j, image_id in enumerate(_ids(ids, len(labels)))}
    order = flag_top(scores[scores.index.astype(str).isin(list(position))], n)
    panels, titles = [], []
    for image_id in order:
        j = position[image_id]
        image = _rgb(images[j])
        pred = np.asarray(preds[j])
        pred = pred.argmax(-1) if pred.ndim == 3 else pred
        panels += [image, overlay(image, np.asarray(labels[j]), alpha),
                   overlay(image, pred, alpha)]
        titles += [f"{image_id}  score {float(scores[image_id]):.3g}", "label", "prediction"]
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
