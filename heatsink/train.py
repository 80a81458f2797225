"""Training: one entry point, :func:`train`, used by the notebooks and by ``heatsink train``.

A run lives in a folder of its own::

    run_dir/
      config.json     the TrainConfig, with the precision actually used
      record.json     git sha, code hash, dataset name and checksum, hardware, packages
      split.csv       the split the run used (ids and file hashes)
      history.csv     one row per epoch (loss, metrics, seconds, images/s)
      best.keras      the model at its best validation defect IoU so far
      last.keras      the model after the last finished epoch
      backup/         Keras BackupAndRestore state (deleted when training finishes)
      metrics.json    validation scores of best.keras (pixel, object, bootstrap CIs)
      confusion.csv   its summed validation confusion matrix (against the labels)

Every file is written atomically. A run killed at any moment resumes from the start of the
epoch it was in when the same command is given again (Keras ``BackupAndRestore``, saved at
each epoch's end); a finished run is not trained again.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import tensorflow as tf

from heatsink.errors import HeatsinkError
from heatsink.io import atomic_path, exclusive_folder, link_atomic, write_text_atomic

if TYPE_CHECKING:
    from heatsink.data import Dataset

#: Loss terms ``TrainConfig.loss`` may combine with "+", e.g. ``"wcce+dice"``.
LOSS_TERMS = ("cce", "wcce", "focal", "dice")
PRECISIONS = ("auto", "float32", "mixed_bfloat16")


@dataclass
class TrainConfig:
    """Everything that defines a training run.

    Attributes
    ----------
    model : str
        ``"unet"`` (the seed's half-width U-Net), ``"resnet50"``, ``"vgg16"`` (U-Nets from
        segmentation-models) or ``"gslu"`` (the light GSLU-style net).
    encoder_weights : str or None
        ``"imagenet"`` (ResNet50 only) or None for random initialisation.
    image_size : int
        Side of the square training input: 256 (the seed's protocol) or 320 (native).
    batch_size, epochs : int
        As the seed: 32 and 40 for the U-Net, 16 and 40 for the backbones.
    learning_rate : float
        Adam's learning rate.
    loss : str
        Terms from :data:`LOSS_TERMS` joined by "+": ``cce`` categorical cross-entropy,
        ``wcce`` class-weighted cross-entropy, ``focal`` categorical focal loss, ``dice``
        Dice loss (all from ``segmentation_models.losses``).
    class_weighting : str
        How ``wcce`` weights classes (see :func:`heatsink.imbalance.class_weights`).
    augment : bool
        Random flips and 90° rotations.
    photometric : bool
        Random brightness, gamma, colour, blur and noise on training batches
        (:mod:`heatsink.data.augment`); off by default, as in the seed's protocol.
    precision : str
        ``"auto"`` (``mixed_bfloat16`` where the CPU has bf16 instructions, else
        ``float32``), ``"float32"`` or ``"mixed_bfloat16"``.
    seed : int
        Seeds weights, shuffling and augmentation.
    deterministic : bool
        Enable TensorFlow's op determinism (same seed, same machine, same numbers).
    model_kwargs : dict
        Extra arguments for the model builder (e.g. ``{"filters": 8}`` for a tiny U-Net).
    """

    model: str = "unet"
    encoder_weights: str | None = None
    image_size: int = 256
    batch_size: int = 32
    epochs: int = 40
    learning_rate: float = 1e-3
    loss: str = "cce"
    class_weighting: str = "balanced"
    augment: bool = False
    photometric: bool = False
    precision: str = "auto"
    seed: int = 0
    deterministic: bool = True
    model_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        from heatsink.models import MODEL_NAMES

        if self.model not in MODEL_NAMES:
            raise HeatsinkError(f"unknown model {self.model!r}; choose from {MODEL_NAMES}")
        terms = self.loss.split("+")
        bad = [t for t in terms if t not in LOSS_TERMS]
        if bad or not terms:
            raise HeatsinkError(f"unknown loss term(s) {bad} in {self.loss!r}; "
                                f"combine {LOSS_TERMS} with '+'")
        if self.precision not in PRECISIONS:
            raise HeatsinkError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        if self.image_size % 32:
            raise HeatsinkError(f"image_size must be a multiple of 32, not {self.image_size}")
        if self.epochs < 1 or self.batch_size < 1:
            raise HeatsinkError("epochs and batch_size must be at least 1")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, refusing unknown keys (a typo must not pass silently)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise HeatsinkError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


def resolve_precision(precision: str = "auto") -> str:
    """The Keras dtype policy to train with: ``auto`` picks bf16 only where the CPU has it."""
    from heatsink.hardware import has_bf16

    if precision == "auto":
        return "mixed_bfloat16" if has_bf16() else "float32"
    return precision


def make_loss(name: str, weights: np.ndarray | None = None):
    """A ``segmentation_models.losses`` loss from a ``"+"``-joined name.

    Parameters
    ----------
    name : str
        E.g. ``"cce"``, ``"wcce+dice"``, ``"focal+dice"``.
    weights : ndarray, optional
        Class weights for the ``wcce`` term.
    """
    import segmentation_models as sm

    loss = None
    for term in name.split("+"):
        if term == "cce":
            part = sm.losses.CategoricalCELoss()
        elif term == "wcce":
            if weights is None:
                raise HeatsinkError("the 'wcce' loss needs class weights")
            part = sm.losses.CategoricalCELoss(class_weights=np.asarray(weights, np.float32))
        elif term == "focal":
            part = sm.losses.CategoricalFocalLoss()
        elif term == "dice":
            part = sm.losses.DiceLoss()
        else:
            raise HeatsinkError(f"unknown loss term {term!r}")
        loss = part if loss is None else loss + part
    return loss


def train_class_weights(ds: Dataset, ids: list[str], method: str) -> np.ndarray:
    """Class weights from the pixel counts of the training labels."""
    from heatsink.imbalance import class_weights
    from heatsink.objects import class_pixel_counts

    counts = sum(class_pixel_counts(ds.mask(i)) for i in ids)
    return np.asarray(class_weights(counts, method=method), dtype=np.float64)


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


@dataclass
class Run:
    """A training run's folder and what is in it.

    Attributes
    ----------
    path : Path
        The run folder.
    config : TrainConfig
        Its configuration.
    """

    path: Path
    config: TrainConfig

    @classmethod
    def load(cls, path: str | Path, ds: Dataset | None = None) -> Run:
        """Open an existing run folder.

        With ``ds``, refuse a run trained on other data (another checksum), as
        :func:`train` does: a model is then never scored on data it was not trained for
        without saying so.
        """
        path = Path(path)
        config_file = path / "config.json"
        if not config_file.exists():
            raise HeatsinkError(f"{path}: not a training run (no config.json)")
        if ds is not None:
            _check_same_data(path, ds)
        saved = json.loads(config_file.read_text())
        saved.pop("precision_used", None)
        return cls(path=path, config=TrainConfig.from_dict(saved))

    @property
    def finished(self) -> bool:
        """Whether training and the validation scoring finished."""
        return (self.path / "metrics.json").exists()

    @property
    def history(self) -> pd.DataFrame:
        """One row per epoch (the last row wins where an interrupted epoch was redone)."""
        frame = pd.read_csv(self.path / "history.csv")
        return frame.drop_duplicates("epoch", keep="last").set_index("epoch")

    @property
    def metrics(self) -> dict[str, Any]:
        """The validation scores written at the end of training."""
        return json.loads((self.path / "metrics.json").read_text())

    @property
    def record(self) -> dict[str, Any]:
        """Provenance: git sha, dataset checksum, hardware, packages."""
        return json.loads((self.path / "record.json").read_text())

    def model(self, which: str = "best") -> tf.keras.Model:
        """The saved model: ``"best"`` (on validation) or ``"last"``."""
        from heatsink.models import load_model

        return load_model(self.path / f"{which}.keras")


def _check_same_config(run_dir: Path, config: TrainConfig) -> None:
    config_file = run_dir / "config.json"
    if not config_file.exists():
        return
    saved = json.loads(config_file.read_text())
    saved.pop("precision_used", None)
    saved = TrainConfig.from_dict(saved).to_dict()  # options added since take their defaults
    wanted = json.loads(json.dumps(config.to_dict()))
    if saved != wanted:
        changed = sorted(k for k in wanted if saved.get(k) != wanted.get(k))
        raise HeatsinkError(f"{run_dir} holds a run with another configuration (differs in "
                            f"{changed}); choose another run folder or delete this one")


def _check_same_data(run_dir: Path, ds: Dataset) -> None:
    """Refuse to resume or reuse a run trained on other data (another checksum)."""
    record_file = run_dir / "record.json"
    if not record_file.exists():
        return
    trained_on = json.loads(record_file.read_text()).get("dataset", {}).get("checksum")
    if trained_on and trained_on != ds.checksum:
        raise HeatsinkError(f"{run_dir} holds a run trained on other data (checksum "
                            f"{trained_on[:12]}, this data {ds.checksum[:12]}); choose "
                            "another run folder or delete this one to retrain")


def _split_ids(ds: Dataset, split: pd.DataFrame | None, run_dir: Path, seed: int):
    from heatsink.data import load_split, make_split, save_split

    path = run_dir / "split.csv"
    if split is None:
        split = load_split(path, ds) if path.exists() else make_split(ds, seed=seed,
                                                                       groups=ds.parts)
    if not path.exists():
        save_split(split, path)
    train_ids = split.loc[split["split"] == "train", "image_id"].astype(str).tolist()
    val_ids = split.loc[split["split"] == "val", "image_id"].astype(str).tolist()
    if not train_ids or not val_ids:
        raise HeatsinkError(f"{path}: the split needs train and val images "
                            f"(has {len(train_ids)} and {len(val_ids)})")
    return train_ids, val_ids


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
    with exclusive_folder(run_dir, "training a model"):
        return _train(config, ds, run_dir, split, verbose, n_boot)


def _train(config: TrainConfig, ds: Dataset, run_dir: Path, split: pd.DataFrame | None,
           verbose: int, n_boot: int) -> Run:
    """:func:`train`, with ``run_dir`` locked."""
    _check_same_config(run_dir, config)
    _check_same_data(run_dir, ds)
    run = Run(path=run_dir, config=config)
    if run.finished:
        return run

    train_ids, val_ids = _split_ids(ds, split, run_dir, config.seed)
    precision = resolve_precision(config.precision)
    write_text_atomic(run_dir / "config.json",
                      json.dumps({**config.to_dict(), "precision_used": precision}, indent=2))
    if not (run_dir / "record.json").exists():
        from heatsink.provenance import run_record

        record = run_record(config.to_dict(), ds.name, ds.checksum, ds.root)
        write_text_atomic(run_dir / "record.json", json.dumps(record, indent=2))

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
    from heatsink.classes import CLASS_NAMES
    from heatsink.data.pipeline import make_tf_dataset
    from heatsink.models import build_model

    tf.keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    tf.keras.mixed_precision.set_global_policy(precision)
    try:
        weights = None
        if "wcce" in config.loss.split("+"):
            weights = train_class_weights(ds, train_ids, config.class_weighting)
        model = build_model(config.model, encoder_weights=config.encoder_weights,
                            **config.model_kwargs)
        model.compile(
            optimizer=tf.keras.optimizers.Adam(config.learning_rate),
            loss=make_loss(config.loss, weights),
            metrics=[
                tf.keras.metrics.CategoricalAccuracy(name="accuracy"),
                tf.keras.metrics.OneHotIoU(num_classes=len(CLASS_NAMES),
                                           target_class_ids=[1, 2], name="defect_iou"),
            ],
        )
        train_data = make_tf_dataset(ds, train_ids, size=config.image_size,
                                     batch_size=config.batch_size, augment=config.augment,
                                     shuffle=True, seed=config.seed,
                                     photometric=config.photometric)
        val_data = make_tf_dataset(ds, val_ids, size=config.image_size,
                                   batch_size=config.batch_size)
        # Keras runs the callbacks in this order at each epoch's end: the backup, which marks
        # the epoch done for a resume, comes after the epoch's checkpoints and history row,
        # so a run killed in between redoes the epoch (its repeated row is dropped by
        # Run.history) instead of resuming past an epoch whose outputs were never written
        callbacks = [
            EpochTiming(len(train_ids)),
            BestCheckpoint(run_dir, "val_defect_iou"),
            tf.keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
            tf.keras.callbacks.BackupAndRestore(str(run_dir / "backup")),
        ]
        logger = tf.get_logger()
        level = logger.level
        # each run builds a new model, so Keras warns of "retracing" when several runs share
        # a process (a notebook training four models); nothing is retraced within a run
        logger.setLevel("ERROR")
        try:
            model.fit(train_data, validation_data=val_data, epochs=config.epochs,
                      callbacks=callbacks, verbose=verbose)
        finally:
            logger.setLevel(level)
    except tf.errors.OpError as err:
        raise HeatsinkError(f"training in {run_dir} failed: {err.message.splitlines()[0]}") from err
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


def _score(run: Run, ds, val_ids, precision: str, n_boot: int, fit_seconds: float) -> None:
    from heatsink.evaluate import evaluate_predictions, predict_masks
    from heatsink.models import count_params

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
    write_text_atomic(run.path / "metrics.json", json.dumps(metrics, indent=2, default=float))
