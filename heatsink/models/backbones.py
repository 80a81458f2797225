"""U-Nets from segmentation-models with ResNet50 and VGG16 encoders.

segmentation-models' own ``resnet50`` backbone is the network of ``image-classifiers``, not
Keras' ResNet50, so :func:`register_keras_resnet50` adds ``tf.keras.applications.ResNet50``
to its backbone factory under :data:`KERAS_RESNET50`. VGG16 is segmentation-models' own
(keras-applications' VGG16, the same network as ``tf.keras.applications.VGG16``).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.models.layers import CaffePreprocessing, softmax_head

#: Name of Keras' ResNet50 in segmentation-models' backbone factory.
KERAS_RESNET50 = "keras_resnet50"

#: Skip-connection layers of Keras' ResNet50, at 1/16, 1/8, 1/4 and 1/2 of the input size.
RESNET50_FEATURES = ("conv4_block6_out", "conv3_block4_out", "conv2_block3_out", "conv1_relu")

#: Backbones accepted by :func:`sm_unet` and their segmentation-models names.
SM_BACKBONES = {"resnet50": KERAS_RESNET50, "vgg16": "vgg16"}

ENCODER_WEIGHTS = (None, "imagenet")


def _keras_resnet50(
    include_top: bool = False,
    weights: str | None = None,
    input_tensor: tf.Tensor | None = None,
    input_shape: tuple[int | None, int | None, int] | None = None,
    **_submodules: Any,
) -> tf.keras.Model:
    """Keras' ResNet50 as a segmentation-models backbone.

    segmentation-models passes its Keras submodules (``backend``, ``layers``...) as keyword
    arguments, which Keras' constructor does not take; they are dropped. ImageNet weights
    come from :func:`heatsink.weights.load_resnet50_imagenet` (loaded by layer name into the
    encoder built without weights), as Keras' own download is not reachable here.
    """
    if include_top:
        raise HeatsinkError("the keras_resnet50 backbone is an encoder: include_top must be False")
    if weights not in ENCODER_WEIGHTS:
        raise HeatsinkError(f"encoder weights must be one of {ENCODER_WEIGHTS}, got {weights!r}")
    model = tf.keras.applications.ResNet50(
        include_top=False, weights=None, input_tensor=input_tensor, input_shape=input_shape
    )
    if weights == "imagenet":
        from heatsink.weights import load_resnet50_imagenet

        load_resnet50_imagenet(model)
    return model


def _resnet50_preprocess(x: Any, **_submodules: Any) -> Any:
    """``tf.keras.applications.resnet50.preprocess_input`` for segmentation-models (0–255 input)."""
    return tf.keras.applications.resnet50.preprocess_input(x)


def register_keras_resnet50() -> str:
    """Register Keras' ResNet50 with segmentation-models' backbone factory (idempotent).

    Only the factory instance ``segmentation_models.Backbones`` changes: it gets its own
    copies of the class dictionaries ``_models_update`` and ``_default_feature_layers``
    with one entry more, so the class and its other users stay as they were.

    Returns
    -------
    str
        The backbone name, :data:`KERAS_RESNET50`.
    """
    import segmentation_models as sm

    factory = sm.Backbones
    if KERAS_RESNET50 not in factory.models_names():
        factory._models_update = {
            **factory._models_update,
            KERAS_RESNET50: [_keras_resnet50, _resnet50_preprocess],
        }
        factory._default_feature_layers = {
            **factory._default_feature_layers,
            KERAS_RESNET50: RESNET50_FEATURES,
        }
    return KERAS_RESNET50


def sm_unet(
    backbone: str,
    n_classes: int = 3,
    encoder_weights: str | None = None,
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
) -> tf.keras.Model:
    """segmentation-models U-Net with a ResNet50 or VGG16 encoder, for RGB inputs in [0, 1].

    The model is ``image → CaffePreprocessing → sm_unet_<backbone> → softmax``: the
    encoders' Keras preprocessing (×255, RGB→BGR, minus the ImageNet mean), then
    ``segmentation_models.Unet`` as one nested layer (get it with :func:`sm_core`; its
    encoder layers keep their Keras names, e.g. ``conv2_block1_1_conv``) with the library's
    default decoder (upsampling blocks of 256-128-64-32-16 filters with batch norm) and
    linear 3×3 ``final_conv`` head, then a float32 softmax. The encoder is nested rather
    than spliced in so that it is a genuine Keras application instance (which
    :func:`heatsink.weights.load_resnet50_imagenet` expects); segmentation-models offers no
    way to build its U-Net on a given input tensor. Height and width must be divisible by 32.

    Parameters
    ----------
    backbone : {"resnet50", "vgg16"}
        Encoder: ``tf.keras.applications.ResNet50`` or VGG16.
    n_classes : int
        Number of output classes.
    encoder_weights : {None, "imagenet"}
        Random initialisation or ImageNet weights (ResNet50 only, through
        :func:`heatsink.weights.load_resnet50_imagenet`).
    input_shape : tuple
        ``(height, width, channels)``; ``None`` for any size.

    Returns
    -------
    tf.keras.Model
        Named ``unet_<backbone>``; output ``(batch, H, W, n_classes)`` float32 probabilities.

    Raises
    ------
    HeatsinkError
        For an unknown backbone or weights, or ImageNet weights asked for VGG16.
    """
    if backbone not in SM_BACKBONES:
        raise HeatsinkError(f"unknown backbone {backbone!r}; choose one of {tuple(SM_BACKBONES)}")
    if encoder_weights not in ENCODER_WEIGHTS:
        raise HeatsinkError(
            f"encoder_weights must be one of {ENCODER_WEIGHTS}, got {encoder_weights!r}"
        )
    if backbone == "vgg16" and encoder_weights is not None:
        raise HeatsinkError(
            "no ImageNet weights for VGG16 are available here: use encoder_weights=None "
            "(random initialisation) or the resnet50 backbone"
        )
    import segmentation_models as sm

    register_keras_resnet50()
    core = sm.Unet(
        SM_BACKBONES[backbone],
        input_shape=input_shape,
        classes=n_classes,
        activation="linear",
        encoder_weights=encoder_weights,
    )
    core = tf.keras.Model(core.input, core.output, name=f"sm_unet_{backbone}")
    inputs = tf.keras.Input(shape=input_shape, name="image")
    x = CaffePreprocessing(name="caffe_preprocessing")(inputs)
    return tf.keras.Model(inputs, softmax_head(core(x)), name=f"unet_{backbone}")


def sm_core(model: tf.keras.Model) -> tf.keras.Model:
    """The segmentation-models U-Net nested in a model built by :func:`sm_unet`.

    Its layers are the encoder's (Keras names, e.g. ``conv2_block1_1_conv``) and the
    decoder's (``decoder_stage0a_conv``...), for feature extraction or freezing.
    """
    for layer in model.layers:
        if isinstance(layer, tf.keras.Model) and layer.name.startswith("sm_unet_"):
            return layer
    raise HeatsinkError(f"model {model.name!r} has no nested segmentation-models U-Net")


__all__ = [
    "ENCODER_WEIGHTS",
    "KERAS_RESNET50",
    "RESNET50_FEATURES",
    "SM_BACKBONES",
    "register_keras_resnet50",
    "sm_core",
    "sm_unet",
]
