"""The study's training plan, as data: what chapters 4 and 5 train, in which order, and how
far each run has come.

One recipe (:data:`RECIPE`) for every run: 256² frames, batch 16, random 160² crops, flips
and 90° rotations, photometric augmentation, Adam on a cosine schedule for at most 40
epochs, early stopping after 6 epochs without a better validation defect IoU. Only the
model, the loss, the learning rate (one per model family, from a range test) and the seed
change. Five stages, each planned from what the earlier ones left on disk:

0. a learning-rate range test per model family (:func:`heatsink.models.lr_range.lr_range`,
   its curve in ``<results>/lr_range/<family>.csv``), and two recipe checks on the
   :data:`CROP_CHECK` model beside its stage-1 run: what photometric augmentation costs or
   brings (the same run without it) and what crops cost (the same run on whole frames);
1. every encoder (:data:`ENCODERS`) with the seed's loss and the study's
   (:data:`STAGE1_LOSSES`), each at its family's learning rate (read from the range test's
   file: a run whose family has none yet is *blocked*);
2. the loss ablation (:data:`ABLATION_LOSSES`, and the study loss with the milder class
   weights of :data:`ABLATION_WEIGHTINGS`) on the chosen encoder: the encoder of the best
   stage-1 run by validation defect mIoU (the study's one rule,
   :func:`heatsink.study.results.rank_models`, on :meth:`heatsink.models.Run.evaluation`);
3. seeds 1 and 2 of the top :data:`TOP_RECIPES` recipes of stages 1–2 and of both stage-1
   losses of the chosen encoder;
4. the label checks' fold models (:func:`heatsink.crossval.out_of_sample`, :data:`FOLDS`
   folds) with the chosen recipe: the best of stage 3 by its mean over the seeds.

A run's status is ``done`` (scored), ``partial`` (some epochs trained), ``missing`` or
``blocked`` (with the reason). :func:`run_plan` trains what is missing or partial, in order;
every run resumes from its last finished epoch (:func:`heatsink.train.train`), so the same
command, given again after a session ends, carries on. The runs live in
``<runs>/plan/<name>`` (:data:`PLAN_FOLDER`), apart from the runs the chapters trained before
this plan, which keep their folders and names.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from heatsink.errors import HeatsinkError
from heatsink.study.naming import run_name

if TYPE_CHECKING:
    from heatsink.data import Dataset
    from heatsink.models.run import TrainConfig

#: Random brightness, gamma, colour, blur and noise on training batches
#: (:mod:`heatsink.data.augment`). On: the study's models are meant to carry over to real
#: plating, and a model trained on one rendering of the twin learns that rendering (issue 26's
#: real-surface check). Stage 0 trains the recipe check without it, so what it costs or brings
#: on the twin is measured, not assumed; a run's name marks only a departure from this value.
PHOTOMETRIC = True
#: What every run of the plan shares (:class:`heatsink.models.TrainConfig` fields).
RECIPE: dict[str, Any] = {
    "image_size": 256,
    "batch_size": 16,
    "crop": 160,
    "schedule": "cosine",
    "patience": 6,
    "epochs": 40,
    "augment": True,
    "photometric": PHOTOMETRIC,
    "precision": "auto",
}
#: The encoders compared in stage 1, each a model family with a learning rate of its own.
ENCODERS = ("unet", "resnet50", "vgg16", "gslu", "light")
#: Pretrained encoder weights by family (the others train from scratch).
ENCODER_WEIGHTS = {"resnet50": "imagenet"}
#: Builder arguments by family: the U-Net at half the original width (32 filters at the top).
MODEL_KWARGS: dict[str, dict[str, Any]] = {"unet": {"filters": 32}}
#: The seed's loss and the study's imbalance-aware one: every encoder trains with both.
SEED_LOSS, STUDY_LOSS = "cce", "wcce+dice"
STAGE1_LOSSES = (SEED_LOSS, STUDY_LOSS)
#: The loss ablation on the chosen encoder (stage 2).
ABLATION_LOSSES = ("cce", "wcce", "dice", "wcce+dice", "focal+dice")
#: Stage 2 also trains the study loss with milder class weights: scikit-learn's "balanced"
#: weights a defect pixel ~40× a background pixel, which buys recall with false alarms (the
#: 8-epoch chosen model raised 3–5 false components per frame on the twin).
ABLATION_WEIGHTINGS = ("inverse_sqrt",)
#: Seeds of stage 3 (seed 0 is the run of stage 1 or 2).
SEEDS = (0, 1, 2)
#: How many of the best recipes of stages 1–2 stage 3 repeats.
TOP_RECIPES = 3
#: The range test: its loss (Adam scales each step by the gradient's own size, so a rate
#: found with one loss serves the other), steps and range of learning rates.
RANGE_LOSS = STUDY_LOSS
RANGE_STEPS = 100
RANGE_LR = (1e-6, 1.0)
#: The rate of a family whose range test is inconclusive (its loss still lowest at the
#: largest rates tried, as on this study's batch-normalised nets, which did not diverge even
#: at 1.0 in 100 steps): Adam's default, at which the 8-epoch study trained every model but
#: VGG16. The chapter shows each family's curve and says which rate it got and why.
FALLBACK_LR = 1e-3
#: The model and loss whose cropped run is compared with one on whole frames (stage 0).
CROP_CHECK = ("gslu", STUDY_LOSS)
#: Folds of the label checks' out-of-sample models (stage 4).
FOLDS = 3
#: The plan's runs, under the study's runs folder.
PLAN_FOLDER = "plan"
#: The stages, in order.
STAGES = (0, 1, 2, 3, 4)
STATUSES = ("done", "partial", "missing", "blocked")


@dataclass(frozen=True)
class PlannedRun:
    """One item of the plan and how far it has come.

    Attributes
    ----------
    name : str
        Its name (:func:`plan_name`; ``lr-range-<family>`` for a range test,
        ``<recipe>-k<folds>-fold<f>`` for a fold model).
    stage : int
        The stage that plans it (a run two stages share is listed in both).
    kind : str
        ``"lr_range"``, ``"train"`` or ``"fold"``.
    path : Path
        Its run folder, or the range test's CSV file.
    status : str
        ``done``, ``partial``, ``missing`` or ``blocked``.
    config : TrainConfig or None
        What it trains; None while blocked for want of a learning rate or a choice.
    epochs : int or None
        Epochs trained so far (None for a range test).
    why : str
        Why it is blocked, else empty.
    """

    name: str
    stage: int
    kind: str
    path: Path
    status: str
    config: TrainConfig | None = None
    epochs: int | None = None
    why: str = field(default="")


def plan_name(config: TrainConfig) -> str:
    """A plan run's name: :func:`~heatsink.study.naming.run_name` relative to :data:`RECIPE`
    (its size, crop and flips go unsaid).

    >>> plan_name(recipe_config("gslu", "wcce+dice", 1e-3))
    'gslu-wcce+dice'
    >>> plan_name(recipe_config("gslu", "wcce+dice", 1e-3, crop=None, seed=2))
    'gslu-wcce+dice-frames-s2'
    """
    return run_name(config, base_size=RECIPE["image_size"], base_crop=RECIPE.get("crop"),
                    base_augment=RECIPE.get("augment", False),
                    base_photometric=RECIPE.get("photometric", False))


def recipe_config(model: str, loss: str, learning_rate: float, **changes: Any) -> TrainConfig:
    """The :class:`~heatsink.models.TrainConfig` of the recipe for ``model`` and ``loss``.

    >>> recipe_config("resnet50", "cce", 3e-4).encoder_weights
    'imagenet'
    """
    from heatsink.models.run import TrainConfig

    values = {**RECIPE, "model": model, "loss": loss, "learning_rate": learning_rate,
              "encoder_weights": ENCODER_WEIGHTS.get(model),
              "model_kwargs": dict(MODEL_KWARGS.get(model, {})), **changes}
    return TrainConfig.from_dict(values)


def plan_dir(runs_dir: str | Path) -> Path:
    """Where the plan's runs live: ``<runs>/plan``."""
    return Path(runs_dir) / PLAN_FOLDER


