"""The gold-plated W-Cu surface: grainy reddish-copper plating under uneven light.

The surface is rendered as a relative luminance field over a whole part (one or more
frames), which defects then modify, and is coloured at the end. Values were read off the
real images in DatasetNinja's grid: the red channel's median is ≈75–155 depending on the
image, green ≈0.3–0.4 of red, blue ≈5–10; the grain is blotchy at a 3–8 px scale
(±15 %); lighting varies slowly; some frames have dark vignetted edges; brushing leaves
short bright streaks in one direction. None of this is labelled.

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


def grain(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Plating grain: blurred white noise at two scales, unit std."""
    white = rng.standard_normal(shape).astype(np.float32)
    fine = gaussian_blur(white, 1.3)
    coarse = gaussian_blur(white, 3.0)
    g = fine / (fine.std() + 1e-6) + 0.8 * coarse / (coarse.std() + 1e-6)
    return g / (g.std() + 1e-6)


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


def luminance(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Relative luminance of a bare part surface (≈1 on average), before defects."""
    lum = 1.0 + float(rng.uniform(0.08, 0.15)) * grain(rng, shape)
    lum *= 1.0 + float(rng.uniform(0.04, 0.14)) * smooth_noise(rng, shape, 110.0)
    lum *= 1.0 + float(rng.uniform(0.0, 0.06)) * smooth_noise(rng, shape, 35.0)
    if rng.random() < 0.55:
        lum += float(rng.uniform(0.1, 0.5)) * brushing(rng, shape)
    if rng.random() < 0.3:
        lum += float(rng.uniform(0.03, 0.07)) * long_streaks(rng, shape)
    if rng.random() < 0.45:
        lum *= vignette(rng, shape)
    return lum.astype(np.float32)


def colourize(rng: np.random.Generator, lum: np.ndarray) -> np.ndarray:
    """Map relative luminance to dark reddish-copper, as BGR uint8 (OpenCV order)."""
    red = float(np.clip(rng.normal(105.0, 20.0), 70.0, 160.0))
    green_ratio = float(rng.uniform(0.29, 0.37))
    blue = float(rng.uniform(5.0, 10.0))
    lum = np.clip(lum, 0.05, None)
    r = red * lum
    root = np.sqrt(lum)  # square roots are exact on every CPU; SIMD powers are not
    g = red * green_ratio * lum * np.sqrt(root)
    b = blue * root
    img = np.stack([b, g, r], axis=-1)
    img += rng.normal(0.0, 1.2, img.shape).astype(np.float32)
    img = gaussian_blur(img, 0.6)
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
