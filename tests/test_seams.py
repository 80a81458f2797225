"""Neighbouring frames from pixels alone, and label consistency across their seams."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from heatsink import seams
from heatsink.data import load_dataset
from heatsink.synth import NoiseConfig, generate
from heatsink.synth.records import read_adjacency, read_manifest


class _PixelsOnly:
    """A dataset reduced to ids and pixels: no adjacency, part ids or file names."""

    def __init__(self, ds) -> None:
        self.ids = list(ds.ids)
        self._image = ds.image

    def image(self, i: str) -> np.ndarray:
        return self._image(i)


class _Masks:
    """In-memory masks by id, for :func:`seams.seam_consistency`."""

    def __init__(self, masks: dict[str, np.ndarray]) -> None:
        self._masks = masks

    def mask(self, i: str) -> np.ndarray:
        return self._masks[i]


def _texture(seed: int, shape: tuple[int, int] = (320, 640)) -> np.ndarray:
    """A smooth random RGB texture (blurred noise over a slow gradient), uint8."""
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 1.5)
    slow = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 25)
    lum = 110 + 25 * grain / grain.std() + 20 * slow / slow.std()
    rgb = np.stack([lum, 0.35 * lum, 0 * lum + 8], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("seams") / "twin", n=60, seed=3, progress=False)


@pytest.fixture(scope="module")
def found(twin) -> pd.DataFrame:
    return seams.find_neighbours(_PixelsOnly(load_dataset(twin)))


# --------------------------------------------------------------------------------------
# edges and hand-made pairs
# --------------------------------------------------------------------------------------


def test_edge_strips_orientation():
    grey = np.arange(5 * 6, dtype=np.float32).reshape(5, 6)
    strips = seams.edge_strips(grey, width=2)
    assert strips["top"].shape == (6, 2) and strips["left"].shape == (5, 2)
    np.testing.assert_array_equal(strips["top"][:, 0], grey[0])
    np.testing.assert_array_equal(strips["bottom"][:, 1], grey[-2])
    np.testing.assert_array_equal(strips["left"][:, 1], grey[:, 1])
    np.testing.assert_array_equal(strips["right"][:, 0], grey[:, -1])
    rgb = seams.edge_strips(np.full((4, 4, 3), 200, np.uint8))
    assert rgb["top"].dtype == np.float32 and np.allclose(rgb["top"], 200)


def test_cut_texture_found_as_right_neighbours():
    whole = _texture(0)
    left, right = whole[:, :320], whole[:, 320:]
    other = _texture(1)[:, :320]
    found = seams.match_images([right, other, left], ids=["r", "x", "l"])
    assert found[["a", "b", "side"]].values.tolist() == [["l", "r", "right"]]
    assert found["cost"].iloc[0] < 1.5  # ≈1: the seam is as smooth as the interior


def test_cut_texture_found_as_below_neighbours():
    whole = _texture(2, (640, 320))
    found = seams.match_images([whole[320:], whole[:320]], ids=["bottom", "top"])
    assert found[["a", "b", "side"]].values.tolist() == [["top", "bottom", "below"]]


def test_unrelated_images_not_matched():
    found = seams.match_images([_texture(3)[:, :320], _texture(4)[:, 320:]])
    assert found.empty
    assert found.attrs["median_cost"] > 2 * found.attrs["max_cost"]


def _crossing_scratch() -> tuple[np.ndarray, np.ndarray]:
    """Masks of two side-by-side tiles with a 3 px scratch crossing their seam."""
    canvas = np.zeros((320, 640), np.uint8)
    cv2.line(canvas, (250, 100), (400, 160), 1, thickness=3, lineType=cv2.LINE_AA)
    canvas = (canvas > 0).astype(np.uint8)
    return canvas[:, :320].copy(), canvas[:, 320:].copy()


def test_scratch_across_seam_consistent():
    a, b = _crossing_scratch()
    got = seams.compare_seam(a, b, "right")
    assert got["consistent"]
    assert got["n_edge_defect_px_a"] > 0 and got["n_edge_defect_px_b"] > 0
    assert got["missing_px"] == got["class_conflict_px"] == 0
    assert got["agree_px"] == got["n_edge_defect_px_a"] + got["n_edge_defect_px_b"]
    # the same seam turned by 90°: b below a
    below = seams.compare_seam(a.T.copy(), b.T.copy(), "below")
    assert below == got


def test_scratch_erased_on_one_side_inconsistent():
    a, b = _crossing_scratch()
    b[:] = 0
    table = seams.seam_consistency(
        _Masks({"a": a, "b": b}), pd.DataFrame({"a": ["a"], "b": ["b"], "side": ["right"]})
    )
    assert list(table.columns) == seams.CONSISTENCY_COLUMNS
    row = table.iloc[0]
    assert not row["consistent"]
    assert row["missing_px"] == row["n_edge_defect_px_a"] > 0
    assert row["class_conflict_px"] == row["agree_px"] == row["n_edge_defect_px_b"] == 0


def test_stain_against_scratch_class_conflict():
    a, b = _crossing_scratch()
    a[a == 1] = 2  # the stain side
    got = seams.compare_seam(a, b, "right")
    assert not got["consistent"]
    assert got["class_conflict_px"] == got["n_edge_defect_px_a"] + got["n_edge_defect_px_b"]
    assert got["class_conflict_px"] > 0 and got["missing_px"] == 0


def test_tolerance_absorbs_small_shift():
    a, b = _crossing_scratch()
    shifted = np.roll(b, 2, axis=0)  # the b side drawn 2 px lower
    assert seams.compare_seam(a, shifted, "right", tolerance=2)["consistent"]


# --------------------------------------------------------------------------------------
# the synthetic twin
# --------------------------------------------------------------------------------------


def test_neighbour_recovery_on_twin(twin, found):
    adjacency = read_adjacency(twin)
    truth = seams.true_neighbours(adjacency)
    shapes = adjacency.drop_duplicates("part_id")
    rows, cols = shapes["part_rows"], shapes["part_cols"]
    assert len(truth) == ((cols - 1) * rows + (rows - 1) * cols).sum()
    rec = seams.neighbour_recovery(found, adjacency)
    print(f"\nneighbour recovery, 60-image twin: {rec}, threshold {found.attrs}")
    # measured: 40 true pairs, 40 found, all correct (precision = recall = 1)
    assert rec["precision"] >= 0.97 and rec["recall"] >= 0.97
    assert list(found.columns) == seams.NEIGHBOUR_COLUMNS
    assert found["cost"].max() < 1.5  # true seams cost ≈1
    assert found.attrs["median_cost"] > 3  # unrelated edges several times more
    assert found["ratio"].max() < 0.5  # and their next best candidate is far worse


def test_neighbour_recovery_counts():
    adjacency = pd.DataFrame({
        "image_id": ["1", "2", "3", "4", "5"], "part_id": [1, 1, 1, 1, 2],
        "row": [0, 0, 1, 1, 0], "col": [0, 1, 0, 1, 0],
        "part_rows": [2, 2, 2, 2, 1], "part_cols": [2, 2, 2, 2, 1],
    })
    truth = seams.true_neighbours(adjacency)
    assert sorted(map(tuple, truth.values.tolist())) == [
        ("1", "2", "right"), ("1", "3", "below"), ("2", "4", "below"), ("3", "4", "right")
    ]
    found = pd.DataFrame({"a": ["1", "3", "2"], "b": ["2", "4", "5"],
                          "side": ["right", "right", "below"]})
    rec = seams.neighbour_recovery(found, adjacency)
    assert rec == {"true_pairs": 4, "found_pairs": 3, "correct": 2,
                   "precision": 2 / 3, "recall": 0.5}


@pytest.fixture(scope="module")
def seam_noisy_twin(tmp_path_factory) -> Path:
    """Like the twin, with every seam-crossing defect labelled inconsistently."""
    return generate(tmp_path_factory.mktemp("seams") / "noisy", n=60, seed=3,
                    noise=NoiseConfig(seam_inconsistency=1.0), progress=False)


@pytest.mark.parametrize("which", ["default", "seam_noisy"])
def test_seam_inconsistencies_caught(which, twin, seam_noisy_twin):
    root = twin if which == "default" else seam_noisy_twin
    ds = load_dataset(root)
    found = seams.find_neighbours(_PixelsOnly(ds))
    table = seams.seam_consistency(ds, found)
    caught = seams.seam_errors_caught(table, read_manifest(root))
    print(f"\nseam inconsistencies caught ({which} noise): {caught}")
    # measured: all caught (1 of 1 with default noise; 13 of 13 at rate 1, on 9 seams, 5
    # of them labelled as the other class)
    assert caught["seam_errors"] >= 1
    assert caught["catch_rate"] >= 0.85
    assert 1 <= caught["flagged_explained"] <= min(caught["caught"], caught["flagged"])


def test_seam_errors_caught_counts():
    manifest = pd.DataFrame({
        "image_id": ["0002", "0005", "0007"],
        "error": ["seam_inconsistency", "seam_inconsistency", "missed_stain"],
        "detail": ["scratch crossing the seam: missing here, labelled in the neighbour 0001",
                   "stain crossing the seam: labelled scratch here, labelled in the neighbour 0009",
                   "stain of 3x4 px not labelled"],
    })
    table = pd.DataFrame({"a": ["0001", "0003"], "b": ["0002", "0004"],
                          "consistent": [False, False]})
    caught = seams.seam_errors_caught(table, manifest)
    assert caught == {"seam_errors": 2, "on_found_seam": 1, "caught": 1, "catch_rate": 0.5,
                      "flagged": 2, "flagged_explained": 1}


@pytest.mark.slow
def test_seam_check_on_the_default_twin(default_twin_root):
    """At full scale: nearly all the 1000-image twin's neighbours and seam errors are found.

    ``bench/seam_recovery.py`` prints the same figures with the time they take.
    """
    ds = load_dataset(default_twin_root, verify=False)
    found = seams.find_neighbours(ds)
    rec = seams.neighbour_recovery(found, read_adjacency(ds.root))
    caught = seams.seam_errors_caught(seams.seam_consistency(ds, found),
                                      read_manifest(ds.root))
    assert rec["precision"] >= 0.97 and rec["recall"] >= 0.97
    assert caught["seam_errors"] > 0 and caught["catch_rate"] >= 0.95
