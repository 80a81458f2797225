"""Segmentation models of the study, built segmentation-models style.

Five models, by :data:`MODEL_NAMES`:

* ``"unet"`` — :func:`unet`, the seed's half-width U-Net (7.76 M parameters);
* ``"resnet50"`` / ``"vgg16"`` — :func:`sm_unet`, segmentation-models U-Nets with Keras'
  ResNet50 or VGG16 encoder;
* ``"gslu"`` — :func:`gslu_net`, a light Ghost-SE U-Net after Yang et al. (2022);
* ``"light"`` — :func:`light_net`, a light encoder–decoder built for CPU inference.

Every model takes float32 RGB images in [0, 1] of any size divisible by 32 and ends with a
float32 softmax layer named ``softmax`` (so outputs stay float32 under mixed precision).
Beside the builders: :mod:`~heatsink.models.losses` (the training losses by name),
:mod:`~heatsink.models.run` (a training run's folder: :class:`TrainConfig`, :class:`Run`) and
:mod:`~heatsink.models.predict` (the one prediction path, compiled once per input shape),
:mod:`~heatsink.models.fitting` (what training feeds a model: batches, loss, precision) and
:mod:`~heatsink.models.lr_range` (the learning-rate range test on those same batches).

Importing this package imports TensorFlow (after :mod:`heatsink` itself, which selects
legacy Keras 2 first) and registers the custom layers, so :func:`load_model` (or
``tf.keras.models.load_model``) can read saved models back.
"""

from __future__ import annotations

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
from heatsink.models.predict import Predictor, predict_masks, predict_probabilities
from heatsink.models.registry import MODEL_NAMES, build_model, count_params, load_model
from heatsink.models.run import Run, TrainConfig
from heatsink.models.unet import unet

__all__ = [
    "GSLU_WIDTHS",
    "KERAS_RESNET50",
    "LIGHT_WIDTHS",
    "MODEL_NAMES",
    "SM_BACKBONES",
    "CaffePreprocessing",
    "Predictor",
    "Run",
    "TrainConfig",
    "build_model",
    "count_params",
    "gslu_net",
    "light_net",
    "load_model",
    "predict_masks",
    "predict_probabilities",
    "register_keras_resnet50",
    "sm_core",
    "sm_unet",
    "softmax_head",
    "unet",
]
