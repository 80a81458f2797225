"""Do the engines give the masks and verdicts Keras gives? A trained run, on real frames.

For a run folder, predicts ``--n`` frames of a dataset with Keras (eager, float32: the
reference; a model trained under ``mixed_bfloat16`` is rebuilt in float32 with its weights,
as the exports are) and with each other engine (``keras-as-saved``: the model as loaded,
which computes in bfloat16 if it was trained so; ``graph-bf16``: the model under
``mixed_bfloat16``; ``onnx``; ``openvino``; ``openvino-bf16``), through
:func:`heatsink.line.inspect.predict_frames` so the masks are those ``heatsink inspect``
makes, and prints per engine the share of pixels whose class agrees with Keras, the worst
frame's share, the share of defect pixels (by Keras) that agree, and how many verdicts
(``--spec``, default ``specs/example.yaml``) differ.

Run ``.venv/bin/python bench/engine_agreement.py RUN --data TWIN --n 200``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import numpy as np
import pandas as pd
from line_inspect import _Predictor
from line_speed import BF16_ENGINES, engine_callables

from heatsink import hardware
from heatsink.line.inspect import InspectionModel, load_inspection_model, predict_frames, read_frame
from heatsink.line.spec import inspect_masks, load_spec
from heatsink.models.export import float32_model
from heatsink.models.run import Run

ENGINES = ("keras-as-saved", "graph-bf16", "onnx", "openvino", "openvino-bf16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--spec", type=Path,
                        default=Path(__file__).resolve().parents[1] / "specs" / "example.yaml")
    args = parser.parse_args()
    engines = [e for e in args.engines if hardware.has_bf16() or e not in BF16_ENGINES]

    folder = args.data / "images" if (args.data / "images").is_dir() else args.data
    paths = sorted(p for p in folder.iterdir() if p.is_file())[: args.n]
    frames = [read_frame(p)[0] for p in paths]
    spec = load_spec(args.spec)
    saved = load_inspection_model(args.run)
    keras = InspectionModel(float32_model(saved.model), saved.image_size, saved.identity)
    name = Run.load(args.run).config.model

    def masks_of(model: InspectionModel) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for start in range(0, len(frames), args.batch):
            out += predict_frames(model, frames[start : start + args.batch])
        return out

    def verdicts(masks: list[np.ndarray]) -> list[str]:
        return list(inspect_masks(((str(k), m) for k, m in enumerate(masks)), spec)["verdict"])

    reference = masks_of(keras)
    ref_verdicts = verdicts(reference)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-agree-") as tmp:
        for engine in engines:
            if engine == "keras-as-saved":
                engine_model = saved
            else:
                make = engine_callables(name, keras.model, engine, keras.image_size, Path(tmp))
                engine_model = InspectionModel(_Predictor(_any_batch(make)), keras.image_size,
                                               keras.identity)
            masks = masks_of(engine_model)
            same = np.array([(a == b).mean() for a, b in zip(masks, reference, strict=True)])
            defect = np.concatenate([(a == b)[b > 0] for a, b in zip(masks, reference,
                                                                     strict=True)])
            rows.append({"engine": engine, "pixels agree": round(float(same.mean()), 6),
                         "worst frame": round(float(same.min()), 6),
                         "defect pixels agree": round(float(defect.mean()), 6)
                         if defect.size else float("nan"),
                         "verdicts differ": sum(a != b for a, b in zip(verdicts(masks),
                                                                       ref_verdicts,
                                                                       strict=True))})
            print(rows[-1], flush=True)
    print(f"\n{args.run.name} ({keras.identity}), {len(frames)} frames of {args.data}, "
          f"reference Keras eager float32; {sum(v == 'FAIL' for v in ref_verdicts)} FAIL "
          f"verdicts by the reference")
    print(pd.DataFrame(rows).to_string(index=False))


def _any_batch(make):
    """A graph engine traced per batch size it meets (the last batch may be short)."""
    cache: dict[int, object] = {}

    def call(x: np.ndarray) -> np.ndarray:
        if len(x) not in cache:
            cache[len(x)] = make(len(x))
        return cache[len(x)](x)

    return call


if __name__ == "__main__":
    main()