def lr_range_file(results_dir: str | Path, family: str) -> Path:
    """The range test's curve of ``family``: ``<results>/lr_range/<family>.csv``."""
    return Path(results_dir) / "lr_range" / f"{family}.csv"


def family_lr(results_dir: str | Path, family: str) -> float | None:
    """The learning rate of ``family``: the range test's suggestion
    (:func:`heatsink.models.lr_range.suggest_lr`) to two significant digits, or
    :data:`FALLBACK_LR` when the test was inconclusive
    (:func:`heatsink.models.lr_range.conclusive`); None until the test's file exists."""
    from heatsink.models.lr_range import conclusive, suggest_lr

    path = lr_range_file(results_dir, family)
    if not path.exists():
        return None
    curve = pd.read_csv(path)
    if not conclusive(curve):
        return FALLBACK_LR
    return float(f"{suggest_lr(curve):.2g}")


def run_status(path: Path, config: TrainConfig | None,
               ds: Dataset | None = None) -> tuple[str, int, str]:
    """``(status, epochs trained, why blocked)`` of the run folder ``path``.

    ``done``: scored (:attr:`heatsink.models.Run.finished`); ``partial``: set up, some or no
    epochs trained; ``missing``: no folder or an empty one; ``blocked``: the folder holds a
    run of another configuration, or one trained on other data than ``ds``.
    """
    from heatsink.models.run import Run, TrainConfig

    if not path.is_dir() or not any(path.iterdir()):
        return "missing", 0, ""
    history = path / "history.csv"
    epochs = 0
    if history.exists():
        try:
            epochs = int(pd.read_csv(history)["epoch"].nunique())
        except (ValueError, KeyError, pd.errors.EmptyDataError):
            epochs = 0
    config_file, record_file = path / "config.json", path / "record.json"
    if ds is not None and record_file.exists():
        trained_on = json.loads(record_file.read_text()).get("dataset", {}).get("checksum")
        if trained_on and trained_on != ds.checksum:
            return "blocked", epochs, (f"{path} was trained on other data (checksum "
                                       f"{trained_on[:12]})")
    if config is not None and config_file.exists():
        saved = json.loads(config_file.read_text())
        saved.pop("precision_used", None)
        saved = TrainConfig.from_dict(saved).to_dict()
        wanted = json.loads(json.dumps(config.to_dict()))
        if saved != wanted and epochs:
            changed = sorted(k for k in wanted if saved.get(k) != wanted.get(k))
            return "blocked", epochs, f"{path} holds a run of another configuration ({changed})"
    if config is not None and Run(path=path, config=config).finished:
        return "done", epochs, ""
    if config is None and (path / "metrics.json").exists():
        return "done", epochs, ""
    return "partial", epochs, ""


