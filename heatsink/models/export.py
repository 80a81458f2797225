"""Export a trained model to ONNX or OpenVINO, and run an export as the Keras model would run.

An export is a folder::

    OUT/
      model.onnx                 (format "onnx")   or   model.xml + model.bin  ("openvino")
      export.json                the sidecar: identity, input size, class order, versions

The graph is float32 whatever precision the model was trained in: a model trained under
``mixed_bfloat16`` is rebuilt from its config under float32 and given the same (float32)
weights before conversion. Its input is ``(batch, S, S, 3)`` float32 RGB in [0, 1], NHWC,
with S the run's ``image_size`` fixed and the batch free; its output the softmax
probabilities ``(batch, S, S, 3)`` in the class order :data:`heatsink.classes.CLASS_NAMES`.
ONNX comes from tf2onnx; OpenVINO's IR is converted from that ONNX graph
(``openvino.convert_model``, saved without fp16 compression), so both formats hold the same
graph.

The sidecar carries the identity ``heatsink inspect`` reports for the source run,
``<run folder name>@<first 12 hex digits of the sha256 of best.keras>``, so a report made
with an export names the weights it came from. Exports are written into a temporary folder
beside ``OUT`` and renamed into place at the end; an existing ``OUT`` is replaced only if
it is itself an export.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from heatsink.classes import CLASS_NAMES
from heatsink.errors import HeatsinkError
from heatsink.io import umask

#: Export formats and the model file each writes inside the export folder.
EXPORT_FORMATS: dict[str, str] = {"onnx": "model.onnx", "openvino": "model.xml"}
#: The sidecar's file name inside an export folder.
SIDECAR = "export.json"
#: Version of the sidecar's layout.
SIDECAR_VERSION = 1
#: ONNX opset written by tf2onnx.
ONNX_OPSET = 17
#: Inference precisions :func:`load_exported` accepts.
PRECISIONS = ("float32", "bfloat16")
#: Packages whose versions the sidecar lists.
EXPORT_PACKAGES = ("heatsink", "tensorflow", "tf-keras", "tf2onnx", "onnx", "openvino")
#: Which package each format needs to be written, and to be run.
_WRITE_NEEDS = {"onnx": ("tf2onnx", "onnx"), "openvino": ("tf2onnx", "onnx", "openvino")}
_RUN_NEEDS = {"onnx": ("onnxruntime",), "openvino": ("openvino",)}


def _require(modules: tuple[str, ...], what: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise HeatsinkError(f"{what} needs {', '.join(missing)}: pip install 'heatsink[export]'")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def weights_sha256(model: Any) -> str:
    """sha256 of a model's weights (every array's dtype, shape and bytes, in order).

    For a model that has no file of its own; a run's identity hashes its ``best.keras``.

    Examples
    --------
    >>> import numpy as np
    >>> class Stub:
    ...     def get_weights(self):
    ...         return [np.zeros(2, np.float32)]
    >>> len(weights_sha256(Stub()))
    64
    """
    digest = hashlib.sha256()
    for array in model.get_weights():
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _is_float32(model: Any) -> bool:
    import tensorflow as tf

    for layer in model.submodules:
        if isinstance(layer, tf.keras.layers.Layer):
            policy = getattr(layer, "dtype_policy", None)
            if policy is not None and policy.compute_dtype != "float32":
                return False
    return True


def _float32_config(config: Any) -> Any:
    """A model config with every layer's dtype policy set to float32."""
    if isinstance(config, dict):
        out = {}
        for key, value in config.items():
            if key == "dtype" and (isinstance(value, dict) or value in (
                    "mixed_bfloat16", "mixed_float16", "bfloat16", "float16")):
                out[key] = "float32"
            else:
                out[key] = _float32_config(value)
        return out
    if isinstance(config, list):
        return [_float32_config(v) for v in config]
    return config


