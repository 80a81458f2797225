"""The gold-plated W-Cu surface: grainy reddish-copper plating under uneven light.

The surface is rendered as a relative luminance field over a whole part (one or more
frames), which defects then modify, and is coloured at the end. Since generator 1.4 its
appearance is fitted, by statistics only, to the real plating measured on DatasetNinja's
published pictures (:mod:`heatsink.synth.real_frames`, :mod:`heatsink.synth.appearance`;
no real pixel is used here): the grain (:data:`GRAIN_AMPLITUDES`, white noise blurred at
four scales, plus additive :data:`SENSOR_NOISE`) and the mottling (:data:`MOTTLE_AMPLITUDES`)
give the grey surface the real frames' median energy in every octave band from 2 to 128 px;
texture is a little stronger near each camera frame's edges (:func:`frame_edge_gain`), as
measured; colour (:data:`COLOUR`) matches the real per-frame medians of red, green / red and
blue. Lighting varies slowly; some parts have dark vignetted edges; brushing leaves short
bright streaks in one direction. None of this is labelled.

Float images are blurred with :mod:`scipy.ndimage` and resized with plain elementwise numpy
(:func:`upsample_cubic`), and pixel values use only arithmetic and square roots (exact in IEEE
arithmetic) or the scalar ``math`` functions, never numpy's vectorised ``exp`` or ``power``,
which have SIMD variants of their own. Not OpenCV either: it picks SIMD code paths by CPU at
run time, and its float filters' results differ between them (the generator 1.2.0 twin made on
an AVX-512 machine differed in 53 of 1000 images from the one made on an AVX2 machine, and
switching OpenCV's SIMD off changed 364). The twin must be the same bytes on every machine,
so that its checksum names it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float image over its first two axes (edges mirrored, as OpenCV's
    default), computed the same way on every CPU."""
    sigmas = (sigma, sigma) + (0.0,) * (image.ndim - 2)
    return ndimage.gaussian_filter(image, sigmas, mode="mirror", truncate=4.0)


