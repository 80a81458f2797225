"""How fast a model predicts on this CPU, engine by engine, and whether the engines agree.

A trained float32 Keras model can be run by several *engines* (:data:`ENGINES`):

* ``keras-eager``: ``model(x, training=False)`` called eagerly;
* ``keras-graph``: the same inside one ``tf.function`` per input shape (what
  :class:`~heatsink.models.predict.Predictor` does with a Keras model);
* ``keras-graph-bf16``: the architecture rebuilt under Keras's ``mixed_bfloat16`` policy with
  the same weights (only on a CPU with bf16 instructions, :func:`heatsink.hardware.has_bf16`);
* ``onnx``: its tf2onnx export run by ONNX Runtime (:mod:`heatsink.models.export`);
* ``openvino`` / ``openvino-bf16``: its OpenVINO export, inference precision f32 / bf16;
* ``openvino-int8``: that export quantized to int8 by NNCF's post-training quantization,
  calibrated on frames given (:mod:`heatsink.models.quantize`).

:func:`engine_predictor` wraps each in a :class:`~heatsink.models.predict.Predictor`, so every
engine gets the same resize in, the same resize of the probabilities back and the same
arg-max: its latency (:func:`latency_by_batch`) is the model step of the line, and its masks
(:func:`mask_agreement`) compare with the Keras model's pixel for pixel.

Beside them, the cost of a model (:func:`frozen_gflop`, TensorFlow's profiler on the frozen
float32 graph) and of the machine (:func:`peak_gflops`, a large matmul in float32 or bfloat16),
so a latency can be read as a share of what the CPU can do (:func:`peak_share`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from heatsink.errors import HeatsinkError
from heatsink.models.predict import BATCH_CANDIDATES, Predictor

if TYPE_CHECKING:
    import tensorflow as tf

#: The engines, fastest to set up first.
ENGINES = ("keras-eager", "keras-graph", "keras-graph-bf16", "onnx", "openvino",
           "openvino-bf16", "openvino-int8")
#: The precision each engine computes in.
ENGINE_PRECISION = {"keras-eager": "float32", "keras-graph": "float32",
                    "keras-graph-bf16": "bfloat16", "onnx": "float32", "openvino": "float32",
                    "openvino-bf16": "bfloat16", "openvino-int8": "int8"}
#: The Python packages each engine needs beyond TensorFlow (to export, and to run).
ENGINE_PACKAGES = {"onnx": ("tf2onnx", "onnx", "onnxruntime"),
                   "openvino": ("tf2onnx", "onnx", "openvino"),
                   "openvino-bf16": ("tf2onnx", "onnx", "openvino"),
                   "openvino-int8": ("tf2onnx", "onnx", "openvino", "nncf")}
#: The side of a frame on the line (the dataset's images).
FRAME_SIZE = 320


@contextlib.contextmanager
def quiet_tensorflow() -> Iterator[None]:
    """TensorFlow's Python warnings silenced inside (the profiler's deprecation notices, and
    the retracing notice that timing many batch sizes triggers on purpose)."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise HeatsinkError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")


def engine_missing(engine: str) -> str:
    """Why ``engine`` cannot run here (a missing package, no bf16 instructions), or ``""``.

    Examples
    --------
    >>> engine_missing("keras-graph")
    ''
    """
    from heatsink.hardware import has_bf16

    _check_engine(engine)
    missing = [m for m in ENGINE_PACKAGES.get(engine, ())
               if importlib.util.find_spec(m) is None]
    if missing:
        return f"needs {', '.join(missing)}"
    if ENGINE_PRECISION[engine] == "bfloat16" and not has_bf16():
        return "this CPU has no bf16 instructions"
    return ""


def available_engines(engines: Sequence[str] = ENGINES) -> list[str]:
    """The engines of ``engines`` that can run here, in the order given.

    Examples
    --------
    >>> "keras-graph" in available_engines()
    True
    """
    return [e for e in engines if not engine_missing(e)]


