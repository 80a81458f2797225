"""What precise batch-norm statistics change in a trained model's validation score, and how
many training frames they need.

Loads a model (a run folder's ``best.keras``, or a ``.keras`` file), recomputes its
batch-norm statistics on N whole training frames (:mod:`heatsink.models.precise_bn`; N = 0
keeps the saved moving averages) for each N given, with two draws of the frames where N is
less than the training split, and prints the validation defect mIoU against the labels and,
on a twin, the clean truth. The split is the run's ``split.csv``, else the study's
(``results/twin/split.csv``).

Run ``.venv/bin/python bench/precise_bn.py RUN_OR_MODEL [--frames 0 80 320 640]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import pandas as pd

from heatsink.data import load_dataset, load_split
from heatsink.evaluate import evaluate_predictions
from heatsink.models.fitting import validation_batches
from heatsink.models.precise_bn import PreciseStatistics, precise_frames
from heatsink.models.registry import load_model
from heatsink.models.run import TrainConfig
from heatsink.resolve import resolve_data
from heatsink.study.paths import repo_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="run folder or .keras file")
    parser.add_argument("--data", help="dataset (default: the study's twin)")
    parser.add_argument("--frames", type=int, nargs="+", default=[0, 80, 320, 640])
    parser.add_argument("--size", type=int, default=256, help="input side (a .keras file)")
    args = parser.parse_args()

    ds = load_dataset(resolve_data(args.data))
    folder = args.model if args.model.is_dir() else args.model.parent
    path = folder / "best.keras" if args.model.is_dir() else args.model
    split_file = folder / "split.csv"
    if not split_file.exists():
        split_file = repo_dir() / "results" / "twin" / "split.csv"
    split = load_split(split_file, ds)
    ids = {name: split.loc[split["split"] == name, "image_id"].astype(str).tolist()
           for name in ("train", "val")}
    config = TrainConfig(image_size=args.size, batch_size=16)
    rows = []
    for n in args.frames:
        for draw in ([0] if n == 0 or n >= len(ids["train"]) else [0, 1]):
            model = load_model(path)
            if n:
                frames = precise_frames(ids["train"], n, seed=draw)
                PreciseStatistics(model)(validation_batches(config, ds, frames))
            from heatsink.models.predict import predict_masks

            masks = predict_masks(model, ds, ids["val"], args.size)
            scores = {ref: ev.summary()["miou_defects"]
                      for ref, ev in evaluate_predictions(masks, ds).items()}
            rows.append({"frames": n if n else "moving averages", "draw": draw if n else "",
                         **{f"defect mIoU vs {ref} (%)": round(100 * float(v), 2)
                            for ref, v in scores.items()}})
            print(rows[-1], flush=True)
    print(f"\n{path} on {ds.name}, {len(ids['val'])} validation frames "
          f"(split {split_file}):")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
