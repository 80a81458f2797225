"""Segmentation models of the study, built segmentation-models style.

Five models, by :data:`MODEL_NAMES`:

* ``"unet"`` — :func:`unet`, the seed's half-width U-Net (7.76 M parameters);
* ``"resnet50"`` / ``"vgg16"`` — :func:`sm_unet`, segmentation-models U-Nets with Keras'
  ResNet50 or VGG16 encoder;
* ``"gslu"`` — :func:`gslu_net`, a light Ghost-SE U-Net after Yang et al. (2022);
* ``"light"`` — :func:`light_net`, a light encoder–decoder built for CPU inference.

Every model takes float32 RGB images in [0, 1] of any size divisible by 32 and ends with a
float32 softmax layer named ``softmax`` (so outputs stay float32 under mixed precision).
Importing this package imports TensorFlow (after :mod:`heatsink` itself, which selects
legacy Keras 2 first) and registers the custom layers, so :func:`load_model` (or
``tf.keras.models.load_model``) can read saved models back.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.models.backbones import (
    KERAS_RESNET50,
    SM_BACKBONES,
    register_keras_resnet50,
    sm_core,
    sm_unet,
)
from heatsink.models.gslu import GSLU_WIDTHS, gslu_net
from heatsink.models.layers import CaffePreprocessing, softmax_head
from heatsink.models.light import LIGHT_WIDTHS, light_net
from heatsink.models.unet import unet

#: Names accepted by :func:`build_model`.
MODEL_NAMES = ("unet", "resnet50", "vgg16", "gslu", "light")


def build_model(name: str, encoder_weights: str | None = None, **kwargs: Any) -> tf.keras.Model:
    """Build one of the study's models by name.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES`: ``"unet"`` (:func:`unet`), ``"resnet50"`` and ``"vgg16"``
        (:func:`sm_unet` with that backbone), ``"gslu"`` (:func:`gslu_net`), ``"light"``
        (:func:`light_net`).
    encoder_weights : {None, "imagenet"}
        Passed to :func:`sm_unet`; the models without a pretrained encoder (``"unet"``,
        ``"gslu"``, ``"light"``) accept only None, so callers can pass it whatever the model.
    **kwargs
        Passed to the builder (``n_classes``, ``input_shape``...).

    Returns
    -------
    tf.keras.Model

    Raises
    ------
    HeatsinkError
        If ``name`` is not one of :data:`MODEL_NAMES`, or encoder weights are asked for a
        model that has no pretrained encoder (or that has none available, VGG16).
    """
    if name in SM_BACKBONES:
        return sm_unet(name, encoder_weights=encoder_weights, **kwargs)
    builders = {"unet": unet, "gslu": gslu_net, "light": light_net}
    if name not in builders:
        raise HeatsinkError(f"unknown model {name!r}; choose one of {MODEL_NAMES}")
    if encoder_weights is not None:
        raise HeatsinkError(
            f"model {name!r} has no pretrained encoder: encoder_weights must be None, "
            f"got {encoder_weights!r}"
        )
    return builders[name](**kwargs)


def count_params(model: tf.keras.Model) -> int:
    """All parameters of ``model``, trainable or not (batch-norm statistics included)."""
    return int(model.count_params())


def load_model(path: str | Path) -> tf.keras.Model:
    """Load a model saved as ``.keras`` or ``.h5``, without its training configuration.

    The custom layers are registered by importing this package, so models built here load
    without ``custom_objects``.

    Parameters
    ----------
    path : str or Path
        The saved model file.

    Returns
    -------
    tf.keras.Model
        The model, uncompiled (``compile=False``).

    Raises
    ------
    HeatsinkError
        If the file is missing or cannot be read as a Keras model; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise HeatsinkError(f"{path}: no such model file")
    try:
        if path.suffix == ".keras" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if set(archive.namelist()) <= _PLAIN_KERAS_ARCHIVE:
                    return _load_keras_archive(archive)
        return tf.keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise HeatsinkError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from exc


#: The members of a ``.keras`` archive without assets, as tf-keras writes it.
_PLAIN_KERAS_ARCHIVE = {"metadata.json", "config.json", "model.weights.h5"}


def _load_keras_archive(archive: zipfile.ZipFile) -> tf.keras.Model:
    """Build the model from the archive's config, then read its weights from a plain file.

    tf-keras reads the weights with h5py straight out of the zip member, and on Python 3.11 a
    backward seek in a zip member re-reads it from its start: loading a 130 MB ResNet50 U-Net
    that way takes minutes of CPU. Extracting the weights file first gives the same weights
    (both paths go through tf-keras's own ``_load_state``) in about a second.
    """
    config = json.loads(archive.read("config.json"))
    config["compile_config"] = None
    model = tf.keras.saving.deserialize_keras_object(config)
    with tempfile.TemporaryDirectory(prefix="heatsink-model-") as tmp:
        weights = Path(archive.extract("model.weights.h5", tmp))
        model.load_weights(weights)
    return model


__all__ = [
    "GSLU_WIDTHS",
    "KERAS_RESNET50",
    "LIGHT_WIDTHS",
    "MODEL_NAMES",
    "CaffePreprocessing",
    "build_model",
    "count_params",
    "gslu_net",
    "light_net",
    "load_model",
    "register_keras_resnet50",
    "sm_core",
    "sm_unet",
    "softmax_head",
    "unet",
]
