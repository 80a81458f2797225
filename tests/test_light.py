"""The light CPU model: its architecture, what runs at full resolution, and thin lines."""

from __future__ import annotations

import heatsink  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow is imported)

# isort: split
import cv2
import numpy as np
import pytest
import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.models import build_model, count_params, light_net
from heatsink.models.light import (
    LIGHT_BLOCKS,
    LIGHT_BN_MOMENTUM,
    LIGHT_DECODER_WIDTHS,
    LIGHT_WIDTHS,
    PLAIN_LEVELS,
)


def _conv(kernel: int, c_in: int, c_out: int) -> int:
    """A bias-free convolution followed by batch norm (4 values per channel)."""
    return kernel * kernel * c_in * c_out + 4 * c_out


def _separable(c_in: int, c_out: int) -> int:
    """Depthwise 3×3 + BN, then pointwise 1×1 + BN."""
    return 9 * c_in + 4 * c_in + c_in * c_out + 4 * c_out


def test_parameter_count_matches_the_architecture():
    expected, c_in = 0, 3
    for level, (width, blocks) in enumerate(zip(LIGHT_WIDTHS, LIGHT_BLOCKS, strict=True)):
        block = _conv if level < PLAIN_LEVELS else lambda k, i, o: _separable(i, o)
        expected += block(3, c_in, width) + blocks * block(3, width, width)
        c_in = width
    skips = LIGHT_WIDTHS[:-1]
    for level, width in zip(reversed(range(len(skips))), LIGHT_DECODER_WIDTHS, strict=True):
        block = _conv if level < PLAIN_LEVELS else lambda k, i, o: _separable(i, o)
        expected += _conv(1, c_in + skips[level], width) + block(3, width, width)
        c_in = width
    expected += c_in * 3 + 3  # 1×1 logits with bias
    assert count_params(build_model("light")) == expected


def test_separable_levels_are_depthwise_separable():
    model = light_net(plain_levels=2)
    names = {layer.name for layer in model.layers}
    assert {"enc1_down_conv", "dec1_block_conv"} <= names
    assert {"enc2_down_dw", "enc2_down_pw_conv", "dec2_block_dw", "enc4_block0_dw"} <= names
    assert model.get_layer("enc4_block0_dw").dilation_rate == (2, 2)
    assert model.get_layer("enc4_down_dw").dilation_rate == (1, 1)


def test_nothing_but_the_upsampled_logits_runs_at_full_resolution():
    size = 320
    model = light_net(input_shape=(size, size, 3))
    full = [layer.name for layer in model.layers[1:]
            if layer.output_shape[1] == size]
    assert full == ["logits_up", "softmax"]
    convs = [layer for layer in model.layers
             if isinstance(layer, tf.keras.layers.Conv2D | tf.keras.layers.DepthwiseConv2D)]
    assert max(layer.output_shape[1] for layer in convs) == size // 2
    assert convs[0].strides == (2, 2)
    assert model.get_layer("logits").output_shape[-1] == 3


def test_the_subpixel_head_starts_as_the_bilinear_one_and_is_its_only_full_resolution_work():
    size = 64
    plain = light_net(input_shape=(size, size, 3))
    subpixel = light_net(input_shape=(size, size, 3), head="subpixel")
    for layer in plain.layers:
        subpixel.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).random((2, size, size, 3), np.float32)
    np.testing.assert_allclose(subpixel(x), plain(x), atol=1e-6)  # zero at the start
    full = [layer.name for layer in subpixel.layers[1:] if layer.output_shape[1] == size]
    assert full == ["logits_up", "logits_subpixel", "logits_full", "softmax"]
    kernel = subpixel.get_layer("logits_subpixel").kernel
    assert kernel.shape == (2, 2, 3, LIGHT_DECODER_WIDTHS[-1])  # 2×2 blocks, no overlap
    with pytest.raises(HeatsinkError, match="head is one of"):
        light_net(head="nearest")


def test_batch_norm_tracks_fast_changing_weights():
    norms = [layer for layer in light_net().layers
             if isinstance(layer, tf.keras.layers.BatchNormalization)]
    assert norms and all(layer.momentum == LIGHT_BN_MOMENTUM for layer in norms)
    assert all(layer.momentum == 0.9 for layer in light_net(bn_momentum=0.9).layers
               if isinstance(layer, tf.keras.layers.BatchNormalization))


def test_bad_widths_raise():
    with pytest.raises(HeatsinkError, match="one decoder width fewer"):
        light_net(widths=(16, 32, 64), blocks=(1, 1, 1), decoder_widths=(16,))
    with pytest.raises(HeatsinkError, match="as many block counts"):
        light_net(widths=(16, 32, 64), blocks=(1, 1), decoder_widths=(32, 16))
    with pytest.raises(HeatsinkError, match="light_net needs at least two"):
        light_net(widths=(16,), blocks=(1,), decoder_widths=())
    with pytest.raises(HeatsinkError, match="no pretrained encoder"):
        build_model("light", encoder_weights="imagenet")


def _thin_lines(n: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy grey frames with faint 1-pixel lines; labels are 5-pixel bands around them."""
    images = np.empty((n, size, size, 3), np.float32)
    labels = np.zeros((n, size, size), np.uint8)
    for k in range(n):
        image = 0.5 + 0.04 * rng.standard_normal((size, size)).astype(np.float32)
        for _ in range(2):
            p0, p1 = (tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2))
            cv2.line(image, p0, p1, 0.62, 1)
            cv2.line(labels[k], p0, p1, 1, 5)
        images[k] = image[..., None]
    return np.clip(images, 0, 1), labels


def test_learns_faint_one_pixel_lines():
    """Faint 1-px lines (+0.12 over noise of σ 0.04) at ½-resolution features: the stem and
    the ½-resolution decoder must keep them. A short fit must find most of the bands."""
    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    size = 64
    x, y = _thin_lines(96, size, rng)
    model = light_net(n_classes=2)
    model.compile(tf.keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=16, epochs=12, verbose=0)
    x_test, y_test = _thin_lines(16, size, rng)
    pred = model.predict(x_test, verbose=0).argmax(-1)
    line, found = y_test == 1, pred == 1
    iou = (line & found).sum() / (line | found).sum()
    assert iou > 0.5, f"line IoU {iou:.3f}"
