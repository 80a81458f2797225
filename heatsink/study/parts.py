"""The study's view of judging whole parts: escapes and overkill per part, before and after
joining scratch fragments, and which model an escape-averse rule would choose.

The line (:mod:`heatsink.line.parts`) judges parts; only a study with reference masks can say
how often those verdicts are wrong. Rates come with 95 % Wilson intervals
(:func:`heatsink.metrics.wilson_interval`): on a hundred parts an escape rate is known to
within several points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from heatsink.line.parts import Source, judge_parts, part_layout
from heatsink.line.spec import Spec, pass_fail_confusion
from heatsink.metrics import wilson_interval

#: Columns of :func:`passfail_rates` (and of each row of :func:`part_passfail`).
RATE_COLUMNS = ["n", "defective", "escapes", "escape_rate", "escape_low", "escape_high",
                "good", "overkill", "overkill_rate", "overkill_low", "overkill_high"]


def passfail_rates(pred_verdicts: pd.Series, true_verdicts: pd.Series, level: float = 0.95
                   ) -> dict[str, float]:
    """Escape and overkill rates of predicted verdicts against reference ones, with intervals.

    Parameters
    ----------
    pred_verdicts, true_verdicts : Series of "PASS"/"FAIL"
        Indexed by the same part (or frame) ids.
    level : float
        Confidence level of the Wilson intervals.

    Returns
    -------
    dict
        :data:`RATE_COLUMNS`: ``defective`` reference FAILs, of which ``escapes`` passed;
        ``good`` reference PASSes, of which ``overkill`` failed; rates with their interval
        bounds (NaN when there is nothing to count).

    Examples
    --------
    >>> pred = pd.Series(["PASS", "FAIL", "FAIL", "PASS"])
    >>> true = pd.Series(["FAIL", "FAIL", "PASS", "PASS"])
    >>> r = passfail_rates(pred, true)
    >>> r["escapes"], r["defective"], r["overkill"], r["good"], r["escape_rate"]
    (1, 2, 1, 2, 0.5)
    """
    c = pass_fail_confusion(pred_verdicts, true_verdicts)
    defective, good = c["tp"] + c["fn"], c["fp"] + c["tn"]
    escape_low, escape_high = wilson_interval(c["fn"], defective, level)
    overkill_low, overkill_high = wilson_interval(c["fp"], good, level)
    return {"n": c["n"], "defective": defective, "escapes": c["fn"],
            "escape_rate": c["escape_rate"], "escape_low": escape_low,
            "escape_high": escape_high, "good": good, "overkill": c["fp"],
            "overkill_rate": c["overkill_rate"], "overkill_low": overkill_low,
            "overkill_high": overkill_high}


def frame_layout(ids: Iterable[str]) -> pd.DataFrame:
    """A layout in which every frame is a part of its own (judging frame by frame).

    Examples
    --------
    >>> frame_layout(["b", "a"]).values.tolist()
    [['a', 'a', 0, 0], ['b', 'b', 0, 0]]
    """
    ids = [str(i) for i in ids]
    return part_layout(pd.DataFrame({"image_id": ids, "part_id": ids, "row": 0, "col": 0}))


def part_passfail(
    predicted: Source, reference: Source, layout: pd.DataFrame, spec: Spec,
    merge_gaps: Iterable[float] = (0,), merge_reference: bool = False,
    frames: bool = True, level: float = 0.95,
) -> pd.DataFrame:
    """Escape and overkill per part (and per frame), for each scratch-merge setting.

    The reference verdicts come from the reference masks (labels or clean truth) measured
    as the line measures frames today: fragments are joined only in the predicted masks,
    unless ``merge_reference``. Only parts with every frame in both ``predicted`` and
    ``reference`` should be given (e.g. one split of a split that keeps parts whole).

    Parameters
    ----------
    predicted, reference : mapping or callable
        Label masks by image id (a dict of predictions; ``ds.mask`` or ``ds.truth``).
    layout : DataFrame
        :func:`heatsink.line.parts.part_layout` (or either table it takes) of the frames.
    spec : Spec
    merge_gaps : iterable of float
        ``merge_gap_px`` settings to compare; 0 is the line as it is.
    merge_reference : bool
        Join fragments in the reference masks too, with the same gap.
    frames : bool
        Also judge the same frames one by one.
    level : float
        Confidence level of the Wilson intervals.

    Returns
    -------
    DataFrame
        One row per (``level``: "frame" or "part", ``merge_gap_px``), columns
        :data:`RATE_COLUMNS`.

    Examples
    --------
    A 200-px scratch across two 160-px frames, predicted in 12-px pieces: as predicted the
    defective part escapes, joined across 5-px gaps it does not.

    >>> import numpy as np
    >>> from heatsink.line.spec import Spec
    >>> truth = np.zeros((160, 320), np.uint8)
    >>> truth[80, 60:260] = 1
    >>> pred = truth.copy()
    >>> pred[80, np.arange(320) % 16 >= 12] = 0
    >>> masks = lambda m: {"a": m[:, :160], "b": m[:, 160:]}
    >>> layout = pd.DataFrame({"image_id": ["a", "b"], "part_id": 0, "row": 0, "col": [0, 1]})
    >>> rates = part_passfail(masks(pred), masks(truth), layout,
    ...                       Spec("len", max_scratch_length=150), merge_gaps=(0, 5))
    >>> rates.loc["part", ["defective", "escapes"]].astype(int).values.tolist()
    [[1, 1], [1, 0]]
    """
    layout = part_layout(layout)
    levels = {"part": layout}
    if frames:
        levels = {"frame": frame_layout(layout["image_id"]), **levels}
    rows = []
    for name, lay in levels.items():
        truth = None
        for gap in merge_gaps:
            if truth is None or merge_reference:
                truth = judge_parts(reference, lay, spec,
                                    merge_gap_px=gap if merge_reference else 0)["verdict"]
            pred = judge_parts(predicted, lay, spec, merge_gap_px=gap)["verdict"]
            rows.append({"level": name, "merge_gap_px": float(gap),
                         **passfail_rates(pred, truth, level)})
    return pd.DataFrame(rows).set_index(["level", "merge_gap_px"])[RATE_COLUMNS]


def selection_table(results: Mapping[str, Mapping], part_rates: Mapping[str, Mapping],
                    reference: str = "labels") -> pd.DataFrame:
    """Each model's defect mIoU and pixel recall (saved results) beside its part rates.

    Parameters
    ----------
    results : mapping
        Model name to saved result (:func:`heatsink.study.results.load_model_results`).
    part_rates : mapping
        Model name to :func:`passfail_rates` of its part verdicts (models missing here get
        NaN rates and rank last by the escape-averse rule).
    reference : str
        Which saved scores to read (``"labels"`` or ``"truth"``).

    Returns
    -------
    DataFrame
        Indexed by model: ``miou_defects``, ``defect_recall`` (mean of scratch and stain
        pixel recall: the seed's "share of defect pixels correctly predicted"), and the
        :data:`RATE_COLUMNS` of ``part_rates``.
    """
    rows = {}
    for name, payload in results.items():
        scores = payload.get("scores", {}).get(reference, {})
        recalls = [scores.get(f"{c}_recall", math.nan) for c in ("scratch", "stain")]
        rows[name] = {"miou_defects": scores.get("miou_defects", math.nan),
                      "defect_recall": sum(recalls) / 2,
                      **{k: part_rates.get(name, {}).get(k, math.nan) for k in RATE_COLUMNS}}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def selection_rules(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, object]]:
    """Rank models by the study's mIoU rule and by the seed's escape-averse rule.

    The mIoU rule (:func:`heatsink.study.results.rank_models`) takes the highest defect
    mIoU. The escape-averse rule is the seed's reason for choosing its model, "much better
    to overkill than to let defective parts slip through", put on parts: the lowest part
    escape rate, ties broken by the lower overkill rate, then by the higher defect mIoU.

    Parameters
    ----------
    table : DataFrame
        Indexed by model, with ``miou_defects``, ``escape_rate`` and ``overkill_rate``
        (e.g. :func:`selection_table`).

    Returns
    -------
    ranked : DataFrame
        ``table`` in escape-averse order with ``rank (escape-averse)`` and ``rank (mIoU)``
        (1 is best; ties keep the table's order).
    picks : dict
        ``{"mIoU": model, "escape-averse": model, "same": bool}``.

    Examples
    --------
    >>> t = pd.DataFrame({"miou_defects": [0.43, 0.23], "escape_rate": [0.2, 0.1],
    ...                   "overkill_rate": [0.3, 0.5]}, index=["light", "resnet50"])
    >>> ranked, picks = selection_rules(t)
    >>> picks
    {'mIoU': 'light', 'escape-averse': 'resnet50', 'same': False}
    """
    if table.empty:
        raise ValueError("no model to rank")
    order = pd.RangeIndex(len(table))
    by_miou = table.assign(_k=order).sort_values(["miou_defects", "_k"],
                                                 ascending=[False, True], na_position="last")
    by_escape = table.assign(_k=order, _m=-table["miou_defects"]).sort_values(
        ["escape_rate", "overkill_rate", "_m", "_k"], na_position="last")
    ranked = table.loc[by_escape.index].copy()
    ranked["rank (escape-averse)"] = range(1, len(table) + 1)
    ranked["rank (mIoU)"] = pd.Series(range(1, len(table) + 1), index=by_miou.index)
    picks = {"mIoU": by_miou.index[0], "escape-averse": by_escape.index[0]}
    picks["same"] = picks["mIoU"] == picks["escape-averse"]
    return ranked, picks


__all__ = ["RATE_COLUMNS", "frame_layout", "part_passfail", "passfail_rates",
           "selection_rules", "selection_table"]