def float32_model(model: Any) -> Any:
    """``model`` itself if it computes in float32, else a float32 rebuild with its weights.

    A model trained under ``mixed_bfloat16`` keeps float32 variables but computes in
    bfloat16; its config is rewritten with float32 policies, rebuilt, and given the same
    weights, so the exported graph is float32.
    """
    import tensorflow as tf

    if _is_float32(model):
        return model
    config = _float32_config(model.get_config())
    rebuilt = model.__class__.from_config(config) if not isinstance(
        model, tf.keras.Sequential) else tf.keras.Sequential.from_config(config)
    rebuilt.set_weights(model.get_weights())
    if not _is_float32(rebuilt):
        raise HeatsinkError(f"model {model.name!r}: could not be rebuilt in float32")
    return rebuilt


@dataclass(frozen=True)
class _Source:
    model: Any
    image_size: int
    identity: str
    source: dict[str, Any]


def _open_source(source: Any, image_size: int | None) -> _Source:
    """The Keras model to export, its input size and its identity."""
    import tensorflow as tf

    from heatsink.io import file_sha256
    from heatsink.models import load_model

    if isinstance(source, tf.keras.Model):
        if image_size is None:
            raise HeatsinkError("exporting a model object needs image_size (the input side)")
        sha = weights_sha256(source)
        return _Source(source, int(image_size), f"{source.name}@{sha[:12]}",
                       {"kind": "model", "name": source.name, "weights_sha256": sha})
    path = Path(source)
    if path.is_dir():
        from heatsink.models.run import Run

        run = Run.load(path)  # HeatsinkError naming the folder if it is not a run
        model_file = path / "best.keras"
        if not model_file.is_file():
            raise HeatsinkError(f"{model_file}: no such model file (has the run finished?)")
        size = int(run.config.image_size) if image_size is None else int(image_size)
        name = path.resolve().name
        sha = file_sha256(model_file)
        config = json.loads((path / "config.json").read_text())
        return _Source(load_model(model_file), size, f"{name}@{sha[:12]}", {
            "kind": "run", "run": name, "file": "best.keras", "sha256": sha,
            "architecture": run.config.model,
            "trained_precision": config.get("precision_used", run.config.precision)})
    if path.is_file():
        if image_size is None:
            raise HeatsinkError(f"{path}: exporting a model file needs image_size")
        sha = file_sha256(path)
        return _Source(load_model(path), int(image_size), f"{path.stem}@{sha[:12]}",
                       {"kind": "file", "file": path.name, "sha256": sha})
    raise HeatsinkError(f"{path}: no such run folder or model file")


