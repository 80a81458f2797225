"""The line judged by part: stitching frames, joining scratch fragments, part verdicts, and
the study's part-level rates and model-selection rules. Masks are drawn here, with known
answers; one tiny twin checks the layouts against its adjacency record."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pandas as pd
import pytest

from heatsink import seams
from heatsink.classes import SCRATCH, STAIN
from heatsink.line import measurements, parts
from heatsink.line.fragments import merge_scratch_fragments
from heatsink.line.spec import FAIL, PASS, Spec
from heatsink.study import parts as study_parts

SIZE = 160


def blank(h: int = SIZE, w: int = SIZE) -> np.ndarray:
    return np.zeros((h, w), np.uint8)


def dashed(mask: np.ndarray, start: tuple[int, int], end: tuple[int, int], dash: int,
           gap: int) -> np.ndarray:
    """Draw a 1-px scratch from ``start`` to ``end`` (x, y) as dashes of ``dash`` pixels
    separated by ``gap`` background pixels, along the line."""
    line = np.zeros_like(mask)
    cv2.line(line, start, end, 1, thickness=1, lineType=cv2.LINE_8)
    ys, xs = np.nonzero(line)
    order = np.argsort(xs if abs(end[0] - start[0]) >= abs(end[1] - start[1]) else ys)
    keep = (np.arange(len(order)) % (dash + gap)) < dash
    mask[ys[order][keep], xs[order][keep]] = SCRATCH
    return mask


# --------------------------------------------------------------------------------------
# joining fragments
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("end", [(150, 80), (130, 130), (70, 150)])
def test_collinear_fragments_measure_as_one_scratch_after_merging(end):
    start = (10, 10) if end != (150, 80) else (10, 80)
    mask = dashed(blank(), start, end, dash=12, gap=6)
    whole = blank()
    cv2.line(whole, start, end, 1, thickness=1, lineType=cv2.LINE_8)
    ys, xs = np.nonzero(mask)  # the line from the first dash's start to the last one's end
    span = np.zeros_like(whole)
    span[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = 1
    full = measurements.scratch_table(whole * span)["LongestScratchLength"]

    before = measurements.scratch_table(mask)
    after = measurements.scratch_table(mask, merge_gap_px=10)  # 6 px on a diagonal: 8.9
    assert before["NumberOfScratches"] >= 6
    assert before["LongestScratchLength"] < 0.2 * full
    assert after["NumberOfScratches"] == 1
    assert after["LongestScratchLength"] == pytest.approx(full, abs=2)
    # gaps wider than the limit stay open
    assert measurements.scratch_table(mask, merge_gap_px=3) == before


def test_parallel_scratches_side_by_side_are_not_joined():
    mask = blank()
    mask[60, 20:140] = SCRATCH
    mask[66, 20:140] = SCRATCH  # 5 background rows between them, well within the gap
    assert (merge_scratch_fragments(mask, gap_px=10) == mask).all()


def test_fragments_at_an_angle_are_not_joined():
    mask = blank()
    mask[80, 10:70] = SCRATCH  # horizontal, ends at x=69
    cv2.line(mask, (74, 84), (110, 120), SCRATCH, 1, cv2.LINE_8)  # 45° from its end
    assert (merge_scratch_fragments(mask, gap_px=10, max_angle_deg=20) == mask).all()
    assert measurements.scratch_table(mask, merge_gap_px=10)["NumberOfScratches"] == 2


def test_bridges_never_overwrite_stains_and_stains_are_unchanged():
    mask = blank()
    mask[80, 10:60] = SCRATCH
    mask[80, 66:120] = SCRATCH
    merged = merge_scratch_fragments(mask, gap_px=8)
    assert (merged[80, 10:120] == SCRATCH).all()
    stained = mask.copy()
    stained[78:83, 61:65] = STAIN  # a stain sits in the gap
    merged = merge_scratch_fragments(stained, gap_px=8)
    assert ((merged == STAIN) == (stained == STAIN)).all()
    assert measurements.stain_table(merged) == measurements.stain_table(stained)


def test_default_measurements_are_unchanged():
    mask = dashed(blank(), (10, 80), (150, 80), dash=12, gap=6)
    assert measurements.scratch_table(mask) == measurements.scratch_table(mask, merge_gap_px=0)
    table = measurements.defect_table([("a", mask)], min_area_px=2)
    assert table.attrs == {"mm_per_px": None, "min_area_px": 2}
    merged = measurements.defect_table([("a", mask)], min_area_px=2, merge_gap_px=8)
    assert merged.attrs["merge_gap_px"] == 8
    assert merged.loc["a", "NumberOfScratches"] == 1


def test_min_area_applies_after_joining():
    """Pieces each under the size limit are dropped alone but kept once joined."""
    mask = dashed(blank(), (10, 80), (150, 80), dash=8, gap=4)
    assert measurements.scratch_table(mask, min_area_px=10)["NumberOfScratches"] == 0
    joined = measurements.scratch_table(mask, min_area_px=10, merge_gap_px=6)
    assert joined["NumberOfScratches"] == 1
    assert joined["LongestScratchLength"] == pytest.approx(141, abs=2)


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "5", True])
def test_bad_gap_refused(bad):
    with pytest.raises(ValueError, match="merge gap"):
        measurements.scratch_table(blank(), merge_gap_px=bad)


# --------------------------------------------------------------------------------------
# layouts and stitching
# --------------------------------------------------------------------------------------


def test_layout_from_neighbours_matches_the_adjacency():
    adjacency = pd.DataFrame({
        "image_id": ["p", "q", "r", "s", "t", "u"],
        "part_id": [4, 4, 4, 4, 9, 9],
        "row": [0, 0, 1, 1, 0, 1],
        "col": [0, 1, 0, 1, 0, 0],
    })
    from_adjacency = parts.part_layout(adjacency)
    from_pairs = parts.part_layout(seams.true_neighbours(adjacency))
    key = ["image_id", "row", "col"]
    assert from_adjacency[key].values.tolist() == from_pairs[key].values.tolist()
    # parts are the same groups of frames, whatever their numbers
    groups = [sorted(g) for g in from_pairs.groupby("part_id")["image_id"]
              .apply(list).tolist()]
    assert groups == [["p", "q", "r", "s"], ["t", "u"]]


def test_contradicting_neighbour_pairs_refused():
    pairs = pd.DataFrame({"a": ["a", "b", "a"], "b": ["b", "c", "c"],
                          "side": ["right", "right", "below"]})
    with pytest.raises(ValueError, match="contradict"):
        parts.layout_from_neighbours(pairs)


def test_layout_needs_known_columns():
    with pytest.raises(ValueError, match="adjacency table"):
        parts.part_layout(pd.DataFrame({"x": [1]}))
    clash = pd.DataFrame({"image_id": ["a", "b"], "part_id": 0, "row": 0, "col": 0})
    with pytest.raises(ValueError, match="share one place"):
        parts.part_layout(clash)


def test_stitch_places_frames_and_images():
    tiles = pd.DataFrame({"image_id": ["a", "b", "c"], "row": [0, 1, 1], "col": [1, 0, 1]})
    frames = {i: np.full((4, 5, 3), k + 1, np.uint8) for k, i in enumerate("abc")}
    canvas = parts.stitch(tiles, frames)
    assert canvas.shape == (8, 10, 3)
    assert (canvas[:4, :5] == 0).all()  # no frame at row 0, column 0
    assert (canvas[:4, 5:] == 1).all() and (canvas[4:, :5] == 2).all()
    assert (canvas[4:, 5:] == 3).all()
    assert (parts.stitch(tiles, frames.__getitem__) == canvas).all()  # a callable too
    with pytest.raises(ValueError, match="one shape"):
        parts.stitch(tiles, {**frames, "c": np.zeros((3, 5, 3), np.uint8)})


# --------------------------------------------------------------------------------------
# part verdicts
# --------------------------------------------------------------------------------------


def two_frame_part(gap: int = 0) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """A 200-px horizontal scratch crossing the seam of two 160-px frames (100 px in each),
    drawn in 14-px dashes with ``gap``-px gaps (0: whole)."""
    part = blank(SIZE, 2 * SIZE)
    if gap:
        dashed(part, (60, 80), (259, 80), dash=14, gap=gap)
    else:
        part[80, 60:260] = SCRATCH
    masks = {"a": part[:, :SIZE].copy(), "b": part[:, SIZE:].copy()}
    layout = pd.DataFrame({"image_id": ["a", "b"], "part_id": 0, "row": 0, "col": [0, 1]})
    return masks, layout


def test_part_fails_where_each_frame_passes():
    masks, layout = two_frame_part()
    spec = Spec("len", max_scratch_length=150)
    frames = study_parts.frame_layout(masks)
    by_frame = parts.judge_parts(masks, frames, spec)
    assert (by_frame["verdict"] == PASS).all()
    judged = parts.judge_parts(masks, layout, spec)
    assert judged.loc[0, "verdict"] == FAIL
    assert judged.loc[0, "failed_rules"] == "scratch length 200 > 150"
    assert judged.loc[0, "frames"] == "a; b" and judged.loc[0, "n_frames"] == 2


def test_part_verdict_flips_from_pass_to_fail_after_merging():
    masks, layout = two_frame_part(gap=5)
    spec = Spec("len", max_scratch_length=150)
    before = parts.judge_parts(masks, layout, spec)
    after = parts.judge_parts(masks, layout, spec, merge_gap_px=6)
    assert before.loc[0, "verdict"] == PASS
    assert before.loc[0, "NumberOfScratches"] > 5
    assert before.loc[0, "LongestScratchLength"] <= 15
    assert after.loc[0, "verdict"] == FAIL
    assert after.loc[0, "NumberOfScratches"] == 1
    assert after.loc[0, "LongestScratchLength"] == pytest.approx(200, abs=1)


def test_part_percentages_are_of_the_measured_frames():
    masks, layout = two_frame_part()
    masks["a"][:10, :10] = STAIN
    table = parts.measure_parts(masks, layout)
    assert table.loc[0, "TotalStain%"] == pytest.approx(100 * 100 / (2 * SIZE * SIZE))
    only_a = parts.measure_parts({"a": masks["a"]}, layout)  # b is missing
    assert only_a.loc[0, ["n_frames", "n_missing"]].tolist() == [1, 1]
    assert only_a.loc[0, "TotalStain%"] == pytest.approx(100 * 100 / (SIZE * SIZE))


# --------------------------------------------------------------------------------------
# the study's rates and selection
# --------------------------------------------------------------------------------------


def test_part_passfail_counts_escapes_before_and_after_merging():
    truth, layout = two_frame_part()
    predicted, _ = two_frame_part(gap=5)
    clean = {"c": blank(), "d": blank()}  # a good part, predicted good
    layout = pd.concat([layout, pd.DataFrame({"image_id": ["c", "d"], "part_id": 1,
                                              "row": 0, "col": [0, 1]})])
    spec = Spec("len", max_scratch_length=150)
    table = study_parts.part_passfail({**predicted, **clean}, {**truth, **clean}, layout,
                                      spec, merge_gaps=(0, 6))
    part = table.loc["part"]
    assert part.loc[0.0, ["defective", "escapes", "good", "overkill"]].tolist() == [1, 1, 1, 0]
    assert part.loc[6.0, "escapes"] == 0 and part.loc[6.0, "escape_rate"] == 0
    low, high = part.loc[0.0, ["escape_low", "escape_high"]]
    assert 0 < low < 1 == pytest.approx(high)
    # frame by frame the truth passes every frame (100 px each): nothing to escape
    assert table.loc[("frame", 0.0), "defective"] == 0
    assert math.isnan(table.loc[("frame", 0.0), "escape_rate"])


def test_selection_rules_side_by_side():
    results = {
        "a": {"scores": {"labels": {"miou_defects": 0.43, "scratch_recall": 0.6,
                                    "stain_recall": 0.7}}},
        "b": {"scores": {"labels": {"miou_defects": 0.23, "scratch_recall": 0.2,
                                    "stain_recall": 0.3}}},
        "c": {"scores": {"labels": {"miou_defects": 0.30}}},
    }
    rates = {"a": {"escape_rate": 0.2, "overkill_rate": 0.3},
             "b": {"escape_rate": 0.1, "overkill_rate": 0.6},
             "c": {"escape_rate": 0.1, "overkill_rate": 0.4}}
    table = study_parts.selection_table(results, rates)
    assert table.loc["a", "defect_recall"] == pytest.approx(0.65)
    ranked, picks = study_parts.selection_rules(table)
    assert picks == {"mIoU": "a", "escape-averse": "c", "same": False}
    assert ranked.index.tolist() == ["c", "b", "a"]  # tie on escapes: less overkill first
    assert ranked["rank (mIoU)"].to_dict() == {"c": 2, "b": 3, "a": 1}
    # a model without part rates ranks last by escapes
    ranked, picks = study_parts.selection_rules(
        study_parts.selection_table(results, {"a": rates["a"]}))
    assert picks["same"] and ranked.index[-1] in ("b", "c")


# --------------------------------------------------------------------------------------
# a tiny twin
# --------------------------------------------------------------------------------------


def test_twin_parts_stitch_and_judge(tmp_path):
    from heatsink.data import load_dataset
    from heatsink.synth import generate
    from heatsink.synth.records import read_adjacency

    root = generate(tmp_path / "twin", n=12, seed=5, progress=False)
    ds = load_dataset(root)
    adjacency = read_adjacency(root)
    layout = parts.part_layout(adjacency)
    assert sorted(layout["image_id"]) == sorted(ds.ids)
    # the pixels-only neighbour table lays out what it finds as the adjacency does
    found = seams.find_neighbours(ds)
    from_pixels = parts.part_layout(found, ids=ds.ids)
    assert len(from_pixels) == len(ds.ids)
    truth_pairs = seams.true_neighbours(adjacency)
    if len(found) == len(truth_pairs):
        assert from_pixels["part_id"].nunique() == layout["part_id"].nunique()
    spec = Spec("twin", min_object_px=10, max_scratch_length=120)
    judged = parts.judge_parts(ds.mask, layout, spec)
    assert len(judged) == adjacency["part_id"].nunique()
    assert judged["n_frames"].sum() == len(ds.ids)
    assert set(judged["verdict"]) <= {PASS, FAIL}
    # a part is at least as long-scratched as its longest frame
    frames = measurements.defect_table(((i, ds.mask(i)) for i in ds.ids), min_area_px=10)
    for _, row in judged.iterrows():
        ids = row["frames"].split("; ")
        assert row["LongestScratchLength"] >= frames.loc[ids, "LongestScratchLength"].max() - 1e-9
    # viz.part_mosaic stitches the same way
    from heatsink.viz import part_mosaic
    biggest = layout[layout["part_id"] == judged["n_frames"].idxmax()]
    mosaic = part_mosaic(ds, biggest)
    assert mosaic.shape[:2] == parts.stitch(biggest, ds.mask).shape
