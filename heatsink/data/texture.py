"""Texture randomisation: so that a model learns defects, not the twin's plating.

A model trained on the twin alone fires on real plating's grain: its bright specks, short
polishing streaks and coarse speckle, which the twin's surface does not have
(:mod:`heatsink.real_surface`).
Applied to training batches only (``TrainConfig(texture=True)``), this multiplies each
image by ``1 + g``, where ``g`` is a random, *unlabelled* surface texture drawn per image,
so that a model sees many platings under the same defects and learns what they share. Masks
are never touched. Multiplying (rather than adding) keeps the plating's hue, as the real
grain does.

Half the images get a texture (:data:`SHARES`), so the net also sees the twin as rendered.
The texture is the sum of three random fields (four with spots), each present in a random
share of those (:data:`RANGES`):

- **grain**: white noise blurred to a random scale (σ 0.5–2.5 px), made skewed and
  heavy-tailed (``z + a (z² − 1) + b z³``) as the real plating's fine grain is, with its
  strength varying slowly across the frame;
- **streaks**: noise blurred along one random direction (σ 2–10 px along, 0.7 px across),
  its bright side kept: short parallel polishing marks;
- **specks**: sparse bright or dark dots of 1–3 px;
- **spots** (only where asked, ``spots`` > 0): sparse soft blobs of stain size (σ 2.5–8
  px), mostly darker, fainter than the twin's stains (at most 15 % against their 25–50 %,
  :func:`heatsink.synth.defects.blot_appearance`): the real plating's dark mottle spots,
  which a net trained without them calls stains;
- **marks** (only where asked, ``marks`` > 0): sparse bright polishing marks, longer and
  wider than the streaks (σ 6–25 px along, 1.5–3 px across, all of an image's marks along
  one direction give or take a few degrees), mostly brighter than the plating: the real
  plating's long bright marks, along which a net trained without them draws scratches. A
  twin scratch is a thinner line (1–3 px) and runs alone.

All draws come from a stateless seed, so a run is reproducible. The ranges are chosen wide,
around what the real plating shows (:mod:`heatsink.synth.appearance`), not fitted to it: this
is domain randomisation, not calibration, and no real pixel is used.

TensorFlow is imported inside the functions, as in :mod:`heatsink.data.pipeline`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from heatsink.data.augment import _blur_axis, _gaussian_kernels

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["MARK_DARK", "RANGES", "SHARES", "SPOT_DARK", "texture", "texture_field"]

#: Ranges of the per-image random draws (amplitudes relative to the image's brightness).
RANGES: dict[str, tuple[float, float]] = {
    "grain_sigma": (0.5, 2.5),      # px, the grain's scale
    "grain_amp": (0.0, 0.15),       # std of the grain's relative modulation
    "grain_skew": (0.0, 0.2),       # a in z + a (z² - 1) + b z³
    "grain_tail": (0.0, 0.2),       # b
    "streak_long": (2.0, 10.0),     # px, σ along the streaks
    "streak_amp": (0.05, 0.25),    # relative amplitude of the streaks
    "speck_density": (0.0005, 0.004),  # specks per pixel
    "speck_amp": (0.1, 0.4),        # relative brightness of a speck (sign random)
    "spot_sigma": (2.5, 8.0),       # px, a spot's Gaussian scale
    "spot_density": (5e-5, 4e-4),   # spots per pixel (3 to 26 in a 256² frame)
    "spot_amp": (0.04, 0.15),       # relative peak brightness of a spot
    "mark_long": (6.0, 25.0),       # px, σ along a mark
    "mark_wide": (1.5, 3.0),        # px, σ across a mark
    "mark_density": (5e-5, 3e-4),   # marks per pixel (3 to 20 in a 256² frame)
    "mark_amp": (0.15, 0.5),        # relative peak brightness of a mark
    "mark_turn": (0.0, 0.15),       # radians, how far a mark turns from its image's direction
}
#: Share of spots that are darker than the plating (as :data:`heatsink.synth.defects.
#: DARK_BLOT_SHARE` is of the twin's stains).
SPOT_DARK = 0.6
#: Share of marks that are darker than the plating (the real marks are mostly bright).
MARK_DARK = 0.15
#: Share of the images that get a texture at all (the others are left as rendered), and of
#: those, the shares that get streaks and specks (all get grain, at a random strength).
#: Half the frames: on twin 1.4.4, the light net's recipe run with every frame textured
#: stopped early at 32 % validation defect mIoU; with half of them, 47 %, and the real
#: surface it called defect fell from 11.6 % (no texture) to 1.3 %
#: (:func:`heatsink.real_surface.real_surface_check`).
SHARES: dict[str, float] = {"textured": 0.5, "streaks": 0.5, "specks": 0.5}


def _unit(x: tf.Tensor) -> tf.Tensor:
    """Zero mean, unit standard deviation per image."""
    import tensorflow as tf

    mean, var = tf.nn.moments(x, axes=[1, 2, 3], keepdims=True)
    return (x - mean) / tf.sqrt(var + 1e-8)


def _rotate(x: tf.Tensor, angle: tf.Tensor) -> tf.Tensor:
    """Rotate (B, H, W, 1) about the centre by ``angle`` (radians, per image), reflecting."""
    import tensorflow as tf

    h = tf.cast(tf.shape(x)[1], tf.float32)
    w = tf.cast(tf.shape(x)[2], tf.float32)
    c, s = tf.cos(angle), tf.sin(angle)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    # output (x, y) samples input (c x - s y + a, s x + c y + b), rotating about the centre
    a = cx - c * cx + s * cy
    b = cy - s * cx - c * cy
    zeros = tf.zeros_like(c)
    transforms = tf.stack([c, -s, a, s, c, b, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x, transforms=transforms, output_shape=tf.shape(x)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")


def _drawer(n: tf.Tensor, seeds: tf.Tensor):
    """``draw(i, name, size=None)``: uniform draws in ``RANGES[name]`` from ``seeds[i]``, one
    per image unless ``size`` is given."""
    import tensorflow as tf

    def draw(i: int, name: str, size: tf.Tensor | list | None = None) -> tf.Tensor:
        lo, hi = RANGES[name]
        return tf.random.stateless_uniform([n] if size is None else size, seed=seeds[i],
                                           minval=lo, maxval=hi)

    return draw


def _impulses(shape: tf.Tensor, seeds: tf.Tensor, kind: str, dark: float) -> tf.Tensor:
    """Sparse signed impulses ``(B, H, W, 1)`` from ``seeds[0:4]``: a pixel is a centre with
    the image's ``<kind>_density``, its amplitude drawn in ``<kind>_amp``, negative (darker)
    with probability ``dark``."""
    import tensorflow as tf

    n, h, w = shape[0], shape[1], shape[2]
    draw = _drawer(n, seeds)
    centres = tf.random.stateless_uniform([n, h, w, 1], seed=seeds[0])
    density = draw(1, f"{kind}_density")[:, None, None, None]
    darker = tf.random.stateless_uniform([n, h, w, 1], seed=seeds[2]) < dark
    amp = draw(3, f"{kind}_amp", [n, h, w, 1]) * tf.where(darker, -1.0, 1.0)
    return tf.where(centres < density, amp, 0.0)


def _spots(shape: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Sparse soft spots ``(B, H, W, 1)``: each a Gaussian blob whose peak is its amplitude."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=5)
    sigma = _drawer(shape[0], seeds)(4, "spot_sigma")
    k = _gaussian_kernels(sigma, radius=24)
    impulses = _impulses(shape, seeds, "spot", SPOT_DARK) * (2 * math.pi * sigma ** 2)[
        :, None, None, None]
    return _blur_axis(_blur_axis(impulses, k, 1), k, 2)


def _smear(x: tf.Tensor, k: tf.Tensor, axis: int) -> tf.Tensor:
    """Blur (B, H, W, 1) along ``axis`` (1 rows, 2 columns) with per-image 1-D kernels ``k``
    of shape ``(B, K)``, zeros beyond the edges: one depthwise convolution with the images as
    its channels, so that a long kernel costs one op (and fits frames smaller than it)."""
    import tensorflow as tf

    channels = tf.transpose(x, [3, 1, 2, 0])                     # (1, H, W, B)
    kernel = tf.transpose(k)[:, None, :, None]                   # (K, 1, B, 1)
    if axis == 2:
        kernel = tf.transpose(kernel, [1, 0, 2, 3])              # (1, K, B, 1)
    out = tf.nn.depthwise_conv2d(channels, kernel, [1, 1, 1, 1], "SAME")
    return tf.transpose(out, [3, 1, 2, 0])


def _marks(shape: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Sparse polishing marks ``(B, H, W, 1)``: elongated Gaussian blobs, one direction per
    image (each mark turned from it by a little), whose peak is their amplitude."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=8)
    draw = _drawer(shape[0], seeds)
    long, wide = draw(4, "mark_long"), draw(5, "mark_wide")
    impulses = _impulses(shape, seeds, "mark", MARK_DARK) * (2 * math.pi * long * wide)[
        :, None, None, None]
    marks = _smear(_smear(impulses, _gaussian_kernels(long, radius=72), 2),
                   _gaussian_kernels(wide, radius=9), 1)
    direction = tf.random.stateless_uniform([shape[0]], seed=seeds[6], maxval=math.pi)
    turn = draw(7, "mark_turn") * tf.where(direction > math.pi / 2, 1.0, -1.0)
    return _rotate(marks, direction + turn)


def texture_field(shape: tf.Tensor, seed: tf.Tensor, share: float | None = None,
                  strength: float = 1.0, spots: float = 0.0, marks: float = 0.0) -> tf.Tensor:
    """A random relative surface texture ``g`` of shape ``(B, H, W, 1)`` (see the module).

    ``share`` of the images get one (default ``SHARES["textured"]``), the others ``g = 0``;
    ``strength`` multiplies every texture (1: the :data:`RANGES` as given). Both set the
    dose of randomisation a training run gets (:class:`heatsink.models.TrainConfig`'s
    ``texture_share`` and ``texture_strength``). ``spots`` is the share of the textured
    images that also get spots (their draws are apart: the rest is the same with or
    without them).

    Examples
    --------
    >>> import heatsink  # noqa: F401
    >>> import tensorflow as tf
    >>> g = texture_field(tf.constant([4, 64, 64, 3]), tf.constant([3, 4]))
    >>> g.shape.as_list()
    [4, 64, 64, 1]
    >>> bool(tf.reduce_all(g == texture_field(tf.constant([4, 64, 64, 3]), tf.constant([3, 4]))))
    True
    >>> half = texture_field(tf.constant([4, 64, 64, 3]), tf.constant([3, 4]), strength=0.5)
    >>> bool(tf.reduce_max(tf.abs(half - g / 2)) < 1e-6)
    True
    >>> none = texture_field(tf.constant([4, 64, 64, 3]), tf.constant([3, 4]), share=0.0)
    >>> bool(tf.reduce_all(none == 0))
    True
    >>> spotted = texture_field(tf.constant([4, 64, 64, 3]), tf.constant([3, 4]), share=1.0,
    ...                         spots=1.0)
    >>> plain = texture_field(tf.constant([4, 64, 64, 3]), tf.constant([3, 4]), share=1.0)
    >>> bool(tf.reduce_any(spotted != plain))
    True
    >>> marked = texture_field(tf.constant([4, 64, 64, 3]), tf.constant([3, 4]), share=1.0,
    ...                        marks=1.0)
    >>> bool(tf.reduce_any(marked != plain)), bool(tf.reduce_max(marked - plain) > 0.05)
    (True, True)
    """
    import tensorflow as tf

    n, h, w = shape[0], shape[1], shape[2]
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=17)

    def draw(i: int, name: str) -> tf.Tensor:
        lo, hi = RANGES[name]
        return tf.random.stateless_uniform([n], seed=seeds[i], minval=lo, maxval=hi)

    def normal(i: int, size: tf.Tensor | None = None) -> tf.Tensor:
        return tf.random.stateless_normal([n, h, w, 1] if size is None else size,
                                          seed=seeds[i])

    # grain: blurred, skewed, heavy-tailed, its strength varying slowly across the frame
    z = _unit(normal(0))
    k = _gaussian_kernels(draw(1, "grain_sigma"), radius=6)
    z = _unit(_blur_axis(_blur_axis(z, k, 1), k, 2))
    a = draw(2, "grain_skew")[:, None, None, None]
    b = draw(3, "grain_tail")[:, None, None, None]
    z = _unit(z + a * (tf.square(z) - 1.0) + b * z * z * z)
    slow = _unit(tf.image.resize(normal(4, [n, 4, 4, 1]), tf.stack([h, w]), "bicubic"))
    grain = draw(5, "grain_amp")[:, None, None, None] * z * tf.exp(0.4 * slow)

    # streaks: noise blurred along one direction, then turned; the bright side kept
    s = normal(6)
    along = _gaussian_kernels(draw(7, "streak_long"), radius=24)
    across = _gaussian_kernels(tf.fill([n], 0.7), radius=2)
    s = _blur_axis(_blur_axis(s, along, 2), across, 1)
    s = _rotate(s, tf.random.stateless_uniform([n], seed=seeds[9], maxval=math.pi))
    s = tf.nn.relu(_unit(s) - 1.0)  # the streaks' bright crests, ≈0.4 std
    with_streaks = tf.random.stateless_uniform([n], seed=seeds[10]) < SHARES["streaks"]
    streaks = tf.where(with_streaks[:, None, None, None],
                       draw(11, "streak_amp")[:, None, None, None] * s, 0.0)

    # specks: sparse dots of 1-3 px, bright or dark
    u = tf.random.stateless_uniform([n, h, w, 1], seed=seeds[12])
    dots = tf.cast(u < draw(13, "speck_density")[:, None, None, None], tf.float32)
    dots = tf.nn.max_pool2d(dots, 2, 1, "SAME")  # 1-px dots grow to 2x2
    dots = _blur_axis(_blur_axis(dots, _gaussian_kernels(tf.fill([n], 0.6), 2), 1),
                      _gaussian_kernels(tf.fill([n], 0.6), 2), 2)
    sign = tf.where(tf.random.stateless_uniform([n], seed=seeds[14]) < 0.5, -1.0, 1.0)
    with_specks = tf.random.stateless_uniform([n], seed=seeds[15]) < SHARES["specks"]
    amp = tf.random.stateless_uniform([n], seed=seeds[8], minval=RANGES["speck_amp"][0],
                                      maxval=RANGES["speck_amp"][1])
    specks = tf.where(with_specks[:, None, None, None],
                      (sign * amp)[:, None, None, None] * tf.minimum(dots * 2.0, 1.0), 0.0)
    field = grain + streaks + specks
    if spots > 0:  # seeds of their own, so that the other draws do not change
        spot_seeds = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 1)
        with_spots = tf.random.stateless_uniform(
            [n], seed=tf.random.experimental.stateless_fold_in(spot_seeds, 1)) < spots
        field += tf.where(with_spots[:, None, None, None], _spots(shape, spot_seeds), 0.0)
    if marks > 0:  # seeds of their own too
        mark_seeds = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), 2)
        with_marks = tf.random.stateless_uniform(
            [n], seed=tf.random.experimental.stateless_fold_in(mark_seeds, 1)) < marks
        field += tf.where(with_marks[:, None, None, None], _marks(shape, mark_seeds), 0.0)
    share = SHARES["textured"] if share is None else share
    textured = tf.random.stateless_uniform([n], seed=seeds[16]) < share
    return tf.where(textured[:, None, None, None], strength * field, 0.0)


def texture(images: tf.Tensor, seed: tf.Tensor, share: float | None = None,
            strength: float = 1.0, spots: float = 0.0, marks: float = 0.0) -> tf.Tensor:
    """Multiply a batch of float images in [0, 1] (N, H, W, 3) by ``1 + g``, a random texture.

    Parameters
    ----------
    images : Tensor
        Float32 batch in [0, 1].
    seed : Tensor
        Shape ``(2,)`` int seed of the stateless draws (the same seed gives the same output).
    share : float, optional
        Share of the images that get a texture (default ``SHARES["textured"]``).
    strength : float
        Multiplies every texture (see :func:`texture_field`).
    spots, marks : float
        Shares of the textured images that also get spots and polishing marks (see the
        module).

    Returns
    -------
    Tensor
        The re-textured batch, float32, clipped to [0, 1]; the same shape.

    Examples
    --------
    >>> import heatsink  # noqa: F401
    >>> import tensorflow as tf
    >>> x = tf.fill([8, 32, 32, 3], 0.4)
    >>> y = texture(x, tf.constant([1, 2]))
    >>> y.shape.as_list(), bool(tf.reduce_min(y) >= 0), bool(tf.reduce_max(y) <= 1)
    ([8, 32, 32, 3], True, True)
    >>> bool(tf.reduce_any(y != x))    # the plating changed ...
    True
    >>> r = y[..., 0] / y[..., 1]      # ... but not its hue
    >>> bool(tf.reduce_max(tf.abs(r - 1.0)) < 1e-5)
    True
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    g = texture_field(tf.shape(images), seed, share, strength, spots, marks)
    return tf.clip_by_value(images * (1.0 + g), 0.0, 1.0)
