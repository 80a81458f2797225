"""Appearance statistics and real frames (heatsink.synth.appearance, heatsink.synth.real_frames).

Statistics are checked on arrays whose answers are known; the frame cutter on a small grid
picture the test draws itself; the published pictures only when the reference folder is
there (they are never copied anywhere).
"""

from __future__ import annotations

import doctest
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from heatsink.errors import HeatsinkError
from heatsink.synth import appearance as ap
from heatsink.synth import real_frames as rf

FULL = np.ones((320, 320), bool)


@pytest.mark.parametrize("module", [ap, rf])
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_a_sinusoid_puts_its_energy_in_its_octave():
    _, x = np.mgrid[:320, :320]
    wave = (10 * np.sin(2 * np.pi * x / 10.0)).astype(np.float32)  # 10 px: band 8–16
    e = ap.band_energies(wave + 100, FULL)
    bands = {k: v for k, v in e.items() if k.startswith("band_")}
    assert max(bands, key=bands.get) == "band_8_16"
    assert e["band_8_16"] == pytest.approx(50.0, rel=0.1)  # variance of a 10-amplitude sine
    assert sum(bands.values()) - e["band_8_16"] < 0.05 * e["band_8_16"]


def test_white_noise_spectrum_is_flat_and_adds_up_to_its_variance():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 5, (320, 320)).astype(np.float32)
    e = ap.band_energies(noise, FULL)
    total = sum(v for k, v in e.items() if k.startswith("band_"))
    # the six bands are the disc 1/128 < f <= 1/2: π/4 of a white noise's variance (25)
    assert total == pytest.approx(25.0 * np.pi / 4, rel=0.05)
    assert abs(e["psd_slope"]) < 0.15
    # brown-ish noise (blurred) is steeper
    smooth = cv2.GaussianBlur(noise, (0, 0), 3.0)
    assert ap.band_energies(smooth, FULL)["psd_slope"] < -2


def test_band_energies_ignore_what_is_not_surface():
    rng = np.random.default_rng(2)
    g = rng.normal(100, 3, (320, 320)).astype(np.float32)
    surface = FULL.copy()
    surface[100:140, :] = False
    marked = g.copy()
    marked[100:140, :] = 255  # a bright drawn band: must not count
    a, b = ap.band_energies(g, FULL), ap.band_energies(marked, surface)
    for key in ("band_2_4", "band_4_8", "band_8_16"):
        assert b[key] == pytest.approx(a[key], rel=0.15)


def test_anisotropy_sees_streaks_in_either_direction():
    rng = np.random.default_rng(7)
    noise = rng.normal(100, 4, (320, 320)).astype(np.float32)
    rows = cv2.GaussianBlur(rng.normal(0, 1, (320, 320)).astype(np.float32), (0, 0), 4.0,
                            sigmaY=0.7)
    rows *= 4 / rows.std()  # streaks along the rows, as strong as the noise
    iso = ap.anisotropy(noise, FULL)
    assert iso < 1.6
    assert ap.anisotropy(noise + rows, FULL) > 3 * iso
    assert ap.anisotropy(noise + rows.T, FULL) > 3 * iso


def test_local_contrast_scales():
    rng = np.random.default_rng(3)
    fine = rng.normal(0, 4, (320, 320)).astype(np.float32) + 100
    y, _ = np.mgrid[:320, :320]
    slow = (100 + 10 * np.sin(2 * np.pi * y / 200.0)).astype(np.float32)
    cf, cs = ap.local_contrast(fine, FULL), ap.local_contrast(slow, FULL)
    assert cf["contrast_fine"] > 10 * cs["contrast_fine"]
    assert cs["contrast_mottling"] > 10 * cf["contrast_mottling"]
    gain = np.exp(-2 * np.pi**2 * 20.0**2 / 200.0**2)  # a 20 px Gaussian on a 200 px wave
    assert cs["contrast_mottling"] == pytest.approx(10 / np.sqrt(2) * gain, rel=0.1)


