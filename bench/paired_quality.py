"""Two finished runs on the same validation images: defect mIoU of each and a paired interval.

Loads each run's ``best.keras``, predicts its validation images (those its stored per-image
scores name; both runs must hold the same ones) with the package's evaluation path
(:func:`heatsink.models.predict.predict_masks`), scores them against the labels and, on a twin,
the clean truth, and prints per run the defect mIoU with its bootstrap interval, the
epoch seconds (median of ``history.csv``), and the paired difference A − B with its
interval (:func:`heatsink.evaluate.paired_difference`, the same image draws for both).

Run ``.venv/bin/python bench/paired_quality.py RUN_A RUN_B --data TWIN``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import pandas as pd

from heatsink.data import load_dataset
from heatsink.evaluate import evaluate_predictions, paired_difference
from heatsink.models.predict import predict_masks
from heatsink.models.run import Run


def _val_ids(run: Run) -> list[str]:
    """The validation images the run was scored on (its stored per-image scores: a run kept
    with the results may share the study's split instead of holding a copy)."""
    return [str(i) for i in run.evaluation("labels").ids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--data", type=Path, required=True, help="the dataset both trained on")
    parser.add_argument("--measure", default="miou_defects")
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args()

    ds = load_dataset(args.data)
    runs = [Run.load(args.run_a, ds), Run.load(args.run_b, ds)]
    ids = _val_ids(runs[0])
    if sorted(ids) != sorted(_val_ids(runs[1])):
        raise SystemExit("the two runs validated on different images")
    evaluations, rows = [], []
    for run in runs:
        masks = predict_masks(run.model("best"), ds, ids, run.config.image_size)
        evaluation = evaluate_predictions(masks, ds)
        evaluations.append(evaluation)
        history = run.history
        for ref, ev in evaluation.items():
            boot = ev.bootstrap(n_boot=args.n_boot).loc[args.measure]
            rows.append({"run": run.path.name, "model": run.config.model, "reference": ref,
                         args.measure: round(boot["value"], 4),
                         "low": round(boot["low"], 4), "high": round(boot["high"], 4),
                         "epochs": len(history),
                         "epoch s (median)": round(float(history["seconds"].median()), 1)})
    print(f"{len(ids)} validation images of {args.data}")
    print(pd.DataFrame(rows).to_string(index=False))
    for ref in evaluations[0]:
        diff = paired_difference(evaluations[0][ref], evaluations[1][ref], args.measure,
                                 n_boot=args.n_boot)
        print(f"{ref}: {args.measure} {runs[0].path.name} − {runs[1].path.name} = "
              f"{diff['difference']:+.4f} [{diff['low']:+.4f}, {diff['high']:+.4f}] "
              f"(95 % paired bootstrap; A higher in {diff['share_a_higher']:.0%} of draws)")


if __name__ == "__main__":
    main()