def run_score(path: Path) -> float:
    """A finished run's validation defect mIoU against the labels, from its stored
    per-image scores (:meth:`heatsink.models.Run.evaluation`)."""
    from heatsink.models.run import Run
    from heatsink.study.results.files import RANKING_MEASURE, RANKING_REFERENCE

    return float(Run.load(path).evaluation(RANKING_REFERENCE).summary()[RANKING_MEASURE])


def _rank(scores: dict[str, float]) -> list[str]:
    """Names best first by the study's one rule (:func:`heatsink.study.results.rank_models`)."""
    from heatsink.study.results.files import RANKING_MEASURE, RANKING_REFERENCE, rank_models

    return rank_models({name: {"scores": {RANKING_REFERENCE: {RANKING_MEASURE: value}}}
                        for name, value in scores.items()})


def _train_item(stage: int, config: TrainConfig, runs_dir: Path,
                ds: Dataset | None) -> PlannedRun:
    name = plan_name(config)
    path = plan_dir(runs_dir) / name
    status, epochs, why = run_status(path, config, ds)
    return PlannedRun(name, stage, "train", path, status, config, epochs, why)


def _blocked(stage: int, name: str, path: Path, why: str) -> PlannedRun:
    return PlannedRun(name, stage, "train", path, "blocked", None, None, why)