def _cubic_taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and weights, shape ``(n_out, 4)``, of Keys' cubic convolution
    (a = -0.75, as OpenCV's ``INTER_CUBIC``) resizing ``n_in`` samples to ``n_out``, pixel
    centres aligned and edges replicated."""
    x = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    left = np.floor(x)
    t = (x - left)[:, None] - np.arange(-1, 3)[None, :]  # distance to each of the 4 taps
    d = np.abs(t)
    a = -0.75
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    weights = np.where(d <= 1, near, np.where(d < 2, far, 0.0))
    index = np.clip(left[:, None].astype(int) + np.arange(-1, 3)[None, :], 0, n_in - 1)
    return index, weights


def upsample_cubic(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D array to ``shape`` by cubic convolution, one axis at a time.

    Elementwise products and sums only (no BLAS, no SIMD-dispatched filter), so the result
    is the same bytes on every CPU.
    """
    rows, row_w = _cubic_taps(shape[0], coarse.shape[0])
    cols, col_w = _cubic_taps(shape[1], coarse.shape[1])
    tall = sum(row_w[:, k, None] * coarse[rows[:, k], :] for k in range(4))
    return sum(col_w[None, :, k] * tall[:, cols[:, k]] for k in range(4))


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-std random field with features of about ``scale`` px."""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / scale)) + 2), max(2, int(np.ceil(w / scale)) + 2)
    coarse = rng.standard_normal((gh, gw))
    field = upsample_cubic(coarse, (int(gh * scale), int(gw * scale)))[:h, :w]
    field = field.astype(np.float32)
    return (field - field.mean()) / (field.std() + 1e-6)


#: Plating grain: relative amplitudes (std of relative luminance) of white noise blurred by
#: each Gaussian sigma (px), fitted so that the grey surface's energy in each octave band from
#: 2 to 64 px matches the real frames' median (:mod:`heatsink.synth.appearance`). Generator
#: 1.4.4 scaled these and :data:`MOTTLE_AMPLITUDES` by 0.95 from 1.4.3's fit: the per-frame
#: brightness spread was 8 % above the real frames' at every percentile (KS 0.30 on the
#: 1000-image twin; now 0.19), and every band keeps within ±12 % of the real median.
GRAIN_SIGMAS: tuple[float, ...] = (0.6, 1.0, 1.6, 4.0)
GRAIN_AMPLITUDES: tuple[float, ...] = (0.0171, 0.0361, 0.0798, 0.0418)
#: Aspect ratio (range, drawn per part) of the directional grain components (see
#: :func:`grain`).
GRAIN_ASPECT: tuple[float, float] = (1.1, 1.35)
#: Mottling: relative amplitudes of smooth noise with features of these scales (px); the
#: 20 and 40 px terms fill the 32–128 px bands, the 110 px one is the slow lighting.
MOTTLE_SCALES: tuple[float, ...] = (20.0, 40.0, 110.0)
MOTTLE_AMPLITUDES: tuple[float, ...] = (0.0171, 0.0243, 0.0314)
#: Spread (std of the log) of one part's texture gain: how much grain and mottling vary
#: from part to part around the fitted amplitudes (median gain 1).
GAIN_SPREAD = 0.15
#: Real frames' texture is stronger near the frame's edges (2–8 px blotch contrast ≈1.2× the
#: centre's within 30 px of the edge): texture gain at the edge, and its reach (px).
EDGE_GAIN = 0.25
EDGE_REACH = 30.0


def grain(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Plating grain: independent white noises blurred at :data:`GRAIN_SIGMAS`, summed with
    :data:`GRAIN_AMPLITUDES` (relative luminance, zero mean).

    The real plating's texture is directional (brushing): its 4–32 px energy is ≈1.9× as
    strong along the strongest orientation as along the weakest. So the components of sigma
    ≥ 1.5 px are stretched along one axis of the part (drawn per part: rows or columns) by
    an aspect ratio drawn from :data:`GRAIN_ASPECT`.
    """
    out = np.zeros(shape, np.float32)
    aspect = float(rng.uniform(*GRAIN_ASPECT))
    along_rows = bool(rng.random() < 0.5)
    for sigma, amp in zip(GRAIN_SIGMAS, GRAIN_AMPLITUDES, strict=True):
        white = rng.standard_normal(shape).astype(np.float32)
        if sigma >= 1.5:
            pair = (sigma, sigma * aspect)
            field = ndimage.gaussian_filter(white, pair if along_rows else pair[::-1],
                                            mode="mirror", truncate=4.0)
        else:
            field = gaussian_blur(white, sigma)
        out += np.float32(amp) * field / np.float32(field.std() + 1e-6)
    return out


def mottling(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Slow mottling and lighting: smooth noise at :data:`MOTTLE_SCALES` (relative, zero mean)."""
    out = np.zeros(shape, np.float32)
    for scale, amp in zip(MOTTLE_SCALES, MOTTLE_AMPLITUDES, strict=True):
        out += np.float32(amp) * smooth_noise(rng, shape, scale)
    return out


def vignette(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Multiplicative darkening near some of the part's outer edges (1 elsewhere)."""
    h, w = shape
    out = np.ones(shape, np.float32)
    yy = np.arange(h, dtype=np.float32)[:, None]
    xx = np.arange(w, dtype=np.float32)[None, :]
    dists = {"top": yy, "bottom": h - 1 - yy, "left": xx, "right": w - 1 - xx}
    for side, d in dists.items():
        if rng.random() < 0.5:
            continue
        depth = float(rng.uniform(0.25, 0.75))
        reach = float(rng.uniform(3.0, 18.0))
        if side in ("top", "bottom"):
            along = 1.0 + 0.3 * smooth_noise(rng, (1, w), 80.0)
        else:
            along = 1.0 + 0.3 * smooth_noise(rng, (h, 1), 80.0)
        falloff = np.array([math.exp(-float(v) / reach) for v in d.ravel()], np.float32)
        out *= 1.0 - depth * np.clip(along, 0.3, 1.7) * falloff.reshape(d.shape)
    return np.clip(out, 0.15, 1.0)


def brushing(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Benign brushing marks: short bright streaks in one direction, in patches."""
    h, w = shape
    canvas = np.zeros(shape, np.float32)
    theta = float(rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)]) + rng.normal(0, 0.15))
    d = np.array([np.cos(theta), np.sin(theta)])
    n = int(rng.uniform(0.2, 1.0) * h * w / 900)
    centres = rng.uniform([0, 0], [w, h], size=(n, 2))
    lengths = rng.uniform(6, 45, n)
    jitter = rng.normal(0, 0.05, n)
    strength = rng.uniform(0.3, 1.0, n)
    for (cx, cy), length, j, s in zip(centres, lengths, jitter, strength, strict=True):
        dj = np.array([np.cos(theta + j), np.sin(theta + j)]) * length / 2
        p0 = (int(cx - dj[0]), int(cy - dj[1]))
        p1 = (int(cx + dj[0]), int(cy + dj[1]))
        cv2.line(canvas, p0, p1, float(s), int(rng.integers(1, 3)), cv2.LINE_AA)
    del d
    canvas = gaussian_blur(canvas, 0.8)
    patches = np.clip(smooth_noise(rng, shape, 90.0) * 0.9 + rng.uniform(-0.6, 0.3), 0, None)
    return canvas * patches


def long_streaks(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A few long, very faint parallel polishing lines (benign, never labelled)."""
    h, w = shape
    canvas = np.zeros(shape, np.float32)
    theta = float(rng.choice([0.0, np.pi / 2]) + rng.normal(0, 0.05))
    big = 2 * (h + w)
    for _ in range(int(rng.integers(2, 8))):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        dx, dy = np.cos(theta) * big, np.sin(theta) * big
        cv2.line(canvas, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)),
                 float(rng.uniform(0.3, 1.0)), 1, cv2.LINE_AA)
    return gaussian_blur(canvas, 1.0)


def frame_edge_gain(shape: tuple[int, int], tile: int) -> np.ndarray:
    """Texture gain ``1 + EDGE_GAIN * exp(-d / EDGE_REACH)``, ``d`` the distance (px) to the
    nearest edge of the ``tile``-sized camera frame a pixel falls in.

    Examples
    --------
    >>> g = frame_edge_gain((320, 640), 320)
    >>> [round(float(g[160, x]), 3) for x in (0, 30, 160, 319, 320)]
    [1.25, 1.092, 1.001, 1.25, 1.25]
    """
    table = np.array([1.0 + EDGE_GAIN * math.exp(-d / EDGE_REACH) for d in range(tile)],
                     np.float32)

    def along(n: int) -> np.ndarray:
        k = np.arange(n) % tile
        return np.minimum(k, tile - 1 - k)

    d = np.minimum(along(shape[0])[:, None], along(shape[1])[None, :])
    return table[d]


def luminance(rng: np.random.Generator, shape: tuple[int, int],
              tile: int | None = None) -> np.ndarray:
    """Relative luminance of a bare part surface (≈1 on average), before defects.

    With ``tile``, the texture is stronger near the edges of each ``tile``-sized camera frame
    (:func:`frame_edge_gain`), as measured on the real frames.
    """
    gain = math.exp(float(rng.normal(0.0, GAIN_SPREAD)))
    texture = grain(rng, shape) + mottling(rng, shape)
    if tile is not None:
        texture *= frame_edge_gain(shape, tile)
    lum = 1.0 + np.float32(gain) * texture
    if rng.random() < 0.4:
        lum += float(rng.uniform(0.03, 0.15)) * brushing(rng, shape)
    if rng.random() < 0.3:
        lum += float(rng.uniform(0.02, 0.05)) * long_streaks(rng, shape)
    if rng.random() < 0.3:
        lum *= vignette(rng, shape)
    return lum.astype(np.float32)


#: Plating colour per part: red level (median, log-normal sd: the real levels are skewed to
#: bright parts), green / red (mean, sd) and blue range, fitted to the real frames' medians.
COLOUR: dict[str, float | tuple[float, float]] = {
    "red": 99.0, "red_log_sd": 0.16, "green_ratio": 0.345, "green_ratio_sd": 0.033,
    "blue": (6.5, 9.0),
}
#: Per-channel sensor noise (grey levels, before the optical blur): additive, so that, as on
#: the real frames, the finest grain does not scale with the part's brightness.
SENSOR_NOISE = 1.9
#: Optical blur (Gaussian sigma, px) of the coloured image.
OPTICAL_BLUR = 0.4


def colourize(rng: np.random.Generator, lum: np.ndarray) -> np.ndarray:
    """Map relative luminance to dark reddish-copper, as BGR uint8 (OpenCV order)."""
    red = float(np.clip(COLOUR["red"] * math.exp(float(rng.normal(0.0, COLOUR["red_log_sd"]))),
                        65.0, 165.0))
    green_ratio = float(np.clip(rng.normal(COLOUR["green_ratio"], COLOUR["green_ratio_sd"]),
                                0.28, 0.45))
    blue = float(rng.uniform(*COLOUR["blue"]))
    lum = np.clip(lum, 0.05, None)
    r = red * lum
    root = np.sqrt(lum)  # square roots are exact on every CPU; SIMD powers are not
    g = red * green_ratio * lum * np.sqrt(root)
    b = blue * root
    img = np.stack([b, g, r], axis=-1)
    img += rng.normal(0.0, SENSOR_NOISE, img.shape).astype(np.float32)
    img = gaussian_blur(img, OPTICAL_BLUR)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


__all__ = [
    "brushing",
    "colourize",
    "gaussian_blur",
    "grain",
    "long_streaks",
    "luminance",
    "smooth_noise",
    "upsample_cubic",
    "vignette",
]
