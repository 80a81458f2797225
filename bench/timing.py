"""A small timing harness for the line-speed benchmarks (not the package's prediction path).

* :func:`graph_function`: a model's forward pass compiled once per input shape
  (``tf.function`` with a fixed input signature), as the line would call it;
* :func:`median_ms`: median wall time per frame of a callable over repeated calls;
* :func:`frozen_gflop`: floating-point operations of one forward pass counted by
  TensorFlow's profiler on the frozen graph (variables folded into constants);
* :func:`peak_gflops`: the machine's measured matmul peak, float32 and bfloat16.

Import it from a script in ``bench/`` (the script's folder is first on ``sys.path``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import numpy as np
import tensorflow as tf


def graph_function(model: tf.keras.Model, batch: int, size: int,
                   dtype: tf.DType = tf.float32) -> Callable[[np.ndarray], np.ndarray]:
    """``model(x, training=False)`` traced once for ``(batch, size, size, 3)`` input.

    Returns a callable taking a numpy batch and returning float32 probabilities as numpy.
    """
    spec = tf.TensorSpec((batch, size, size, 3), dtype)

    @tf.function(input_signature=[spec], jit_compile=False)
    def forward(x: tf.Tensor) -> tf.Tensor:
        return tf.cast(model(x, training=False), tf.float32)

    concrete = forward.get_concrete_function()

    def call(x: np.ndarray) -> np.ndarray:
        return concrete(tf.constant(x)).numpy()

    return call


def eager_function(model: tf.keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """``model(x, training=False)`` called eagerly, as the study and ``inspect`` do today."""
    def call(x: np.ndarray) -> np.ndarray:
        return np.asarray(model(tf.constant(x), training=False))

    return call


def median_ms(call: Callable[[np.ndarray], object], x: np.ndarray, repeats: int = 30,
              warmup: int = 3, budget_s: float | None = None) -> float:
    """Median milliseconds per frame of ``call(x)`` (``x`` a batch) after ``warmup`` calls.

    With ``budget_s``, stop early once that many seconds were spent timing (at least 5
    calls), so a slow model at a large batch does not hold the whole benchmark.
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


def frozen_gflop(model: tf.keras.Model, size: int) -> float:
    """GFLOP of one ``size``² frame, by TensorFlow's profiler on the frozen float32 graph.

    The profiler counts the ops that register a flop statistic (convolutions, depthwise
    convolutions, matmuls, element-wise arithmetic, bias adds); a multiply-add counts 2.
    """
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec((1, size, size, 3), tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete)
    graph = frozen.graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(graph=graph, options=options)
    return profile.total_float_ops / 1e9


def peak_gflops(dtype: tf.DType = tf.float32, n: int = 2048, repeats: int = 10) -> float:
    """Measured GFLOP/s of an ``n``×``n`` matmul in ``dtype`` (best of ``repeats``), all cores."""
    rng = np.random.default_rng(0)
    a = tf.cast(tf.constant(rng.random((n, n), dtype=np.float32)), dtype)
    b = tf.cast(tf.constant(rng.random((n, n), dtype=np.float32)), dtype)
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1], tf.float32)))
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9
