"""Does training repeat itself? Retrain the first epochs of a finished run and compare.

A training run of the study (chapter 3's baseline by default, ``unet`` in the study's runs
folder, :func:`heatsink.study.paths.runs_dir`) is seeded
and uses TensorFlow's deterministic ops. This check trains the same configuration, on the
same data and the same split, from scratch for ``--epochs`` epochs in a temporary folder,
then prints, per epoch, the recorded and the repeated training and validation loss and
accuracy and the largest absolute difference. It exits 1 when a difference exceeds
``--tolerance`` (default 1e-6, the tolerance the book states).

The repeat must run on the same kind of machine as the original (same CPU features, hence
the same precision: bfloat16 where the CPU has it) and the same library versions; the run
record in the run folder names both.

Usage: ``.venv/bin/python bench/reproduce_training.py [--run RUN_DIR] [--epochs 2]``
(about 3 minutes per epoch of the baseline on 2 cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from pathlib import Path

import pandas as pd

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)
from heatsink.data import load_dataset, load_split
from heatsink.resolve import resolve_data
from heatsink.study import paths
from heatsink.train import Run, train

COLUMNS = ["loss", "val_loss", "accuracy", "val_accuracy"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished or partly finished training run "
                        "folder (default: chapter 3's, unet in the study's runs folder)")
    parser.add_argument("--data", help="its dataset (default: the default twin)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args(argv)

    data = resolve_data(args.data)
    args.run = args.run or paths.runs_dir(data) / "unet"
    if not (args.run / "history.csv").exists():
        print(f"{args.run}: no training run to repeat (run chapter 3 first, or give --run); "
              "skipped")
        return 0
    original = Run.load(args.run)
    recorded = original.history
    if len(recorded) < args.epochs:
        parser.error(f"{args.run} has {len(recorded)} epochs recorded, fewer than {args.epochs}")
    ds = load_dataset(data)
    split = load_split(args.run / "split.csv", ds)
    config = dataclasses.replace(original.config, epochs=args.epochs)
    print(f"{args.run}: {config.model}, {config.image_size} px, batch {config.batch_size}, "
          f"lr {config.learning_rate}, loss {config.loss}, precision {config.precision}; "
          f"repeating epochs 1-{args.epochs} from scratch", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        repeated = train(config, ds, Path(tmp) / "repeat", split=split, verbose=0,
                         n_boot=10).history
    a = recorded[COLUMNS].iloc[: args.epochs].reset_index(drop=True)
    b = repeated[COLUMNS].iloc[: args.epochs].reset_index(drop=True)
    diff = (a - b).abs()
    table = pd.concat({"recorded": a, "repeated": b, "abs diff": diff}, axis=1)
    table.index = pd.RangeIndex(1, args.epochs + 1, name="epoch")
    with pd.option_context("display.float_format", "{:.9g}".format, "display.width", 200):
        print(table.to_string())
    worst = float(diff.to_numpy().max())
    verdict = "reproduced" if worst <= args.tolerance else "NOT reproduced"
    print(f"largest absolute difference {worst:.3g} (tolerance {args.tolerance:g}): {verdict}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
