"""Training: one entry point, :func:`train`, used by the notebooks and by ``heatsink train``.

A run lives in a folder of its own (its layout: :mod:`heatsink.models.run`), plus, while it
trains, ``backup/`` (Keras ``BackupAndRestore`` state, deleted when training finishes). At
the end the best checkpoint's validation predictions are scored once, against the labels and
(on the twin) the clean truth: pooled scores with bootstrap intervals in ``metrics.json``,
each image's counts in ``val-per-image-<reference>.csv``, read back with
:meth:`heatsink.models.Run.evaluation` instead of predicting again.

Every file is written atomically. A run killed at any moment resumes from the start of the
epoch it was in when the same command is given again (Keras ``BackupAndRestore``, saved at
each epoch's end); a finished run is not trained again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.io import atomic_path, exclusive_folder, link_atomic, write_text_atomic
from heatsink.models.fitting import (
    compiled_model,
    resolve_precision,
    steps_per_epoch,
    train_class_weights,
    training_batches,
    training_session,
    validation_batches,
)
from heatsink.models.precise_bn import PreciseValidation, precise_frames
from heatsink.models.run import Run, TrainConfig, check_same_data, per_image_file

if TYPE_CHECKING:
    from heatsink.data import Dataset


class EpochTiming(tf.keras.callbacks.Callback):
    """Adds ``seconds`` and ``images_per_s`` to each epoch's logs (before the CSV logger)."""

    def __init__(self, n_images: int) -> None:
        super().__init__()
        self.n_images = n_images
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self._start
        if logs is not None:
            logs["seconds"] = seconds
            logs["images_per_s"] = self.n_images / seconds


class StopWhenStale(tf.keras.callbacks.Callback):
    """Early stopping that survives a resume: stop once ``patience`` epochs have passed since
    the best epoch recorded in ``best.json`` (which :class:`BestCheckpoint` writes first).

    Keras's own ``EarlyStopping`` keeps its count in memory, so a run killed and resumed would
    start counting again; this one reads the count from the run folder. It never stops before
    ``min_epochs`` epochs.
    """

    def __init__(self, run_dir: Path, patience: int, min_epochs: int | None = None) -> None:
        super().__init__()
        self.state = run_dir / "best.json"
        self.patience = patience
        self.min_epochs = min_epochs or 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch + 1 < self.min_epochs or not self.state.exists():
            return
        best = json.loads(self.state.read_text())["epoch"]  # 1-based
        if epoch + 1 - best >= self.patience:
            self.model.stop_training = True


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """Adam's learning rate: a number, or a cosine decay over every step of ``config.epochs``."""
    if config.schedule == "cosine":
        return tf.keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=max(1, config.epochs * steps_per_epoch),
            alpha=0.01)
    return config.learning_rate


class BestCheckpoint(tf.keras.callbacks.Callback):
    """Saves ``last.keras`` after every epoch, and ``best.keras`` when ``monitor`` (higher
    is better) improves.

    Both are written atomically; the best value so far is kept in ``best.json``, so the
    comparison survives an interruption and resume. An improving epoch's ``best.keras`` is a
    hard link to its ``last.keras`` (the next epoch's ``last.keras`` is a new file), so the
    model is serialised once per epoch and a run whose best epoch is its last holds one
    copy on disk (390 MB for the ResNet50 U-Net).
    """

    def __init__(self, run_dir: Path, monitor: str) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.monitor = monitor
        self.state = run_dir / "best.json"

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        best = json.loads(self.state.read_text())["value"] if self.state.exists() else None
        last = self.run_dir / "last.keras"
        with atomic_path(last) as tmp:
            self.model.save(tmp)
        if value is not None and np.isfinite(value) and (best is None or value > best):
            link_atomic(last, self.run_dir / "best.keras")
            write_text_atomic(self.state, json.dumps(
                {"epoch": epoch + 1, "monitor": self.monitor, "value": float(value)}))


def _check_same_config(run_dir: Path, config: TrainConfig) -> None:
    """Refuse a run with another configuration; a recorded run that never got past its
    set-up (no epoch, no checkpoint) is set up again with the new one instead. A run whose
    configuration differs only in what would not have changed it (:func:`config_changes`)
    takes the new configuration."""
    from heatsink.models.run import config_changes

    config_file = run_dir / "config.json"
    if not config_file.exists():
        return
    saved = json.loads(config_file.read_text())
    history = run_dir / "history.csv"
    epochs = int(pd.read_csv(history)["epoch"].nunique()) if history.exists() else 0
    changed = config_changes(saved, config, epochs, (run_dir / "metrics.json").exists())
    if not changed:  # the same run: its record names the configuration asked for now
        named = {**json.loads(json.dumps(config.to_dict())),
                 "precision_used": saved.get("precision_used")}
        if "architecture" in saved:  # what was built stays recorded
            named["architecture"] = saved["architecture"]
        if named != saved:
            write_text_atomic(config_file, json.dumps(named, indent=2))
        return
    if not _started(run_dir):
        for name in ("split.csv", "best.json", "config.json", "record.json"):
            (run_dir / name).unlink(missing_ok=True)
        return
    raise HeatsinkError(f"{run_dir} holds a run with another configuration (differs in "
                        f"{changed}); choose another run folder or delete this one")


