"""Out-of-sample class probabilities for every image, by k-fold training.

Label-quality methods (:mod:`heatsink.label_quality`) compare each label with what a model
predicts for that image, so the model must not have seen the image: every image gets its
probabilities from the one of ``k`` models that was trained without it. The folds keep the
tiles of one part together (on the twin), as the train/val/test split does, because tiles
that share a seam share defects. Each fold's model picks its best epoch on a validation
slice of its *training* folds, never on the fold it predicts.

A cross-validation lives in one folder::

    cv_dir/
      crossval.json   k, seed, the training config, the dataset checksum
      folds.csv       image_id, fold
      fold-0/ ...     a training run (see :mod:`heatsink.train`) per fold
      fold-0/oos_probs.npy   float16 (n_fold, H, W, K) probabilities of the held-out fold

Everything is written atomically and reused: a killed cross-validation resumes with the
fold (and epoch) it was in; a finished one costs only the time to read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from heatsink.data import Dataset
from heatsink.data.split import SPLIT_COLUMNS, assign_groups
from heatsink.errors import HeatsinkError
from heatsink.io import atomic_path, write_text_atomic
from heatsink.models.run import Run, TrainConfig

#: Share of the training folds' images held out to choose each fold model's best epoch.
VAL_FRACTION = 0.15


def make_folds(ds: Dataset, k: int = 3, seed: int = 0) -> pd.DataFrame:
    """Assign each image to one of ``k`` folds of near-equal size, whole parts together.

    Parameters
    ----------
    ds : Dataset
        The data; ``ds.parts`` (the twin's part of each tile) groups images when present.
    k : int
        Number of folds (at least 2).
    seed : int
        Seed of the random order in which parts are dealt out.

    Returns
    -------
    DataFrame
        Columns ``image_id, fold``, in ``ds.ids`` order.
    """
    if k < 2 or k > len(ds):
        raise HeatsinkError(f"k-fold needs 2 <= k <= {len(ds)} images, not k={k}")
    n = len(ds)
    sizes = [n // k + (1 if f < n % k else 0) for f in range(k)]
    parts = ds.parts
    folds = assign_groups(ds.ids, None if parts is None else parts.to_dict(), sizes,
                          np.random.default_rng(seed))
    return pd.DataFrame({"image_id": ds.ids, "fold": folds})


def fold_split(ds: Dataset, folds: pd.DataFrame, fold: int, seed: int = 0) -> pd.DataFrame:
    """The train/val/test split of one fold: test = the fold, val = 15 % of the rest.

    Returns a split manifest as :func:`heatsink.data.make_split` does, so that
    :func:`heatsink.train.train` records and verifies it in the run folder.
    """
    rest = folds.loc[folds["fold"] != fold, "image_id"].astype(str).tolist()
    n_val = max(1, round(VAL_FRACTION * len(rest)))
    parts = ds.parts
    groups = None if parts is None else parts.to_dict()
    bins = assign_groups(rest, groups, [len(rest) - n_val, n_val],
                         np.random.default_rng(seed + 1000 + fold))
    if 1 not in bins:  # few, large parts: move the smallest part to validation
        part_of = [groups.get(i, i) if groups else i for i in rest]
        sizes = pd.Series(part_of).value_counts()
        smallest = sizes.index[sizes.argmin()]
        bins = [1 if p == smallest else b for p, b in zip(part_of, bins, strict=True)]
    if 0 not in bins:
        raise HeatsinkError(f"fold {fold}: too few images outside it to train and validate")
    split = dict.fromkeys(folds["image_id"].astype(str), "test")
    split.update({i: ("train", "val")[b] for i, b in zip(rest, bins, strict=True)})
    ids = list(ds.ids)
    return pd.DataFrame(
        {
            "image_id": ids,
            "split": [split[i] for i in ids],
            "image_sha256": [ds.file_sha256(ds.image_path(i)) for i in ids],
            "label_sha256": [ds.file_sha256(ds.mask_path(i)) for i in ids],
        },
        columns=SPLIT_COLUMNS,
    )


@dataclass
class OutOfSample:
    """The out-of-sample probabilities of a finished cross-validation.

    Attributes
    ----------
    path : Path
        The cross-validation folder.
    ids : list of str
        Image ids, in dataset order.
    folds : DataFrame
        ``image_id, fold``.
    config : dict
        The fold models' configuration (a :class:`~heatsink.train.TrainConfig` as a dict,
        or a :class:`ForestConfig`'s).
    """

    path: Path
    ids: list[str]
    folds: pd.DataFrame
    config: dict

    @property
    def k(self) -> int:
        """Number of folds."""
        return int(self.folds["fold"].max()) + 1

    def _fold_arrays(self) -> list[np.ndarray]:
        return [np.load(self.path / f"fold-{f}" / "oos_probs.npy", mmap_mode="r")
                for f in range(self.k)]

    def probabilities(self, dtype: type = np.float32) -> np.ndarray:
        """All probabilities as one (N, H, W, K) array in :attr:`ids` order."""
        arrays = self._fold_arrays()
        n = len(self.ids)
        out = np.empty((n, *arrays[0].shape[1:]), dtype=dtype)
        for f, array in enumerate(arrays):
            rows = np.flatnonzero(self.folds["fold"].to_numpy() == f)
            out[rows] = array
        return out

    def predictions(self) -> np.ndarray:
        """Arg-max masks (N, H, W) uint8, in :attr:`ids` order."""
        arrays = self._fold_arrays()
        out = np.empty((len(self.ids), *arrays[0].shape[1:3]), np.uint8)
        for f, array in enumerate(arrays):
            rows = np.flatnonzero(self.folds["fold"].to_numpy() == f)
            for r, p in zip(rows, array, strict=True):
                out[r] = p.argmax(axis=-1)
        return out

    def fold_metrics(self) -> pd.DataFrame:
        """Each fold model's validation scores (its own validation slice, as labelled).

        With ``epochs_trained`` and ``train_hours`` (summed over its epochs, interrupted
        executions included) where the fold's learning curve is on disk. Empty for models
        that keep no validation slice (the pixel forest).
        """
        rows = {}
        for f in range(self.k):
            fold = self.path / f"fold-{f}"
            if (fold / "metrics.json").exists():
                metrics = json.loads((fold / "metrics.json").read_text())
                rows[f] = {"best_epoch": metrics["best_epoch"], **metrics["scores"]["labels"]}
                if (fold / "history.csv").exists():
                    history = Run.load(fold).history
                    rows[f]["epochs_trained"] = len(history)
                    rows[f]["train_hours"] = float(history["seconds"].sum() / 3600)
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("fold")


def _prepare(ds: Dataset, path: Path, config: dict, k: int, seed: int) -> pd.DataFrame:
    """Create or check a cross-validation folder; return its folds (written once)."""
    path.mkdir(parents=True, exist_ok=True)
    folds = make_folds(ds, k=k, seed=seed)
    identity = {"k": k, "seed": seed, "config": config, "dataset": ds.name,
                "dataset_checksum": ds.checksum}
    _check_identity(path, json.loads(json.dumps(identity)))
    folds_file = path / "folds.csv"
    if not folds_file.exists():
        with atomic_path(folds_file) as tmp:
            folds.to_csv(tmp, index=False)
    return folds


def _check_identity(path: Path, identity: dict) -> None:
    meta = path / "crossval.json"
    if meta.exists():
        saved = json.loads(meta.read_text())
        if saved != identity:
            changed = sorted(key for key in identity if saved.get(key) != identity[key])
            raise HeatsinkError(
                f"{path} holds a cross-validation of another setting (differs in {changed}); "
                "choose another folder or delete this one")
    else:
        write_text_atomic(meta, json.dumps(identity, indent=2))


def _predict_fold(run_path: Path, ds: Dataset, ids: list[str], config: TrainConfig) -> None:
    import tensorflow as tf

    from heatsink.models.predict import predict_probabilities
    from heatsink.train import resolve_precision

    run = Run.load(run_path)
    tf.keras.mixed_precision.set_global_policy(resolve_precision(config.precision))
    try:
        model = run.model("best") if (run_path / "best.keras").exists() else run.model("last")
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    out: np.ndarray | None = None
    for k, (image_id, probs) in enumerate(
            predict_probabilities(model, ds, ids, config.image_size, config.batch_size)):
        if out is None:
            out = np.empty((len(ids), *probs.shape), np.float16)
        if probs.shape != out.shape[1:]:
            raise HeatsinkError(
                f"{ds.mask_path(image_id)}: cross-validation needs frames of one size; "
                f"this one is {probs.shape[1]}×{probs.shape[0]}, the first "
                f"{out.shape[2]}×{out.shape[1]}")
        out[k] = probs
    with atomic_path(run_path / "oos_probs.npy") as tmp:
        np.save(tmp, out)


def out_of_sample(
    ds: Dataset,
    config: TrainConfig,
    path: str | Path,
    k: int = 3,
    seed: int = 0,
    verbose: int = 2,
    n_boot: int = 200,
) -> OutOfSample:
    """Train ``k`` fold models (or reuse them) and predict each image out of sample.

    Parameters
    ----------
    ds : Dataset
        All images to score; every image is held out once.
    config : TrainConfig
        The fold models' training (a fast model and few epochs are enough to rank labels).
    path : path
        The cross-validation folder (created; reused when it holds the same setting;
        refused when it holds another).
    k : int
        Number of folds (at least 2; 3 by default).
    seed : int
        Seed of the fold assignment.
    verbose : int
        Keras ``fit`` verbosity.
    n_boot : int
        Bootstrap resamples for each fold model's validation scores.

    Returns
    -------
    OutOfSample
    """
    from heatsink.train import train

    path = Path(path)
    folds = _prepare(ds, path, config.to_dict(), k, seed)
    for f in range(k):
        run_path = path / f"fold-{f}"
        if (run_path / "oos_probs.npy").exists():
            continue
        if verbose:
            print(f"fold {f + 1} of {k}: training on {int((folds['fold'] != f).sum())} images",
                  flush=True)
        train(config, ds, run_path, split=fold_split(ds, folds, f, seed), verbose=verbose,
              n_boot=n_boot)
        held_out = folds.loc[folds["fold"] == f, "image_id"].astype(str).tolist()
        _predict_fold(run_path, ds, held_out, config)
    return OutOfSample(path=path, ids=list(ds.ids), folds=folds, config=config.to_dict())


# --------------------------------------------------------------------------------------
# a fast pixel model: scikit-image features + a scikit-learn random forest
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForestConfig:
    """A per-pixel random forest on multi-scale image features (fast, no GPU needed).

    Scikit-image's trainable segmentation recipe: :func:`skimage.feature.
    multiscale_basic_features` (Gaussian-smoothed intensity, gradient magnitude and
    Hessian eigenvalues of each colour channel at ``n_sigma`` scales between ``sigma_min``
    and ``sigma_max``) on the frame resized to ``size``, then a
    :class:`sklearn.ensemble.RandomForestClassifier` trained on a class-balanced sample of
    pixels, then resized bilinearly to the frame. Its probabilities are those of the
    class-balanced sample: confident learning sets a threshold per class from the model's
    own average confidence, so it does not need them shifted back to the rare defects'
    true shares, and on a 100-image twin with 10 corrupted labels that shift
    (``prior_correction=True``) dropped cleanlab's hits in its top 20 % from 7 to 4.
    """

    size: int = 160
    sigma_min: float = 1.0
    sigma_max: float = 8.0
    n_sigma: int = 4
    n_estimators: int = 50
    max_depth: int = 14
    pixels_per_class_per_image: int = 200
    max_pixels_per_class: int = 40_000
    prior_correction: bool = False
    seed: int = 0

    def to_dict(self) -> dict:
        """A JSON-ready copy (with the model's name)."""
        from dataclasses import asdict

        return {"model": "pixel_forest", **asdict(self)}


def _features(image: np.ndarray, config: ForestConfig) -> np.ndarray:
    from skimage.feature import multiscale_basic_features

    small = cv2.resize(image, (config.size, config.size), interpolation=cv2.INTER_AREA)
    return multiscale_basic_features(
        small.astype(np.float32) / 255, channel_axis=-1, sigma_min=config.sigma_min,
        sigma_max=config.sigma_max, num_sigma=config.n_sigma,
    ).astype(np.float32)


def _pixel_sample(
    ds: Dataset, image_id: str, config: ForestConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A class-balanced pixel sample of one image, and its pixel count per class."""
    feats = _features(ds.image(image_id), config)
    mask = cv2.resize(ds.mask(image_id), (config.size, config.size),
                      interpolation=cv2.INTER_NEAREST)
    flat = mask.ravel()
    counts = np.bincount(flat, minlength=3)
    picks = [rng.choice(np.flatnonzero(flat == c),
                        min(config.pixels_per_class_per_image, int(counts[c])), replace=False)
             for c in range(len(counts)) if counts[c]]
    rows = np.concatenate(picks)
    return feats.reshape(-1, feats.shape[-1])[rows], flat[rows], counts


def forest_out_of_sample(
    ds: Dataset, path: str | Path, config: ForestConfig | None = None, k: int = 3,
    seed: int = 0, progress: bool = False,
) -> OutOfSample:
    """Out-of-sample probabilities from a per-pixel random forest, ``k``-fold.

    The same folds, folder layout and reuse as :func:`out_of_sample`, with a model that
    trains in seconds (:class:`ForestConfig`); it sees colour and local texture only, not
    shape, so it is a weaker but independent second opinion on the labels.
    """
    from sklearn.ensemble import RandomForestClassifier
    from tqdm import tqdm

    from heatsink.classes import CLASS_NAMES

    config = config or ForestConfig()
    path = Path(path)
    folds = _prepare(ds, path, config.to_dict(), k, seed)
    todo = [f for f in range(k) if not (path / f"fold-{f}" / "oos_probs.npy").exists()]
    if todo:
        rng = np.random.default_rng(config.seed)
        samples = {i: _pixel_sample(ds, i, config, rng)
                   for i in tqdm(ds.ids, desc="pixel samples", disable=not progress)}
    n_classes = len(CLASS_NAMES)
    for f in todo:
        train_ids = folds.loc[folds["fold"] != f, "image_id"].astype(str).tolist()
        x = np.concatenate([samples[i][0] for i in train_ids])
        y = np.concatenate([samples[i][1] for i in train_ids])
        share = sum(samples[i][2] for i in train_ids) / sum(
            samples[i][2].sum() for i in train_ids)
        keep = np.concatenate([
            rng.choice(np.flatnonzero(y == c), min(config.max_pixels_per_class,
                                                   int((y == c).sum())), replace=False)
            for c in range(n_classes) if (y == c).any()])
        forest = RandomForestClassifier(n_estimators=config.n_estimators,
                                        max_depth=config.max_depth, n_jobs=-1,
                                        random_state=config.seed + f).fit(x[keep], y[keep])
        sampled = np.bincount(y[keep], minlength=n_classes) / len(keep)
        prior = np.zeros(n_classes)
        prior[forest.classes_] = (share[forest.classes_] / sampled[forest.classes_]
                                  if config.prior_correction else 1.0)
        held_out = folds.loc[folds["fold"] == f, "image_id"].astype(str).tolist()
        out: np.ndarray | None = None
        for j, image_id in enumerate(tqdm(held_out, desc=f"fold {f + 1}/{k}",
                                          disable=not progress)):
            feats = _features(ds.image(image_id), config)
            probs = np.zeros((feats.shape[0] * feats.shape[1], n_classes), np.float32)
            probs[:, forest.classes_] = forest.predict_proba(feats.reshape(-1, feats.shape[-1]))
            probs *= prior
            probs /= np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
            probs = probs.reshape(config.size, config.size, n_classes)
            h, w = ds.mask(image_id).shape
            probs = cv2.resize(probs, (w, h), interpolation=cv2.INTER_LINEAR)
            if out is None:
                out = np.empty((len(held_out), h, w, n_classes), np.float16)
            if probs.shape != out.shape[1:]:
                raise HeatsinkError(f"{ds.mask_path(image_id)}: cross-validation needs frames "
                                    f"of one size; this one is {w}×{h}")
            out[j] = probs
        (path / f"fold-{f}").mkdir(exist_ok=True)
        with atomic_path(path / f"fold-{f}" / "oos_probs.npy") as tmp:
            np.save(tmp, out)
    return OutOfSample(path=path, ids=list(ds.ids), folds=folds, config=config.to_dict())


__all__ = [
    "VAL_FRACTION",
    "ForestConfig",
    "OutOfSample",
    "fold_split",
    "forest_out_of_sample",
    "make_folds",
    "out_of_sample",
]