def _stage_runs(stage: int, pairs: Iterable[tuple[str, str]], runs_dir: Path,
                results_dir: Path, ds: Dataset | None, **changes: Any) -> list[PlannedRun]:
    """Runs of (model, loss) pairs at their family's learning rate, or blocked without it."""
    out = []
    for model, loss in pairs:
        rate = family_lr(results_dir, model)
        if rate is None:  # a name never depends on the learning rate
            name = plan_name(recipe_config(model, loss, 1.0, **changes))
            out.append(_blocked(stage, name, plan_dir(runs_dir) / name,
                                f"waits for the {model} range test (stage 0)"))
            continue
        out.append(_train_item(stage, recipe_config(model, loss, rate, **changes), runs_dir,
                               ds))
    return out


def _stage1(runs_dir: Path, results_dir: Path, ds: Dataset | None) -> list[PlannedRun]:
    return _stage_runs(1, [(m, loss) for m in ENCODERS for loss in STAGE1_LOSSES], runs_dir,
                       results_dir, ds)


def _finished_scores(runs: list[PlannedRun], stage: int | str) -> dict[str, float] | str:
    """Scores of ``runs`` by name, or why they cannot be had yet."""
    waiting = [r.name for r in runs if r.status != "done"]
    if waiting:
        stages = "stages" if isinstance(stage, str) else "stage"
        return f"waits for {stages} {stage} ({len(waiting)} of {len(runs)} runs unfinished)"
    return {r.name: run_score(r.path) for r in runs}


def chosen_encoder(runs_dir: str | Path, results_dir: str | Path,
                   ds: Dataset | None = None) -> str | None:
    """The encoder of the best stage-1 run by validation defect mIoU; None until every
    stage-1 run is finished."""
    runs = _stage1(Path(runs_dir), Path(results_dir), ds)
    scores = _finished_scores(runs, 1)
    if isinstance(scores, str):
        return None
    best = _rank(scores)[0]
    return next(r.config.model for r in runs if r.name == best)


def _stage2(runs_dir: Path, results_dir: Path, ds: Dataset | None) -> list[PlannedRun]:
    encoder = chosen_encoder(runs_dir, results_dir, ds)
    if encoder is None:
        why = _finished_scores(_stage1(runs_dir, results_dir, ds), 1)
        return [_blocked(2, f"ablation-{loss}", plan_dir(runs_dir) / f"ablation-{loss}",
                         f"{why} to choose the encoder") for loss in ABLATION_LOSSES]
    out = _stage_runs(2, [(encoder, loss) for loss in ABLATION_LOSSES], runs_dir, results_dir,
                      ds)
    for weighting in ABLATION_WEIGHTINGS:
        out += _stage_runs(2, [(encoder, STUDY_LOSS)], runs_dir, results_dir, ds,
                           class_weighting=weighting)
    return out


def top_recipes(runs_dir: str | Path, results_dir: str | Path,
                ds: Dataset | None = None) -> list[TrainConfig] | str:
    """The recipes stage 3 repeats (seed 0's configs): the :data:`TOP_RECIPES` best of
    stages 1–2 and both stage-1 losses of the chosen encoder; or why they are not known."""
    runs_dir, results_dir = Path(runs_dir), Path(results_dir)
    runs = {r.name: r for r in (*_stage1(runs_dir, results_dir, ds),
                                *_stage2(runs_dir, results_dir, ds))}
    scores = _finished_scores(list(runs.values()), "1-2")
    if isinstance(scores, str):
        return scores
    encoder = chosen_encoder(runs_dir, results_dir, ds)
    names = _rank(scores)[:TOP_RECIPES]
    names += [r.name for r in runs.values() if r.config.model == encoder
              and r.config.loss in STAGE1_LOSSES and r.name not in names]
    return [runs[name].config for name in names]


