"""The drift experiment: how soon a run chart's Western Electric rules see a known drift,
and how often they cry wolf before it.

A twin generated with a :class:`~heatsink.synth.drift.Drift` is a production sequence whose
defects grow from a known part on. Its frames are measured (from any masks: the twin's
clean truth, or a model's predictions), put in production order (``part_id``, then a
part's frames row by row) and charted with :func:`heatsink.line.spc.individuals_chart`,
the limits set on a baseline of the first parts. Then, per rule:

* **false alarms**: flags on the in-control points after the baseline and before the
  drift's first part, and their rate per such point (the baseline's own points, which set
  the limits, are not counted);
* **detection delay**: parts from the drift's first part to the part of the rule's first
  flag at or after it on the drift's side of the centre line (above it for growing
  defects; 0: flagged on the first drifted part); none if the rule never flags so after
  the start.

A false alarm is any flag on those in-control points, on either side of the centre line:
each is a signal someone would have to look into.

Over several sequences (seeds) and drift sizes this gives each rule's delay against its
false-alarm rate, the trade a line makes when it picks the rules it acts on.

Examples
--------
A step of +10 in a flat series: rule 1 flags the first point after it.

>>> import pandas as pd
>>> values = [5.0, 6.0] * 20 + [16.0] * 10
>>> series = pd.DataFrame({"part_id": range(1, 51), "value": values})
>>> table = rule_detection(series, start_part=41, baseline_parts=20)
>>> rule1 = table.set_index("rule").loc["rule1"]
>>> int(rule1.false_alarms), bool(rule1.detected), int(rule1.delay_parts)
(0, True, 0)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatsink.classes import SCRATCH, STAIN
from heatsink.data import load_dataset
from heatsink.line import measurements, spc
from heatsink.synth import generate
from heatsink.synth.drift import Drift, read_drift
from heatsink.synth.generate import GENERATOR_VERSION
from heatsink.synth.noise import NoiseConfig

RULES = ("rule1", "rule2", "rule3", "rule4")
#: The measurements the experiment charts by default: the largest stain's pixel area and the
#: longest scratch's length (columns of :func:`heatsink.line.measurements.defect_table`).
MEASURES = ("LargestStainPixels", "LongestScratchLength")
DETECTION_COLUMNS = [
    "rule", "points", "baseline_points", "in_control_points", "false_alarms",
    "false_alarm_rate", "detected", "first_flag_part", "delay_parts", "delay_points",
]

MaskSource = Mapping[str, np.ndarray] | Iterable[tuple[str, np.ndarray]]


def production_series(
    masks: MaskSource,
    adjacency: pd.DataFrame,
    measure: str = "LargestStainPixels",
    by: str = "part",
    min_area_px: int = 1,
) -> pd.DataFrame:
    """One measured value per part or per frame, in production order.

    Parameters
    ----------
    masks : mapping or iterable of (image_id, mask)
        Label masks (0/1/2) of some or all of the twin's frames: the truth, the labels or
        predictions. Only these frames are used.
    adjacency : DataFrame
        The twin's ``adjacency.csv`` (``image_id``, ``part_id``, ``row``, ``col``).
    measure : str
        A column of :func:`heatsink.line.measurements.defect_table`.
    by : {"part", "frame"}
        One point per part (the largest value over its frames: the part's largest stain as
        one frame sees it) or one per frame.
    min_area_px : int
        Objects smaller than this are ignored (as the spec's ``min_object_px``).

    Returns
    -------
    DataFrame
        Columns ``part_id``, ``value`` (and ``image_id``, ``row``, ``col`` by frame), one
        row per point in production order, index 0, 1, …

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> a, b, c = (np.zeros((8, 8), np.uint8) for _ in range(3))
    >>> a[1:3, 1:3] = 2; b[0:4, 0:4] = 2; c[5, 5] = 2
    >>> adjacency = pd.DataFrame({"image_id": ["0003", "0001", "0002"], "part_id": [1, 2, 2],
    ...                           "row": [0, 0, 0], "col": [0, 1, 0]})
    >>> masks = {"0001": a, "0002": b, "0003": c}
    >>> production_series(masks, adjacency)["value"].tolist()
    [1.0, 16.0]
    >>> production_series(masks, adjacency, by="frame")["image_id"].tolist()
    ['0003', '0002', '0001']
    """
    if by not in ("part", "frame"):
        raise ValueError(f"by must be 'part' or 'frame', not {by!r}")
    items = masks.items() if isinstance(masks, Mapping) else masks
    table = measurements.defect_table(items, min_area_px=min_area_px)
    if measure not in table.columns:
        raise ValueError(f"unknown measure {measure!r}; one of {list(table.columns)}")
    frames = adjacency.assign(image_id=adjacency["image_id"].astype(str))
    frames = frames[frames["image_id"].isin(table.index)]
    missing = set(table.index) - set(frames["image_id"])
    if missing:
        raise ValueError(f"{len(missing)} masks have no row in the adjacency table, e.g. "
                         f"{sorted(missing)[:3]}")
    frames = frames.sort_values(["part_id", "row", "col"], ignore_index=True)
    frames["value"] = table.loc[frames["image_id"], measure].to_numpy(dtype=float)
    if by == "frame":
        return frames[["part_id", "image_id", "row", "col", "value"]]
    return frames.groupby("part_id", as_index=False)["value"].max()


def rule_detection(
    series: pd.DataFrame, start_part: int, baseline_parts: int, log: bool = False,
    side: str = "both",
) -> pd.DataFrame:
    """Per Western Electric rule: false alarms before a drift and the delay to detect it.

    Parameters
    ----------
    series : DataFrame
        Columns ``part_id`` and ``value`` (a size: never negative), in production order
        (:func:`production_series`).
    start_part : int
        ``part_id`` of the drift's first part.
    baseline_parts : int
        The first this many parts set the chart's limits; they must all come before
        ``start_part``.
    log : bool
        Chart ``log10(1 + value)`` instead of the value (skewed sizes look more normal).
    side : {"both", "up", "down"}
        The flags that detect the drift: any, or only those on points above (``"up"``,
        defects growing) or below the centre line. False alarms count every flag.

    Returns
    -------
    DataFrame
        One row per rule (``rule1`` … ``rule4``), columns :data:`DETECTION_COLUMNS`:
        ``points`` charted, ``baseline_points``, ``in_control_points`` (after the baseline,
        before the start), ``false_alarms`` among them and their ``false_alarm_rate`` (NaN
        without such points), ``detected`` (a flag on ``side`` at or after the start),
        ``first_flag_part`` and ``delay_parts`` (its part id, minus ``start_part``) and
        ``delay_points`` (points from the first drifted point), NaN when not detected.

    Raises
    ------
    ValueError
        If the baseline reaches ``start_part``, holds fewer than two points, or no point
        comes at or after ``start_part``.
    """
    if side not in ("both", "up", "down"):
        raise ValueError(f"side must be 'both', 'up' or 'down', not {side!r}")
    parts = series["part_id"].to_numpy()
    if (np.diff(parts) < 0).any():
        raise ValueError("series must be in production order (part_id never decreasing)")
    first_parts = pd.unique(parts)[:baseline_parts]
    if len(first_parts) < baseline_parts or baseline_parts < 1:
        raise ValueError(f"the series has {len(pd.unique(parts))} parts, the baseline asks "
                         f"for {baseline_parts}")
    if first_parts[-1] >= start_part:
        raise ValueError(f"the baseline's last part ({first_parts[-1]}) is not before the "
                         f"drift's first part ({start_part})")
    n_baseline = int(np.isin(parts, first_parts).sum())
    values = series["value"].to_numpy(dtype=float)
    if log:
        values = np.log10(1.0 + values)
    chart = spc.individuals_chart(values, baseline=n_baseline, floor=0)
    position = np.arange(len(values))
    in_control = (position >= n_baseline) & (parts < start_part)
    drifted = parts >= start_part
    if not drifted.any():
        raise ValueError(f"no point at or after the drift's first part {start_part}")
    first_drifted = int(position[drifted][0])
    centre = chart["centre"].to_numpy()
    on_side = {"both": np.ones(len(values), bool), "up": chart["value"].to_numpy() > centre,
               "down": chart["value"].to_numpy() < centre}[side]
    rows = []
    for rule in RULES:
        flags = chart[rule].to_numpy(dtype=bool)
        false_alarms = int((flags & in_control).sum())
        hits = position[flags & drifted & on_side]
        detected = len(hits) > 0
        first = int(hits[0]) if detected else None
        rows.append({
            "rule": rule,
            "points": len(values),
            "baseline_points": n_baseline,
            "in_control_points": int(in_control.sum()),
            "false_alarms": false_alarms,
            "false_alarm_rate": false_alarms / in_control.sum() if in_control.any() else np.nan,
            "detected": detected,
            "first_flag_part": int(parts[first]) if detected else pd.NA,
            "delay_parts": int(parts[first]) - start_part if detected else pd.NA,
            "delay_points": first - first_drifted if detected else pd.NA,
        })
    out = pd.DataFrame(rows, columns=DETECTION_COLUMNS)
    for column in ("first_flag_part", "delay_parts", "delay_points"):
        out[column] = out[column].astype("Int64")
    return out


def _twin_matches(folder: Path, n: int, seed: int, drift: Drift) -> bool:
    try:
        info = json.loads((folder / "twin.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (info.get("generator_version") == GENERATOR_VERSION and info.get("n") == n
            and info.get("seed") == seed and "drift" in info
            and Drift.from_dict(info["drift"]) == drift)


def drift_twins(
    folder: str | Path,
    drifts: Mapping[str, Drift],
    seeds: Sequence[int],
    n: int,
    noise: NoiseConfig | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Generate (or reuse) one drifted twin per drift and seed.

    Parameters
    ----------
    folder : str or Path
        Where the twins go, as ``<folder>/<label>-seed<seed>`` (the label's characters
        other than letters, digits and dots made ``-``). A twin already there with
        the same generator version, ``n``, seed and drift is reused (its ``noise`` is not
        compared: keep one folder per noise setting).
    drifts : mapping of str to Drift
        The drifts, by a label.
    seeds : sequence of int
        Replicate sequences: for one seed, the parts before a drift's start are the same
        whatever the drift.
    n : int
        Frames per sequence (about 2.5 frames per part).
    noise, workers, progress
        As for :func:`heatsink.synth.generate`.

    Returns
    -------
    DataFrame
        Columns ``drift`` (the label), ``seed``, ``path``.
    """
    root = Path(folder)
    rows = []
    for label, drift in drifts.items():
        for seed in seeds:
            path = root / f"{re.sub(r'[^A-Za-z0-9.]+', '-', label).strip('-')}-seed{seed}"
            if not _twin_matches(path, n, int(seed), drift):
                generate(path, n=n, seed=int(seed), noise=noise, overwrite=True,
                         progress=progress, workers=workers, drift=drift)
            rows.append({"drift": label, "seed": int(seed), "path": path})
    return pd.DataFrame(rows, columns=["drift", "seed", "path"])


def truth_masks(root: str | Path) -> dict[str, np.ndarray]:
    """A twin's clean truth masks by image id."""
    return dict(load_dataset(root, verify=False).masks("truth"))


def _side(drift: Drift) -> str:
    """Where a drift moves the sizes: ``"up"`` (no factor below 1; no drift at all counts
    as up, the control for growth), ``"down"`` or ``"both"``."""
    scales = (drift.stain_scale, drift.scratch_scale)
    if min(scales) >= 1:
        return "up"
    return "down" if max(scales) <= 1 else "both"


def _drifted(twins: pd.DataFrame,
             masks: Callable) -> Iterator[tuple[Any, Drift, pd.DataFrame, Any]]:
    """Each twin of a :func:`drift_twins` table with its drift, tile layout and masks."""
    for twin in twins.itertuples(index=False):
        path = Path(twin.path)
        drift = read_drift(path)
        if drift is None:
            raise ValueError(f"{path}: the twin records no drift")
        adjacency = pd.read_csv(path / "adjacency.csv", dtype={"image_id": str})
        yield twin, drift, adjacency, masks(path)


def drift_experiment(
    twins: pd.DataFrame,
    baseline_parts: int,
    measures: Sequence[str] = MEASURES,
    masks: Callable[[Path], MaskSource] = truth_masks,
    by: str = "part",
    log: bool = False,
    min_area_px: int = 1,
) -> pd.DataFrame:
    """Detection delay and false alarms per rule, per sequence and measure.

    Parameters
    ----------
    twins : DataFrame
        Columns ``drift``, ``seed``, ``path`` (:func:`drift_twins`); each twin records its
        :class:`~heatsink.synth.drift.Drift`.
    baseline_parts : int
        Parts that set each chart's limits (they must come before every drift's start).
    measures : sequence of str
        Columns of :func:`heatsink.line.measurements.defect_table` to chart, one at a time.
    masks : callable
        ``path -> masks`` of the twin's frames (default: its clean truth). For a model,
        e.g. ``lambda p: predict_masks(model, load_dataset(p), ids, size)``.
    by, log, min_area_px
        As for :func:`production_series` and :func:`rule_detection`.

    A drift that grows defects (or the control, no drift) is detected by flags above the
    centre line, one that shrinks them by flags below it, a mixed one by either.

    Returns
    -------
    DataFrame
        Tidy: one row per (drift, seed, measure, rule), with the drift's ``start_part``,
        ``stain_scale``, ``scratch_scale``, ``ramp_parts`` and :data:`DETECTION_COLUMNS`.
    """
    frames = []
    for twin, drift, adjacency, source in _drifted(twins, masks):
        source = source if isinstance(source, Mapping) else dict(source)
        for measure in measures:
            series = production_series(source, adjacency, measure, by, min_area_px)
            table = rule_detection(series, drift.start_part, baseline_parts, log,
                                   _side(drift))
            frames.append(table.assign(
                drift=twin.drift, seed=twin.seed, measure=measure, **drift.to_dict()))
    front = ["drift", "seed", "measure", "start_part", "stain_scale", "scratch_scale",
             "ramp_parts"]
    out = pd.concat(frames, ignore_index=True)
    return out[front + DETECTION_COLUMNS]


def summarise_detection(records: pd.DataFrame) -> pd.DataFrame:
    """Per drift, measure and rule, over the sequences of :func:`drift_experiment`.

    Returns
    -------
    DataFrame
        Indexed by ``drift, measure, rule``; columns ``sequences``, ``detected`` (how many
        sequences the rule flagged at or after the start), ``mean_delay_parts`` and
        ``max_delay_parts`` (over the detected ones), ``false_alarms``,
        ``in_control_points`` and ``false_alarm_rate`` (pooled: false alarms per
        in-control point).

    Examples
    --------
    >>> records = pd.DataFrame({
    ...     "drift": ["x", "x"], "measure": ["m", "m"], "rule": ["rule1", "rule1"],
    ...     "detected": [True, False], "delay_parts": pd.array([3, pd.NA], "Int64"),
    ...     "false_alarms": [1, 0], "in_control_points": [40, 40]})
    >>> row = summarise_detection(records).loc[("x", "m", "rule1")]
    >>> int(row.detected), float(row.mean_delay_parts), float(row.false_alarm_rate)
    (1, 3.0, 0.0125)
    """
    def one(group: pd.DataFrame) -> pd.Series:
        delays = group.loc[group["detected"], "delay_parts"].astype(float)
        points = int(group["in_control_points"].sum())
        false_alarms = int(group["false_alarms"].sum())
        return pd.Series({
            "sequences": len(group),
            "detected": int(group["detected"].sum()),
            "mean_delay_parts": delays.mean() if len(delays) else np.nan,
            "max_delay_parts": delays.max() if len(delays) else np.nan,
            "false_alarms": false_alarms,
            "in_control_points": points,
            "false_alarm_rate": false_alarms / points if points else np.nan,
        }, dtype=object)

    keys = ["drift", "measure", "rule"]
    out = pd.DataFrame([one(g).rename(k) for k, g in records.groupby(keys, sort=False)])
    out.index = pd.MultiIndex.from_tuples(out.index, names=keys)
    ints = ["sequences", "detected", "false_alarms", "in_control_points"]
    floats = ["mean_delay_parts", "max_delay_parts", "false_alarm_rate"]
    return out.astype(dict.fromkeys(ints, int) | dict.fromkeys(floats, float))


def size_change(
    twins: pd.DataFrame, masks: Callable[[Path], MaskSource] = truth_masks
) -> pd.DataFrame:
    """The drift each twin holds, measured: median object size after against before.

    Objects (8-connected components, as :func:`heatsink.line.measurements.object_geometry`
    finds them) of the parts that carry the full drift are compared with those of the parts
    before its start: a stain by its pixel area, a scratch by its length.

    Parameters
    ----------
    twins : DataFrame
        Columns ``drift``, ``seed``, ``path`` (:func:`drift_twins`).
    masks : callable
        ``path -> masks`` (default: the twin's clean truth).

    Returns
    -------
    DataFrame
        One row per twin and class: ``drift``, ``seed``, ``class`` (``stain`` or
        ``scratch``), ``asked`` (the drift's factor on stain area or scratch length),
        ``objects_before``, ``objects_after``, ``median_before``, ``median_after`` and
        ``measured`` (their ratio).
    """
    rows = []
    for twin, drift, adjacency, source in _drifted(twins, masks):
        part_of = adjacency.set_index("image_id")["part_id"]
        sizes: dict[tuple[str, str], list[float]] = {}
        for image_id, mask in (source.items() if isinstance(source, Mapping) else source):
            fraction = drift.fraction(int(part_of[image_id]))
            when = "before" if fraction == 0 else "after" if fraction == 1 else None
            if when is None:
                continue
            for cls, name, key in ((STAIN, "stain", "area_px"), (SCRATCH, "scratch", "length")):
                sizes.setdefault((name, when), []).extend(
                    float(o[key]) for o in measurements.object_geometry(mask, cls))
        for name, asked in (("stain", drift.stain_scale), ("scratch", drift.scratch_scale)):
            before, after = sizes.get((name, "before"), []), sizes.get((name, "after"), [])
            m0 = float(np.median(before)) if before else np.nan
            m1 = float(np.median(after)) if after else np.nan
            rows.append({"drift": twin.drift, "seed": twin.seed, "class": name,
                         "asked": asked, "objects_before": len(before),
                         "objects_after": len(after), "median_before": m0,
                         "median_after": m1, "measured": m1 / m0})
    return pd.DataFrame(rows)


def plot_detection(summary: pd.DataFrame, axes=None):
    """Mean detection delay against false-alarm rate, per rule and drift, one panel per
    measure (:func:`summarise_detection`'s table).

    A rule's marker is the same in every panel; a drift's colour too. A rule that never
    detected a drift is drawn at the top of its panel, hollow.

    Returns
    -------
    ndarray of matplotlib Axes
    """
    import matplotlib.pyplot as plt

    measures = list(dict.fromkeys(summary.index.get_level_values("measure")))
    drifts = list(dict.fromkeys(summary.index.get_level_values("drift")))
    if axes is None:
        _, axes = plt.subplots(1, len(measures), figsize=(5 * len(measures), 3.8),
                               squeeze=False)
    axes = np.ravel(axes)
    markers = dict(zip(RULES, "osD^", strict=True))
    colours = {d: f"C{k}" for k, d in enumerate(drifts)}
    for ax, measure in zip(axes, measures, strict=True):
        part = summary.xs(measure, level="measure")
        top = float(np.nanmax(part["max_delay_parts"].to_numpy(float), initial=1.0)) + 1
        for (drift, rule), row in part.iterrows():
            missed = row["detected"] == 0
            y = top if missed else row["mean_delay_parts"]
            ax.plot(row["false_alarm_rate"], y, markers[rule], color=colours[drift],
                    markersize=8, markerfacecolor="none" if missed else colours[drift],
                    alpha=0.85)
        ax.set_xlabel("false alarms per in-control point")
        ax.set_ylabel("mean detection delay (parts)")
        ax.set_title(measure, fontsize=10)
    handles = [plt.Line2D([], [], marker=markers[r], linestyle="", color="0.3", label=r)
               for r in RULES]
    handles += [plt.Line2D([], [], marker="s", linestyle="", color=colours[d], label=d)
                for d in drifts]
    axes[-1].legend(handles=handles, fontsize=8, loc="best")
    return axes


def plot_drift_chart(series: pd.DataFrame, start_part: int, baseline_parts: int,
                     log: bool = False, ax=None, title: str = ""):
    """The run chart of one sequence (:func:`production_series`), the drift's start marked.

    Returns
    -------
    matplotlib Axes
    """
    parts = series["part_id"].to_numpy()
    n_baseline = int(np.isin(parts, pd.unique(parts)[:baseline_parts]).sum())
    values = series["value"].to_numpy(dtype=float)
    chart = spc.individuals_chart(np.log10(1.0 + values) if log else values,
                                  baseline=n_baseline, floor=0)
    ax = spc.plot_run_chart(chart, ax=ax, title=title)
    start = int(np.argmax(parts >= start_part))
    ax.axvline(start - 0.5, color="tab:orange", linewidth=1.5, label="drift starts")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_xlabel("point (production order)")
    return ax


__all__ = [
    "DETECTION_COLUMNS",
    "MEASURES",
    "RULES",
    "MaskSource",
    "drift_experiment",
    "drift_twins",
    "plot_detection",
    "plot_drift_chart",
    "production_series",
    "rule_detection",
    "size_change",
    "summarise_detection",
    "truth_masks",
]
