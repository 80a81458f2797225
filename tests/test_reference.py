"""Tests of the loader of DatasetNinja's published real statistics."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from heatsink import reference
from heatsink.errors import HeatsinkError
from heatsink.stats import cooccurrence as stats_cooccurrence

try:
    REF = reference.find_dir()
except HeatsinkError as exc:  # pragma: no cover - depends on the machine
    pytestmark = pytest.mark.skip(
        reason=f"DatasetNinja reference folder not available ({exc.args[0].splitlines()[0]})"
    )
    REF = None


def test_image_table_matches_published_headlines():
    images = reference.image_table()
    assert list(images.columns) == [
        "image_id", "scratch_count", "scratch_pct", "stain_count", "stain_pct"
    ]
    assert len(images) == 1000
    assert images["image_id"].is_unique
    assert images["scratch_count"].sum() == 2165
    assert images["stain_count"].sum() == 4953
    assert ((images["scratch_count"] > 0) == (images["scratch_pct"] > 0)).all()


def test_objects_table_columns_and_classes():
    objects = reference.objects_table()
    assert list(objects.columns) == ["image_id", "class_name", "bbox_h", "bbox_w", "area_pct"]
    assert objects["class_name"].value_counts().to_dict() == {"stain": 4953, "scratch": 2165}
    assert objects[["bbox_h", "bbox_w"]].min().min() >= 1
    assert objects[["bbox_h", "bbox_w"]].max().max() <= 320
    # every object belongs to a known image
    assert set(objects["image_id"]) <= set(reference.image_table()["image_id"])


def test_cooccurrence_and_pixels():
    co = reference.cooccurrence()
    images = reference.image_table()
    pd.testing.assert_series_equal(co, stats_cooccurrence(images))
    assert co.to_dict() == {"scratch only": 28, "stain only": 300, "both": 672, "neither": 0}
    pix = reference.pixel_composition()
    assert list(pix.index) == ["background", "scratch", "stain"]
    assert pix.sum() == pytest.approx(100.0)
    assert pix["scratch"] == pytest.approx(1.30, abs=0.01)
    assert pix["stain"] == pytest.approx(1.67, abs=0.01)
    assert reference.heatmap_png().is_file()


def test_directory_argument_and_env(monkeypatch, tmp_path: Path):
    assert reference.find_dir(REF) == REF
    monkeypatch.setenv(reference.ENV_VAR, str(REF))
    assert reference.find_dir() == REF
    assert len(reference.image_table(REF)) == 1000
    monkeypatch.setenv(reference.ENV_VAR, str(tmp_path))
    with pytest.raises(HeatsinkError, match=reference.ENV_VAR):
        reference.find_dir()
    with pytest.raises(HeatsinkError, match="not a DatasetNinja reference folder"):
        reference.find_dir(tmp_path)


def test_missing_reference_names_where_it_looked(monkeypatch, tmp_path: Path):
    monkeypatch.delenv(reference.ENV_VAR, raising=False)
    monkeypatch.setattr(reference, "_candidates", lambda: [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(HeatsinkError) as info:
        reference.find_dir()
    assert str(tmp_path / "a") in str(info.value)
    assert str(tmp_path / "b") in str(info.value)


def test_targets_are_reproducible_from_the_reference():
    """The constants in heatsink.synth.targets are exactly what fit_targets() derives."""
    from heatsink.synth import targets

    block = targets.fit_targets(REF)
    source = Path(targets.__file__).read_text(encoding="utf-8")
    assert block in source


def test_smallest_objects_reads_the_published_areas_per_class(tmp_path: Path):
    rows = [[k, "scratch area", "a.png", "320 x 320", 5, 1.6, 5, 1.6, pct]
            for k, pct in enumerate((0.1, 0.2, 0.3, 0.4, 0.5))]
    rows += [[9, "stain area", "a.png", "320 x 320", 5, 1.6, 5, 1.6, 0.05]]
    (tmp_path / "object_sizes.json").write_text(json.dumps({"data": rows}))
    (tmp_path / "classes_per_image.json").write_text("{}")  # what marks the folder
    # 0.1 % of a 320² frame is 102.4 px; the quarter quantile of 0.1..0.5 % is 0.2 %
    assert reference.smallest_objects(0.0, tmp_path) == {"scratch": 102, "stain": 51}
    assert reference.smallest_objects(0.25, tmp_path) == {"scratch": 205, "stain": 51}
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        reference.smallest_objects(1.0, tmp_path)
    # on the real statistics: about 1 % of the labelled objects are smaller
    sizes = reference.smallest_objects(0.01)
    objects = reference.objects_table()
    for name, px in sizes.items():
        areas = objects.loc[objects["class_name"] == name, "area_pct"] * 1024
        assert 0.005 <= (areas < px).mean() <= 0.015
