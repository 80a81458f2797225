"""A training run's folder: its configuration (:class:`TrainConfig`) and contents (:class:`Run`).

Reading a run needs neither the training loop nor Keras callbacks: the line's inspection opens
a run with this module alone. :func:`heatsink.train.train` writes the folder::

    run_dir/
      config.json     the TrainConfig, with the precision actually used
      record.json     git sha, code hash, dataset name and checksum, hardware, packages
      split.csv       the split the run used (ids and file hashes)
      history.csv     one row per epoch (loss, metrics, seconds, images/s)
      best.keras      the model at its best validation defect IoU so far
      last.keras      the model after the last finished epoch
      metrics.json    validation scores of best.keras (pixel, object, bootstrap intervals)
      confusion.csv   its summed validation confusion matrix (against the labels)
      val-per-image-<reference>.csv   its per-image validation counts, per reference
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from heatsink.errors import HeatsinkError
from heatsink.models.losses import LOSS_TERMS
from heatsink.models.registry import MODEL_NAMES

if TYPE_CHECKING:
    import tensorflow as tf

    from heatsink.data import Dataset
    from heatsink.evaluate import Evaluation

PRECISIONS = ("auto", "float32", "mixed_bfloat16")
#: Learning-rate schedules: Adam's step held, or cosine decay to 1 % of it over the epochs.
SCHEDULES = ("constant", "cosine")


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
    texture : bool
        Random unlabelled plating texture (grain, polishing streaks, specks) multiplied into
        training images (:mod:`heatsink.data.texture`), before any photometric change; off by
        default.
    texture_share : float or None
        With ``texture``, the share of training images that get a texture; None: the
        module's (``heatsink.data.texture.SHARES["textured"]``, one half).
    texture_strength : float
        With ``texture``, a factor on every texture's strength (1: as the module draws it).
    texture_spots : float
        With ``texture``, the share of textured images that also get soft spots of stain
        size, fainter than the twin's stains (:mod:`heatsink.data.texture`); 0: none.
    texture_marks : float
        With ``texture``, the share of textured images that also get long bright polishing
        marks (:mod:`heatsink.data.texture`); 0: none.
    crop : int or None
        Train on random ``crop``² windows of the ``image_size``² images (a multiple of 32; the
        models are fully convolutional); validation always sees whole frames. None: whole
        images, as the seed.
    schedule : str
        ``"constant"`` (the seed's) or ``"cosine"``: the learning rate decays along a cosine
        to 1 % of ``learning_rate`` over ``epochs``.
    patience : int or None
        Stop once this many epochs have passed without a better validation defect IoU
        (early stopping; the best checkpoint is kept either way). None: train all ``epochs``.
    min_epochs : int or None
        Early stopping never stops before this many epochs (a net whose validation score is
        noisy while the learning rate is high is not judged on its first epochs). None: from
        the first.
    prior_bias : bool
        Start the logits at the training labels' class frequencies (RetinaNet's prior
        initialisation, :func:`heatsink.models.fitting.start_at_priors`): plain
        cross-entropy then does not open by driving every pixel to background, which it
        otherwise does on this data (the GSLU-style net, from the default initialisation,
        predicted no defect pixel after 200 steps). Off by default, as in the seed's protocol.
    precise_bn : int or None
        Before each validation, recompute every batch-norm layer's moving statistics on this
        many whole training frames, the weights held (:mod:`heatsink.models.precise_bn`), so
        that early stopping and the best checkpoint follow the weights rather than the lag
        of Keras's moving averages. None: validate with the moving averages, as the seed.
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
    texture: bool = False
    texture_share: float | None = None
    texture_strength: float = 1.0
    texture_spots: float = 0.0
    texture_marks: float = 0.0
    crop: int | None = None
    schedule: str = "constant"
    patience: int | None = None
    min_epochs: int | None = None
    prior_bias: bool = False
    precise_bn: int | None = None
    precision: str = "auto"
    seed: int = 0
    deterministic: bool = True
    model_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("model", "loss", "class_weighting", "precision"):
            if not isinstance(getattr(self, key), str):
                raise HeatsinkError(f"{key} must be a string, not {getattr(self, key)!r}")
        if self.model not in MODEL_NAMES:
            raise HeatsinkError(f"unknown model {self.model!r}; choose from {MODEL_NAMES}")
        terms = self.loss.split("+")
        bad = [t for t in terms if t not in LOSS_TERMS]
        if bad or not terms:
            raise HeatsinkError(f"unknown loss term(s) {bad} in {self.loss!r}; "
                                f"combine {LOSS_TERMS} with '+'")
        if self.precision not in PRECISIONS:
            raise HeatsinkError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")
        for key in ("image_size", "batch_size", "epochs", "seed"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise HeatsinkError(f"{key} must be a whole number, not {value!r}")
        if self.image_size < 32 or self.image_size % 32:
            raise HeatsinkError(f"image_size must be a positive multiple of 32, not "
                                f"{self.image_size}")
        if self.epochs < 1 or self.batch_size < 1:
            raise HeatsinkError("epochs and batch_size must be at least 1")
        if self.crop is not None and (self.crop % 32 or not 0 < self.crop <= self.image_size):
            raise HeatsinkError(f"crop must be a multiple of 32 no larger than image_size "
                                f"{self.image_size}, not {self.crop}")
        if self.schedule not in SCHEDULES:
            raise HeatsinkError(f"schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        if self.patience is not None and self.patience < 1:
            raise HeatsinkError(f"patience must be at least 1 epoch, not {self.patience}")
        if self.min_epochs is not None and not 1 <= self.min_epochs <= self.epochs:
            raise HeatsinkError(f"min_epochs must be between 1 and epochs ({self.epochs}), "
                                f"not {self.min_epochs}")
        if self.precise_bn is not None and (isinstance(self.precise_bn, bool) or not isinstance(
                self.precise_bn, int) or self.precise_bn < 1):
            raise HeatsinkError(f"precise_bn must be a number of frames >= 1 or null, not "
                                f"{self.precise_bn!r}")
        share, strength = self.texture_share, self.texture_strength
        if share is not None and (isinstance(share, bool) or not isinstance(share, int | float)
                                  or not 0 < share <= 1):
            raise HeatsinkError(f"texture_share must be in (0, 1] or null, not {share!r}")
        if (isinstance(strength, bool) or not isinstance(strength, int | float)
                or not math.isfinite(strength) or strength <= 0):
            raise HeatsinkError(f"texture_strength must be a finite number > 0, not "
                                f"{strength!r}")
        for field_name in ("texture_spots", "texture_marks"):
            value = getattr(self, field_name)
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not 0 <= value <= 1):
                raise HeatsinkError(f"{field_name} must be in [0, 1], not {value!r}")
        if not self.texture and (share is not None or strength != 1 or self.texture_spots
                                 or self.texture_marks):
            raise HeatsinkError("texture_share, texture_strength, texture_spots and "
                                "texture_marks set a texture dose: they need texture on")
        rate = self.learning_rate
        if (isinstance(rate, bool) or not isinstance(rate, int | float)
                or not math.isfinite(rate) or rate <= 0):
            raise HeatsinkError(f"learning_rate must be a finite number > 0, not {rate!r}")
        if not isinstance(self.model_kwargs, dict):
            raise HeatsinkError(f"model_kwargs must be a mapping, not {self.model_kwargs!r}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, refusing unknown keys (a typo must not pass silently)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(key) for key in set(values) - known)
        if unknown:
            raise HeatsinkError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)


#: Keys of ``record.json`` (:func:`heatsink.provenance.run_record`) that mark a folder as a
#: run this package recorded.
RECORD_KEYS = frozenset({"parameters", "dataset", "git_sha", "code_sha256", "started"})
#: Files of this package's own in a run folder that holds no run yet (the training lock).
OWN_FILES = frozenset({".lock"})


def is_recorded_run(folder: str | Path) -> bool:
    """Whether ``folder`` holds a run :func:`heatsink.train.train` recorded.

    The marker: ``record.json`` is a JSON object with every key of :data:`RECORD_KEYS`
    (:func:`heatsink.provenance.run_record`, written before anything else of the run). A
    folder without it holds someone else's files, which training must never overwrite.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     is_recorded_run(tmp)
    False
    """
    folder = Path(folder)
    try:
        record = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and RECORD_KEYS <= set(record)


def foreign_files(folder: str | Path) -> list[str]:
    """Names of the files in ``folder`` that stop it from becoming a run folder: all its
    files (but :data:`OWN_FILES`) unless it is a recorded run (:func:`is_recorded_run`);
    empty for a missing or empty folder."""
    folder = Path(folder)
    if not folder.exists():
        return []
    if not folder.is_dir():
        return [folder.name]
    names = sorted(entry.name for entry in folder.iterdir() if entry.name not in OWN_FILES)
    return [] if not names or is_recorded_run(folder) else names


def check_same_data(run_dir: Path, ds: Dataset) -> None:
    """Refuse to resume or reuse a run trained on other data (another checksum)."""
    record_file = run_dir / "record.json"
    if not record_file.exists():
        return
    trained_on = json.loads(record_file.read_text()).get("dataset", {}).get("checksum")
    if trained_on and trained_on != ds.checksum:
        raise HeatsinkError(f"{run_dir} holds a run trained on other data (checksum "
                            f"{trained_on[:12]}, this data {ds.checksum[:12]}); choose "
                            "another run folder or delete this one to retrain")


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
        :func:`heatsink.train.train` does: a model is then never scored on data it was not
        trained for without saying so.
        """
        path = Path(path)
        config_file = path / "config.json"
        if not config_file.exists():
            raise HeatsinkError(f"{path}: not a training run (no config.json)")
        if ds is not None:
            check_same_data(path, ds)
        from heatsink.safety import read_text_file

        try:
            saved = json.loads(read_text_file(config_file, "run's configuration"))
        except ValueError as exc:
            raise HeatsinkError(f"{config_file}: not valid JSON ({exc})") from None
        if not isinstance(saved, dict):
            raise HeatsinkError(f"{config_file}: not a run configuration (a JSON object)")
        saved.pop("precision_used", None)
        saved.pop("architecture", None)
        return cls(path=path, config=TrainConfig.from_dict(saved))

    @property
    def finished(self) -> bool:
        """Whether training and the validation scoring finished (a run scored before the
        per-image files existed is scored again, without training, by :func:`train`)."""
        return ((self.path / "metrics.json").exists()
                and per_image_file(self.path, "labels").exists())

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
        from heatsink.models.registry import load_model

        return load_model(self.path / f"{which}.keras")

    def evaluation(self, reference: str = "labels") -> Evaluation:
        """The validation scores of ``best.keras`` against ``reference``, image by image.

        Training scores the validation split once and keeps each image's counts
        (:func:`per_image_file`); this reads them back, so nothing is predicted again.

        Raises
        ------
        HeatsinkError
            If the run has no per-image scores against ``reference`` (not finished, or no
            clean truth to score against).
        """
        from heatsink.evaluate import Evaluation

        path = per_image_file(self.path, reference)
        if not path.exists():
            raise HeatsinkError(f"{path}: no per-image validation scores against the "
                                f"{reference} (is the run finished?)")
        table = pd.read_csv(path, index_col="image_id", dtype={"image_id": str})
        return Evaluation.from_table(table, reference)

    def evaluations(self) -> dict[str, Evaluation]:
        """:meth:`evaluation` against every reference the run was scored against."""
        return {reference: self.evaluation(reference)
                for reference in self.metrics["scores"]}


