"""The shipped model: ``heatsink inspect`` works on a fresh clone without ``--model``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from heatsink.cli import main
from heatsink.errors import HeatsinkError
from heatsink.line import shipped
from heatsink.models import Run
from heatsink.synth import generate

REPO = Path(__file__).resolve().parents[1]


def test_the_shipped_model_is_what_its_card_says():
    folder = shipped.shipped_model()
    card = json.loads((folder / "card.json").read_text())
    assert hashlib.sha256((folder / "best.keras").read_bytes()).hexdigest() == card["sha256"]
    assert Run.load(folder).config.model == card["config"]["model"] == "light"
    assert (folder / "best.keras").stat().st_size < 5 * 2**20  # "a few MB"
    text = (folder / "README.md").read_text()
    assert "synthetic twin only" in text and "not fit for" in text
    assert f"{100 * card['test_truth']['miou_defects']['value']:.1f} %" in text


def test_acceptance_inspect_without_model_on_a_fresh_clone(tmp_path, capsys):
    """The README's example: twin frames in, a report and the predicted masks out."""
    twin = generate(tmp_path / "twin", n=6, seed=5, progress=False, workers=1)
    out, masks = tmp_path / "r.csv", tmp_path / "m"
    code = main(["inspect", str(twin / "images"), "--spec", str(REPO / "specs/example.yaml"),
                 "--out", str(out), "--masks", str(masks), "-q"])
    assert code in (0, 1)
    assert "shipped" in capsys.readouterr().out
    report = pd.read_csv(out, dtype={"image_id": str})
    assert len(report) == 6 and report["error"].isna().all()
    written = sorted(masks.glob("*.png"))
    assert [p.stem for p in written] == sorted(report["image_id"])
    for path in written:
        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert mask.shape == (320, 320) and set(np.unique(mask)) <= {0, 1, 2}


def test_no_shipped_model_is_one_line(tmp_path):
    with pytest.raises(HeatsinkError, match="no shipped model here"):
        shipped.shipped_model(tmp_path)
