"""A light segmentation net built for a CPU: little work at full resolution, none memory-bound.

The GSLU-style net spends most of its time at full resolution in depthwise convolutions,
squeeze-and-excitation and concatenations of wide maps, which run memory-bound on a CPU.
:func:`light_net` does the opposite: a stride-2 stem, so nothing but the logits' upsampling
and the softmax runs at full resolution; plain 3×3 convolutions (oneDNN's direct
convolution runs them near the machine's matmul rate), optionally depthwise-separable
blocks at the deeper levels; a light decoder with skip connections back to ½ resolution;
and a float32 softmax at full resolution over logits upsampled bilinearly from ½
resolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.models.layers import softmax_head

layers = tf.keras.layers

#: Channel widths at strides 2, 4, 8, 16 and 32 (the last one the bottleneck).
LIGHT_WIDTHS = (32, 64, 96, 128, 160)
#: 3×3 convolutions after each level's stride-2 convolution: two at strides 2 and 4, where a
#: thin scratch is still a few pixels wide. On twin 1.4.4 by the plan's recipe (wcce+dice,
#: seed 0, validation split against the truth) one block per level scored a defect mIoU of
#: 53.6 %, these blocks 55.7 % (the GSLU-style net 56.9 %), for 4.1 GFLOP per 320² frame
#: instead of 3.2; wider deep levels (32-64-128-192-256) scored 54.9 %, and a learned
#: sub-pixel head on one block per level 53.6 % (:data:`HEADS`).
LIGHT_BLOCKS = (2, 2, 1, 1, 1)
#: Decoder widths at strides 16, 8, 4 and 2.
LIGHT_DECODER_WIDTHS = (96, 64, 48, 32)
#: Levels (0 = stride 2) built from plain 3×3 convolutions; deeper ones, encoder and decoder,
#: from depthwise-separable blocks. All plain by default: they train faster per epoch.
PLAIN_LEVELS = 5
#: Batch-norm moving-average momentum. The GSLU-style net's 0.9 (see
#: :data:`heatsink.models.gslu.BN_MOMENTUM`) still lagged this net's faster-changing weights
#: in an 8-epoch CPU run on the twin: in inference mode it marked 35–41 % of validation
#: pixels as scratch where the training-mode net marked 6 %, and the validation defect IoU
#: jumped between 0.03 and 0.14 from epoch to epoch. 0.5 (~2 steps) tracks them.
LIGHT_BN_MOMENTUM = 0.5
#: How the ½-resolution logits reach full resolution: ``"bilinear"`` upsampling alone,
#: ``"subpixel"``: bilinear plus a learned 2×2 sub-pixel correction (a stride-2, 2×2
#: transposed convolution of the last decoder map, zero at the start, in the manner of
#: dense upsampling convolution), which lets a boundary fall between two ½-resolution pixels,
#: or ``"refine"``: a thin full-resolution stage (:data:`REFINE_WIDTH` channels) that fuses the
#: upsampled decoder map with a 3×3 convolution of the input itself, so that a 1–3 px scratch
#: is drawn from full-resolution evidence, as the GSLU-style net draws it.
HEADS = ("bilinear", "subpixel", "refine")
#: Channels of the ``"refine"`` head's full-resolution stage.
REFINE_WIDTH = 12


def conv_bn_relu(x: tf.Tensor, filters: int, name: str, kernel_size: int = 3,
                 strides: int = 1, momentum: float = LIGHT_BN_MOMENTUM) -> tf.Tensor:
    """Plain ``Conv2D → BN → ReLU`` (no bias: the batch norm has one)."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def separable_bn_relu(x: tf.Tensor, filters: int, name: str, strides: int = 1,
                      dilation: int = 1, momentum: float = LIGHT_BN_MOMENTUM) -> tf.Tensor:
    """Depthwise 3×3 → BN → ReLU, then pointwise 1×1 → BN → ReLU (MobileNet's block).

    With ``strides=1``, ``dilation`` widens the depthwise kernel's reach at no cost.
    """
    x = layers.DepthwiseConv2D(3, strides=strides, dilation_rate=dilation, padding="same",
                               use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=momentum, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(name=f"{name}_dw_relu")(x)
    return conv_bn_relu(x, filters, f"{name}_pw", kernel_size=1, momentum=momentum)


def light_net(
    n_classes: int = 3,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
    widths: Sequence[int] = LIGHT_WIDTHS,
    blocks: Sequence[int] = LIGHT_BLOCKS,
    decoder_widths: Sequence[int] = LIGHT_DECODER_WIDTHS,
    plain_levels: int = PLAIN_LEVELS,
    bn_momentum: float = LIGHT_BN_MOMENTUM,
    head: str = "bilinear",
) -> tf.keras.Model:
    """A light encoder–decoder for CPU inference: nothing heavy at full resolution.

    Encoder, one level per width, each halving the resolution (stride 2 … 32): a stride-2
    3×3 convolution, then ``blocks[level]`` 3×3 convolutions. Level 0 is the stem: its
    stride-2 convolution sees every input pixel, so a 1-pixel scratch still reaches the
    ½-resolution maps. Levels from ``plain_levels`` on use depthwise-separable blocks
    instead of plain convolutions (dilated 2 at stride 16 and below, for context).

    Decoder, from the bottleneck back to ½ resolution: at each level a bilinear 2×
    upsampling, concatenation with the encoder's map of that level, a 1×1 convolution to the
    level's decoder width and one 3×3 convolution (or separable block). A 1×1 convolution to
    ``n_classes`` logits at ½ resolution, bilinear 2× upsampling (plus, with
    ``head="subpixel"``, a learned sub-pixel correction; ``head="refine"`` instead ends at full
    resolution: :data:`HEADS`) and a float32 softmax
    named ``softmax`` end the model. Every convolution but the logits' is followed by batch norm
    (momentum ``bn_momentum``) and ReLU. Inputs are RGB in [0, 1], used as they are; height
    and width must be divisible by ``2 ** len(widths)`` (32 by default). With the defaults
    and three classes: 1,127,107 parameters, 4.1 GFLOP per 320² frame.

    Parameters
    ----------
    n_classes : int
        Number of output classes.
    input_shape : tuple
        ``(height, width, channels)``; ``None`` for any size.
    widths : sequence of int
        Encoder widths at strides 2, 4, …, the last one the bottleneck.
    blocks : sequence of int
        3×3 convolutions (or separable blocks) after each level's stride-2 one.
    decoder_widths : sequence of int
        Decoder widths, deepest first: one fewer than ``widths``.
    plain_levels : int
        Levels made of plain 3×3 convolutions (the deeper ones are depthwise-separable).
    bn_momentum : float
        Batch-norm moving-average momentum (see :data:`LIGHT_BN_MOMENTUM`).
    head : str
        One of :data:`HEADS`.

    Returns
    -------
    tf.keras.Model
        Named ``light_net``; output ``(batch, H, W, n_classes)`` float32 probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> model = light_net()
    >>> model.count_params()
    1127107
    >>> model(np.zeros((1, 64, 96, 3), np.float32)).shape
    TensorShape([1, 64, 96, 3])
    >>> light_net(head="subpixel").count_params() - model.count_params()
    387
    >>> light_net(head="refine").count_params() - model.count_params()
    3384
    """
    widths = [int(w) for w in widths]
    blocks = [int(b) for b in blocks]
    decoder_widths = [int(w) for w in decoder_widths]
    if len(widths) < 2 or len(decoder_widths) != len(widths) - 1 or len(blocks) != len(widths):
        raise HeatsinkError(f"light_net needs at least two encoder widths, as many block counts "
                            f"and one decoder width fewer, got {widths}, {blocks} and "
                            f"{decoder_widths}")
    if head not in HEADS:
        raise HeatsinkError(f"light_net's head is one of {HEADS}, not {head!r}")

    def conv(x: tf.Tensor, width: int, level: int, name: str, strides: int = 1) -> tf.Tensor:
        if level < plain_levels:
            return conv_bn_relu(x, width, name, strides=strides, momentum=bn_momentum)
        dilation = 2 if level >= 3 and strides == 1 else 1
        return separable_bn_relu(x, width, name, strides=strides, dilation=dilation,
                                 momentum=bn_momentum)

    inputs = tf.keras.Input(shape=input_shape, name="image")
    x = inputs
    skips = []
    for level, (width, n_blocks) in enumerate(zip(widths, blocks, strict=True)):
        x = conv(x, width, level, f"enc{level}_down", strides=2)
        for k in range(n_blocks):
            x = conv(x, width, level, f"enc{level}_block{k}")
        skips.append(x)
    x = skips.pop()
    for level, width in zip(reversed(range(len(skips))), decoder_widths, strict=True):
        name = f"dec{level}"
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)
        x = layers.Concatenate(name=f"{name}_concat")([x, skips[level]])
        x = conv_bn_relu(x, width, f"{name}_fuse", kernel_size=1, momentum=bn_momentum)
        x = conv(x, width, level, f"{name}_block")
    features = x
    if head == "refine":
        x = conv_bn_relu(features, REFINE_WIDTH, "refine_proj", kernel_size=1,
                         momentum=bn_momentum)
        x = layers.UpSampling2D(2, interpolation="bilinear", name="refine_up")(x)
        stem = conv_bn_relu(inputs, REFINE_WIDTH, "refine_stem", momentum=bn_momentum)
        x = layers.Concatenate(name="refine_concat")([x, stem])
        x = conv_bn_relu(x, REFINE_WIDTH, "refine_block", momentum=bn_momentum)
        x = layers.Conv2D(n_classes, 1, name="logits")(x)
        return tf.keras.Model(inputs, softmax_head(x), name="light_net")
    x = layers.Conv2D(n_classes, 1, name="logits")(x)
    x = layers.UpSampling2D(2, interpolation="bilinear", name="logits_up")(x)
    if head == "subpixel":
        fine = layers.Conv2DTranspose(n_classes, 2, strides=2, kernel_initializer="zeros",
                                      name="logits_subpixel")(features)
        x = layers.Add(name="logits_full")([x, fine])
    return tf.keras.Model(inputs, softmax_head(x), name="light_net")


__all__ = [
    "HEADS",
    "LIGHT_BLOCKS",
    "LIGHT_BN_MOMENTUM",
    "LIGHT_DECODER_WIDTHS",
    "LIGHT_WIDTHS",
    "PLAIN_LEVELS",
    "REFINE_WIDTH",
    "conv_bn_relu",
    "light_net",
    "separable_bn_relu",
]
