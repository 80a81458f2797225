"""Objects as connected components, on hand-drawn masks with known answers."""

import cv2
import numpy as np
import pytest

from heatsink import objects, stats


@pytest.fixture
def mask():
    m = np.zeros((100, 100), np.uint8)
    m[10:15, 5:65] = 1  # a horizontal scratch band: 5 x 60
    cv2.line(m, (80, 0), (99, 40), 1, thickness=1)  # a thin diagonal scratch
    m[50:60, 50:60] = 2  # a 10 x 10 stain
    m[70, 70] = 2  # a one-pixel stain
    m[71, 71] = 2  # touching it diagonally: same object (8-connected)
    return m


def test_object_table(mask):
    table = objects.object_table(mask)
    scratches = table[table["class_name"] == "scratch"].sort_values("area_px")
    stains = table[table["class_name"] == "stain"].sort_values("area_px")
    assert len(scratches) == 2 and len(stains) == 2
    band = scratches.iloc[-1]
    assert (band["bbox_h"], band["bbox_w"], band["area_px"]) == (5, 60, 300)
    assert band["area_pct"] == pytest.approx(3.0)
    assert (band["top"], band["left"]) == (10, 5)
    assert stains.iloc[0]["area_px"] == 2 and stains.iloc[0]["bbox_h"] == 2
    assert stains.iloc[1][["cy", "cx"]].tolist() == [54.5, 54.5]


def test_image_summary(mask):
    s = objects.image_summary(mask)
    assert s["scratch_count"] == 2 and s["stain_count"] == 2
    assert s["stain_pct"] == pytest.approx(102 / 100)


def test_dataset_tables(mask):
    empty = np.zeros_like(mask)
    pairs = [("a", mask), ("b", empty)]
    images = stats.image_table(pairs)
    assert images["image_id"].tolist() == ["a", "b"]
    assert images.loc[1, "scratch_count"] == 0
    table = stats.objects_table(pairs)
    assert set(table["image_id"]) == {"a"}
    co = stats.cooccurrence(images)
    assert co.to_dict() == {"scratch only": 0, "stain only": 0, "both": 1, "neither": 1}
    comp = stats.pixel_composition(pairs)
    assert comp.sum() == pytest.approx(100)
    heat = stats.spatial_heatmaps(pairs)
    assert heat["stain"][55, 55] == 0.5 and heat["scratch"][99, 99] == 0
