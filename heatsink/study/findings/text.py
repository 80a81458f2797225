"""Shared wording of the findings: percentages, signed changes, intervals and rates."""

from __future__ import annotations

import pandas as pd

from heatsink.study.results import score_text


def pct(payload: dict, reference: str, measure: str) -> float:
    """A stored score of a model result file, in percent."""
    return 100 * payload["scores"][reference][measure]


def with_interval(payload: dict, reference: str, measure: str) -> str:
    """``"38.7 % [31.2, 45.0]"``: a stored score and its stored bootstrap interval."""
    return score_text(payload, reference, measure, unit=" %")


def span(values: list[float]) -> str:
    """``"12.0 %"`` or ``"12.0–40.1 %"``."""
    low, high = min(values), max(values)
    return f"{low:.1f} %" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}–{high:.1f} %"


def signed(value: float) -> str:
    """``"+1.2"``, ``"-0.3"``; a value that rounds to zero is ``"+0.0"``, never ``"-0.0"``."""
    return f"{round(value, 1) + 0.0:+.1f}"


def signed_span(values: list[float]) -> str:
    low, high = signed(min(values)), signed(max(values))
    return low if low == high else f"{low} to {high}"


def rate(label: str, value: float, undefined: str, low: float | None = None,
         high: float | None = None) -> str:
    """`` (escape rate 12.5 % [6.1, 24.0])``: a rate with its interval where given, or the
    reason a rate is undefined (its denominator is 0)."""
    if pd.isna(value):
        return f" ({undefined})"
    interval = "" if low is None or pd.isna(low) else f" [{100 * low:.1f}, {100 * high:.1f}]"
    return f" ({label} {100 * value:.1f} %{interval})"


def bullets(sentences: list[str]) -> str:
    """Findings as a Markdown bullet list (empty if there are none)."""
    return "\n".join(f"- {text}" for text in sentences)


__all__ = [
    "bullets",
    "pct",
    "rate",
    "signed",
    "signed_span",
    "span",
    "with_interval",
]
