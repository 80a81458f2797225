"""The study's models by name: building, counting and loading them."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.models.backbones import SM_BACKBONES, sm_unet
from heatsink.models.gslu import gslu_net
from heatsink.models.light import light_net
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
        (:func:`light_net`, built for a CPU).
    encoder_weights : {None, "imagenet"}
        Passed to :func:`sm_unet`; the models without a pretrained encoder (``"unet"``,
        ``"gslu"``) accept only None, so callers can pass it whatever the model.
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


def builder_kwargs(name: str, **kwargs: Any) -> dict[str, Any]:
    """The architecture :func:`build_model` builds for ``name`` and ``kwargs``: the builder's
    keyword defaults updated by ``kwargs``, as JSON values, so that a run records what it
    trained even after a default changes.

    Examples
    --------
    >>> builder_kwargs("light", head="subpixel")["head"]
    'subpixel'
    >>> builder_kwargs("light")["blocks"]
    [2, 2, 1, 1, 1]
    >>> builder_kwargs("resnet50")
    {'n_classes': 3, 'input_shape': [None, None, 3]}
    """
    import inspect

    builders = {"unet": unet, "gslu": gslu_net, "light": light_net}
    if name not in MODEL_NAMES:
        raise HeatsinkError(f"unknown model {name!r}; choose one of {MODEL_NAMES}")
    builder = builders.get(name, sm_unet)
    found = {p.name: p.default for p in inspect.signature(builder).parameters.values()
             if p.default is not inspect.Parameter.empty and p.name != "encoder_weights"}
    return json.loads(json.dumps({**found, **kwargs}))


def count_params(model: tf.keras.Model) -> int:
    """All parameters of ``model``, trainable or not (batch-norm statistics included)."""
    return int(model.count_params())


#: What a model file may hold at most, unpacked (a zip bomb is refused before extraction).
MAX_MODEL_BYTES = 4 << 30
#: Largest ``config.json`` in a model archive.
MAX_CONFIG_BYTES = 64 << 20
#: Python modules a model's config may name: Keras, segmentation-models and this package.
SAFE_MODULES = ("keras", "tf_keras", "segmentation_models", "heatsink", "builtins")
#: Layer classes that carry Python code (refused even where Keras would run them).
CODE_LAYERS = ("Lambda", "__lambda__")
_ZIP_SIGNATURE = b"PK\x03\x04"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def load_model(path: str | Path) -> tf.keras.Model:
    """Load a model saved in the zip ``.keras`` format, without running any code from it.

    A model file is input from outside, so nothing in it may run: only the zip ``.keras``
    format is read, in Keras's safe mode (``safe_mode=True``, which refuses serialised
    Python code), after its config has been checked here: every ``module`` it names must
    be Keras, segmentation-models or this package (:data:`SAFE_MODULES`) and no layer may
    be a ``Lambda`` (:data:`CODE_LAYERS`). The legacy HDF5 format (``.h5``, even renamed
    ``.keras``) and SavedModel folders carry no such protection (a ``Lambda`` in them runs
    on load) and are refused, as is anything whose bytes are not a ``.keras`` zip. The
    custom layers are registered by importing this package, so models built here load
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
        Naming the file: missing, not a regular file, not a ``.keras`` zip (HDF5 or another
        legacy format), an unsafe config, or a file that cannot be read as a Keras model.
    """
    from heatsink.safety import file_kind, printable

    path = Path(path)
    name = printable(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise HeatsinkError(f"{name}: no such model file") from None
    except OSError as exc:
        raise HeatsinkError(f"{name}: cannot read the model file ({exc.strerror})") from None
    kind = file_kind(info.st_mode)
    if kind is not None:
        raise HeatsinkError(f"{name}: is {kind}, not a model file; refused")
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise HeatsinkError(f"{name}: cannot read the model file ({exc.strerror})") from None
    if head.startswith(_HDF5_SIGNATURE):
        raise HeatsinkError(f"{name}: is a legacy HDF5 (.h5) Keras model; refused, since "
                            "loading that format can run code stored in it. Save the model "
                            "in the zip .keras format (model.save('best.keras'))")
    if path.suffix != ".keras" or not head.startswith(_ZIP_SIGNATURE):
        raise HeatsinkError(f"{name}: not a Keras model in the zip .keras format (the only "
                            "format loaded); refused")
    try:
        with zipfile.ZipFile(path) as archive:
            config = _checked_config(archive, name)
            if set(archive.namelist()) <= _PLAIN_KERAS_ARCHIVE:
                return _load_keras_archive(archive, config)
        return tf.keras.models.load_model(path, compile=False, safe_mode=True)
    except HeatsinkError:
        raise
    except Exception as exc:
        from heatsink.safety import shorten

        raise HeatsinkError(f"{name}: cannot load the model ({type(exc).__name__}: "
                            f"{shorten(str(exc))})") from exc


#: The members of a ``.keras`` archive without assets, as tf-keras writes it.
_PLAIN_KERAS_ARCHIVE = {"metadata.json", "config.json", "model.weights.h5"}


def _unsafe_part(config: Any) -> str | None:
    """The first thing in a model config that could run code, in words; None if none."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            module = item.get("module")
            if isinstance(module, str) and module.split(".")[0] not in SAFE_MODULES:
                return f"it names the Python module {module[:80]!r}"
            if item.get("class_name") in CODE_LAYERS:
                inner = item.get("config")
                layer = item.get("name") or (inner.get("name") if isinstance(inner, dict) else "?")
                return f"it holds a Lambda layer ({str(layer)[:80]!r}), which carries Python code"
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _checked_config(archive: zipfile.ZipFile, name: str) -> dict:
    """The archive's model config, after checking sizes and contents; HeatsinkError if not."""
    members = {info.filename: info for info in archive.infolist()}
    if "config.json" not in members or "model.weights.h5" not in members:
        raise HeatsinkError(f"{name}: not a Keras .keras archive (no config.json and "
                            "model.weights.h5 in it); refused")
    total = sum(info.file_size for info in members.values())
    if total > MAX_MODEL_BYTES or members["config.json"].file_size > MAX_CONFIG_BYTES:
        raise HeatsinkError(f"{name}: unpacks to {total} bytes, more than a model of this "
                            "study; refused")
    try:
        config = json.loads(archive.read("config.json"))
    except (ValueError, RecursionError) as exc:
        raise HeatsinkError(f"{name}: its config.json is not valid JSON ({type(exc).__name__})"
                            ) from None
    if not isinstance(config, dict):
        raise HeatsinkError(f"{name}: its config.json is not a model config")
    unsafe = _unsafe_part(config)
    if unsafe:
        raise HeatsinkError(f"{name}: refused: {unsafe}; nothing from a model file may run")
    return config


def _load_keras_archive(archive: zipfile.ZipFile, config: dict) -> tf.keras.Model:
    """Build the model from the archive's (checked) config in safe mode, then read its
    weights from a plain file.

    tf-keras reads the weights with h5py straight out of the zip member, and on Python 3.11 a
    backward seek in a zip member re-reads it from its start: loading a 130 MB ResNet50 U-Net
    that way takes minutes of CPU. Extracting the weights file first gives the same weights
    (both paths go through tf-keras's own ``_load_state``) in about a second.
    """
    config = dict(config, compile_config=None)
    model = tf.keras.saving.deserialize_keras_object(config, safe_mode=True)
    with tempfile.TemporaryDirectory(prefix="heatsink-model-") as tmp:
        weights = Path(archive.extract("model.weights.h5", tmp))
        model.load_weights(weights)
    return model


__all__ = [
    "CODE_LAYERS",
    "MODEL_NAMES",
    "SAFE_MODULES",
    "build_model",
    "builder_kwargs",
    "count_params",
    "load_model",
]
