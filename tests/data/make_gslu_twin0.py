"""Remake ``tests/data/gslu-twin0.keras``: fold 0 of a 3-fold cross-validation on the default
twin, trained with the study plan's recipe of its day, on crops (see ``tests/data/README.md``).

Run from the repository root: ``.venv/bin/python tests/data/make_gslu_twin0.py``. It trains
(or reuses, from ``label-quality/gslu-k3`` in :func:`heatsink.study.paths.runs_dir`) fold 0
and saves its best model without the optimizer state: about 40 minutes on a 2-core CPU.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import tensorflow as tf

from heatsink import crossval
from heatsink.data import load_dataset
from heatsink.models import load_model
from heatsink.resolve import resolve_data
from heatsink.study import paths
from heatsink.train import TrainConfig, train

#: The fold model's configuration: the study plan's recipe of its day (crops, cosine, early
#: stopping; the plan has trained on whole frames since).
CONFIG = TrainConfig(model="gslu", image_size=256, batch_size=16, epochs=40, learning_rate=1e-3,
                     loss="wcce+dice", class_weighting="balanced", crop=160, schedule="cosine",
                     patience=6, precision="auto")
OUT = Path(__file__).with_name("gslu-twin0.keras")


def main() -> int:
    ds = load_dataset(resolve_data(None))
    path = paths.runs_dir(ds.root) / "label-quality" / "gslu-k3"
    folds = crossval.make_folds(ds, k=3, seed=0)
    run_dir = path / "fold-0"
    if not (run_dir / "metrics.json").exists():
        train(CONFIG, ds, run_dir, split=crossval.fold_split(ds, folds, 0, 0), verbose=2)
    model = load_model(run_dir / "best.keras")
    slim = tf.keras.models.clone_model(model)  # drops the optimizer state (3.8 → 1.5 MB)
    slim.set_weights(model.get_weights())
    slim.save(OUT)
    print(f"{OUT}: sha256 {hashlib.sha256(OUT.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