def is_export(path: str | Path) -> bool:
    """Whether ``path`` is an export folder (or a model file inside one)."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    return (folder / SIDECAR).is_file()


@contextlib.contextmanager
def _export_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out``, renamed onto it on success (replacing an export)."""
    if out.exists() and not is_export(out):
        kind = "folder" if out.is_dir() else "file"
        raise HeatsinkError(f"{out}: exists and is a {kind} that is not a heatsink export "
                            f"(no {SIDECAR}); choose another output")
    if out.exists() and not out.is_dir():
        raise HeatsinkError(f"{out}: is a file; give the export folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    old = None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~umask())
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / "export")
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _write_onnx(model: Any, image_size: int, target: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    spec = (tf.TensorSpec((None, image_size, image_size, 3), tf.float32, name="image"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=ONNX_OPSET,
                               output_path=str(target))


def _write_openvino(model: Any, image_size: int, target: Path) -> None:
    import openvino as ov

    onnx_file = target.with_suffix(".onnx")
    _write_onnx(model, image_size, onnx_file)
    converted = ov.convert_model(str(onnx_file))
    ov.save_model(converted, str(target), compress_to_fp16=False)
    onnx_file.unlink()


def export_model(source: Any, fmt: str, out: str | Path, image_size: int | None = None) -> Path:
    """Export a run's ``best.keras`` (or a model) to ONNX or OpenVINO, with its identity.

    Parameters
    ----------
    source : path or tf.keras.Model
        A training run folder (its ``best.keras``; input size from its config), a ``.keras``
        file, or a model object (``image_size`` then required).
    fmt : {"onnx", "openvino"}
        The format (:data:`EXPORT_FORMATS`).
    out : path
        The export folder to write (see the module's docstring); an existing export there is
        replaced, anything else there is refused.
    image_size : int, optional
        Side of the square input; default the run's ``image_size``.

    Returns
    -------
    Path
        The model file inside ``out`` (``model.onnx`` or ``model.xml``).

    Raises
    ------
    HeatsinkError
        Unknown format, a missing export package, a source that is not a run, model file or
        model, an input size not divisible by 32, or an ``out`` that is not an export.
    """
    if fmt not in EXPORT_FORMATS:
        raise HeatsinkError(f"unknown export format {fmt!r}; choose one of "
                            f"{', '.join(EXPORT_FORMATS)}")
    _require(_WRITE_NEEDS[fmt], f"exporting to {fmt}")
    out = Path(out)
    src = _open_source(source, image_size)
    if src.image_size < 32 or src.image_size % 32:
        raise HeatsinkError(f"the input size must be a multiple of 32, not {src.image_size}")
    model = float32_model(src.model)
    sidecar = {
        "heatsink_export": SIDECAR_VERSION,
        "format": fmt,
        "model_file": EXPORT_FORMATS[fmt],
        "identity": src.identity,
        "source": src.source,
        "image_size": src.image_size,
        "classes": list(CLASS_NAMES),
        "input": {"name": "image", "shape": [None, src.image_size, src.image_size, 3],
                  "layout": "NHWC", "dtype": "float32", "range": [0.0, 1.0], "channels": "RGB"},
        "output": {"name": "softmax", "layout": "NHWC", "dtype": "float32",
                   "meaning": "class probabilities"},
        "graph_precision": "float32",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "versions": {p: _version(p) for p in EXPORT_PACKAGES},
    }
    with _export_folder(out) as tmp:
        target = tmp / EXPORT_FORMATS[fmt]
        try:
            (_write_onnx if fmt == "onnx" else _write_openvino)(model, src.image_size, target)
        except HeatsinkError:
            raise
        except Exception as exc:
            raise HeatsinkError(f"{out}: export to {fmt} failed "
                                f"({_first_line(exc)})") from exc
        (tmp / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return out / EXPORT_FORMATS[fmt]


@dataclass(frozen=True)
class ExportedModel:
    """An export opened for inference; call it on a float32 NHWC batch in [0, 1].

    Attributes
    ----------
    path : Path
        The model file (``model.onnx`` or ``model.xml``).
    format : str
        ``"onnx"`` or ``"openvino"``.
    image_size : int
        Side of the square input the export takes.
    identity : str
        ``<run folder name>@<sha256 of best.keras, 12 hex digits>``, as ``heatsink inspect``
        reports the source run.
    classes : tuple of str
        Class names in output-channel order.
    precision : str
        The inference precision asked for: ``"float32"`` or ``"bfloat16"`` (OpenVINO only).
    sidecar : dict
        The whole ``export.json``.
    """

    path: Path
    format: str
    image_size: int
    identity: str
    classes: tuple[str, ...]
    precision: str
    sidecar: dict[str, Any] = field(repr=False)
    _run: Callable[[np.ndarray], np.ndarray] = field(repr=False)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Softmax probabilities ``(N, S, S, n_classes)`` float32 of ``batch`` ``(N, S, S, 3)``.

        Raises
        ------
        HeatsinkError
            If the batch does not have the export's input shape.
        """
        batch = np.asarray(batch)
        size = self.image_size
        if batch.ndim != 4 or batch.shape[1:] != (size, size, 3) or not len(batch):
            raise HeatsinkError(f"{self.path}: expects a batch of shape (N, {size}, {size}, 3), "
                                f"got {batch.shape}")
        return self._run(np.ascontiguousarray(batch, dtype=np.float32))


def _read_sidecar(path: Path) -> tuple[Path, dict[str, Any]]:
    folder = path if path.is_dir() else path.parent
    sidecar_file = folder / SIDECAR
    if not path.exists():
        raise HeatsinkError(f"{path}: no such export")
    if not sidecar_file.is_file():
        raise HeatsinkError(f"{path}: not a heatsink export (no {SIDECAR} beside it)")
    try:
        sidecar = json.loads(sidecar_file.read_text(encoding="utf-8"))
        fmt = sidecar["format"]
        model_file = folder / sidecar["model_file"]
        int(sidecar["image_size"])
        str(sidecar["identity"])
        list(sidecar["classes"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HeatsinkError(f"{sidecar_file}: unreadable export sidecar "
                            f"({type(exc).__name__}: {exc})") from None
    if fmt not in EXPORT_FORMATS:
        raise HeatsinkError(f"{sidecar_file}: unknown export format {fmt!r}")
    if not model_file.is_file():
        raise HeatsinkError(f"{model_file}: no such model file (named by {sidecar_file})")
    return model_file, sidecar


def _onnx_runner(model_file: Path, threads: int | None) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {name: batch})[0]

    return run


def _openvino_runner(model_file: Path, precision: str, threads: int | None,
                     hint: str) -> Callable[[np.ndarray], np.ndarray]:
    import openvino as ov

    config: dict[str, Any] = {
        # OpenVINO's CPU plugin infers in bf16 by default where the CPU has it: say float32
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bfloat16" else "f32",
        "PERFORMANCE_HINT": hint,
    }
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(str(model_file), "CPU", config)
    request = compiled.create_infer_request()

    def run(batch: np.ndarray) -> np.ndarray:
        return np.array(request.infer([batch])[0], dtype=np.float32, copy=True)

    return run


def load_exported(path: str | Path, precision: str = "float32", threads: int | None = None,
                  performance_hint: str = "LATENCY") -> ExportedModel:
    """Open an export folder (or the model file in it) for inference on the CPU.

    Parameters
    ----------
    path : path
        The export folder written by :func:`export_model`, or its ``model.onnx`` /
        ``model.xml``.
    precision : {"float32", "bfloat16"}
        Inference precision. ``"bfloat16"`` is for OpenVINO on a CPU with bf16 instructions
        (its ``INFERENCE_PRECISION_HINT``); ONNX Runtime runs float32 only.
    threads : int, optional
        Threads for inference (default: the runtime's choice, all cores).
    performance_hint : {"LATENCY", "THROUGHPUT"}
        OpenVINO's ``PERFORMANCE_HINT``.

    Returns
    -------
    ExportedModel

    Raises
    ------
    HeatsinkError
        Naming the file: no such export, no or unreadable sidecar, a missing model file, a
        missing runtime package, a precision the format or CPU cannot give.
    """
    from heatsink.hardware import has_bf16

    path = Path(path)
    model_file, sidecar = _read_sidecar(path)
    fmt = sidecar["format"]
    if precision not in PRECISIONS:
        raise HeatsinkError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision == "bfloat16" and (fmt != "openvino" or not has_bf16()):
        why = "this CPU has no bf16 instructions" if fmt == "openvino" else "ONNX runs float32"
        raise HeatsinkError(f"{model_file}: cannot infer in bfloat16 ({why})")
    _require(_RUN_NEEDS[fmt], f"running a {fmt} export")
    try:
        run = (_onnx_runner(model_file, threads) if fmt == "onnx"
               else _openvino_runner(model_file, precision, threads, performance_hint))
    except Exception as exc:
        raise HeatsinkError(f"{model_file}: cannot load the {fmt} model "
                            f"({_first_line(exc)})") from exc
    return ExportedModel(path=model_file, format=fmt, image_size=int(sidecar["image_size"]),
                         identity=str(sidecar["identity"]), classes=tuple(sidecar["classes"]),
                         precision=precision, sidecar=sidecar, _run=run)


__all__ = [
    "EXPORT_FORMATS",
    "ONNX_OPSET",
    "PRECISIONS",
    "SIDECAR",
    "ExportedModel",
    "export_model",
    "float32_model",
    "is_export",
    "load_exported",
    "weights_sha256",
]
