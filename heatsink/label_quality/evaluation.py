"""How good the label checks are: against a twin's noise manifest, and what leaving the most
suspect images out does to a model's scores."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from heatsink.label_quality.components import KINDS
from heatsink.label_quality.rankings import rank_order

#: Margin (px) by which manifest boxes are grown when matching components to them.
MATCH_MARGIN = 2


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


def injected_errors(manifest: pd.DataFrame, ids: Iterable[str]) -> dict[str, str]:
    """What the twin injected into each of ``ids``, in words, for a figure's titles.

    Returns
    -------
    dict
        Image id -> ``"injected: missed stain, class swap"`` (its error kinds, each once, in
        the generator's order) or ``"no injected error"``.
    """
    kinds = manifest.assign(image_id=manifest["image_id"].astype(str)).groupby("image_id")[
        "error"].agg(set)
    order = _error_types(manifest)
    notes = {}
    for image_id in (str(i) for i in ids):
        found = kinds.get(image_id)
        notes[image_id] = ("injected: " + ", ".join(k.replace("_", " ") for k in order
                                                    if k in found)
                           if found else "no injected error")
    return notes


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


__all__ = [
    "MATCH_MARGIN",
    "component_detection_table",
    "component_precision_at_n",
    "image_detection_table",
    "injected_errors",
    "match_components",
    "precision_at_k",
    "scores_with_exclusion",
]