def _stage3(runs_dir: Path, results_dir: Path, ds: Dataset | None) -> list[PlannedRun]:
    recipes = top_recipes(runs_dir, results_dir, ds)
    if isinstance(recipes, str):
        return [_blocked(3, f"seeds-{seed}", plan_dir(runs_dir) / f"seeds-{seed}",
                         f"{recipes} to rank the recipes") for seed in SEEDS[1:]]
    return [_train_item(3, replace(c, seed=seed), runs_dir, ds)
            for c in recipes for seed in SEEDS[1:]]


def chosen_recipe(runs_dir: str | Path, results_dir: str | Path,
                  ds: Dataset | None = None) -> TrainConfig | str:
    """The recipe of the fold models (seed 0's config): of the recipes of stage 3, the best
    by its validation defect mIoU averaged over the seeds; or why it is not known yet."""
    runs_dir, results_dir = Path(runs_dir), Path(results_dir)
    recipes = top_recipes(runs_dir, results_dir, ds)
    if isinstance(recipes, str):
        return recipes
    seeded = _stage3(runs_dir, results_dir, ds)
    waiting = [r.name for r in seeded if r.status != "done"]
    if waiting:
        return f"waits for stage 3 ({len(waiting)} of {len(seeded)} runs unfinished)"
    means = {}
    for config in recipes:
        paths = [plan_dir(runs_dir) / plan_name(replace(config, seed=seed)) for seed in SEEDS]
        means[plan_name(config)] = sum(run_score(p) for p in paths) / len(paths)
    best = _rank(means)[0]
    return next(c for c in recipes if plan_name(c) == best)


def crossval_dir(runs_dir: str | Path, config: TrainConfig) -> Path:
    """The fold models' folder: ``<runs>/plan/label-quality/<recipe>-k<folds>``."""
    return plan_dir(runs_dir) / "label-quality" / f"{plan_name(config)}-k{FOLDS}"


def _stage4(runs_dir: Path, results_dir: Path, ds: Dataset | None) -> list[PlannedRun]:
    config = chosen_recipe(runs_dir, results_dir, ds)
    if isinstance(config, str):
        return [_blocked(4, f"fold{f}", plan_dir(runs_dir) / "label-quality" / f"fold{f}",
                         f"{config} to choose the recipe") for f in range(FOLDS)]
    folder = crossval_dir(runs_dir, config)
    out = []
    for f in range(FOLDS):
        path = folder / f"fold-{f}"
        status, epochs, why = run_status(path, config, ds)
        if status == "done" and not (path / "oos_probs.npy").exists():
            status = "partial"  # trained, but its held-out fold not predicted yet
        out.append(PlannedRun(f"{folder.name}-fold{f}", 4, "fold", path, status, config,
                              epochs, why))
    return out


def _stage0(runs_dir: Path, results_dir: Path, ds: Dataset | None) -> list[PlannedRun]:
    out = []
    for family in ENCODERS:
        path = lr_range_file(results_dir, family)
        config = recipe_config(family, RANGE_LOSS, RANGE_LR[0])
        out.append(PlannedRun(f"lr-range-{family}", 0, "lr_range", path,
                              "done" if path.exists() else "missing", config))
    model, loss = CROP_CHECK
    out += _stage_runs(0, [(model, loss)], runs_dir, results_dir, ds)
    out += _stage_runs(0, [(model, loss)], runs_dir, results_dir, ds,
                       photometric=not PHOTOMETRIC)
    out += _stage_runs(0, [(model, loss)], runs_dir, results_dir, ds, crop=None)
    return out


_STAGES: dict[int, Callable[[Path, Path, Any], list[PlannedRun]]] = {
    0: _stage0, 1: _stage1, 2: _stage2, 3: _stage3, 4: _stage4}


