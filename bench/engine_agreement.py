"""Do the engines give the masks and verdicts Keras gives? A trained run, on real frames.

For a run folder, predicts ``--n`` frames of a dataset with the float32 Keras model (the
reference; a model trained under ``mixed_bfloat16`` is rebuilt in float32 with its weights,
as the exports are) and with each other engine (:data:`heatsink.models.speed.ENGINES`:
``keras-eager``, ``keras-graph-bf16``, the model under ``mixed_bfloat16``, which is how a
model trained in bfloat16 computes as saved; ``onnx``; ``openvino``; ``openvino-bf16``),
every one through the package's prediction path, so the masks are those ``heatsink inspect``
makes, and prints per engine the share of pixels whose class agrees with Keras, the worst
frame's share, the share of defect pixels (by Keras) that agree, and how many verdicts
(``--spec``, default ``specs/example.yaml``) differ: :func:`heatsink.study.speed.engine_agreement`,
which the speed chapter runs on the study's runs.

Run ``.venv/bin/python bench/engine_agreement.py RUN --data TWIN --n 200``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import pandas as pd

from heatsink.line.inspect import read_frame
from heatsink.line.spec import load_spec
from heatsink.models.speed import ENGINES, available_engines
from heatsink.study.speed import engine_agreement, open_models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--engines", nargs="+", default=[e for e in ENGINES
                                                         if e != "keras-graph"],
                        choices=ENGINES)
    parser.add_argument("--spec", type=Path,
                        default=Path(__file__).resolve().parents[1] / "specs" / "example.yaml")
    args = parser.parse_args()

    folder = args.data / "images" if (args.data / "images").is_dir() else args.data
    paths = sorted(p for p in folder.iterdir() if p.is_file())[: args.n]
    frames = [read_frame(p)[0] for p in paths]
    models = open_models({args.run.name: args.run})
    item = models[args.run.name]
    table = engine_agreement(models, frames, available_engines(args.engines),
                             spec=load_spec(args.spec), batch_size=args.batch)
    print(f"\n{args.run.name} ({item.identity}), {len(frames)} frames of {args.data}, "
          "reference Keras float32 (graph)")
    print(pd.DataFrame(table).drop(columns="model").to_string(index=False))


if __name__ == "__main__":
    main()
