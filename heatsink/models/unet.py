"""The seed's half-width U-Net (Ronneberger et al. 2015 with every filter count halved)."""

from __future__ import annotations

import tensorflow as tf

from heatsink.models.layers import softmax_head

layers = tf.keras.layers

#: Number of pooling steps; the filter count doubles at each, so 32 → 512 at the bottom.
UNET_DEPTH = 4


def _double_conv(x: tf.Tensor, filters: int, name: str) -> tf.Tensor:
    """Two 3×3 same-padded ReLU convolutions (no batch norm, no dropout).

    Weights start from He's normal initialisation, as Ronneberger et al. prescribe
    (a Gaussian with standard deviation sqrt(2/N), N the inputs of one unit). With Keras's
    default Glorot initialisation instead, our first 5-epoch run on a 300-image twin stuck
    at predicting background everywhere from epoch 2 on (constant loss).
    """
    for k in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu",
                          kernel_initializer="he_normal", name=f"{name}_conv{k}")(x)
    return x


def unet(
    filters: int = 32,
    n_classes: int = 3,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
) -> tf.keras.Model:
    """Plain U-Net: ``filters``·2^k filters at level k = 0…4 (32-64-128-256-512 by default).

    Each encoder level is two 3×3 same-padded ReLU convolutions then 2×2 max pooling; the
    bottom level has ``16 * filters`` filters. Each decoder level is a 2×2 stride-2
    transposed convolution with the level's filter count, concatenation with the encoder
    skip and two 3×3 ReLU convolutions. A 1×1 convolution to ``n_classes`` and a float32
    softmax end the model. No batch norm, no dropout. Inputs are RGB in [0, 1], used as
    they are; height and width must be divisible by 16. With ``filters=32`` and three
    classes the model has 7,760,163 parameters.

    Parameters
    ----------
    filters : int
        Filters of the first level (Ronneberger et al. use 64; the seed 32).
    n_classes : int
        Number of output classes.
    input_shape : tuple
        ``(height, width, channels)``; ``None`` for any size.

    Returns
    -------
    tf.keras.Model
        Named ``unet``; output ``(batch, H, W, n_classes)`` float32 probabilities.
    """
    inputs = tf.keras.Input(shape=input_shape, name="image")
    x = inputs
    skips = []
    for level in range(UNET_DEPTH):
        x = _double_conv(x, filters * 2**level, f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    x = _double_conv(x, filters * 2**UNET_DEPTH, "bottleneck")
    for level in reversed(range(UNET_DEPTH)):
        width = filters * 2**level
        x = layers.Conv2DTranspose(width, 2, strides=2, padding="same",
                                   kernel_initializer="he_normal", name=f"dec{level}_up")(x)
        x = layers.Concatenate(name=f"dec{level}_concat")([x, skips[level]])
        x = _double_conv(x, width, f"dec{level}")
    x = layers.Conv2D(n_classes, 1, name="logits")(x)
    return tf.keras.Model(inputs, softmax_head(x), name="unet")


__all__ = [
    "UNET_DEPTH",
    "unet",
]
