"""The annotators' contrast criterion of the twin's label noise (heatsink.synth.noise)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from heatsink.components import components
from heatsink.synth import NoiseConfig, generate, records
from heatsink.synth.noise import FAINT_ERROR, apply_criterion, object_contrast


def _read(root: Path, folder: str, image_id: str) -> np.ndarray:
    ext = "bmp" if folder == "images" else "png"
    return cv2.imread(str(root / folder / f"{image_id}.{ext}"), cv2.IMREAD_UNCHANGED)


def _files(root: Path, folder: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / folder).iterdir())}


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("criterion")
    made = {}
    for name, noise in (("plain", NoiseConfig()),
                        ("off", NoiseConfig(faint_jitter=0.1)),  # jitter alone: still off
                        ("strict", NoiseConfig(faint_contrast=0.06, faint_jitter=0.0)),
                        ("jittered", NoiseConfig(faint_contrast=0.06, faint_jitter=0.8))):
        made[name] = generate(base / name, n=16, seed=5, noise=noise, progress=False, workers=1)
    return made


def test_off_by_default_and_the_twin_stays_the_same_bytes(twins):
    assert not NoiseConfig().criterion and NoiseConfig(faint_contrast=0.01).criterion
    plain, off = twins["plain"], twins["off"]
    for folder in ("images", "labels", "truth"):
        assert _files(plain, folder) == _files(off, folder)
    for name in ("noise_manifest.csv", "twin.json"):
        assert (plain / name).read_bytes() == (off / name).read_bytes()
    settings = json.loads((plain / "twin.json").read_text())["noise"]["settings"]
    assert "faint_contrast" not in settings  # as written before the criterion existed
    assert FAINT_ERROR not in set(records.read_manifest(plain)["error"])


def test_the_criterion_changes_labels_only_and_the_manifest_says_where(twins):
    plain, strict = twins["plain"], twins["strict"]
    for folder in ("images", "truth"):
        assert _files(plain, folder) == _files(strict, folder)
    manifest = records.read_manifest(strict)
    faint = manifest[manifest["error"] == FAINT_ERROR]
    assert len(faint) > 0
    assert manifest[manifest["error"] != FAINT_ERROR].drop(columns="detail").reset_index(
        drop=True).equals(records.read_manifest(plain).drop(columns="detail"))
    assert set(faint["class_labelled"]) == {"background"}
    for image_id in sorted(p.stem for p in (strict / "images").glob("*.bmp")):
        before, after = _read(plain, "labels", image_id), _read(strict, "labels", image_id)
        truth = _read(strict, "truth", image_id)
        changed = before != after
        rows = faint[faint["image_id"] == image_id]
        assert int(changed.sum()) == int(rows["pixels"].sum()), image_id
        assert (after[changed] == 0).all() and (truth[changed] != 0).all()
        for row in rows.itertuples():  # each row is one whole true object, box exact
            win = (slice(row.top, row.top + row.bbox_h), slice(row.left, row.left + row.bbox_w))
            assert changed[win].sum() == row.pixels
    summary = records.noise_summary(strict)
    assert summary.loc[FAINT_ERROR, "errors"] == len(faint)
    assert summary.drop("any")["errors"].sum() == len(manifest)
    info = json.loads((strict / "twin.json").read_text())
    assert info["noise"]["settings"]["faint_contrast"] == 0.06
    assert info["counts"]["label_errors"][FAINT_ERROR] == len(faint)


def test_a_consistent_criterion_drops_exactly_the_defects_below_it(twins):
    """With no jitter, every true defect left clean by the errors of chance is labelled
    if and only if its contrast reaches the threshold."""
    plain, strict = twins["plain"], twins["strict"]
    below = above = 0
    for image_id in sorted(p.stem for p in (strict / "images").glob("*.bmp"))[:8]:
        image, truth = _read(strict, "images", image_id), _read(strict, "truth", image_id)
        before, after = _read(plain, "labels", image_id), _read(strict, "labels", image_id)
        near_error = cv2.dilate((before != truth).astype(np.uint8), np.ones((5, 5), np.uint8))
        for class_id in (1, 2):
            found = components(truth == class_id)
            for k in range(1, found.n + 1):
                obj = found.labels == k
                if (obj & (near_error > 0)).any():
                    continue
                dropped = bool((after[obj] == 0).all())
                assert dropped == (object_contrast(image, truth, obj) < 0.06), image_id
                below += dropped
                above += not dropped
    assert below > 0 and above > 0


def test_jittered_annotators_disagree_on_defects_of_the_same_contrast(twins):
    """Inconsistent criteria: some defect is kept fainter than another that is dropped."""
    manifest = records.read_manifest(twins["jittered"])
    faint = manifest[manifest["error"] == FAINT_ERROR]
    thresholds = faint["detail"].str.extract(r"annotator's ([0-9.]+)")[0].astype(float)
    assert thresholds.nunique() > 1
    assert ((thresholds >= 0.06 * 0.2 - 1e-3) & (thresholds <= 0.06 * 1.8 + 1e-3)).all()


def test_object_contrast_measures_the_mark_not_the_texture():
    rng = np.random.default_rng(1)
    image = np.full((64, 64, 3), 90, np.uint8)
    image[..., 2] = 100 + rng.integers(-8, 9, (64, 64))
    truth = np.zeros((64, 64), np.uint8)
    truth[20:40, 20:40] = 2
    obj = truth == 2
    assert object_contrast(image, truth, obj) < 0.02
    marks = []
    for step in (10, 20, 40):
        darker, brighter = image.copy(), image.copy()
        darker[20:40, 20:40, 2] -= step
        brighter[20:40, 20:40, 2] += step
        marks.append(object_contrast(darker, truth, obj))
        assert object_contrast(brighter, truth, obj) == pytest.approx(marks[-1], abs=0.03)
    assert marks == sorted(marks) and marks[0] > 0.03
    # a line covering a quarter of its label band counts in full; a twentieth hardly does
    line = image.copy()
    line[30, 20:40, 2] -= 40
    assert object_contrast(line, truth, obj) < 0.03
    line[26:31, 20:40, 2] -= 40
    assert object_contrast(line, truth, obj) > 0.2


def test_apply_criterion_leaves_defects_with_an_injected_error_alone():
    image = np.full((40, 40, 3), 100, np.uint8)
    truth = np.zeros((40, 40), np.uint8)
    truth[5:10, 5:10] = 2
    truth[25:30, 25:30] = 1
    label = truth.copy()
    label[25:30, 25:31] = 1  # a sloppy boundary on the scratch
    noise = NoiseConfig(faint_contrast=0.05, faint_jitter=0.0)
    new, rows = apply_criterion(image, label, truth, noise, np.random.default_rng(0))
    assert [r[1] for r in rows] == ["stain"]
    assert (new[5:10, 5:10] == 0).all() and (new[25:30, 25:31] == 1).all()
    same, none = apply_criterion(image, label, truth, NoiseConfig(), np.random.default_rng(0))
    assert same is label and none == []


def test_criterion_settings_are_checked():
    for bad in ({"faint_contrast": -0.1}, {"faint_contrast": float("nan")},
                {"faint_jitter": 1.5}):
        with pytest.raises(ValueError):
            NoiseConfig(**bad)
