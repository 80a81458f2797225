"""Post-analysis of label masks on hand-drawn masks with known answers."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pandas as pd
import pytest

from heatsink.classes import OVERLAY_COLOURS, SCRATCH, STAIN
from heatsink.line.measurements import (
    DEFECT_COLUMNS,
    defect_table,
    draw_overlay,
    object_geometry,
    scratch_table,
    stain_table,
)


def blank(size: int = 120) -> np.ndarray:
    return np.zeros((size, size), np.uint8)


def disc(mask: np.ndarray, centre: tuple[int, int], radius: int) -> np.ndarray:
    cv2.circle(mask, centre, radius, STAIN, thickness=-1)
    return mask


def test_disc_radius_centre_and_area():
    mask = disc(blank(), (50, 40), 20)
    row = stain_table(mask)
    assert row["NumberOfStains"] == 1
    assert abs(row["LargestStainRadius"] - 20) <= 1
    assert abs(row["EnclosingCircleX"] - 50) <= 1  # x is the column
    assert abs(row["EnclosingCircleY"] - 40) <= 1  # y is the row, downwards
    assert row["LargestStainPixels"] == int((mask == STAIN).sum())
    assert row["LargestStainPixels"] == pytest.approx(math.pi * 20**2, rel=0.02)
    # the contour runs through boundary-pixel centres: about half a pixel inside
    assert row["LargestStainArea"] == pytest.approx(math.pi * 19.5**2, rel=0.02)


def test_two_stains_largest_chosen_and_total_percent():
    mask = disc(blank(), (30, 30), 6)
    disc(mask, (80, 85), 12)
    row = stain_table(mask)
    assert row["NumberOfStains"] == 2
    assert abs(row["EnclosingCircleX"] - 80) <= 1 and abs(row["EnclosingCircleY"] - 85) <= 1
    assert abs(row["LargestStainRadius"] - 12) <= 1
    assert row["TotalStain%"] == 100.0 * int((mask == STAIN).sum()) / mask.size


def test_min_area_drops_small_stain_everywhere():
    mask = disc(blank(), (80, 80), 10)
    mask[5:7, 5:7] = STAIN  # a 4-pixel speck
    big = int((mask == STAIN).sum()) - 4
    assert stain_table(mask)["NumberOfStains"] == 2
    row = stain_table(mask, min_area_px=5)
    assert row["NumberOfStains"] == 1
    assert row["TotalStain%"] == 100.0 * big / mask.size
    assert stain_table(mask, min_area_px=4)["NumberOfStains"] == 2  # "smaller than" only


def test_largest_by_pixels_not_contour_area():
    mask = blank()
    mask[10, 10:60] = STAIN  # 50 px, 1 px wide: contour area 0
    mask[80:85, 80:85] = STAIN  # 25 px, contour area 16
    row = stain_table(mask)
    assert row["LargestStainPixels"] == 50
    assert row["LargestStainArea"] == 0.0
    assert row["EnclosingCircleY"] == pytest.approx(10)


def test_stain_inside_a_ring_is_counted():
    mask = blank()
    cv2.circle(mask, (60, 60), 30, STAIN, thickness=3)
    mask[58:62, 58:62] = STAIN
    assert stain_table(mask)["NumberOfStains"] == 2


def test_horizontal_scratch_of_n_pixels_has_length_n():
    mask = blank()
    mask[30, 20:70] = SCRATCH
    row = scratch_table(mask)
    assert row["NumberOfScratches"] == 1
    assert row["LongestScratchLength"] == pytest.approx(50)
    mask = blank()
    mask[10:47, 90] = SCRATCH  # vertical, 37 px
    assert scratch_table(mask)["LongestScratchLength"] == pytest.approx(37)
    mask = blank()
    mask[5, 5] = SCRATCH
    assert scratch_table(mask)["LongestScratchLength"] == pytest.approx(1)


def test_diagonal_scratch_length():
    mask = blank()
    cv2.line(mask, (10, 10), (70, 70), SCRATCH, thickness=1)
    length = scratch_table(mask)["LongestScratchLength"]
    assert abs(length - (math.hypot(60, 60) + 1)) <= 1


def test_two_scratches_total_is_sum():
    mask = blank()
    mask[20, 10:40] = SCRATCH  # 30
    mask[60:100, 90] = SCRATCH  # 40
    row = scratch_table(mask)
    assert row["NumberOfScratches"] == 2
    assert row["LongestScratchLength"] == pytest.approx(40)
    assert row["TotalScratchLength"] == pytest.approx(70)
    assert row["TotalScratch%"] == 100.0 * 70 / mask.size


def test_scale_is_linear_for_lengths_and_quadratic_for_areas():
    mask = disc(blank(), (60, 60), 15)
    mask[5, 10:60] = SCRATCH
    px = stain_table(mask) | scratch_table(mask)
    mm = stain_table(mask, mm_per_px=0.1) | scratch_table(mask, mm_per_px=0.1)
    for key in ("LongestScratchLength", "TotalScratchLength", "LargestStainRadius",
                "EnclosingCircleX", "EnclosingCircleY"):
        assert mm[key] == pytest.approx(0.1 * px[key])
    assert mm["LargestStainArea"] == pytest.approx(0.01 * px["LargestStainArea"])
    for key in ("LargestStainPixels", "NumberOfStains", "TotalStain%", "TotalScratch%"):
        assert mm[key] == px[key]


def test_empty_mask():
    row = stain_table(blank()) | scratch_table(blank())
    for key in ("NumberOfStains", "LargestStainArea", "LargestStainPixels",
                "LargestStainRadius", "TotalStain%", "NumberOfScratches",
                "LongestScratchLength", "TotalScratchLength", "TotalScratch%"):
        assert row[key] == 0
    assert math.isnan(row["EnclosingCircleX"]) and math.isnan(row["EnclosingCircleY"])


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.full((8, 8), 3, np.uint8), "values"),
        (np.zeros((8, 8, 3), np.uint8), "2-D"),
        (np.zeros((8, 8), np.float32), "integer"),
        (np.zeros((8, 8), bool), "integer"),
    ],
)
def test_bad_masks_raise(mask, message):
    with pytest.raises(ValueError, match=message):
        stain_table(mask)
    with pytest.raises(ValueError, match=message):
        scratch_table(mask)


@pytest.mark.parametrize("scale", [0, -1.0, float("nan"), "1"])
def test_bad_scale_raises(scale):
    with pytest.raises(ValueError, match="mm_per_px"):
        stain_table(blank(), mm_per_px=scale)


def test_defect_table():
    a = disc(blank(), (60, 60), 10)
    b = blank()
    b[10, 10:30] = SCRATCH
    table = defect_table([("a", a), ("b", b)], min_area_px=2)
    assert list(table.columns) == DEFECT_COLUMNS
    assert list(table.index) == ["a", "b"] and table.index.name == "image_id"
    assert table.loc["a", "NumberOfStains"] == 1 and table.loc["b", "NumberOfStains"] == 0
    assert table.loc["b", "LongestScratchLength"] == pytest.approx(20)
    assert table.attrs == {"mm_per_px": None, "min_area_px": 2}
    assert pd.api.types.is_integer_dtype(table["NumberOfScratches"])
    assert defect_table([]).columns.tolist() == DEFECT_COLUMNS
    with pytest.raises(ValueError, match="'c'"):
        defect_table([("c", np.full((4, 4), 7, np.uint8))])
    with pytest.raises(ValueError, match="twice"):
        defect_table([("a", a), ("a", a)])


def test_object_geometry():
    mask = blank()
    mask[30, 20:70] = SCRATCH
    mask[1, 1] = SCRATCH
    objs = object_geometry(mask, SCRATCH, min_area_px=2)
    assert len(objs) == 1
    obj = objs[0]
    assert obj["area_px"] == 50 and obj["length"] == pytest.approx(50)
    assert obj["width"] == pytest.approx(1)
    assert obj["bbox"] == (20, 30, 50, 1)
    assert obj["contour"].ndim == 2 and obj["contour"].shape[1] == 2
    assert object_geometry(mask, STAIN) == []
    with pytest.raises(ValueError, match="class_id"):
        object_geometry(mask, 0)


def test_draw_overlay():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 40, (120, 120, 3), dtype=np.uint8)
    before = image.copy()
    mask = disc(blank(), (60, 60), 15)
    mask[10, 10:60] = SCRATCH
    out = draw_overlay(image, mask)
    assert out.shape == image.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(image, before)
    changed = (out != image).any(axis=2)
    assert changed[60 - 15 : 60 + 16, 60 - 15 : 60 + 16].any()
    assert changed[8:13, 8:62].any()
    assert not changed[90:, :40].any()  # nothing drawn far from the objects
    stain_rgb = np.asarray(OVERLAY_COLOURS[STAIN], np.uint8)
    assert (out == stain_rgb).all(axis=2).any()
    grey = draw_overlay(image[..., 0], mask)
    assert grey.shape == image.shape
    with pytest.raises(ValueError, match="differ"):
        draw_overlay(image[:50], mask)
