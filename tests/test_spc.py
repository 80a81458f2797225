"""Individuals / moving-range chart and Western Electric rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heatsink.line.spc import CHART_COLUMNS, individuals_chart, plot_run_chart

# alternating ±0.5 around 10: every moving range is exactly 1, so MR̄ = 1 and σ = 1/1.128
NOISE = [10.5, 9.5] * 10


def rules(chart: pd.DataFrame, name: str) -> list[int]:
    return np.flatnonzero(chart[name].to_numpy()).tolist()


def test_limits_from_known_moving_range():
    chart = individuals_chart(NOISE)
    assert list(chart.columns) == CHART_COLUMNS
    assert chart["centre"].iloc[0] == pytest.approx(10.0)
    assert chart["mr_centre"].iloc[0] == pytest.approx(1.0)
    assert chart["ucl"].iloc[0] == pytest.approx(10 + 2.66)
    assert chart["lcl"].iloc[0] == pytest.approx(10 - 2.66)
    assert chart["mr_ucl"].iloc[0] == pytest.approx(3.267)
    assert np.isnan(chart["moving_range"].iloc[0])
    assert chart["moving_range"].iloc[1:].tolist() == pytest.approx([1.0] * 19)
    assert not chart["out_of_control"].any()


def test_a_floor_raises_a_lower_limit_below_it_and_only_that():
    areas = [0.0, 4.0] * 10  # centre 2, MR̄ 4: the lower limit would be 2 − 10.64 < 0
    chart = individuals_chart(areas, floor=0)
    assert chart["lcl"].iloc[0] == 0 and chart["ucl"].iloc[0] == pytest.approx(2 + 10.64)
    assert chart["lcl"].tolist() == [0.0] * 20
    assert individuals_chart(NOISE, floor=0)["lcl"].iloc[0] == pytest.approx(10 - 2.66)
    with pytest.raises(ValueError, match="below the floor"):
        individuals_chart([1.0, -1.0, 2.0], floor=0)


def test_single_outlier_triggers_rule1_only_there():
    values = list(NOISE)
    values[12] = 30.0
    chart = individuals_chart(values, baseline=10)  # limits from the clean start
    assert rules(chart, "rule1") == [12]
    assert rules(chart, "out_of_control") == [12]


def test_eight_above_centre_triggers_rule4_at_the_eighth():
    values = [*NOISE, *([10.3] * 8), 9.0, 10.5, 9.5]
    chart = individuals_chart(values, baseline=20)
    assert rules(chart, "rule4") == [27]
    assert not chart["rule1"].any()
    longer = individuals_chart([*NOISE, *([10.3] * 10)], baseline=20)
    assert rules(longer, "rule4") == [27, 28, 29]


def test_two_of_three_beyond_two_sigma_triggers_rule2():
    sigma = 1 / 1.128
    high = 10 + 2.2 * sigma  # beyond 2σ but inside the 3σ limit
    values = [*NOISE, high, 10.0, high, 10.0, 10.0]
    chart = individuals_chart(values, baseline=20)
    assert rules(chart, "rule2") == [22]
    assert not chart["rule1"].any()
    low = individuals_chart([*NOISE, 20 - high, 20 - high, 10.0], baseline=20)
    assert rules(low, "rule2") == [21]
    apart = individuals_chart([*NOISE, high, 10.0, 10.0, high], baseline=20)
    assert not apart["rule2"].any()
    sides = individuals_chart([*NOISE, high, 20 - high], baseline=20)
    assert not sides["rule2"].any()


def test_four_of_five_beyond_one_sigma_triggers_rule3():
    sigma = 1 / 1.128
    out = 10 + 1.3 * sigma
    values = [*NOISE, out, out, 10.0, out, out, 9.0]
    chart = individuals_chart(values, baseline=20)
    assert rules(chart, "rule3") == [24]


def test_baseline_window_excludes_later_points():
    shifted = [*NOISE, *([50.0, 51.0] * 5)]
    chart = individuals_chart(shifted, baseline=20)
    assert chart["centre"].iloc[0] == pytest.approx(10.0)
    assert chart["mr_centre"].iloc[0] == pytest.approx(1.0)
    assert chart["in_baseline"].sum() == 20
    assert chart["rule1"].iloc[20:].all() and not chart["rule1"].iloc[:20].any()
    same = individuals_chart(shifted, baseline=slice(0, 20))
    pd.testing.assert_frame_equal(chart, same)
    later = individuals_chart(shifted, baseline=slice(20, None))
    assert later["centre"].iloc[0] == pytest.approx(50.5)
    everything = individuals_chart(shifted)
    assert everything["centre"].iloc[0] != pytest.approx(10.0)


def test_series_index_kept_and_bad_input():
    series = pd.Series(NOISE, index=[f"p{k}" for k in range(len(NOISE))])
    assert individuals_chart(series).index.tolist() == series.index.tolist()
    with pytest.raises(ValueError, match="finite"):
        individuals_chart([1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="baseline"):
        individuals_chart(NOISE, baseline=1)
    with pytest.raises(ValueError, match="contiguous"):
        individuals_chart(NOISE, baseline=slice(0, 10, 2))


def test_plot_run_chart():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = list(NOISE)
    values[5] = 25.0
    ax = plot_run_chart(individuals_chart(values, baseline=4), title="stain %")
    assert ax.get_title() == "stain %"
    assert len(ax.lines) >= 5  # values, centre, ucl, lcl, flagged points
    plt.close(ax.figure)