def config_changes(saved: dict[str, Any], wanted: TrainConfig, epochs: int,
                   finished: bool) -> list[str]:
    """The options in which a run folder's configuration differs from ``wanted`` in a way that
    changes what training makes.

    ``saved`` is the folder's ``config.json`` (options added since take their defaults).
    ``min_epochs`` only delays early stopping, so it changes nothing for a run that has not
    stopped (``finished`` False) or that stopped at or after both values.

    Examples
    --------
    >>> wanted = TrainConfig(patience=6, min_epochs=15)
    >>> old = {"patience": 6}
    >>> config_changes(old, wanted, epochs=33, finished=True)
    []
    >>> config_changes(old, wanted, epochs=8, finished=True)
    ['min_epochs']
    >>> config_changes({"patience": 5}, wanted, epochs=33, finished=True)
    ['patience']
    """
    saved = dict(saved)
    saved.pop("precision_used", None)
    saved.pop("architecture", None)
    old = TrainConfig.from_dict(saved).to_dict()
    new = json.loads(json.dumps(wanted.to_dict()))
    changed = sorted(k for k in new if old.get(k) != new.get(k))
    if "min_epochs" in changed and (not finished or epochs >= max(
            old.get("min_epochs") or 0, new.get("min_epochs") or 0)):
        changed.remove("min_epochs")
    return changed


def per_image_file(run_dir: str | Path, reference: str) -> Path:
    """Where a run keeps its per-image validation counts against ``reference``."""
    return Path(run_dir) / f"val-per-image-{reference}.csv"


__all__ = [
    "OWN_FILES",
    "PRECISIONS",
    "RECORD_KEYS",
    "SCHEDULES",
    "Run",
    "TrainConfig",
    "check_same_data",
    "config_changes",
    "foreign_files",
    "is_recorded_run",
    "per_image_file",
]