def planned_runs(stage: int, ds: Dataset | None, runs_dir: str | Path,
                 results_dir: str | Path) -> list[PlannedRun]:
    """What ``stage`` trains, each item with its status.

    Parameters
    ----------
    stage : int
        One of :data:`STAGES`.
    ds : Dataset or None
        The data (a run folder trained on other data is reported blocked); None skips that
        check.
    runs_dir : path
        The study's runs folder (:func:`heatsink.study.paths.runs_dir`); the plan's runs
        are in its ``plan/``.
    results_dir : path
        The study's results folder (:func:`heatsink.study.paths.results_dir`), where the
        range tests' curves are.

    Returns
    -------
    list of PlannedRun
        A stage's runs, in training order; a run shared with an earlier stage (the cropped
        crop-check run is stage 1's; stage 2's cross-entropy and study-loss runs are stage
        1's of the chosen encoder) is listed in each.
    """
    if stage not in _STAGES:
        raise HeatsinkError(f"the plan has stages {list(STAGES)}, not {stage!r}")
    return _STAGES[stage](Path(runs_dir), Path(results_dir), ds)


def plan_table(stages: Sequence[int], ds: Dataset | None, runs_dir: str | Path,
               results_dir: str | Path) -> pd.DataFrame:
    """The plan as a table, each run once (in the first stage that lists it): ``stage``,
    ``name``, ``kind``, ``status``, ``epochs`` (trained / planned), ``lr`` and ``why``."""
    rows, seen = [], set()
    for stage in sorted(set(stages)):
        for item in planned_runs(stage, ds, runs_dir, results_dir):
            if item.name in seen:
                continue
            seen.add(item.name)
            config = item.config
            rows.append({
                "stage": stage, "name": item.name, "kind": item.kind, "status": item.status,
                "epochs": "" if item.kind == "lr_range" or config is None
                else f"{item.epochs}/{config.epochs}",
                "lr": "" if config is None or item.kind == "lr_range"
                else f"{config.learning_rate:.2g}",
                "why": item.why})
    return pd.DataFrame(rows, columns=["stage", "name", "kind", "status", "epochs", "lr", "why"])


def _run_lr_range(item: PlannedRun, ds: Dataset, train_ids: list[str]) -> str:
    from heatsink.io import atomic_path
    from heatsink.models.lr_range import conclusive, lr_range, suggest_lr

    frame = lr_range(item.config, ds, train_ids, steps=RANGE_STEPS, lr_min=RANGE_LR[0],
                     lr_max=RANGE_LR[1])
    with atomic_path(item.path) as tmp:
        frame.to_csv(tmp, index=False)
    if not conclusive(frame):
        return (f"{len(frame)} steps, inconclusive (lowest loss at the largest rates tried): "
                f"the family gets {FALLBACK_LR:g}")
    return f"{len(frame)} steps, suggested learning rate {suggest_lr(frame):.2g}"


def _fetch_weights(stages: Sequence[int], ds: Dataset, runs_dir: Path, results_dir: Path,
                   wanted: set[str] | None) -> None:
    """Get the ImageNet encoder weights before anything trains, if an unfinished item needs
    them: a machine without network then stops at the start, not hours into the plan."""
    pretrained = [m for m in ENCODERS if ENCODER_WEIGHTS.get(m) == "imagenet"]
    for item in plan_table(stages, ds, runs_dir, results_dir).itertuples():
        if item.status == "done" or (wanted is not None and item.name not in wanted):
            continue
        if any(item.name == m or item.name.startswith((f"{m}-", f"lr-range-{m}"))
               for m in pretrained):
            from heatsink.weights import resnet50_imagenet

            resnet50_imagenet(download=True, progress=True)
            return


