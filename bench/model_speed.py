"""Training throughput (float32 vs bfloat16) and inference latency of each model on this CPU.

Prints one table with the machine line:

* ``train img/s fp32`` / ``bf16``: images per second of ``train_on_batch`` steps (Adam,
  cross-entropy) on random 256² input at ``--batch`` images per step, after one warm-up
  step; bf16 is Keras's ``mixed_bfloat16`` policy with the float32 softmax head, measured
  only where the CPU has bf16 instructions (``heatsink.hardware.has_bf16``).
* ``ms/img b1@256`` … ``b16@320``: median forward-pass time per image at batch 1 and 16,
  at 256² and 320², under the precision ``heatsink train`` would use here (``auto``).
* ``load s`` / ``load s tf-keras``: seconds to read the model back from a ``.keras`` file
  with :func:`heatsink.models.load_model` and with ``tf.keras.models.load_model`` (which
  reads the weights from inside the zip, slowly on Python 3.11).

Run it on an otherwise idle machine: ``.venv/bin/python bench/model_speed.py``
(``--models unet gslu``, ``--steps 3``, ``--batch 16``, ``--repeats 10``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import numpy as np
import pandas as pd
import tensorflow as tf

from heatsink import hardware
from heatsink.models import MODEL_NAMES, Predictor, build_model, count_params, load_model
from heatsink.train import resolve_precision


def _build(name: str, policy: str) -> tf.keras.Model:
    tf.keras.mixed_precision.set_global_policy(policy)
    try:
        return build_model(name)
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


def train_throughput(name: str, policy: str, batch: int, steps: int, size: int = 256) -> float:
    """Images per second of training steps of model ``name`` under ``policy``."""
    model = _build(name, policy)
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((batch, size, size, 3), dtype=np.float32)
    y = tf.one_hot(rng.integers(0, 3, (batch, size, size)), 3).numpy()
    model.train_on_batch(x, y)  # trace and warm up
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start)


def load_seconds(model: tf.keras.Model) -> tuple[float, float]:
    """Seconds to load ``model`` from a ``.keras`` file: heatsink's loader, tf-keras's."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        times = []
        for load in (load_model, lambda p: tf.keras.models.load_model(p, compile=False)):
            start = time.perf_counter()
            load(path)
            times.append(time.perf_counter() - start)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--batch", type=int, default=16, help="training batch size")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--repeats", type=int, default=10, help="timed forward passes")
    args = parser.parse_args()

    precision = resolve_precision("auto")
    print(f"machine: {hardware.summary_line()}")
    print(f"inference precision: {precision}; training batch {args.batch}, 256 px")
    rows = {}
    for name in args.models:
        row: dict[str, float | int | str] = {}
        row["parameters"] = count_params(_build(name, "float32"))
        fp32 = train_throughput(name, "float32", args.batch, args.steps)
        row["train img/s fp32"] = round(fp32, 2)
        if hardware.has_bf16():
            bf16 = train_throughput(name, "mixed_bfloat16", args.batch, args.steps)
            row["train img/s bf16"] = round(bf16, 2)
            row["bf16/fp32"] = round(bf16 / fp32, 2)
        model = _build(name, precision)
        for size in (256, 320):
            for batch in (1, 16):
                row[f"ms/img b{batch}@{size}"] = round(
                    Predictor(model, size).latency_ms(batch, repeats=args.repeats), 1)
        ours, theirs = load_seconds(model)
        row["load s"], row["load s tf-keras"] = round(ours, 1), round(theirs, 1)
        rows[name] = row
        print(f"{name}: done", flush=True)
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    print(table.to_string())


if __name__ == "__main__":
    main()
