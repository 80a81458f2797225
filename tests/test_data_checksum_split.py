"""Dataset checksums and train/val/test splits."""

from __future__ import annotations

import hashlib
import os
import shutil

import cv2
import pandas as pd
import pytest

from heatsink.data import dataset_checksum, load_dataset, load_split, make_split, save_split
from heatsink.errors import DatasetError

SIZE = 16


# ---- checksum ---------------------------------------------------------------------------


def test_checksum_definition(make_dataset):
    root = make_dataset(3, SIZE)
    lines = []
    for folder in ("images", "labels"):
        for path in (root / folder).iterdir():
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{folder}/{path.name}  {sha}\n")
    expected = hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()
    assert dataset_checksum(root) == expected
    assert load_dataset(root).checksum == expected
    assert dataset_checksum(load_dataset(root)) == expected


def test_checksum_stable_and_independent_of_mtime_and_extras(make_dataset):
    root = make_dataset(3, SIZE)
    before = dataset_checksum(root)
    assert dataset_checksum(root) == before
    os.utime(root / "images" / "0001.bmp", (1, 1))
    assert dataset_checksum(root) == before
    for folder in ("truth", "jsons/0001_json"):
        (root / folder).mkdir(parents=True)
        shutil.copy(root / "labels" / "0001.png", root / folder / "label.png")
    (root / "adjacency.csv").write_text("image_id,part_id\n0001,0\n")
    (root / "twin.json").write_text("{}")
    (root / "images" / ".DS_Store").write_bytes(b"finder")
    assert dataset_checksum(root) == before
    assert dataset_checksum(shutil.copytree(root, root.parent / "copy")) == before


def test_checksum_changes_with_one_pixel(make_dataset):
    root = make_dataset(3, SIZE)
    before = dataset_checksum(root)
    path = root / "images" / "0002.bmp"
    image = cv2.imread(str(path))
    image[3, 4, 1] ^= 1
    cv2.imwrite(str(path), image)
    assert dataset_checksum(root) != before


def test_checksum_of_a_non_dataset(tmp_path):
    with pytest.raises(DatasetError, match="no images/ folder"):
        dataset_checksum(tmp_path)


# ---- split ------------------------------------------------------------------------------


@pytest.fixture
def ds20(make_dataset):
    return load_dataset(make_dataset(20, SIZE, parts=5), verify=False)


def test_split_sizes_deterministic_disjoint(ds20):
    split = make_split(ds20, seed=3)
    assert list(split.columns) == ["image_id", "split", "image_sha256", "label_sha256"]
    assert split["image_id"].tolist() == ds20.ids  # every image exactly once
    assert split["split"].value_counts().to_dict() == {"train": 14, "val": 3, "test": 3}
    assert split.equals(make_split(ds20, seed=3))
    assert not split["split"].equals(make_split(ds20, seed=4)["split"])
    row = split.iloc[0]
    assert row.image_sha256 == hashlib.sha256(ds20.image_path(0).read_bytes()).hexdigest()
    assert row.label_sha256 == hashlib.sha256(ds20.mask_path(0).read_bytes()).hexdigest()


@pytest.mark.parametrize(("n", "sizes"), [(1000, (700, 150, 150)), (7, (5, 1, 1)), (1, (1, 0, 0))])
def test_split_exact_sizes(n, sizes):
    from heatsink.data.split import _targets

    assert tuple(_targets(n, (0.70, 0.15, 0.15))) == sizes


def test_split_rejects_bad_fractions(ds20):
    with pytest.raises(ValueError, match="sum to 1"):
        make_split(ds20, fractions=(0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="three"):
        make_split(ds20, fractions=(0.5, 0.5))


def test_split_keeps_groups_together(ds20):
    parts = ds20.parts
    split = make_split(ds20, seed=1, groups=parts)
    per_part = split.assign(part=split["image_id"].map(parts)).groupby("part")["split"].nunique()
    assert (per_part == 1).all()
    counts = split["split"].value_counts()
    assert counts.sum() == 20 and counts["train"] >= 8
    assert split.equals(make_split(ds20, seed=1, groups=parts))


def test_split_groups_with_ungrouped_ids(ds20):
    groups = {"0001": "a", "0002": "a", "0003": "a"}  # the rest are singletons
    split = make_split(ds20, seed=0, groups=groups).set_index("image_id")["split"]
    assert split["0001"] == split["0002"] == split["0003"]
    assert len(split) == 20


def test_save_load_roundtrip_and_verification(ds20, tmp_path):
    split = make_split(ds20)
    path = save_split(split, tmp_path / "splits" / "split.csv")
    loaded = load_split(path, ds20)
    pd.testing.assert_frame_equal(loaded, split)
    assert loaded["image_id"].iloc[0] == "0001"  # leading zeros survive the CSV


def test_load_split_detects_tampered_file(make_dataset, tmp_path):
    root = make_dataset(6, SIZE)
    path = save_split(make_split(load_dataset(root)), tmp_path / "split.csv")
    label = root / "labels" / "0004.png"
    mask = cv2.imread(str(label), cv2.IMREAD_UNCHANGED)
    mask[0, 0] = 2 if mask[0, 0] != 2 else 1
    cv2.imwrite(str(label), mask)
    with pytest.raises(DatasetError, match=r"image 0004: labels/0004\.png differs") as info:
        load_split(path, load_dataset(root))
    assert info.value.path == path


def test_load_split_detects_unknown_id_and_bad_files(ds20, tmp_path):
    split = make_split(ds20)
    split.loc[2, "image_id"] = "9999"
    path = save_split(split, tmp_path / "split.csv")
    load_split(path)  # without a dataset only the format is checked
    with pytest.raises(DatasetError, match="image 9999 is not in the dataset"):
        load_split(path, ds20)
    split.loc[2, "split"] = "holdout"
    save_split(split, path)
    with pytest.raises(DatasetError, match="unknown split name 'holdout'"):
        load_split(path)
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="not a split file"):
        load_split(tmp_path / "other.csv")
    with pytest.raises(DatasetError, match="does not exist"):
        load_split(tmp_path / "missing.csv")