def eager_function(model: tf.keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """``model(x, training=False)`` called eagerly, on a numpy batch, to a float32 array."""
    import tensorflow as tf

    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(tf.cast(model(tf.constant(x), training=False), tf.float32))

    return call


def graph_function(model: tf.keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """``model(x, training=False)`` in one ``tf.function`` (traced once per input shape),
    on a numpy batch, to a float32 array."""
    import tensorflow as tf

    @tf.function(jit_compile=False)
    def forward(x: tf.Tensor) -> tf.Tensor:
        return tf.cast(model(x, training=False), tf.float32)

    def call(x: np.ndarray) -> np.ndarray:
        return forward(tf.constant(x)).numpy()

    return call


def bfloat16_model(model: tf.keras.Model, build: Callable[[], tf.keras.Model]
                   ) -> tf.keras.Model:
    """``build()`` under Keras's ``mixed_bfloat16`` policy, given ``model``'s weights.

    ``build`` makes the same architecture (e.g. ``lambda: build_model("light")``); the global
    policy is restored afterwards whatever happens.
    """
    import tensorflow as tf

    before = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        copy = build()
    finally:
        tf.keras.mixed_precision.set_global_policy(before)
    copy.set_weights(model.get_weights())
    return copy


def engine_predictor(model: tf.keras.Model, engine: str, image_size: int,
                     workdir: str | Path | None = None,
                     build: Callable[[], tf.keras.Model] | None = None,
                     batch_size: int = 1,
                     calibration: Sequence[np.ndarray] | None = None) -> Predictor:
    """A :class:`~heatsink.models.predict.Predictor` running float32 ``model`` by ``engine``.

    Parameters
    ----------
    model : tf.keras.Model
        The model, computing in float32 (:func:`heatsink.models.export.float32_model`).
    engine : str
        One of :data:`ENGINES`.
    image_size : int
        Side of the square input the model runs at (a frame of another size is resized).
    workdir : path, optional
        Where the ONNX and OpenVINO exports are written (``<workdir>/onnx``,
        ``<workdir>/openvino``; an export already there is reused): required for them.
    build : callable, optional
        Builds the same architecture; required for ``keras-graph-bf16``
        (:func:`bfloat16_model`).
    batch_size : int
        The predictor's batch size.
    calibration : sequence of ndarray, optional
        uint8 RGB frames to calibrate ``openvino-int8`` on (required for it;
        :func:`heatsink.models.quantize.quantize_export`). Its export is written to
        ``<workdir>/openvino-int8`` (an export already there is reused).

    Raises
    ------
    HeatsinkError
        An unknown engine, one that cannot run here (:func:`engine_missing`), or a missing
        ``workdir``, ``build`` or ``calibration``.
    """
    from heatsink.classes import CLASS_NAMES

    _check_engine(engine)
    why = engine_missing(engine)
    if why:
        raise HeatsinkError(f"engine {engine} cannot run here: {why}")
    classes = len(CLASS_NAMES)
    if engine == "keras-graph":
        return Predictor(model, image_size, batch_size)
    if engine == "keras-eager":
        return Predictor(eager_function(model), image_size, batch_size, classes=classes)
    if engine == "keras-graph-bf16":
        if build is None:
            raise HeatsinkError("engine keras-graph-bf16 needs build (the architecture)")
        return Predictor(bfloat16_model(model, build), image_size, batch_size)
    from heatsink.models.export import export_model, is_export, load_exported

    if workdir is None:
        raise HeatsinkError(f"engine {engine} needs a workdir for its export")
    fmt = "onnx" if engine == "onnx" else "openvino"
    folder = Path(workdir) / fmt
    if not is_export(folder):
        export_model(model, fmt, folder, image_size=image_size)
    if engine == "openvino-int8":
        from heatsink.models.quantize import quantize_export

        if calibration is None:
            raise HeatsinkError("engine openvino-int8 needs calibration frames")
        int8 = Path(workdir) / engine
        if not is_export(int8):
            quantize_export(folder, calibration, int8)
        folder = int8
    precision = "bfloat16" if ENGINE_PRECISION[engine] == "bfloat16" else "float32"
    exported = load_exported(folder, precision=precision)
    return Predictor(exported, image_size, batch_size, classes=classes)


def median_ms(call: Callable[[np.ndarray], object], x: np.ndarray, repeats: int = 30,
              warmup: int = 3, budget_s: float | None = None) -> float:
    """Median milliseconds per frame of ``call(x)`` (``x`` a batch) after ``warmup`` calls.

    With ``budget_s``, stop early once that many seconds were spent timing (at least 5
    calls), so a slow model at a large batch does not hold the whole measurement.

    Examples
    --------
    >>> import numpy as np
    >>> median_ms(lambda x: x.sum(), np.zeros((4, 8)), repeats=3) >= 0
    True
    """
    for _ in range(warmup):
        call(x)
    times: list[float] = []
    spent = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - start)
        spent += times[-1]
        if budget_s is not None and spent > budget_s and len(times) >= 5:
            break
    return 1000 * float(np.median(times)) / len(x)


def latency_by_batch(predictor: Predictor, batches: Sequence[int] = BATCH_CANDIDATES,
                     frame_size: int = FRAME_SIZE, repeats: int = 20,
                     budget_s: float | None = 5.0) -> dict[int, float]:
    """Median ms per ``frame_size``² frame through ``predictor`` at each batch size.

    Each figure is :meth:`~heatsink.models.predict.Predictor.latency_ms` (random uint8
    frames, resized to the model's input and back, arg-maxed: the model step of the line),
    with its repeats cut so that one figure takes about ``budget_s`` seconds (at least 3).
    """
    out: dict[int, float] = {}
    with quiet_tensorflow():
        for batch in batches:
            first = predictor.latency_ms(batch, frame_size, repeats=1)  # compiles, warms up
            n = repeats
            if budget_s is not None:
                n = int(min(repeats, max(3, budget_s // max(first * batch / 1000, 1e-6))))
            out[int(batch)] = predictor.latency_ms(batch, frame_size, repeats=n)
    return out


def frozen_gflop(model: tf.keras.Model, size: int) -> float:
    """GFLOP of one ``size``² frame, by TensorFlow's profiler on the frozen float32 graph.

    The profiler counts the ops that register a flop statistic (convolutions, depthwise
    convolutions, matmuls, element-wise arithmetic, bias adds); a multiply-add counts 2.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec((1, size, size, 3), tf.float32)
    with quiet_tensorflow():
        concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
        frozen = convert_variables_to_constants_v2(concrete)
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        profile = tf.compat.v1.profiler.profile(graph=frozen.graph, options=options)
    return profile.total_float_ops / 1e9


def peak_gflops(dtype: str = "float32", n: int = 2048, repeats: int = 10) -> float:
    """Measured GFLOP/s of an ``n``×``n`` matmul in ``dtype`` (best of ``repeats``), all cores.

    ``dtype`` is ``"float32"`` or ``"bfloat16"``.
    """
    import tensorflow as tf

    if dtype not in ("float32", "bfloat16"):
        raise HeatsinkError(f"dtype must be float32 or bfloat16, not {dtype!r}")
    rng = np.random.default_rng(0)
    a = tf.cast(tf.constant(rng.random((n, n), dtype=np.float32)), dtype)
    b = tf.cast(tf.constant(rng.random((n, n), dtype=np.float32)), dtype)
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1],
                                                            tf.float32)))
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def peak_share(gflop: float, ms_per_frame: float, peak: float | None) -> float:
    """The share of ``peak`` GFLOP/s that ``gflop`` per frame at ``ms_per_frame`` achieves.

    NaN without a peak.

    Examples
    --------
    >>> peak_share(3.2, 32.0, 200.0)
    0.5
    """
    if not peak or not np.isfinite(peak) or ms_per_frame <= 0:
        return float("nan")
    return float(gflop / (ms_per_frame / 1000) / peak)


def mask_agreement(masks: Sequence[np.ndarray], reference: Sequence[np.ndarray]
                   ) -> dict[str, Any]:
    """How far ``masks`` agree with ``reference``, frame by frame (same sizes, same order).

    Returns
    -------
    dict
        ``frames``; ``pixels_agree``: the mean over frames of the share of pixels of the
        same class; ``worst_frame``: the lowest such share; ``defect_pixels_agree``: of the
        pixels the reference calls a defect (class > 0), the share of the same class (NaN if
        it calls none).

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[0, 1], [2, 0]], np.uint8)
    >>> mask_agreement([a], [a])["pixels_agree"]
    1.0
    >>> mask_agreement([np.zeros_like(a)], [a])["defect_pixels_agree"]
    0.0
    """
    if len(masks) != len(reference):
        raise ValueError(f"{len(masks)} masks against {len(reference)} reference masks")
    if not len(masks):
        raise ValueError("no masks to compare")
    same = np.array([float((a == b).mean()) for a, b in zip(masks, reference, strict=True)])
    defect = np.concatenate([(a == b)[b > 0] for a, b in zip(masks, reference, strict=True)])
    return {"frames": len(masks), "pixels_agree": float(same.mean()),
            "worst_frame": float(same.min()),
            "defect_pixels_agree": float(defect.mean()) if defect.size else float("nan")}


__all__ = [
    "ENGINES",
    "ENGINE_PACKAGES",
    "ENGINE_PRECISION",
    "FRAME_SIZE",
    "available_engines",
    "bfloat16_model",
    "eager_function",
    "engine_missing",
    "engine_predictor",
    "frozen_gflop",
    "graph_function",
    "latency_by_batch",
    "mask_agreement",
    "median_ms",
    "peak_gflops",
    "peak_share",
    "quiet_tensorflow",
]
