"""The drifted twin (heatsink.synth.drift) and the drift experiment (heatsink.study.drift)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from heatsink.study import drift as experiment
from heatsink.synth import GENERATOR_VERSION, generate
from heatsink.synth.drift import Drift, read_drift, scaled_sizes
from heatsink.synth.sampling import sample_bboxes

matplotlib.use("Agg")

#: SHA-256 over every file (path and content) of ``generate(n=12, seed=3, workers=1)``, per
#: generator version: 1.3.2's as it wrote them before drifts existed (commit 6fa6f16), 1.4.4's
#: when it landed. A new version must add its own, so its default bytes are pinned too.
GOLDEN = {
    "1.3.2": "4f7dfa95a82bd4b6ec561f3470177c9f7521fb158625631641ae56aef098539a",
    "1.4.4": "c7914fb3633b942968cf8286de8653b7f336f783005c595d944e4336f46a39ec",
}


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0"
                     + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_no_drift_writes_the_same_bytes_as_before(tmp_path: Path):
    assert GENERATOR_VERSION in GOLDEN, f"pin generator {GENERATOR_VERSION}'s bytes in GOLDEN"
    root = generate(tmp_path / "t", n=12, seed=3, progress=False, workers=1)
    assert _digest(root) == GOLDEN[GENERATOR_VERSION]
    assert not (root / "drift.csv").exists()
    assert "drift" not in json.loads((root / "twin.json").read_text())


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path, Drift]:
    """The same 40-frame sequence without and with a step drift from part 6."""
    base = tmp_path_factory.mktemp("pair")
    drift = Drift(start_part=6, stain_scale=4.0, scratch_scale=2.0)
    plain = generate(base / "plain", n=40, seed=5, progress=False, workers=1)
    drifted = generate(base / "drifted", n=40, seed=5, progress=False, workers=2, drift=drift)
    return plain, drifted, drift


def test_parts_before_the_start_are_unchanged_and_the_drift_is_recorded(pair):
    plain, drifted, drift = pair
    adjacency = pd.read_csv(drifted / "adjacency.csv", dtype={"image_id": str})
    assert adjacency.equals(pd.read_csv(plain / "adjacency.csv", dtype={"image_id": str}))
    a, b = _files(plain), _files(drifted)
    for row in adjacency.itertuples():
        names = [f"images/{row.image_id}.bmp", f"labels/{row.image_id}.png",
                 f"truth/{row.image_id}.png"]
        same = all(a[name] == b[name] for name in names)
        assert same == (row.part_id < drift.start_part), row
    assert read_drift(drifted) == drift and read_drift(plain) is None
    info = json.loads((drifted / "twin.json").read_text())
    assert info["generator_version"] == GENERATOR_VERSION
    assert info["drift"]["parts_drifted"] == adjacency["part_id"].max() - drift.start_part + 1
    factors = pd.read_csv(drifted / "drift.csv")
    assert list(factors["part_id"]) == list(range(1, adjacency["part_id"].max() + 1))
    assert (factors.loc[factors["part_id"] < 6, ["stain_area_factor",
                                                  "scratch_length_factor"]] == 1).all().all()
    assert (factors.loc[factors["part_id"] >= 6, "stain_area_factor"] == 4).all()


def test_scaled_sizes_scale_the_drawn_boxes_exactly():
    plain = sample_bboxes(np.random.default_rng(1), "stain", 50)
    with scaled_sizes(stain_area=4.0, scratch_length=3.0):
        stains = sample_bboxes(np.random.default_rng(1), "stain", 50)
    assert (stains == np.clip(2 * plain, 1, 320)).all()
    after = sample_bboxes(np.random.default_rng(1), "stain", 50)
    assert (after == plain).all()  # the scale ends with the block


def test_the_drift_grows_stains_and_lengthens_scratches_from_its_start(tmp_path: Path):
    """Measured on the truth masks: stain areas by about the factor asked; scratches
    lengthen but fall short of it (clipped at the frame, long ones redrawn to fit)."""
    drift = Drift(start_part=21, stain_scale=3.0, scratch_scale=1.5)
    twins = experiment.drift_twins(tmp_path, {"x": drift}, [2], n=120)
    change = experiment.size_change(twins).set_index("class")
    assert change.loc["stain", "objects_after"] > 100
    assert 2.4 < change.loc["stain", "measured"] < 3.6
    assert 1.15 < change.loc["scratch", "measured"] <= 1.6
    again = experiment.drift_twins(tmp_path, {"x": drift}, [2], n=120)  # reused, not redone
    assert again.equals(twins)


def test_drift_validation_and_ramp():
    with pytest.raises(ValueError, match="start_part"):
        Drift(start_part=0)
    with pytest.raises(ValueError, match="stain_scale"):
        Drift(3, stain_scale=-1.0)
    with pytest.raises(ValueError, match="ramp_parts"):
        Drift(3, ramp_parts=-2)
    ramp = Drift(10, stain_scale=3.0, ramp_parts=4)
    assert [ramp.fraction(p) for p in (9, 10, 11, 13, 30)] == [0, 0.25, 0.5, 1, 1]
    assert ramp.factors(11) == (2.0, 1.0)


def _series(values, parts=None) -> pd.DataFrame:
    parts = range(1, len(values) + 1) if parts is None else parts
    return pd.DataFrame({"part_id": list(parts), "value": values})


def test_a_known_step_is_found_with_the_expected_delay_per_rule():
    # in control: 6, 5, 6, 5, ... (centre 5.5, sigma 1/1.128); then a step to 16
    series = _series([6.0, 5.0] * 20 + [16.0] * 12)
    table = experiment.rule_detection(series, start_part=41, baseline_parts=20).set_index("rule")
    assert (table["false_alarms"] == 0).all() and (table["false_alarm_rate"] == 0).all()
    assert (table["in_control_points"] == 20).all() and (table["baseline_points"] == 20).all()
    assert table["detected"].all()
    # rule 1 at the first point, 2 of 3 at the second, 4 of 5 at the fourth, 8 in a row
    assert table["delay_parts"].tolist() == [0, 1, 3, 7]
    assert table["first_flag_part"].tolist() == [41, 42, 44, 48]


def test_delay_counts_parts_when_points_are_frames():
    # two frames per part: the step starts at part 21 (point 40)
    values = [6.0, 5.0] * 20 + [16.0] * 12
    parts = [1 + k // 2 for k in range(len(values))]
    table = experiment.rule_detection(_series(values, parts), 21, 10).set_index("rule")
    assert table["delay_points"].tolist() == [0, 1, 3, 7]
    assert table["delay_parts"].tolist() == [0, 0, 1, 3]


def test_false_alarms_are_counted_before_the_start_only_and_a_miss_is_na():
    values = [6.0, 5.0] * 20 + [6.0, 5.0] * 5
    values[30] = 40.0  # one wild point after the baseline, before the start
    table = experiment.rule_detection(_series(values), 41, 20).set_index("rule")
    assert table.loc["rule1", "false_alarms"] == 1
    assert table.loc["rule1", "false_alarm_rate"] == pytest.approx(1 / 20)
    assert not table["detected"].any() and table["delay_parts"].isna().all()
    with pytest.raises(ValueError, match="not before"):
        experiment.rule_detection(_series(values), 10, 20)
    with pytest.raises(ValueError, match="production order"):
        experiment.rule_detection(_series(values, parts=range(len(values), 0, -1)), 41, 20)


def test_the_experiment_on_truth_and_on_a_mapping_of_masks(tmp_path: Path):
    drifts = {"step": Drift(7, stain_scale=4.0, scratch_scale=2.0),
              "ramp": Drift(7, stain_scale=4.0, ramp_parts=3)}
    twins = experiment.drift_twins(tmp_path, drifts, [0, 1], n=30)
    assert list(twins["drift"]) == ["step", "step", "ramp", "ramp"]
    records = experiment.drift_experiment(twins, baseline_parts=3)
    assert len(records) == 4 * 2 * 4  # twins, measures, rules
    assert set(records["rule"]) == set(experiment.RULES)
    assert (records["start_part"] == 7).all()
    # any mask source: here the labels, as a mapping of id -> mask (a model's would do)
    from heatsink.data import load_dataset

    def labels(path):
        return dict(load_dataset(path, verify=False).masks("labels"))

    by_frame = experiment.drift_experiment(twins.iloc[:1], 3, measures=["LargestStainPixels"],
                                           masks=labels, by="frame", log=True)
    assert len(by_frame) == 4 and by_frame["points"].iloc[0] == 30
    summary = experiment.summarise_detection(records)
    assert summary.index.names == ["drift", "measure", "rule"]
    assert (summary["sequences"] == 2).all()
    assert ((summary["detected"] >= 0) & (summary["detected"] <= 2)).all()
    axes = experiment.plot_detection(summary)
    assert len(axes) == 2
    adjacency = pd.read_csv(twins["path"][0] / "adjacency.csv", dtype={"image_id": str})
    series = experiment.production_series(experiment.truth_masks(twins["path"][0]), adjacency)
    assert series["part_id"].is_monotonic_increasing and series["part_id"].is_unique
    experiment.plot_drift_chart(series, 7, 3)


def test_only_flags_on_the_drifts_side_detect_it():
    series = _series([15.0, 16.0] * 20 + [5.0] * 12)  # a step down
    down = experiment.rule_detection(series, 41, 20, side="down").set_index("rule")
    up = experiment.rule_detection(series, 41, 20, side="up").set_index("rule")
    assert down["delay_parts"].tolist() == [0, 1, 3, 7]
    assert not up["detected"].any()
    assert (up["false_alarms"] == down["false_alarms"]).all()
    with pytest.raises(ValueError, match="side"):
        experiment.rule_detection(series, 41, 20, side="left")
