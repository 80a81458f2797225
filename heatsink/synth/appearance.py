"""What the camera sees: appearance statistics of a surface, measured the same way on real and
twin frames.

Every statistic is computed per frame on the grey image (OpenCV's ``RGB2GRAY``: 0.299 R +
0.587 G + 0.114 B) over the frame's *surface* pixels only: on a real frame, the pixels at
least 4 px from anything drawn over it (:mod:`heatsink.synth.real_frames`); on a twin frame,
those at least 4 px from its labels. The families:

- **colour** (:func:`colour_stats`): medians of red, green / red and blue;
- **spectrum** (:func:`band_energies`): the radially averaged power spectrum of the grey
  surface, as the variance (grey levels²) in each octave band of wavelength 2–4, 4–8, …,
  64–128 px, and the log-log slope of the power spectral density across them; and its
  directionality (:func:`anisotropy`: the 4–32 px power along the strongest orientation over
  that along the weakest; the real plating is brushed);
- **contrast** (:func:`local_contrast`) at three scales: fine (mean absolute 3×3 Laplacian),
  blotch (standard deviation of a 2 px minus 8 px Gaussian difference) and mottling
  (standard deviation after a 20 px Gaussian blur);
- **spread** (:func:`brightness_spread`): (90th − 10th percentile) / median of the grey level;
- **vignetting** (:func:`vignetting`): median grey within 24 px of the frame's edge over the
  median in its central half;
- **shape** (:func:`shape_stats`, reported only): how far from Gaussian the surface is, the
  skewness and excess kurtosis of the grey level band-passed at 0.7–1.5, 1.5–3 and 3–6 px
  (Gaussian differences) and the share of pixels beyond ±3 standard deviations at 3–6 px.
  Power spectra and contrasts are second-order figures: a Gaussian field can match them all
  and still lack the real plating's bright-skewed grain and sparse dark pits.

The real frames were shown at another size before being resampled back to 320² (a tile of
≈205–415 px), which removes fine grain: twin frames are measured through the same round trip
(:func:`resample_like`), each with a real frame's tile size in turn.
:func:`appearance_table` puts twin and real side by side with a distance per statistic.

Blurs of masked images are normalised convolutions (blur of the masked image over blur of
the mask), so the drawn labels never leak into the surface's figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, kurtosis, skew

from heatsink.synth.real_frames import FRAME, SURFACE_MARGIN, RealFrame, surface_mask

__all__ = [
    "BANDS",
    "BAND_MAX",
    "KS_MAX",
    "anisotropy",
    "appearance_table",
    "band_energies",
    "brightness_spread",
    "colour_stats",
    "frame_statistics",
    "grey",
    "local_contrast",
    "measure_frames",
    "resample_like",
    "shape_stats",
    "twin_frames",
    "vignetting",
]

#: Octave bands of wavelength (px), shortest first.
BANDS: tuple[tuple[int, int], ...] = ((2, 4), (4, 8), (8, 16), (16, 32), (32, 64), (64, 128))
#: Acceptance: each band's median energy within ±20 % of the real frames' median.
BAND_MAX = 0.20
#: Acceptance: two-sample KS statistic of a per-frame distribution.
KS_MAX = 0.20
#: Width (px) of the edge band for :func:`vignetting`.
EDGE = 24
#: Statistics the acceptance holds to KS ≤ :data:`KS_MAX` (the others are reported only).
KS_ACCEPTANCE = ("r_median", "g_over_r", "b_median", "spread", "contrast_fine",
                 "contrast_blotch", "contrast_mottling")


def grey(image: np.ndarray) -> np.ndarray:
    """Grey level (float32) of an RGB uint8 image, as OpenCV's ``RGB2GRAY``."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) if image.ndim == 3 else \
        image.astype(np.float32)


