"""Photometric augmentation: so that a model does not learn the twin's exact rendering.

Applied to training batches only (``TrainConfig(photometric=True)``), after the geometric
augmentation: each image of a batch gets its own random brightness, gamma, colour balance,
blur or sharpening, and grain/sensor noise, all drawn from a stateless seed, so a run is
reproducible. Masks are never touched: these change what the surface looks like, not where
the defects are. Ranges (:data:`RANGES`) are chosen to span the spread of the real frames'
appearance (:mod:`heatsink.synth.appearance`): brightness ×0.75–1.3, gamma 0.8–1.25, each
channel ×0.9–1.1, a Gaussian blur of σ ≤ 1 px or an unsharp mask of amount ≤ 0.6 (half the
images each), and additive noise with σ ≤ 0.02 (≈5 grey levels), the same in all three
channels (grain) for half of the images, independent per channel (sensor noise) for the
others.

TensorFlow is imported inside the functions, as in :mod:`heatsink.data.pipeline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["RANGES", "photometric"]

#: Ranges of the random draws, per image.
RANGES: dict[str, tuple[float, float]] = {
    "brightness": (0.75, 1.3),   # multiplicative gain
    "gamma": (0.8, 1.25),        # x ** gamma
    "channel": (0.9, 1.1),       # independent gain per channel
    "blur_sigma": (0.0, 1.0),    # Gaussian blur (px), half of the images
    "sharpen": (0.0, 0.6),       # unsharp-mask amount, the other half
    "noise": (0.0, 0.02),        # std of additive noise (image in [0, 1])
}


def _gaussian_kernels(sigma: tf.Tensor, radius: int = 3) -> tf.Tensor:
    """Per-image normalised 1-D Gaussian kernels, shape ``(batch, 2 * radius + 1)``."""
    import tensorflow as tf

    x = tf.range(-radius, radius + 1, dtype=tf.float32)[None, :]
    s = tf.maximum(sigma, 1e-3)[:, None]
    k = tf.exp(-0.5 * tf.square(x / s))
    return k / tf.reduce_sum(k, axis=1, keepdims=True)


def _blur_axis(x: tf.Tensor, k: tf.Tensor, axis: int) -> tf.Tensor:
    """Blur (B, H, W, C) along ``axis`` (1 rows, 2 columns) with per-image 1-D kernels ``k``
    of shape ``(B, K)`` (edges reflected)."""
    import tensorflow as tf

    radius = (k.shape[1] - 1) // 2
    pad = [[0, 0], [0, 0], [0, 0], [0, 0]]
    pad[axis] = [radius, radius]
    padded = tf.pad(x, pad, "REFLECT")
    n = tf.shape(x)[axis]
    parts = []
    for i in range(2 * radius + 1):
        piece = padded[:, i : i + n] if axis == 1 else padded[:, :, i : i + n]
        parts.append(piece * k[:, i, None, None, None])
    return tf.add_n(parts)


def _blur(images: tf.Tensor, sigma: tf.Tensor, radius: int = 3) -> tf.Tensor:
    """Separable Gaussian blur with a different sigma per image (edges reflected)."""
    k = _gaussian_kernels(sigma, radius)  # (B, K)
    return _blur_axis(_blur_axis(images, k, 1), k, 2)


def photometric(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Randomly re-render a batch of float images in [0, 1] (N, H, W, 3); same shape and dtype.

    Parameters
    ----------
    images : Tensor
        Float32 batch in [0, 1].
    seed : Tensor
        Shape ``(2,)`` int seed of the stateless draws (the same seed gives the same output).

    Returns
    -------
    Tensor
        The augmented batch, float32, clipped to [0, 1].

    Examples
    --------
    >>> import heatsink  # noqa: F401
    >>> import tensorflow as tf
    >>> x = tf.fill([2, 16, 16, 3], 0.4)
    >>> y = photometric(x, tf.constant([1, 2]))
    >>> y.shape.as_list(), y.dtype.name, bool(tf.reduce_min(y) >= 0), bool(tf.reduce_max(y) <= 1)
    ([2, 16, 16, 3], 'float32', True, True)
    >>> bool(tf.reduce_all(y == photometric(x, tf.constant([1, 2]))))
    True
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    seed = tf.cast(seed, tf.int64)
    n = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, num=8)

    def draw(i: int, name: str, shape=None) -> tf.Tensor:
        lo, hi = RANGES[name]
        shape = [n] if shape is None else shape
        return tf.random.stateless_uniform(shape, seed=seeds[i], minval=lo, maxval=hi)

    x = images
    # brightness and gamma (on the image in [0, 1])
    x = tf.clip_by_value(x * draw(0, "brightness")[:, None, None, None], 0.0, 1.0)
    x = tf.pow(tf.maximum(x, 1e-6), draw(1, "gamma")[:, None, None, None])
    # colour balance: a gain per channel
    x = x * draw(2, "channel", [n, 3])[:, None, None, :]
    # blur half of the images, sharpen the others (unsharp mask)
    sigma = draw(3, "blur_sigma")
    amount = draw(4, "sharpen")
    choose = tf.random.stateless_uniform([n], seed=seeds[5]) < 0.5
    blurred = _blur(x, sigma)
    smooth = _blur(x, tf.fill([n], 1.0))
    sharpened = x + amount[:, None, None, None] * (x - smooth)
    x = tf.where(choose[:, None, None, None], blurred, sharpened)
    # grain / sensor noise: white or slightly blurred, grey (same in all channels) or not
    std = draw(6, "noise")
    noise_seeds = tf.random.experimental.stateless_split(seeds[7], num=2)
    noise = tf.random.stateless_normal(tf.shape(x), seed=noise_seeds[0])
    grey = tf.random.stateless_uniform([n], seed=noise_seeds[1]) < 0.5
    noise = tf.where(grey[:, None, None, None], noise[..., :1] + 0.0 * noise, noise)
    x = x + std[:, None, None, None] * noise
    return tf.clip_by_value(x, 0.0, 1.0)
