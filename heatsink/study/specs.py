"""The study's analyses of an inspection spec: how its verdicts trade escapes against overkill
as its limits move, and which rules the escapes break.

The line itself (:mod:`heatsink.line.spec`) only judges frames against one spec; these ask
how good that spec is against reference verdicts, which only a study with labels has.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from heatsink.errors import HeatsinkError
from heatsink.line.spec import (
    FAIL,
    PASS,
    RULES,
    Spec,
    aligned_verdicts,
    judge_table,
    limit_fields,
    pass_fail_confusion,
)

#: Scales of :func:`spec_tradeoff` by default: 16 factors from 0.25 to 4.
DEFAULT_SCALES: tuple[float, ...] = tuple(float(s) for s in np.linspace(0.25, 4, 16))
TRADEOFF_COLUMNS = ["scale", "escape_rate", "overkill_rate", "tp", "fn", "fp", "tn"]


def spec_tradeoff(
    pred_table: pd.DataFrame,
    true_table: pd.DataFrame,
    spec: Spec,
    scales: Iterable[float] = DEFAULT_SCALES,
    rules: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Escape and overkill rates as the limits of ``spec`` are scaled on the predictions.

    The truth is judged once with ``spec`` itself; the predicted table with
    ``spec.scaled(s, rules)`` for each scale ``s``. Larger scales loosen the limits, so
    the escape rate cannot fall and the overkill rate cannot rise as the scale grows.

    Parameters
    ----------
    pred_table, true_table : DataFrame
        :func:`~heatsink.line.measurements.defect_table` of predicted and of ground-truth masks,
        over the same image ids.
    spec : Spec
    scales : iterable of float
        Positive factors.
    rules : iterable of str, optional
        Scale only these rules' limits (names as in :data:`RULE_LIMITS`), keeping the
        others as written: for instance the rule most escapes break
        (:func:`escape_causes`). All limits when omitted.

    Returns
    -------
    DataFrame
        One row per scale: ``scale``, ``escape_rate``, ``overkill_rate``, ``tp``, ``fn``,
        ``fp``, ``tn``.
    """
    rules = None if rules is None else ([rules] if isinstance(rules, str) else list(rules))
    limit_fields(rules)  # an unknown rule fails before any judging
    truth = judge_table(true_table, spec)["verdict"]
    rows = []
    for scale in scales:
        scale = float(scale)
        pred = judge_table(pred_table, spec.scaled(scale, rules))["verdict"]
        counts = pass_fail_confusion(pred, truth)
        rows.append({"scale": scale, **{k: counts[k] for k in TRADEOFF_COLUMNS[1:]}})
    return pd.DataFrame(rows, columns=TRADEOFF_COLUMNS)


def failed_rule_counts(judged: pd.DataFrame) -> pd.Series:
    """How many rows of a :func:`judge_table` result break each rule (a row may break several).

    Returns a Series indexed by :data:`RULES`.
    """
    counts = dict.fromkeys(RULES, 0)
    for entry in judged["failed_rules"].fillna(""):
        for failure in filter(None, (f.strip() for f in str(entry).split(";"))):
            rule = " ".join(failure.split()[:2])
            if rule not in counts:
                raise HeatsinkError(f"unknown rule in failed_rules: {failure!r}")
            counts[rule] += 1
    return pd.Series(counts, name="frames", dtype=int)


def escape_causes(pred_verdicts: pd.Series, reference: pd.DataFrame) -> pd.Series:
    """The rules the reference fails each escape on: why defective frames were passed.

    An escape is a frame the reference fails and the model passes. Each escape counts once
    for every rule its *reference* measurements break, so the counts say which of the
    model's measurements fall short (e.g. a scratch predicted in pieces, each shorter than
    the length limit, where the label has one long scratch).

    Parameters
    ----------
    pred_verdicts : Series of "PASS"/"FAIL"
        The model's verdicts, indexed by frame id.
    reference : DataFrame
        A :func:`judge_table` result of the reference masks (labels, or clean truth) over
        the same frame ids.

    Returns
    -------
    Series
        Escapes per rule, indexed by :data:`RULES` (a frame may break several).
    """
    pred, true = aligned_verdicts(pred_verdicts, reference["verdict"])
    escaped = (true == FAIL) & (pred == PASS)
    return failed_rule_counts(reference.loc[escaped[escaped].index]).rename("escapes")


__all__ = ["DEFAULT_SCALES", "TRADEOFF_COLUMNS", "escape_causes", "failed_rule_counts",
           "spec_tradeoff"]
