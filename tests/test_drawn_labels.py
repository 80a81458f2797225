"""Stains measured through the translucent labels drawn over them: the fill's opacity, the
contrast recovered under it, and the same measure on a twin and on a model's components."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from heatsink.synth import drawn_labels as dl
from heatsink.synth.real_frames import RealFrame, surface_mask

FILL = np.array([90.0, 215.0, 97.0])  # a green of the pictures' kind


def _plating(rng: np.random.Generator, size: int = 320) -> np.ndarray:
    grain = rng.normal(0, 9, (size, size))
    mottle = cv2.GaussianBlur(rng.normal(0, 40, (size, size)), (0, 0), 12)
    red = 105 + grain + mottle
    return np.stack([red, 0.34 * red, np.full_like(red, 7.0)], axis=-1)


def _frame(rng, blots: list[tuple[int, int, float]], opacity: float, name: str = "vertical_grid"):
    """A real-like frame with square blots (top, left, relative darkening) under polygons
    5 px larger, drawn in green at ``opacity``; returns it and the bare image."""
    bare = _plating(rng)
    drawn = np.zeros((320, 320), bool)
    for top, left, depth in blots:
        bare[top:top + 16, left:left + 16, 0] *= 1 - depth
        drawn[top - 5:top + 21, left - 5:left + 21] = True
    shown = bare.copy()
    shown[drawn] = opacity * FILL + (1 - opacity) * bare[drawn]
    to8 = lambda x: np.clip(np.round(x), 0, 255).astype(np.uint8)  # noqa: E731
    frame = RealFrame(f"{name}-0-0", to8(shown), surface_mask(drawn), 320, (0, 0, 320, 320),
                      drawn)
    return frame, to8(bare), drawn


@pytest.fixture(scope="module")
def tiny_twin(tmp_path_factory):
    from heatsink.synth import generate

    return generate(tmp_path_factory.mktemp("twin") / "twin", n=8, seed=1, progress=False)


BLOTS = [(40, 40, 0.3), (40, 200, 0.15), (200, 60, 0.08), (220, 220, 0.0)]


def test_the_shift_under_the_fill_is_the_shift_without_it():
    rng = np.random.default_rng(1)
    frames, bare_shift = [], []
    for _ in range(3):
        frame, bare, drawn = _frame(rng, BLOTS, opacity=0.72)
        frames.append(frame)
        n, labels = cv2.connectedComponents(drawn.astype(np.uint8))
        bare_shift += [dl.margin_shift(bare[..., 0], labels == k, ~drawn)
                          for k in range(1, n)]
    opacity = dl.fill_opacity(frames)
    assert 0.66 < opacity < 0.73  # an upper bound on 1 - a: rounding adds grain
    measured = dl.real_stain_shift(frames, opacity)
    assert len(measured) == len(bare_shift) == 12
    # read low by as much as the opacity is (rounding to 8 bits adds grain under the fill)
    assert np.allclose(measured["shift"], bare_shift, rtol=0.1, atol=0.01)
    # ordered as the blots' depth, and a bare patch reads as (almost) nothing
    by_blot = measured["shift"].to_numpy().reshape(3, 4).mean(axis=0)
    assert by_blot[0] < by_blot[1] < by_blot[2] < by_blot[3] and abs(by_blot[3]) < 0.02
    assert -0.26 < by_blot[0] < -0.21  # 30 % darker over 256 of the core's 324 px: -0.237
    # ignoring the fill reads the stains at a fraction of their shift
    ignored = dl.real_stain_shift(frames, 0.0)["shift"].to_numpy()
    assert ignored[::4].mean() > 0.4 * by_blot[0]


def test_only_the_grids_are_measured():
    rng = np.random.default_rng(2)
    frame, _, _ = _frame(rng, BLOTS[:1], opacity=0.72, name="poster")
    assert dl.real_stain_shift([frame], 0.72).empty
    with pytest.raises(ValueError, match="green fill"):
        dl.fill_opacity([RealFrame("vertical_grid-0-0", np.zeros((320, 320, 3), np.uint8),
                                   np.ones((320, 320), bool), 320, (0, 0, 320, 320))])


def test_a_models_stain_is_measured_as_a_polygon_a_little_larger_than_it():
    rng = np.random.default_rng(3)
    image = _plating(rng)
    image[100:116, 100:116, 0] *= 0.75  # an unlabelled blot on real surface
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    frame = RealFrame("vertical_grid-0-0", image, np.ones((320, 320), bool), 320,
                      (0, 0, 320, 320), np.zeros((320, 320), bool))
    mask = np.zeros((320, 320), np.uint8)
    mask[100:116, 100:116] = 2  # the model's stain, on the blot
    mask[200:210, 200:210] = 2  # and one on plain plating
    mask[20:30, 20:30] = 1  # a scratch: not a stain
    table = dl.component_shift([mask], [frame])
    assert table["area"].tolist() == [(16 + 2 * dl.GROW) ** 2, (10 + 2 * dl.GROW) ** 2]
    assert table["shift"].iloc[0] < -0.15 and abs(table["shift"].iloc[1]) < 0.03
    # a component mostly off the real surface is no false alarm
    off = RealFrame(frame.name, image, ~(mask == 2), 320, frame.box, frame.drawn)
    assert dl.component_shift([mask], [off]).empty


def test_the_twins_stains_are_measured_through_a_tiles_size(tiny_twin):
    from heatsink.data import load_dataset

    ds = load_dataset(tiny_twin)
    ids = list(ds.ids[:6])
    table = dl.twin_stain_shift(ds, ids, [178, 205])
    stains = sum(cv2.connectedComponents((np.asarray(ds.mask(i)) == 2).astype(np.uint8))[0] - 1
                 for i in ids)
    assert 0 < len(table) <= stains
    assert set(table["frame"]) <= set(map(str, ids)) and table["shift"].abs().max() < 1
    truth = dl.twin_stain_shift(ds, ids, [178, 205], reference="truth")
    assert len(truth) > 0