def _masked_blur(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised-convolution Gaussian blur: only ``mask`` pixels contribute."""
    m = mask.astype(np.float32)
    num = cv2.GaussianBlur(values * m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    return num / np.maximum(den, 1e-6)


def colour_stats(image: np.ndarray, surface: np.ndarray) -> dict[str, float]:
    """Median red, green / red (ratio of the medians) and median blue of the surface.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((4, 4, 3), np.uint8); img[:] = (100, 35, 8)
    >>> colour_stats(img, np.ones((4, 4), bool))
    {'r_median': 100.0, 'g_over_r': 0.35, 'b_median': 8.0}
    """
    px = image[surface].astype(np.float64)
    r, g, b = (float(np.median(px[:, k])) for k in range(3))
    return {"r_median": r, "g_over_r": g / max(r, 1e-6), "b_median": b}


def _filled(g: np.ndarray, surface: np.ndarray) -> np.ndarray:
    """The grey surface minus its mean, non-surface pixels filled smoothly from around."""
    mean = float(g[surface].mean())
    fill = _masked_blur(g, surface, 6.0)
    return np.where(surface, g, fill) - mean


def band_energies(g: np.ndarray, surface: np.ndarray) -> dict[str, float]:
    """Variance in each octave band of :data:`BANDS` and the PSD's log-log slope.

    A Hann-windowed FFT of the filled grey surface; the power in each annulus of radial
    frequency ``1/λ_hi < f ≤ 1/λ_lo`` divided by the mean of the squared window over the
    surface pixels (Parseval: for a fully surface frame the bands add up to the variance).
    The slope is that of log(band power / annulus area) against log(band centre frequency).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> e = band_energies(rng.normal(0, 10, (320, 320)).astype(np.float32),
    ...                   np.ones((320, 320), bool))
    >>> round(e["band_2_4"] / 100, 1), abs(e["psd_slope"]) < 0.2   # white noise: flat PSD
    (0.6, True)
    """
    h, w = g.shape
    x = _filled(g, surface)
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float64)
    power = np.abs(np.fft.fft2(x * win)) ** 2 / (h * w) ** 2
    norm = float((win**2)[surface].mean())
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.hypot(fy, fx)
    out: dict[str, float] = {}
    logs_f, logs_d = [], []
    for lo, hi in BANDS:
        band = (f > 1.0 / hi) & (f <= 1.0 / lo)
        energy = float(power[band].sum() / norm)
        out[f"band_{lo}_{hi}"] = energy
        area = np.pi * ((1.0 / lo) ** 2 - (1.0 / hi) ** 2)
        logs_f.append(np.log(np.sqrt(1.0 / (lo * hi))))
        logs_d.append(np.log(max(energy, 1e-12) / area))
    out["psd_slope"] = float(np.polyfit(logs_f, logs_d, 1)[0])
    return out


def anisotropy(g: np.ndarray, surface: np.ndarray, sectors: int = 8) -> float:
    """Directionality of the 4–32 px texture: the power in the strongest of ``sectors``
    orientation sectors over the power in the weakest (1 for isotropic texture; estimates of
    isotropic noise come out ≈1.3–1.5 on a 320² frame).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(100, 5, (320, 320)).astype(np.float32)
    >>> streaks = np.repeat(rng.normal(0, 5, (320, 1)), 320, axis=1).astype(np.float32)
    >>> full = np.ones((320, 320), bool)
    >>> anisotropy(noise, full) < 1.6, anisotropy(noise + streaks, full) > 5
    (True, True)
    """
    h, w = g.shape
    x = _filled(g, surface)
    win = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(x * win)) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    band = (np.hypot(fy, fx) > 1 / 32) & (np.hypot(fy, fx) <= 1 / 4)
    theta = np.mod(np.arctan2(fy, fx), np.pi)
    sector = np.minimum((theta / (np.pi / sectors)).astype(int), sectors - 1)
    energy = np.bincount(sector[band], weights=power[band], minlength=sectors)
    return float(energy.max() / max(energy.min(), 1e-12))


def local_contrast(g: np.ndarray, surface: np.ndarray) -> dict[str, float]:
    """Contrast at three scales: fine grain, 2–8 px blotches, 20 px mottling.

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.full((64, 64), 100, np.float32)
    >>> {k: round(v, 3) for k, v in local_contrast(flat, np.ones((64, 64), bool)).items()}
    {'contrast_fine': 0.0, 'contrast_blotch': 0.0, 'contrast_mottling': 0.0}
    """
    inner = cv2.erode(surface.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    inner = inner if inner.any() else surface
    lap = cv2.Laplacian(g, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)
    blotch = _masked_blur(g, surface, 2.0) - _masked_blur(g, surface, 8.0)
    mottle = _masked_blur(g, surface, 20.0)
    return {
        "contrast_fine": float(np.abs(lap[inner]).mean()),
        "contrast_blotch": float(blotch[surface].std()),
        "contrast_mottling": float(mottle[surface].std()),
    }


#: Gaussian-difference bands (inner, outer sigma in px) of :func:`shape_stats`.
SHAPE_BANDS: tuple[tuple[float, float], ...] = ((0.7, 1.5), (1.5, 3.0), (3.0, 6.0))


def shape_stats(g: np.ndarray, surface: np.ndarray) -> dict[str, float]:
    """Skewness and excess kurtosis of the band-passed grey surface, and its 3–6 px tails.

    Measured on the surface eroded by 4 px (so no band-pass straddles a label's edge).
    Keys ``skew_<a>`` and ``kurt_<a>`` for each band of :data:`SHAPE_BANDS` (``a`` its inner
    sigma), ``dark_tail_3`` and ``bright_tail_3``: per cent of pixels below −3 and above +3
    standard deviations in the 3–6 px band (0.13 % each for a Gaussian field).

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).normal(100, 5, (256, 256)).astype(np.float32)
    >>> st = shape_stats(noise, np.ones((256, 256), bool))
    >>> abs(st["skew_0.7"]) < 0.05, abs(st["kurt_3.0"]) < 0.2
    (True, True)
    >>> noise[::16, ::16] -= 60                      # sparse dark pits: heavy dark tail
    >>> shape_stats(noise, np.ones((256, 256), bool))["skew_0.7"] < -1
    True
    """
    inner = cv2.erode(surface.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    inner = inner if inner.sum() > 100 else surface
    out: dict[str, float] = {}
    for a, b in SHAPE_BANDS:
        band = (cv2.GaussianBlur(g, (0, 0), a, borderType=cv2.BORDER_REFLECT)
                - cv2.GaussianBlur(g, (0, 0), b, borderType=cv2.BORDER_REFLECT))[inner]
        out[f"skew_{a}"] = float(skew(band))
        out[f"kurt_{a}"] = float(kurtosis(band))
        if a == 3.0:
            sd = float(band.std()) or 1.0
            out["dark_tail_3"] = float(100 * np.mean(band < -3 * sd))
            out["bright_tail_3"] = float(100 * np.mean(band > 3 * sd))
    return out


def brightness_spread(g: np.ndarray, surface: np.ndarray) -> float:
    """(90th − 10th percentile) / median of the surface's grey level.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.tile(np.arange(101, dtype=np.float32), (2, 1)) + 50
    >>> brightness_spread(g, np.ones(g.shape, bool))
    0.8
    """
    v = g[surface]
    p10, p50, p90 = np.percentile(v, [10, 50, 90])
    return float((p90 - p10) / max(p50, 1e-6))


def vignetting(g: np.ndarray, surface: np.ndarray, edge: int = EDGE) -> float:
    """Median grey within ``edge`` px of the frame's border over the median in its central half.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.full((100, 100), 50, np.float32); g[30:70, 30:70] = 100
    >>> vignetting(g, np.ones(g.shape, bool))
    0.5
    """
    h, w = g.shape
    yy, xx = np.mgrid[:h, :w]
    border = np.minimum(np.minimum(yy, h - 1 - yy), np.minimum(xx, w - 1 - xx)) < edge
    centre = (np.abs(yy - (h - 1) / 2) < h / 4) & (np.abs(xx - (w - 1) / 2) < w / 4)
    e, c = g[border & surface], g[centre & surface]
    if len(e) == 0 or len(c) == 0:
        return float("nan")
    return float(np.median(e) / max(np.median(c), 1e-6))


def frame_statistics(image: np.ndarray, surface: np.ndarray) -> dict[str, float]:
    """All appearance statistics of one RGB frame over its surface pixels."""
    g = grey(image)
    return {
        **colour_stats(image, surface),
        **band_energies(g, surface),
        **local_contrast(g, surface),
        "anisotropy": anisotropy(g, surface),
        "spread": brightness_spread(g, surface),
        "vignetting": vignetting(g, surface),
        **shape_stats(g, surface),
    }


def resample_like(frame: np.ndarray, tile_size: int, size: int = FRAME) -> np.ndarray:
    """A frame's round trip through a tile of ``tile_size`` px: down (or up) and back.

    ``INTER_AREA`` when shrinking, ``INTER_CUBIC`` when enlarging, both ways, as
    :func:`heatsink.synth.real_frames.resize_to_frame` brings real tiles to 320².

    Examples
    --------
    >>> import numpy as np
    >>> f = np.random.default_rng(0).integers(0, 255, (320, 320, 3), dtype=np.uint8)
    >>> out = resample_like(f, 206)
    >>> out.shape, out.dtype.name, bool(out.std() < f.std())
    ((320, 320, 3), 'uint8', True)
    """
    if tile_size == size:
        return frame.copy()

    def rs(a: np.ndarray, n: int) -> np.ndarray:
        interp = cv2.INTER_AREA if n < a.shape[0] else cv2.INTER_CUBIC
        return cv2.resize(a, (n, n), interpolation=interp)

    return rs(rs(frame, tile_size), size)


def twin_frames(
    twin_dir: str | Path, tile_sizes: Sequence[int], n: int | None = 200, seed: int = 0,
    masks: str = "labels", ids: Sequence[str] | None = None,
) -> list[RealFrame]:
    """Twin frames made comparable with the real ones: resampled through real tile sizes.

    Parameters
    ----------
    twin_dir : str or Path
        A twin written by :func:`heatsink.synth.generate`.
    tile_sizes : sequence of int
        The real frames' tile sizes; frame ``k`` goes through ``tile_sizes[k % len]``.
    n : int or None
        How many frames (a seeded random sample of the ids); None for all.
    seed : int
        Seed of the sample.
    masks : str
        The masks whose pixels (plus :data:`SURFACE_MARGIN` px) are not surface.
    ids : sequence of str, optional
        The frames to draw from (default: every frame of the twin).

    Returns
    -------
    list of RealFrame
        RGB frames with their surface masks (named by image id).
    """
    from heatsink.data import load_dataset

    ds = load_dataset(twin_dir, verify=False)
    ids = list(ds.ids) if ids is None else [str(i) for i in ids]
    if n is not None and n < len(ids):
        ids = sorted(np.random.default_rng(seed).choice(ids, n, replace=False).tolist())
    frames = []
    for k, image_id in enumerate(ids):
        size = int(tile_sizes[k % len(tile_sizes)])
        image = ds.image(image_id)
        mask = ds.truth(image_id) if masks == "truth" else ds.mask(image_id)
        surface = surface_mask(mask > 0, margin=SURFACE_MARGIN)
        frames.append(RealFrame(str(image_id), resample_like(image, size), surface, size,
                                (0, 0, FRAME, FRAME), mask > 0))
    return frames


def measure_frames(frames: Iterable[RealFrame]) -> pd.DataFrame:
    """One row of :func:`frame_statistics` per frame (index: the frame's name)."""
    rows = {f.name: {"tile_size": f.tile_size, **frame_statistics(f.image, f.surface)}
            for f in frames}
    return pd.DataFrame.from_dict(rows, orient="index")


def appearance_table(real: pd.DataFrame, twin: pd.DataFrame) -> pd.DataFrame:
    """Twin beside real, per statistic, with a distance and the acceptance verdict.

    Parameters
    ----------
    real, twin : DataFrame
        Per-frame statistics (:func:`measure_frames`).

    Returns
    -------
    DataFrame
        One row per statistic: ``statistic, family, twin_median, real_median, distance,
        measure`` (``'rel'``: (twin − real) / real of the medians, for band energies;
        ``'ks'``: two-sample KS statistic of the per-frame values), ``threshold``,
        ``acceptance`` (whether the issue's acceptance holds this row to its threshold)
        and ``ok`` (distance within threshold).

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"band_2_4": [10.0, 12.0], "r_median": [100.0, 110.0]})
    >>> twin = pd.DataFrame({"band_2_4": [11.0, 13.0], "r_median": [100.0, 110.0]})
    >>> table = appearance_table(real, twin)
    >>> table["statistic"].tolist(), table["distance"].round(3).tolist(), table["ok"].tolist()
    (['band_2_4', 'r_median'], [0.091, 0.0], [True, True])
    """
    rows = []
    for col in real.columns:
        if col == "tile_size" or col not in twin.columns:
            continue
        a, b = twin[col].dropna().to_numpy(float), real[col].dropna().to_numpy(float)
        tm, rm = float(np.median(a)), float(np.median(b))
        if col.startswith("band_"):
            family, measure = "spectrum", "rel"
            distance, threshold, accept = (tm - rm) / rm, BAND_MAX, True
            ok = abs(distance) <= threshold
        else:
            family = ("colour" if col in ("r_median", "g_over_r", "b_median") else
                      "spectrum" if col in ("psd_slope", "anisotropy") else
                      "contrast" if col.startswith("contrast") else
                      "shape" if col.startswith(("skew_", "kurt_")) or "_tail_" in col else col)
            measure, threshold = "ks", KS_MAX
            distance = float(ks_2samp(a, b).statistic)
            accept = col in KS_ACCEPTANCE
            ok = distance <= threshold
        rows.append({"statistic": col, "family": family, "twin_median": tm, "real_median": rm,
                     "distance": distance, "measure": measure, "threshold": threshold,
                     "acceptance": accept, "ok": bool(ok)})
    return pd.DataFrame(rows)
