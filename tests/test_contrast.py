"""`heatsink data contrast`: how marked each labelled defect is, on files the test writes."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from conftest import write_dataset

from heatsink.cli import main
from heatsink.data import load_dataset
from heatsink.synth.contrast import dataset_contrast


def _marked_dataset(root):
    """Two frames of plain plating; in the first, the labelled stain is a dark blot and the
    labelled scratch a bright line; in the second, the labels lie on plain plating."""
    write_dataset(root, n=2, size=96, with_truth=True)
    rng = np.random.default_rng(1)
    for k, marked in ((1, True), (2, False)):
        mask = cv2.imread(str(root / "labels" / f"{k:04d}.png"), cv2.IMREAD_UNCHANGED)
        image = np.clip(rng.normal(140, 2, (96, 96, 3)), 0, 255).astype(np.uint8)
        if marked:
            image[mask == 2] = 70
            image[mask == 1] = 220
        assert cv2.imwrite(str(root / "images" / f"{k:04d}.bmp"), image)
    return root


def test_marked_defects_stand_out_and_unmarked_ones_do_not(tmp_path):
    ds = load_dataset(_marked_dataset(tmp_path / "data"))
    table = dataset_contrast(ds)
    assert list(table["class"]) == ["scratch", "stain"] * 2  # one of each per frame
    marked, plain = table[table["image_id"] == "0001"], table[table["image_id"] == "0002"]
    assert (marked["contrast"] > 0.3).all()
    assert (plain["contrast"] < 0.05).all()
    truth = dataset_contrast(ds, reference="truth")
    assert len(truth) == len(table) + 2  # the truth's stain the labels missed, per frame


def test_the_command_prints_quartiles_and_writes_one_row_per_object(tmp_path, capsys):
    data = _marked_dataset(tmp_path / "data")
    out = tmp_path / "contrast.csv"
    assert main(["data", "contrast", str(data), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "4 objects of the labels" in said and "scratch" in said and "stain" in said
    written = pd.read_csv(out, dtype={"image_id": str})
    assert written.round(6).equals(dataset_contrast(load_dataset(data)).round(6))


def test_the_command_never_writes_into_the_dataset_and_needs_a_truth_for_truth(tmp_path,
                                                                               capsys):
    data = write_dataset(tmp_path / "data", n=2, size=64)
    before = sorted(p.name for p in data.rglob("*"))
    assert main(["data", "contrast", str(data), "--out", str(data / "labels" / "x.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "inside the dataset folder" in err[0]
    assert sorted(p.name for p in data.rglob("*")) == before
    assert main(["data", "contrast", str(data), "--reference", "truth"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no clean truth" in err[0]
