"""GSLU-Net (Ghost-SE light U-Net), reimplemented from Yang et al. (2022)'s description."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.models.layers import softmax_head

layers = tf.keras.layers

#: Channel widths per level, full resolution first; the last is the bottleneck.
GSLU_WIDTHS = (22, 44, 88, 176)


#: Batch-norm moving-average momentum. Keras's default, 0.99, averages over ~100 steps; in a
#: short CPU run at Adam's default step the weights change faster than that, and after 5
#: epochs on the twin the inference-mode model predicted background everywhere while the
#: training-mode model marked 8 % of pixels as defects (recomputing the statistics with the
#: current weights restored 5 %). 0.9 (~10 steps) tracks the weights.
BN_MOMENTUM = 0.9


def ghost_module(x: tf.Tensor, channels: int, kernel_size: int, name: str) -> tf.Tensor:
    """Ghost module: a primary convolution gives half the channels, a depthwise 3×3 the rest.

    ``Conv2D(channels/2, k) → BN → ReLU`` yields the intrinsic maps; a cheap
    ``DepthwiseConv2D(3×3) → BN → ReLU`` on them yields as many "ghost" maps; both are
    concatenated (GhostNet, Han et al. 2020, ratio s = 2).
    """
    if channels % 2:
        raise HeatsinkError(f"ghost module width must be even, got {channels}")
    primary = layers.Conv2D(
        channels // 2, kernel_size, padding="same", use_bias=False, name=f"{name}_primary"
    )(x)
    primary = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_primary_bn")(primary)
    primary = layers.ReLU(name=f"{name}_primary_relu")(primary)
    cheap = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_cheap")(primary)
    cheap = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_cheap_bn")(cheap)
    cheap = layers.ReLU(name=f"{name}_cheap_relu")(cheap)
    return layers.Concatenate(name=f"{name}_concat")([primary, cheap])


def se_block(x: tf.Tensor, channels: int, ratio: int, name: str) -> tf.Tensor:
    """Squeeze-and-excitation (Hu et al. 2018): channel weights from global average pooling."""
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = layers.Dense(max(channels // ratio, 4), activation="relu", name=f"{name}_reduce")(s)
    s = layers.Dense(channels, activation="sigmoid", name=f"{name}_expand")(s)
    return layers.Multiply(name=f"{name}_scale")([x, s])


def ghost_se_block(x: tf.Tensor, channels: int, se_ratio: int, name: str) -> tf.Tensor:
    """Two ghost modules (3×3 then 1×1 primary convolution) followed by an SE block."""
    x = ghost_module(x, channels, 3, f"{name}_ghost1")
    x = ghost_module(x, channels, 1, f"{name}_ghost2")
    return se_block(x, channels, se_ratio, f"{name}_se")


def gslu_net(
    n_classes: int = 3,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    widths: Sequence[int] = GSLU_WIDTHS,
    se_ratio: int = 8,
) -> tf.keras.Model:
    """GSLU-Net-like light U-Net of Ghost modules and squeeze-and-excitation blocks.

    A reimplementation from the description in Yang, Liu, Zhang & Cao, "Surface Defect
    Detection of Heat Sink Based on Lightweight Fully Convolutional Network", IEEE TIM 71
    (2022) 2512912 — **not** the authors' code. The paper's abstract fixes the ingredients
    (Ghost modules, SE blocks, a symmetric U with fewer downsamplings and skip connections);
    widths and block layout are our choices, set so that the defaults give 276,330
    parameters (three classes), next to the paper's ≈ 276 k.

    Design: a symmetric U. Each level is a Ghost-SE block (ghost module with a 3×3 primary
    conv, ghost module with a 1×1 primary conv, SE with reduction ``se_ratio``). The encoder
    has ``len(widths) - 1`` levels separated by 2×2 max pooling — three downsamplings, one
    fewer than U-Net, as the paper favours for tiny defects — then a bottleneck block; the
    decoder mirrors it with bilinear 2× upsampling, concatenation of the encoder skip and a
    Ghost-SE block of that level's width. A 1×1 convolution to ``n_classes`` and a float32
    softmax end the model. Inputs are RGB in [0, 1], used as they are; height and width must
    be divisible by ``2 ** (len(widths) - 1)``.

    Parameters
    ----------
    n_classes : int
        Number of output classes.
    input_shape : tuple
        ``(height, width, channels)``; ``None`` for any size.
    widths : sequence of int
        Even channel widths per level, full resolution first, the last one the bottleneck.
    se_ratio : int
        Channel reduction of the SE blocks.

    Returns
    -------
    tf.keras.Model
        Named ``gslu_net``; output ``(batch, H, W, n_classes)`` float32 probabilities.
    """
    widths = [int(w) for w in widths]
    if len(widths) < 2:
        raise HeatsinkError(f"gslu_net needs at least two widths, got {widths}")
    inputs = tf.keras.Input(shape=input_shape, name="image")
    x = inputs
    skips = []
    for level, width in enumerate(widths[:-1]):
        x = ghost_se_block(x, width, se_ratio, f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
    x = ghost_se_block(x, widths[-1], se_ratio, "bottleneck")
    for level in reversed(range(len(widths) - 1)):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"dec{level}_up")(x)
        x = layers.Concatenate(name=f"dec{level}_concat")([x, skips[level]])
        x = ghost_se_block(x, widths[level], se_ratio, f"dec{level}")
    x = layers.Conv2D(n_classes, 1, name="logits")(x)
    return tf.keras.Model(inputs, softmax_head(x), name="gslu_net")


__all__ = [
    "BN_MOMENTUM",
    "GSLU_WIDTHS",
    "ghost_module",
    "ghost_se_block",
    "gslu_net",
    "se_block",
]
