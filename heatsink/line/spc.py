"""Statistical process control: an individuals and moving-range (I-MR) chart.

Limits come from a baseline window (by default every point): the centre line is the
baseline mean, MR̄ the mean moving range between consecutive baseline points, the
individuals limits are centre ± E2·MR̄ with E2 = 2.66, and the moving-range chart's upper
limit is D4·MR̄ with D4 = 3.267. The process σ is estimated as MR̄ / d2 with d2 = 1.128,
which sets the zones of the Western Electric rules:

1. one point beyond the control limits (±3σ);
2. 2 of 3 consecutive points beyond 2σ on the same side;
3. 4 of 5 consecutive points beyond 1σ on the same side;
4. 8 consecutive points on the same side of the centre line.

"Beyond" is strict, and a point exactly on the centre line breaks a run. Each rule flags
the point that completes its pattern: the point must itself be beyond the rule's zone
(on the pattern's side) and the window ending at it must hold enough such points. For rules
2 and 3 the window is shortened at the start of the series (two points beyond 2σ among the
first two already make 2 of the first 3); rule 4 flags every point that ends a run of
eight or more, i.e. the 8th, 9th, … point of a run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

E2 = 2.66
D4 = 3.267
D2 = 1.128

CHART_COLUMNS = [
    "value",
    "moving_range",
    "in_baseline",
    "centre",
    "ucl",
    "lcl",
    "mr_centre",
    "mr_ucl",
    "rule1",
    "rule2",
    "rule3",
    "rule4",
    "out_of_control",
]


def _baseline_slice(baseline: int | slice | None, n: int) -> slice:
    """Turn ``baseline`` into a contiguous slice of at least 2 of the ``n`` points."""
    if baseline is None:
        window = slice(0, n)
    elif isinstance(baseline, slice):
        if baseline.step not in (None, 1):
            raise ValueError(f"baseline slice must be contiguous (step 1), got {baseline}")
        window = slice(*baseline.indices(n)[:2])
    elif isinstance(baseline, int | np.integer) and not isinstance(baseline, bool):
        if not 2 <= baseline <= n:
            raise ValueError(f"baseline must be between 2 and {n} points, got {baseline}")
        window = slice(0, int(baseline))
    else:
        raise ValueError(f"baseline must be an int, a slice or None, got {baseline!r}")
    if window.stop - window.start < 2:
        raise ValueError(f"the baseline window {baseline} holds fewer than 2 of the {n} points")
    return window


def _pattern(beyond: np.ndarray, window: int, needed: int) -> np.ndarray:
    """Points that are ``beyond`` and end a window of ``window`` with ``needed`` such points."""
    counts = pd.Series(beyond.astype(int)).rolling(window, min_periods=1).sum().to_numpy()
    return beyond & (counts >= needed)


def _run_lengths(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True values ending at each point (0 where False)."""
    runs = np.zeros(len(flags), dtype=int)
    current = 0
    for i, flag in enumerate(flags):
        current = current + 1 if flag else 0
        runs[i] = current
    return runs


def individuals_chart(
    values: Sequence[float], baseline: int | slice | None = None, floor: float | None = None
) -> pd.DataFrame:
    """Individuals and moving-range chart with Western Electric rule flags.

    Parameters
    ----------
    values : sequence of float
        The measurements in time order (a Series keeps its index).
    baseline : int, slice or None
        The points the limits are estimated from: all points (None), the first
        ``baseline`` points (int), or a contiguous positional slice.
    floor : float, optional
        The smallest value the measurement can take (0 for an area or a count): a lower
        limit below it is raised to it, as is usual for such charts, since no point can
        fall beneath it.

    Returns
    -------
    DataFrame
        One row per point: ``value``, ``moving_range`` (|x_i − x_{i−1}|, NaN for the
        first point), ``in_baseline``, ``centre``, ``ucl``, ``lcl`` (centre ± 2.66·MR̄,
        the lower no less than ``floor``), ``mr_centre`` (MR̄), ``mr_ucl`` (3.267·MR̄),
        booleans ``rule1`` … ``rule4`` (see the module notes) and ``out_of_control`` (any
        rule).

    Raises
    ------
    ValueError
        On non-finite values or a baseline of fewer than two points.
    """
    index = values.index if isinstance(values, pd.Series) else None
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"values must be one-dimensional, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("values must all be finite numbers")
    if floor is not None and (x < floor).any():
        raise ValueError(f"values below the floor {floor}: {x[x < floor][:5].tolist()}")
    n = len(x)
    window = _baseline_slice(baseline, n)

    moving_range = np.full(n, np.nan)
    moving_range[1:] = np.abs(np.diff(x))
    centre = float(x[window].mean())
    mr_bar = float(np.abs(np.diff(x[window])).mean())
    sigma = mr_bar / D2

    above, below = x > centre, x < centre
    dev = x - centre
    rule1 = (dev > E2 * mr_bar) | (dev < -E2 * mr_bar)
    rule2 = _pattern(dev > 2 * sigma, 3, 2) | _pattern(dev < -2 * sigma, 3, 2)
    rule3 = _pattern(dev > sigma, 5, 4) | _pattern(dev < -sigma, 5, 4)
    rule4 = (_run_lengths(above) >= 8) | (_run_lengths(below) >= 8)
    in_baseline = np.zeros(n, dtype=bool)
    in_baseline[window] = True

    chart = pd.DataFrame(
        {
            "value": x,
            "moving_range": moving_range,
            "in_baseline": in_baseline,
            "centre": centre,
            "ucl": centre + E2 * mr_bar,
            "lcl": centre - E2 * mr_bar if floor is None else max(centre - E2 * mr_bar, floor),
            "mr_centre": mr_bar,
            "mr_ucl": D4 * mr_bar,
            "rule1": rule1,
            "rule2": rule2,
            "rule3": rule3,
            "rule4": rule4,
            "out_of_control": rule1 | rule2 | rule3 | rule4,
        },
        columns=CHART_COLUMNS,
    )
    if index is not None:
        chart.index = index
    return chart


def plot_run_chart(chart: pd.DataFrame, ax=None, title: str = ""):
    """Plot an :func:`individuals_chart`: values, centre line, limits, flagged points.

    Parameters
    ----------
    chart : DataFrame
        The output of :func:`individuals_chart`.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str
        Axes title.

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    position = np.arange(len(chart))
    ax.plot(position, chart["value"], "o-", color="0.3", markersize=3, linewidth=1,
            label="value")
    ax.plot(position, chart["centre"], "-", color="tab:blue", linewidth=1, label="centre")
    ax.plot(position, chart["ucl"], "--", color="tab:red", linewidth=1, label="UCL / LCL")
    ax.plot(position, chart["lcl"], "--", color="tab:red", linewidth=1)
    if "in_baseline" in chart and not chart["in_baseline"].all():
        inside = position[chart["in_baseline"].to_numpy()]
        ax.axvspan(inside.min() - 0.5, inside.max() + 0.5, color="tab:blue", alpha=0.06,
                   label="baseline")
    flagged = chart["out_of_control"].to_numpy(dtype=bool)
    if flagged.any():
        ax.plot(position[flagged], chart["value"].to_numpy()[flagged], "o", color="tab:red",
                markersize=7, markerfacecolor="none", label="out of control")
    ax.set_xlabel("sample")
    ax.set_ylabel("value")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    return ax


__all__ = [
    "CHART_COLUMNS",
    "D2",
    "D4",
    "E2",
    "individuals_chart",
    "plot_run_chart",
]
