"""Building blocks shared by every model: input preprocessing and the float32 softmax head."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

#: ImageNet channel means in BGR order, as subtracted by Keras' "caffe" preprocessing.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)


@tf.keras.utils.register_keras_serializable(package="heatsink")
class CaffePreprocessing(tf.keras.layers.Layer):
    """Keras "caffe" preprocessing for inputs in [0, 1]: ×255, RGB→BGR, minus the ImageNet mean.

    Equals ``tf.keras.applications.resnet50.preprocess_input(x * 255)`` (and VGG16's, which
    is the same function). The layer computes in float32 whatever the global mixed-precision
    policy is, so the subtraction is exact to float32; the next layer casts as it needs.

    Parameters
    ----------
    scale : float
        Factor taking the input to the 0–255 range (255 for inputs in [0, 1]).
    **kwargs
        Passed to :class:`tf.keras.layers.Layer` (``name``, ...).
    """

    def __init__(self, scale: float = 255.0, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        x = tf.cast(inputs, tf.float32) * self.scale
        return x[..., ::-1] - tf.constant(IMAGENET_BGR_MEAN, tf.float32)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


def softmax_head(x: tf.Tensor) -> tf.Tensor:
    """The last layer of every model: a float32 softmax named ``softmax``.

    With ``dtype="float32"`` the probabilities stay float32 under a ``mixed_bfloat16`` (or
    ``mixed_float16``) global policy, as losses and metrics want.
    """
    return tf.keras.layers.Activation("softmax", dtype="float32", name="softmax")(x)


__all__ = [
    "IMAGENET_BGR_MEAN",
    "CaffePreprocessing",
    "softmax_head",
]
