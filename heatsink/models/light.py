"""A light segmentation net built for a CPU: little work at full resolution, none memory-bound.

The GSLU-style net spends most of its time at full resolution in depthwise convolutions,
squeeze-and-excitation and concatenations of wide maps, which run memory-bound on a CPU.
:func:`light_net` does the opposite: a stride-2 stem, plain 3×3 convolutions while the maps
are large and the channels few (oneDNN's direct convolution runs them fast), depthwise-
separable blocks only at ⅛ resolution and below where the channels are many and the maps
small, a light decoder with skip connections back to ½ resolution, and a float32 softmax at
full resolution over logits upsampled bilinearly from ½ resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.models.gslu import BN_MOMENTUM
from heatsink.models.layers import softmax_head

layers = tf.keras.layers

#: Channel widths at strides 2, 4, 8, 16 and 32 (the last one the bottleneck).
LIGHT_WIDTHS = (16, 32, 64, 96, 128)
#: Decoder widths at strides 16, 8, 4 and 2.
LIGHT_DECODER_WIDTHS = (64, 48, 32, 16)
#: Encoder levels (0 = stride 2) built from plain 3×3 convolutions; deeper ones are
#: depthwise-separable.
PLAIN_LEVELS = 2


def _bn_relu(x: tf.Tensor, name: str) -> tf.Tensor:
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def conv_bn_relu(x: tf.Tensor, filters: int, name: str, kernel_size: int = 3,
                 strides: int = 1) -> tf.Tensor:
    """Plain ``Conv2D → BN → ReLU`` (no bias: the batch norm has one)."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    return _bn_relu(x, name)


def separable_bn_relu(x: tf.Tensor, filters: int, name: str, strides: int = 1,
                      dilation: int = 1) -> tf.Tensor:
    """Depthwise 3×3 → BN → ReLU, then pointwise 1×1 → BN → ReLU (MobileNet's block).

    With ``strides=1``, ``dilation`` widens the depthwise kernel's reach at no cost.
    """
    x = layers.DepthwiseConv2D(3, strides=strides, dilation_rate=dilation, padding="same",
                               use_bias=False, name=f"{name}_dw")(x)
    x = _bn_relu(x, f"{name}_dw")
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    return _bn_relu(x, f"{name}_pw")


def light_net(
    n_classes: int = 3,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    widths: Sequence[int] = LIGHT_WIDTHS,
    decoder_widths: Sequence[int] = LIGHT_DECODER_WIDTHS,
    plain_levels: int = PLAIN_LEVELS,
) -> tf.keras.Model:
    """A light encoder–decoder for CPU inference: nothing heavy at full resolution.

    Encoder, one level per width, each halving the resolution (stride 2 … 32):

    * level 0 (½ resolution) is the stem: a stride-2 3×3 convolution of the image, then a
      3×3 convolution; it sees every input pixel, so a 1-pixel scratch still reaches it;
    * levels below ``plain_levels`` are a stride-2 3×3 convolution then a 3×3 convolution;
    * deeper levels are a stride-2 depthwise-separable block then one more, dilated 2 at
      stride 16 and 32 for context.

    Decoder, from the bottleneck back to ½ resolution: at each level a bilinear 2×
    upsampling, concatenation with the encoder's map of that level, a 1×1 convolution to the
    level's decoder width and a depthwise-separable block (a plain 3×3 convolution at ½
    resolution, where the channels are few). A 1×1 convolution to ``n_classes`` logits at
    ½ resolution, bilinear 2× upsampling and a float32 softmax named ``softmax`` end the
    model. Every convolution is followed by batch norm (momentum ``BN_MOMENTUM``, as the
    GSLU-style net) and ReLU. Inputs are RGB in [0, 1], used as they are; height and width
    must be divisible by ``2 ** len(widths)`` (32 by default).

    Parameters
    ----------
    n_classes : int
        Number of output classes.
    input_shape : tuple
        ``(height, width, channels)``; ``None`` for any size.
    widths : sequence of int
        Encoder widths at strides 2, 4, …, the last one the bottleneck.
    decoder_widths : sequence of int
        Decoder widths, deepest first: one fewer than ``widths``.
    plain_levels : int
        Encoder levels made of plain 3×3 convolutions (the others are depthwise-separable).

    Returns
    -------
    tf.keras.Model
        Named ``light_net``; output ``(batch, H, W, n_classes)`` float32 probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> model = light_net()
    >>> model.count_params() < 200_000
    True
    >>> model(np.zeros((1, 64, 96, 3), np.float32)).shape
    TensorShape([1, 64, 96, 3])
    """
    widths = [int(w) for w in widths]
    decoder_widths = [int(w) for w in decoder_widths]
    if len(widths) < 2 or len(decoder_widths) != len(widths) - 1:
        raise HeatsinkError(f"light_net needs at least two encoder widths and one decoder width "
                            f"fewer, got {widths} and {decoder_widths}")
    inputs = tf.keras.Input(shape=input_shape, name="image")
    x = inputs
    skips = []
    for level, width in enumerate(widths):
        name = f"enc{level}"
        if level < plain_levels:
            x = conv_bn_relu(x, width, f"{name}_down", strides=2)
            x = conv_bn_relu(x, width, f"{name}_block")
        else:
            x = separable_bn_relu(x, width, f"{name}_down", strides=2)
            x = separable_bn_relu(x, width, f"{name}_block", dilation=2 if level >= 3 else 1)
        skips.append(x)
    x = skips.pop()
    for level, width in zip(reversed(range(len(skips))), decoder_widths, strict=True):
        name = f"dec{level}"
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
        x = layers.Concatenate(name=f"{name}_concat")([x, skips[level]])
        if level < 1:
            x = conv_bn_relu(x, width, f"{name}_block")
        else:
            x = conv_bn_relu(x, width, f"{name}_fuse", kernel_size=1)
            x = separable_bn_relu(x, width, f"{name}_block")
    x = layers.Conv2D(n_classes, 1, name="logits")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear", name="logits_up")(x)
    return tf.keras.Model(inputs, softmax_head(x), name="light_net")


__all__ = [
    "LIGHT_DECODER_WIDTHS",
    "LIGHT_WIDTHS",
    "PLAIN_LEVELS",
    "conv_bn_relu",
    "light_net",
    "separable_bn_relu",
]
