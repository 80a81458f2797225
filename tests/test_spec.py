"""Inspection specs: loading, validation, judging and part-level evaluation."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from heatsink.classes import SCRATCH, STAIN
from heatsink.errors import HeatsinkError
from heatsink.line.measurements import defect_table
from heatsink.line.spec import (
    Spec,
    inspect_masks,
    judge,
    judge_table,
    known_keys,
    load_spec,
    pass_fail_confusion,
    save_spec,
)
from heatsink.study.specs import spec_tradeoff

EXAMPLE = """\
name: example-spec
min_object_px: 10          # objects smaller than this are ignored
mm_per_px: null            # optional scale; limits are then in mm / mm²
max_stain_area: 400        # largest stain (pixels², or mm² when scaled)
max_stain_count: 3
max_scratch_length: 120    # longest scratch
max_defect_percent: 1.5    # stain% + scratch%
"""


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_example_and_round_trip(tmp_path):
    spec = load_spec(write(tmp_path, EXAMPLE))
    assert spec == Spec("example-spec", 10, None, 400.0, 3, 120.0, 1.5)
    assert isinstance(spec.max_stain_area, float) and isinstance(spec.max_stain_count, int)
    save_spec(spec, tmp_path / "out" / "again.yaml")
    again = load_spec(tmp_path / "out" / "again.yaml")
    assert again == spec and again.identity == spec.identity
    assert len(spec.identity) == 12
    assert spec.to_dict()["max_stain_count"] == 3
    assert Spec(name="x", max_stain_area=400).identity == Spec(name="x",
                                                               max_stain_area=400.0).identity
    assert spec.identity != Spec(name="example-spec").identity


def test_min_peak_changes_the_identity_only_when_set():
    """A spec written before ``min_peak`` and the operating-point fields existed keeps its
    identity (the reports made with it stay comparable); setting one makes another spec."""
    import hashlib
    import json

    later = ("min_peak", "scratch_bias", "stain_bias", "min_scratch_px", "min_stain_px")
    spec = Spec("line-7", min_object_px=10, max_stain_count=3)
    before = {key: value for key, value in spec.to_dict().items() if key not in later}
    text = json.dumps(before, sort_keys=True, separators=(",", ":"))
    assert spec.identity == hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    sure = Spec("line-7", min_object_px=10, max_stain_count=3, min_peak=0.95)
    assert sure.identity != spec.identity
    assert sure.limits_text().endswith("objects under 10 px ignored; objects whose peak "
                                       "probability stays under 0.95 ignored; units px")
    point = Spec("line-7", min_object_px=10, max_stain_count=3, scratch_bias=2.5,
                 stain_bias=-1, min_scratch_px=82, min_stain_px=31)
    assert len({point.identity, sure.identity, spec.identity}) == 3
    assert point.limits_text().endswith(
        "objects under 10 px ignored; decision bias scratch +2.5, stain -1; scratches under "
        "82 px and stains under 31 px dropped; units px")
    assert point.decision() == {"defect_bias": {"scratch": 2.5, "stain": -1.0},
                                "min_peak": 0.0, "min_area": {"scratch": 82, "stain": 31}}


def test_missing_name_defaults_to_file_stem_and_limits_are_optional(tmp_path):
    spec = load_spec(write(tmp_path, "max_stain_count: 0\n", "line-7.yaml"))
    assert spec.name == "line-7" and spec.max_stain_count == 0
    assert spec.max_scratch_length is None and spec.min_object_px == 1


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("max_stain_aera: 3\n", ["max_stain_aera", "known keys", *known_keys()]),
        ("max_stain_count: -1\n", ["max_stain_count", "negative"]),
        ("max_scratch_length: -0.5\n", ["max_scratch_length", "negative"]),
        ("max_stain_count: 2.5\n", ["max_stain_count", "integer"]),
        ("max_stain_area: big\n", ["max_stain_area", "number"]),
        ("max_defect_percent: true\n", ["max_defect_percent", "number"]),
        ("min_object_px: null\n", ["min_object_px"]),
        ("mm_per_px: 0\n", ["mm_per_px", "> 0"]),
        ("min_peak: 1\n", ["min_peak", "below 1"]),
        ("min_peak: -0.1\n", ["min_peak", "negative"]),
        ("min_peak: null\n", ["min_peak", "[0, 1)"]),
        ("stain_bias: null\n", ["stain_bias", "number"]),
        ("scratch_bias: .nan\n", ["scratch_bias", "finite"]),
        ("min_scratch_px: -3\n", ["min_scratch_px", "negative"]),
        ("min_stain_px: 2.5\n", ["min_stain_px", "integer"]),
        ("max_stain_area: .inf\n", ["max_stain_area", "finite"]),
        ("name: ''\n", ["name"]),
        ("- 1\n- 2\n", ["mapping"]),
        ("", ["mapping"]),
        ("max_stain_area: [1, 2\n", ["YAML"]),
    ],
)
def test_validation_errors_name_file_and_key(tmp_path, text, words):
    path = write(tmp_path, text)
    with pytest.raises(HeatsinkError) as info:
        load_spec(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_missing_file(tmp_path):
    with pytest.raises(HeatsinkError, match=r"nope\.yaml.*not found"):
        load_spec(tmp_path / "nope.yaml")


def test_direct_construction_is_validated():
    with pytest.raises(HeatsinkError, match="max_stain_count"):
        Spec(max_stain_count=-2)


ROW = {
    "NumberOfStains": 4,
    "LargestStainArea": 480.0,
    "LargestStainPixels": 512,
    "TotalStain%": 1.0,
    "LongestScratchLength": 130.5,
    "TotalScratch%": 0.75,
}


def test_judge_lists_failed_rules():
    spec = Spec("s", max_stain_area=400, max_stain_count=3, max_scratch_length=120,
                max_defect_percent=1.5)
    verdict, failed = judge(ROW, spec)
    assert verdict == "FAIL"
    assert failed == [
        "stain area 512 > 400",
        "stain count 4 > 3",
        "scratch length 130.5 > 120",
        "defect percent 1.75 > 1.5",
    ]
    assert judge(ROW, Spec("none")) == ("PASS", [])
    # limits are "greater than": equal passes
    assert judge(ROW, Spec("eq", max_stain_area=512, max_stain_count=4)) == ("PASS", [])
    # scaled: pixel area in mm²
    assert judge(ROW, Spec("mm", mm_per_px=0.5, max_stain_area=100))[1] == [
        "stain area 128 > 100"
    ]


def test_judge_table_and_inspect_masks():
    clean = np.zeros((64, 64), np.uint8)
    stained = clean.copy()
    cv2.circle(stained, (30, 30), 8, STAIN, -1)
    scratched = clean.copy()
    scratched[5, 2:60] = SCRATCH
    specks = clean.copy()
    specks[40, 40] = STAIN
    masks = [("clean", clean), ("stained", stained), ("scratched", scratched),
             ("specks", specks)]
    spec = Spec("t", min_object_px=2, max_stain_area=100, max_scratch_length=50)
    result = inspect_masks(masks, spec)
    assert result["verdict"].to_dict() == {
        "clean": "PASS", "stained": "FAIL", "scratched": "FAIL", "specks": "PASS"
    }
    assert result.loc["stained", "failed_rules"].startswith("stain area ")
    assert result.loc["scratched", "failed_rules"] == "scratch length 58 > 50"
    assert result.loc["clean", "failed_rules"] == ""
    both = stained | scratched
    rules = inspect_masks([("both", both)], spec).loc["both", "failed_rules"]
    assert rules.count("; ") == 1
    with pytest.raises(HeatsinkError, match="min_area_px"):
        judge_table(defect_table(masks), spec)  # made with min_area_px=1, spec says 2


def test_pass_fail_confusion():
    true = pd.Series({"a": "FAIL", "b": "FAIL", "c": "FAIL", "d": "PASS", "e": "PASS",
                      "f": "PASS", "g": "PASS"})
    pred = pd.Series({"g": "FAIL", "a": "FAIL", "b": "PASS", "c": "FAIL", "d": "PASS",
                      "e": "PASS", "f": "PASS"})
    out = pass_fail_confusion(pred, true)
    assert (out["tp"], out["fn"], out["fp"], out["tn"], out["n"]) == (2, 1, 1, 3, 7)
    assert out["escape_rate"] == pytest.approx(1 / 3)
    assert out["overkill_rate"] == pytest.approx(1 / 4)
    good = pd.Series({"a": "PASS", "b": "PASS"})
    only_good = pass_fail_confusion(good, good)
    assert math.isnan(only_good["escape_rate"]) and only_good["overkill_rate"] == 0
    with pytest.raises(HeatsinkError, match="different ids"):
        pass_fail_confusion(pred.drop("a"), true)
    with pytest.raises(HeatsinkError, match="PASS or FAIL"):
        pass_fail_confusion(pred.replace("PASS", "ok"), true)


def test_spec_tradeoff_is_monotone():
    rng = np.random.default_rng(3)
    n = 60
    true = pd.DataFrame(
        {
            "NumberOfStains": rng.integers(0, 6, n),
            "LargestStainPixels": rng.integers(0, 900, n),
            "LongestScratchLength": rng.uniform(0, 250, n),
            "TotalStain%": rng.uniform(0, 1.5, n),
            "TotalScratch%": rng.uniform(0, 1.0, n),
        },
        index=[f"{k:03d}" for k in range(n)],
    )
    noise = rng.normal(1.0, 0.3, (n, 1)).clip(0.1)
    pred = true.copy()
    for column in ("LargestStainPixels", "LongestScratchLength", "TotalStain%",
                   "TotalScratch%"):
        pred[column] = true[column] * noise[:, 0]
    spec = Spec("t", max_stain_area=400, max_stain_count=3, max_scratch_length=120,
                max_defect_percent=1.5)
    curve = spec_tradeoff(pred, true, spec)
    assert len(curve) == 16 and curve["scale"].iloc[0] == 0.25 and curve["scale"].iloc[-1] == 4
    assert (np.diff(curve["escape_rate"]) >= 0).all()
    assert (np.diff(curve["overkill_rate"]) <= 0).all()
    assert curve["escape_rate"].iloc[0] == 0 and curve["overkill_rate"].iloc[-1] == 0
    assert curve["escape_rate"].iloc[-1] > 0 and curve["overkill_rate"].iloc[0] > 0
    assert (curve[["tp", "fn", "fp", "tn"]].sum(axis=1) == n).all()


def test_scaled_spec():
    spec = Spec("s", max_stain_count=3, max_stain_area=400.0)
    half = spec.scaled(0.5)
    assert half.max_stain_count == 1 and half.max_stain_area == 200.0
    assert half.max_scratch_length is None and half.min_object_px == spec.min_object_px
    counts_only = spec.scaled(0.5, rules=["stain count"])
    assert counts_only.max_stain_count == 1 and counts_only.max_stain_area == 400.0
    assert spec.scaled(2, "stain area") == Spec("s", max_stain_count=3, max_stain_area=800.0)
    with pytest.raises(ValueError, match=r"unknown rule.*'colour'.*known: stain area"):
        spec.scaled(2, ["stain area", "colour"])


def test_spec_tradeoff_on_one_rule_moves_only_that_rules_verdicts():
    # three frames; the truth fails b (scratch) and c (stain area)
    true = pd.DataFrame({"NumberOfStains": [1, 0, 1], "LargestStainPixels": [100, 0, 900],
                         "LongestScratchLength": [10.0, 200.0, 0.0], "TotalStain%": 0.0,
                         "TotalScratch%": 0.0}, index=["a", "b", "c"])
    pred = true.assign(LongestScratchLength=[10.0, 90.0, 0.0],  # b's scratch found short
                       LargestStainPixels=[100, 0, 450])  # c's stain found at half its area
    spec = Spec("t", max_stain_area=500, max_scratch_length=100)
    scratch = spec_tradeoff(pred, true, spec, scales=[0.5, 1.0], rules=["scratch length"])
    # at x0.5 the scratch limit (50) catches b; c's stain (450 <= 500) still escapes
    assert scratch["fn"].tolist() == [1, 2] and scratch["fp"].tolist() == [0, 0]
    every = spec_tradeoff(pred, true, spec, scales=[0.5, 1.0])
    assert every["fn"].tolist() == [0, 2]  # the stain limit (250) catches c as well
    with pytest.raises(ValueError, match="unknown rule"):
        spec_tradeoff(pred, true, spec, rules="colour")


def test_failed_rule_counts_counts_each_rule_once_per_row():
    from heatsink.study.specs import failed_rule_counts

    judged = pd.DataFrame({"failed_rules": [
        "stain area 1200 > 1000; stain count 9 > 7", "", "stain count 8 > 7", None,
        "defect percent 6 > 5"]})
    counts = failed_rule_counts(judged)
    assert counts.to_dict() == {"stain area": 1, "stain count": 2, "scratch length": 0,
                                "defect percent": 1}
    with pytest.raises(HeatsinkError, match="unknown rule"):
        failed_rule_counts(pd.DataFrame({"failed_rules": ["colour 3 > 2"]}))


def test_escape_causes_names_the_rules_the_reference_fails_escaped_frames_on():
    from heatsink.study.specs import escape_causes

    spec = Spec("t", min_object_px=2, max_scratch_length=25, max_stain_count=1)
    whole, pieces, blank = (np.zeros((64, 64), np.uint8) for _ in range(3))
    whole[5, 2:42] = SCRATCH  # one 40 px scratch, over the limit
    pieces[5, 2:20] = SCRATCH  # the same scratch predicted in two 18 px pieces
    pieces[5, 24:42] = SCRATCH
    stains = np.zeros((64, 64), np.uint8)
    stains[30:33, 5:8] = STAIN
    stains[30:33, 20:23] = STAIN  # two stains: over the count limit
    labels = inspect_masks([("split", whole), ("stains", stains), ("caught", whole),
                            ("good", blank), ("overkill", blank)], spec)
    predicted = inspect_masks([("split", pieces), ("stains", blank), ("caught", whole),
                               ("good", blank), ("overkill", stains)], spec)
    assert predicted.loc["split", "verdict"] == "PASS"  # each piece is under the limit
    causes = escape_causes(predicted["verdict"], labels)
    assert causes.to_dict() == {"stain area": 0, "stain count": 1, "scratch length": 1,
                                "defect percent": 0}
    assert causes.sum() == pass_fail_confusion(predicted["verdict"], labels["verdict"])["fn"]
    with pytest.raises(HeatsinkError, match="different ids"):
        escape_causes(predicted["verdict"].drop("good"), labels)


def test_limits_in_context_sets_each_limit_beside_its_measurements():
    from heatsink.line.spec import limits_in_context

    masks = []
    for k in range(4):  # scratches of 10, 20, 30, 40 px; no stains
        mask = np.zeros((64, 64), np.uint8)
        mask[5, 2:2 + 10 * (k + 1)] = SCRATCH
        masks.append((str(k), mask))
    spec = Spec("t", min_object_px=2, max_scratch_length=25, max_stain_count=3)
    table = limits_in_context(defect_table(masks, min_area_px=2), spec)
    scratch = table.loc["scratch length"]
    lengths = defect_table(masks, min_area_px=2)["LongestScratchLength"]
    assert scratch["limit"] == 25 and scratch["p50"] == lengths.median()
    assert scratch["frames over limit (%)"] == 50.0  # the 30 and 40 px scratches
    assert table.loc["stain count", "frames over limit (%)"] == 0.0
    assert math.isnan(table.loc["stain area", "frames over limit (%)"])  # no limit set
    assert table.loc["any rule", "frames over limit (%)"] == 50.0


def _alias_bomb(levels: int = 9) -> str:
    """A "billion laughs" YAML: 400 bytes that expand to 9**9 values."""
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    previous = "a"
    for key in "bcdefghi"[: levels - 1]:
        text += f"{key}: &{key} [{','.join([f'*{previous}'] * 9)}]\n"
        previous = key
    return text


def test_a_yaml_alias_bomb_is_refused_at_once_with_a_short_message(tmp_path):
    path = write(tmp_path, _alias_bomb())
    assert path.stat().st_size < 500
    with pytest.raises(HeatsinkError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid YAML") and "aliases" in message
    assert len(message) < 400 and "\n" not in message


def test_a_duplicated_key_is_refused_naming_it(tmp_path):
    path = write(tmp_path, "max_stain_count: 3\nmax_scratch_length: 50\nmax_stain_count: 30\n")
    with pytest.raises(HeatsinkError, match=r"line 3.*duplicate key 'max_stain_count' \(first on "
                                            r"line 1\)"):
        load_spec(path)


@pytest.mark.parametrize("text", ["name: no-limits\n", "name: x\nmin_object_px: 5\n",
                                  "max_stain_area: null\nmax_stain_count: null\n"])
def test_a_spec_without_any_limit_is_refused(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(HeatsinkError, match=r"sets no limit, so every part would pass"):
        load_spec(path)


def test_a_fifo_or_device_as_spec_is_refused_without_hanging(tmp_path):
    import os

    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    with pytest.raises(HeatsinkError, match=r"spec\.yaml: cannot read the spec file: it is a "
                                            r"FIFO"):
        load_spec(fifo)
    with pytest.raises(HeatsinkError, match=r"/dev/zero: cannot read the spec file: it is a "
                                            r"character device"):
        load_spec("/dev/zero")


def test_limits_text_lists_every_limit_applied():
    spec = Spec("line-7", min_object_px=10, mm_per_px=0.05, max_stain_area=2.5,
                max_scratch_length=4)
    assert spec.limits_text() == ("spec line-7: FAIL if stain area > 2.5 or scratch length > 4;"
                                  " objects under 10 px ignored; units mm (mm_per_px 0.05)")