def _split_ids(ds: Dataset, split: pd.DataFrame | None, run_dir: Path, seed: int):
    from heatsink.data import load_split, make_split

    path = run_dir / "split.csv"
    if split is None:
        split = load_split(path, ds) if path.exists() else make_split(ds, seed=seed,
                                                                       groups=ds.parts)
    train_ids = split.loc[split["split"] == "train", "image_id"].astype(str).tolist()
    val_ids = split.loc[split["split"] == "val", "image_id"].astype(str).tolist()
    if not train_ids or not val_ids:
        raise HeatsinkError(f"{path}: the split needs train and val images "
                            f"(has {len(train_ids)} and {len(val_ids)}); nothing was written")
    return split, train_ids, val_ids


def train(
    config: TrainConfig,
    ds: Dataset,
    run_dir: str | Path,
    split: pd.DataFrame | None = None,
    verbose: int = 2,
    n_boot: int = 1000,
) -> Run:
    """Train a model, or resume or reuse the run in ``run_dir``.

    Parameters
    ----------
    config : TrainConfig
        What to train.
    ds : Dataset
        The data (verified on load, so a bad file fails here, before any training).
    run_dir : path
        The run folder; created if needed. A folder with the same config and data resumes
        (or, if finished, is returned as it is); one with another config, or trained on
        data with another checksum, is refused.
    split : DataFrame, optional
        A split manifest (see :func:`heatsink.data.make_split`); default: the one saved in
        ``run_dir``, else a new seeded 70/15/15 split (grouped by part on the twin).
    verbose : int
        Keras ``fit`` verbosity (2: one line per epoch).
    n_boot : int
        Bootstrap resamples for the validation intervals.

    Returns
    -------
    Run

    Raises
    ------
    HeatsinkError
        If another process is training in ``run_dir`` (see
        :func:`heatsink.io.exclusive_folder`), or it holds a run with another config or
        trained on other data.
    """
    run_dir = Path(run_dir)
    _refuse_foreign(run_dir)
    with exclusive_folder(run_dir, "training a model"):
        _refuse_foreign(run_dir)  # again, now that no other process writes it
        return _train(config, ds, run_dir, split, verbose, n_boot)