def test_colour_spread_and_vignetting_known_values():
    img = np.zeros((50, 50, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 120, 42, 9
    assert ap.colour_stats(img, np.ones((50, 50), bool)) == {
        "r_median": 120.0, "g_over_r": pytest.approx(0.35), "b_median": 9.0}
    flat = np.full((100, 100), 80.0, np.float32)
    assert ap.brightness_spread(flat, np.ones((100, 100), bool)) == 0.0
    assert ap.vignetting(flat, np.ones((100, 100), bool)) == 1.0
    dark_edges = np.full((100, 100), 40.0, np.float32)
    dark_edges[20:80, 20:80] = 80.0
    assert ap.vignetting(dark_edges, np.ones((100, 100), bool)) == 0.5


def test_resample_like_removes_fine_grain_and_keeps_size():
    rng = np.random.default_rng(4)
    frame = np.clip(rng.normal(100, 20, (320, 320, 3)), 0, 255).astype(np.uint8)
    assert np.array_equal(ap.resample_like(frame, 320), frame)
    small = ap.resample_like(frame, 206)
    assert small.shape == frame.shape and small.dtype == np.uint8
    e0 = ap.band_energies(ap.grey(frame), FULL)["band_2_4"]
    e1 = ap.band_energies(ap.grey(small), FULL)["band_2_4"]
    assert e1 < 0.5 * e0
    big = ap.resample_like(frame, 412)  # up and back down: closer to the original
    diff = {k: np.abs(v.astype(int) - frame.astype(int)).mean() for k, v in
            (("big", big), ("small", small))}
    assert diff["big"] < diff["small"]


def test_appearance_table_distances_and_verdicts():
    rng = np.random.default_rng(5)
    real = pd.DataFrame({"tile_size": 320, "band_2_4": rng.uniform(9, 11, 40),
                         "r_median": rng.normal(100, 10, 40), "vignetting": 1.0})
    twin = pd.DataFrame({"tile_size": 320, "band_2_4": rng.uniform(13, 15, 200),
                         "r_median": rng.normal(100, 10, 200), "vignetting": 0.8})
    table = ap.appearance_table(real, twin).set_index("statistic")
    assert "tile_size" not in table.index
    assert table.loc["band_2_4", "measure"] == "rel"
    assert table.loc["band_2_4", "distance"] == pytest.approx(0.4, abs=0.05)
    assert not table.loc["band_2_4", "ok"]
    assert table.loc["r_median", "measure"] == "ks" and table.loc["r_median", "ok"]
    assert table.loc["vignetting", "distance"] == 1.0 and not table.loc["vignetting", "ok"]
    assert not table.loc["vignetting", "acceptance"]


# ---- real frames, on a picture the test draws ----------------------------------------

def _copper(rng: np.random.Generator, side: int) -> np.ndarray:
    red = np.clip(rng.normal(100, 12, (side, side)), 50, 160)
    return np.stack([red, red * 0.34, np.full_like(red, 8.0)], -1).astype(np.uint8)


def _grid_picture() -> np.ndarray:
    """2 × 3 tiles of 150 px in white gutters, labels drawn on one, a faded third row."""
    rng = np.random.default_rng(6)
    side, gap = 150, 10
    pic = np.full((3 * side + 4 * gap, 3 * side + 4 * gap, 3), 255, np.uint8)
    for r in range(3):
        for c in range(3):
            top, left = gap + r * (side + gap), gap + c * (side + gap)
            tile = _copper(rng, side)
            if r == 2:  # fades to white from its middle down
                alpha = np.clip((np.arange(side) - 40) / 60.0, 0, 1)[:, None, None]
                tile = (tile * (1 - alpha) + 255 * alpha).astype(np.uint8)
            pic[top : top + side, left : left + side] = tile
    # a cyan scratch and a green stain on the first tile
    cv2.line(pic, (gap + 20, gap + 20), (gap + 130, gap + 60), (110, 190, 210), 5)
    cv2.circle(pic, (gap + 100, gap + 110), 8, (90, 190, 80), -1)
    return pic


def test_find_tiles_on_a_drawn_grid():
    pic = _grid_picture()
    tiles = rf.find_tiles(pic, min_side=60)
    assert len(tiles) >= 6
    first = tiles[0]
    assert first[0] == 10 + rf.TRIM and first[1] == 10 + rf.TRIM
    assert first[2] == first[3] == 150 - 2 * rf.TRIM


def test_frames_exclude_faded_tiles_and_drawn_pixels(tmp_path: Path):
    pic = _grid_picture()
    frames = rf._frames_of(pic, "grid")
    assert [f.name for f in frames] == ["grid-0-0", "grid-0-1", "grid-0-2",
                                        "grid-1-0", "grid-1-1", "grid-1-2"]
    for f in frames:
        assert f.image.shape == (320, 320, 3) and f.image.dtype == np.uint8
        assert f.surface.shape == (320, 320) and f.tile_size == 150 - 2 * rf.TRIM
    first = frames[0]
    drawn = rf.drawn_mask(first.image)
    assert drawn.sum() > 500  # the drawn scratch and stain are found
    dist = cv2.distanceTransform((~drawn).astype(np.uint8), cv2.DIST_L2, 5)
    assert dist[first.surface].min() >= rf.SURFACE_MARGIN - 1
    assert frames[1].surface.mean() > 0.99  # an undrawn tile is all surface


def test_unveil_is_identity_on_unveiled_pictures():
    pic = _grid_picture()
    out, v = rf.unveil(pic)
    assert v == 0.0 and out is pic


def test_load_real_frames_needs_the_reference_folder(tmp_path: Path):
    with pytest.raises(HeatsinkError):
        rf.load_real_frames(tmp_path)


# ---- the published pictures (skipped when absent) ----------------------------------------

@pytest.fixture(scope="module")
def real_frames():
    try:
        return rf.load_real_frames()
    except (HeatsinkError, FileNotFoundError) as exc:
        pytest.skip(f"reference pictures not available: {exc}")


def test_the_published_pictures_give_31_frames(real_frames):
    assert len(real_frames) == 31
    counts = pd.Series([f.name.split("-")[0] for f in real_frames]).value_counts()
    assert counts.to_dict() == {"horizontal_grid": 12, "vertical_grid": 12, "poster": 7}
    sizes = {f.tile_size for f in real_frames}
    assert min(sizes) >= 200 and max(sizes) <= 420
    shares = np.array([f.surface.mean() for f in real_frames])
    assert shares.min() > 0.5 and np.median(shares) > 0.8
    # real plating colour on the surface: reddish copper
    stats = ap.measure_frames(real_frames)
    assert stats["g_over_r"].between(0.25, 0.5).all()
    assert stats["b_median"].between(3, 15).all()


def test_calibration_report_gains_appearance_rows(real_frames, tmp_path: Path):
    from heatsink.synth import calibration_report, generate

    twin = generate(tmp_path / "twin", n=12, seed=3, progress=False, workers=1)
    plain = calibration_report(twin)
    full = calibration_report(twin, appearance=True, n_frames=12)
    assert list(full.columns) == list(plain.columns)
    pd.testing.assert_frame_equal(full.iloc[: len(plain)], plain)
    app = full[full["level"] == "appearance"].set_index("statistic")
    bands = [f"band_{lo}_{hi}" for lo, hi in ap.BANDS]
    assert set(bands) <= set(app.index)
    assert {"r_median", "g_over_r", "b_median", "contrast_fine", "contrast_blotch",
            "contrast_mottling", "spread", "vignetting", "psd_slope",
            "anisotropy"} <= set(app.index)
    assert app.loc[bands, "rel_diff"].notna().all() and app.loc[bands, "ks"].isna().all()
    assert (app["twin_n"] == 12).all() and (app["real_n"] == 31).all()
    assert app["ok"].isin([True, False]).all()