def run_plan(
    stages: Sequence[int],
    ds: Dataset,
    runs_dir: str | Path,
    results_dir: str | Path,
    only: Sequence[str] | None = None,
    verbose: int = 0,
    n_boot: int = 1000,
    log: Callable[[str], None] = print,
) -> list[PlannedRun]:
    """Train what ``stages`` plan and is missing or partial, in order, and resumably.

    Each stage is planned again after every item it trains, so a range test unblocks its
    family's runs in the same call, and stage 2 is planned from stage 1's finished runs.
    A finished item is skipped; a partial run resumes from its last finished epoch. The
    range tests' curves are written to ``<results>/lr_range/``.

    Parameters
    ----------
    stages : sequence of int
        Stages to work on (in increasing order, whatever the order given).
    ds : Dataset
        The data.
    runs_dir, results_dir : path
        As :func:`planned_runs`; the training split is the study's
        (:func:`heatsink.study.chapter.study_split`, kept in ``results_dir``).
    only : sequence of str, optional
        Train only the items of these names.
    verbose : int
        Keras ``fit`` verbosity.
    n_boot : int
        Bootstrap resamples of each run's validation scores.
    log : callable
        Receives one line per item started, finished or left blocked.

    Returns
    -------
    list of PlannedRun
        The stages' items afterwards, each once.
    """
    from heatsink.study.chapter import study_split
    from heatsink.train import train

    runs_dir, results_dir = Path(runs_dir), Path(results_dir)
    for stage in stages:
        if stage not in _STAGES:
            raise HeatsinkError(f"the plan has stages {list(STAGES)}, not {stage!r}")
    wanted = set(only) if only else None
    if wanted:
        known = set(plan_table(stages, ds, runs_dir, results_dir)["name"])
        unknown = sorted(wanted - known)
        if unknown:
            raise HeatsinkError(f"no planned run named {', '.join(unknown)} in stages "
                                f"{sorted(set(stages))} (see `heatsink study train --list`)")
    _fetch_weights(stages, ds, runs_dir, results_dir, wanted)
    split = study_split(ds, results_dir)
    train_ids = split.loc[split["split"] == "train", "image_id"].astype(str).tolist()
    tried: set[str] = set()
    for stage in sorted(set(stages)):
        while True:
            todo = [r for r in planned_runs(stage, ds, runs_dir, results_dir)
                    if r.status in ("missing", "partial") and r.name not in tried
                    and (wanted is None or r.name in wanted)]
            if not todo:
                break
            item = todo[0]
            tried.add(item.name)
            state = "" if item.status == "missing" else (
                f", resuming after epoch {item.epochs}" if item.kind != "lr_range" else "")
            log(f"stage {stage}: {item.name}: started{state}")
            started = time.perf_counter()
            if item.kind == "lr_range":
                done = _run_lr_range(item, ds, train_ids)
            elif item.kind == "fold":
                from heatsink.crossval import out_of_sample

                out_of_sample(ds, item.config, item.path.parent, k=FOLDS, verbose=verbose)
                done = f"{FOLDS} fold models"
            else:
                run = train(item.config, ds, item.path, split=split, verbose=verbose,
                            n_boot=n_boot)
                done = (f"{len(run.history)} epochs, validation defect mIoU "
                        f"{100 * run_score(run.path):.1f} %")
            minutes = (time.perf_counter() - started) / 60
            log(f"stage {stage}: {item.name}: finished ({done}; {minutes:.1f} min)")
        for item in planned_runs(stage, ds, runs_dir, results_dir):
            if item.status == "blocked" and (wanted is None or item.name in wanted):
                log(f"stage {stage}: {item.name}: blocked ({item.why})")
    final, seen = [], set()
    for stage in sorted(set(stages)):
        for item in planned_runs(stage, ds, runs_dir, results_dir):
            if item.name not in seen:
                seen.add(item.name)
                final.append(item)
    return final


__all__ = [
    "ABLATION_LOSSES",
    "ABLATION_WEIGHTINGS",
    "CROP_CHECK",
    "ENCODERS",
    "ENCODER_WEIGHTS",
    "FALLBACK_LR",
    "FOLDS",
    "MODEL_KWARGS",
    "PHOTOMETRIC",
    "PLAN_FOLDER",
    "RANGE_LOSS",
    "RANGE_LR",
    "RANGE_STEPS",
    "RECIPE",
    "SEEDS",
    "SEED_LOSS",
    "STAGE1_LOSSES",
    "STAGES",
    "STATUSES",
    "STUDY_LOSS",
    "TOP_RECIPES",
    "PlannedRun",
    "chosen_encoder",
    "chosen_recipe",
    "crossval_dir",
    "family_lr",
    "lr_range_file",
    "plan_dir",
    "plan_name",
    "plan_table",
    "planned_runs",
    "recipe_config",
    "run_plan",
    "run_score",
    "run_status",
    "top_recipes",
]