def _refuse_foreign(run_dir: Path) -> None:
    """A run folder must be missing, empty or a run this package recorded."""
    from heatsink.models.run import foreign_files
    from heatsink.safety import printable

    try:
        found = foreign_files(run_dir)
    except OSError as exc:
        raise HeatsinkError(f"{printable(run_dir)}: cannot read the run folder "
                            f"({exc.strerror or exc})") from None
    if found:
        shown = ", ".join(printable(name) for name in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        raise HeatsinkError(f"{printable(run_dir)}: holds files that are not a recorded "
                            f"training run ({shown}{more}); nothing is overwritten: use an "
                            "empty or new folder")


def _started(run_dir: Path) -> bool:
    """Whether training in ``run_dir`` got past its set-up (an epoch, a checkpoint)."""
    return any((run_dir / name).exists() for name in
               ("history.csv", "last.keras", "best.keras", "fitted.json", "metrics.json")
               ) or any((run_dir / "backup").glob("*"))


def _train(config: TrainConfig, ds: Dataset, run_dir: Path, split: pd.DataFrame | None,
           verbose: int, n_boot: int) -> Run:
    """:func:`train`, with ``run_dir`` locked."""
    _check_same_config(run_dir, config)
    check_same_data(run_dir, ds)
    run = Run(path=run_dir, config=config)
    if run.finished:
        return run

    split, train_ids, val_ids = _split_ids(ds, split, run_dir, config.seed)
    precision = resolve_precision(config.precision)
    # record.json first: it marks the folder as a run of this package (is_recorded_run)
    if not (run_dir / "record.json").exists():
        from heatsink.provenance import run_record

        record = run_record(config.to_dict(), ds.name, ds.checksum, ds.root)
        write_text_atomic(run_dir / "record.json", json.dumps(record, indent=2))
    from heatsink.models.registry import builder_kwargs

    write_text_atomic(run_dir / "config.json", json.dumps(
        {**config.to_dict(), "precision_used": precision,
         "architecture": builder_kwargs(config.model, **config.model_kwargs)}, indent=2))
    if not (run_dir / "split.csv").exists():
        from heatsink.data import save_split

        save_split(split, run_dir / "split.csv")

    started = time.perf_counter()
    fitted = run_dir / "fitted.json"
    if not fitted.exists():  # BackupAndRestore deletes its state when fit() ends
        if any((run_dir / "backup").glob("*")) and (run_dir / "history.csv").exists():
            done = len(run.history)
            print(f"{run_dir}: resuming after epoch {done} of {config.epochs}", flush=True)
        _fit(config, precision, ds, train_ids, val_ids, run_dir, verbose)
        write_text_atomic(fitted, json.dumps({"epochs": config.epochs}))
    fit_seconds = time.perf_counter() - started
    _score(run, ds, val_ids, precision, n_boot, fit_seconds)
    return run


def _fit(config, precision, ds, train_ids, val_ids, run_dir: Path, verbose: int) -> None:
    try:
        with training_session(config, precision):
            steps = steps_per_epoch(config, len(train_ids))
            model = compiled_model(config, ds, train_ids, learning_rate(config, steps))
            train_data = training_batches(config, ds, train_ids)
            val_data = validation_batches(config, ds, val_ids)
            first = []
            if config.precise_bn:  # validated by the callback, after the statistics
                frames = precise_frames(train_ids, config.precise_bn, config.seed)
                first = [PreciseValidation(validation_batches(config, ds, frames), val_data)]
            # Keras runs the callbacks in this order at each epoch's end: the backup, which
            # marks the epoch done for a resume, comes after the epoch's checkpoints and
            # history row, so a run killed in between redoes the epoch (its repeated row is
            # dropped by Run.history) instead of resuming past an epoch whose outputs were
            # never written
            callbacks = [
                *first,
                EpochTiming(len(train_ids)),
                BestCheckpoint(run_dir, "val_defect_iou"),
                tf.keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
                *([StopWhenStale(run_dir, config.patience, config.min_epochs)]
                  if config.patience else []),
                tf.keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
            ]
            logger = tf.get_logger()
            level = logger.level
            # each run builds a new model, so Keras warns of "retracing" when several runs
            # share a process (a notebook training four models); nothing is retraced within
            # a run
            logger.setLevel("ERROR")
            try:
                model.fit(train_data, validation_data=None if first else val_data,
                          epochs=config.epochs,
                          callbacks=callbacks, verbose=verbose)
            finally:
                logger.setLevel(level)
    except tf.errors.OpError as err:
        raise HeatsinkError(f"training in {run_dir} failed: {err.message.splitlines()[0]}") from err


def _score(run: Run, ds, val_ids, precision: str, n_boot: int, fit_seconds: float) -> None:
    """Score the best checkpoint on the validation split, once, and keep every image's counts."""
    from heatsink.evaluate import evaluate_predictions
    from heatsink.models.predict import predict_masks
    from heatsink.models.registry import count_params

    config = run.config
    tf.keras.mixed_precision.set_global_policy(precision)
    try:
        model = run.model("best") if (run.path / "best.keras").exists() else run.model("last")
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    started = time.perf_counter()
    predictions = predict_masks(model, ds, val_ids, config.image_size)
    infer_ms = 1000 * (time.perf_counter() - started) / max(len(val_ids), 1)
    evaluations = evaluate_predictions(predictions, ds)
    history = run.history
    best = json.loads((run.path / "best.json").read_text()) if (
        run.path / "best.json").exists() else {}
    metrics = {
        "split": "val",
        "n_images": len(val_ids),
        "best_epoch": best.get("epoch"),
        "epochs_trained": len(history),
        "stopped_early": len(history) < config.epochs,
        "parameters": count_params(model),
        "precision": precision,
        "train_s_per_image": float((1 / history["images_per_s"]).median()),
        "fit_seconds_this_session": fit_seconds,
        "predict_ms_per_image": infer_ms,
        "scores": {ref: ev.summary().to_dict() for ref, ev in evaluations.items()},
        "bootstrap": {ref: ev.bootstrap(n_boot=n_boot).to_dict(orient="index")
                      for ref, ev in evaluations.items()},
    }
    confusion = pd.DataFrame(evaluations["labels"].scores.confusion)
    with atomic_path(run.path / "confusion.csv") as tmp:
        confusion.to_csv(tmp, index=False)
    for ref, ev in evaluations.items():
        with atomic_path(per_image_file(run.path, ref)) as tmp:
            ev.to_table().to_csv(tmp)
    # last: a run counts as finished once metrics.json exists, so the files above come first
    write_text_atomic(run.path / "metrics.json", json.dumps(metrics, indent=2, default=float))


__all__ = [
    "BestCheckpoint",
    "EpochTiming",
    "Run",
    "StopWhenStale",
    "TrainConfig",
    "learning_rate",
    "resolve_precision",
    "train",
    "train_class_weights",
]
