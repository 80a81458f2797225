"""Line speed per model and engine on this CPU: GFLOP, ms per frame, share of the matmul peak.

For each model (``--models``, default unet, gslu and light; ``--big`` adds resnet50 and
vgg16), built untrained in float32 (weights do not change the cost), prints:

* ``params`` and ``GFLOP`` per ``--size``² frame (TensorFlow's profiler on the frozen
  float32 graph, :func:`heatsink.models.speed.frozen_gflop`);
* per engine, ``b1`` the median ms per frame at batch 1 and ``best`` the lowest median ms
  per frame over ``--batches`` (with the batch that gave it), each through the package's
  prediction path (:func:`heatsink.models.speed.engine_predictor`: uint8 frames in, masks
  out, as ``heatsink inspect`` predicts). Engines (:data:`heatsink.models.speed.ENGINES`):

  - ``keras-eager``: ``model(x, training=False)`` called eagerly;
  - ``keras-graph``: the same inside one ``tf.function`` traced per input shape;
  - ``keras-graph-bf16``: the model rebuilt under Keras's ``mixed_bfloat16`` policy, same
    weights (only where the CPU has bf16 instructions);
  - ``onnx``: the tf2onnx export run by ONNX Runtime (``heatsink.models.export``);
  - ``openvino`` / ``openvino-bf16``: the OpenVINO export, inference precision f32 / bf16;
  - ``openvino-int8``: that export quantized to int8 (NNCF, post-training), calibrated here
    on 32 smooth random frames: an untrained model's int8 graph costs what a trained one's
    does (the same operations on the same shapes), but its masks mean nothing;

* ``GFLOP/s`` and ``% peak`` of the fastest float32 and bfloat16 figures against the
  machine's measured peak (a large matmul in TensorFlow, float32 and bfloat16,
  :func:`heatsink.models.speed.peak_gflops`).

The CPU may be shared: the 1-minute load average is printed before and after, and a
figure taken with a load average above ``LOAD_WARN`` (with this process not yet running)
is marked as measured under load. Run ``.venv/bin/python bench/line_speed.py``
(``--repeats 30``, ``--budget 5`` seconds per figure, ``--engines keras-graph onnx`` ...).
The speed chapter measures trained runs the same way (:mod:`heatsink.study.speed`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import cv2
import numpy as np
import pandas as pd

from heatsink import hardware
from heatsink.models import build_model, count_params
from heatsink.models.speed import (
    ENGINE_PRECISION,
    ENGINES,
    engine_missing,
    engine_predictor,
    frozen_gflop,
    latency_by_batch,
    peak_gflops,
)

LOAD_WARN = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["unet", "gslu", "light"])
    parser.add_argument("--big", action="store_true", help="add resnet50 and vgg16")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per figure")
    parser.add_argument("--budget", type=float, default=5.0,
                        help="seconds of timing per figure before stopping early (≥ 3 calls)")
    parser.add_argument("--no-peak", action="store_true", help="skip the matmul peak")
    args = parser.parse_args()
    models = args.models + (["resnet50", "vgg16"] if args.big else [])
    engines = [e for e in args.engines if not engine_missing(e)]

    load_before = os.getloadavg()[0]
    print(f"machine: {hardware.summary_line()}")
    print(f"load average (1 min) before: {load_before:.2f}"
          + ("  -- CPU SHARED: figures measured under load" if load_before > LOAD_WARN else ""),
          flush=True)
    peak = {}
    if not args.no_peak:
        peak["float32"] = peak_gflops("float32")
        if hardware.has_bf16():
            peak["bfloat16"] = peak_gflops("bfloat16")
        print("matmul peak GFLOP/s (2048², all cores): "
              + ", ".join(f"{k} {v:.0f}" for k, v in peak.items()), flush=True)

    rng = np.random.default_rng(0)
    calibration = [cv2.resize((rng.random((40, 40, 3)) * 255).astype(np.uint8),
                              (args.size, args.size)) for _ in range(32)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-line-") as tmp_name:
        for name in models:
            model = build_model(name)
            gflop = frozen_gflop(model, args.size)
            row: dict[str, object] = {"model": name, "params": count_params(model),
                                      "GFLOP": round(gflop, 3)}
            fastest = {"float32": np.inf, "bfloat16": np.inf, "int8": np.inf}
            for engine in engines:
                started = time.perf_counter()
                predictor = engine_predictor(model, engine, args.size, Path(tmp_name) / name,
                                             build=lambda name=name: build_model(name),
                                             calibration=calibration)
                per_batch = latency_by_batch(predictor, args.batches, args.size, args.repeats,
                                             budget_s=args.budget)
                best = min(per_batch, key=per_batch.get)
                if 1 in per_batch:
                    row[f"{engine} b1"] = round(per_batch[1], 1)
                row[f"{engine} best"] = f"{per_batch[best]:.1f} (b{best})"
                kind = ENGINE_PRECISION[engine]
                fastest[kind] = min(fastest[kind], per_batch[best])
                print(f"{name} {engine}: " + ", ".join(
                    f"b{b} {ms:.1f}" for b, ms in per_batch.items())
                    + f" ms/frame ({time.perf_counter() - started:.0f} s)", flush=True)
            for kind, ms in fastest.items():
                if np.isfinite(ms):
                    achieved = gflop / (ms / 1000)
                    short = {"float32": "fp32", "bfloat16": "bf16"}.get(kind, kind)
                    row[f"GFLOP/s {short}"] = round(achieved, 1)
                    if kind in peak:
                        row[f"% peak {short}"] = round(100 * achieved / peak[kind], 1)
            rows.append(row)
    load_after = os.getloadavg()[0]
    table = pd.DataFrame(rows).set_index("model").T
    print(f"\n{hardware.summary_line()}; {args.size}² frames; ms per frame, median of up to "
          f"{args.repeats} calls; load average before {load_before:.2f}, after {load_after:.2f}"
          + (" (CPU SHARED: under load)" if load_before > LOAD_WARN else ""))
    print(table.to_string())


if __name__ == "__main__":
    main()
