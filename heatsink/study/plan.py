"""The study's training plan, as data: what chapters 4 and 5 train, in which order, and how
far each run has come.

One recipe (:data:`RECIPE`) for every run: whole 256² frames, batch 16, flips and 90°
rotations, Adam on a cosine schedule for at most 40 epochs, validation after each epoch with
batch-norm statistics recomputed on 320 whole training frames
(:mod:`heatsink.models.precise_bn`), early stopping after 6 epochs without a better
validation defect IoU (never before epoch 15); plain cross-entropy's runs start their logits
at the class frequencies (:data:`PRIOR_BIAS_LOSSES`). Only the model, the loss, the learning
rate (one per model family, from a range test) and the seed change. Seven stages, each planned
from what the earlier ones left on disk:

0. a learning-rate range test per model family (:func:`heatsink.models.lr_range.lr_range`,
   its curve in ``<results>/lr_range/<family>.csv``), and two recipe checks on the
   :data:`CROP_CHECK` model beside its stage-1 run: what random :data:`CHECK_CROP`² crops
   cost against whole frames (the same run on crops), and what photometric augmentation
   costs or brings (the cropped run again with it, :data:`PHOTOMETRIC` being off); and the
   design checks (:data:`DESIGN_CHECKS`: the light net with a full-resolution head);
1. every encoder (:data:`ENCODERS`) with the seed's loss and the study's
   (:data:`STAGE1_LOSSES`), each at its family's learning rate (read from the range test's
   file: a run whose family has none yet is *blocked*);
2. the loss ablation (:data:`ABLATION_LOSSES`, and the study loss with the milder class
   weights of :data:`ABLATION_WEIGHTINGS`) on the chosen encoder: the encoder of the best
   stage-1 run by validation defect mIoU (the study's one rule,
   :func:`heatsink.study.results.rank_models`, on :meth:`heatsink.models.Run.evaluation`);
3. seeds 1 and 2 of the top :data:`TOP_RECIPES` recipes of stages 1–2 and of both stage-1
   losses of the chosen encoder; first, and without waiting for stages 1–2, those of the
   :data:`SPEED_PAIR` (chapter 8's comparison of the light net with the GSLU-style net);
4. the label checks' fold models (:func:`heatsink.crossval.out_of_sample`, :data:`FOLDS`
   folds) with the chosen recipe: the best of stage 3 by its mean over the seeds;
5. the noise-dose experiment (:mod:`heatsink.study.dose`): the chosen recipe trained on one
   twin per dose of :data:`~heatsink.study.dose.DOSES`, each dose's measurements kept in
   ``<results>/dose/<recipe>/<dose>.csv`` (:func:`dose_file`);
6. the carry-over checks, which chapter 9 reads: :data:`TEXTURE_CHECK`'s recipe runs trained
   again with texture randomisation switched (:data:`TEXTURE`), each beside its stage-1 run,
   first with seed 0 and then with the plan's other :data:`SEEDS` (their untextured seeds are
   stage 3's where the recipe is a top one), then with seed 0 at the other texture doses of
   :data:`TEXTURE_DOSES`. They need only their family's range test, so
   ``heatsink study train --stage 6`` can run them early.

A run's status is ``done`` (scored), ``partial`` (some epochs trained), ``missing`` or
``blocked`` (with the reason). :func:`run_plan` trains what is missing or partial, in order;
every run resumes from its last finished epoch (:func:`heatsink.train.train`), so the same
command, given again after a session ends, carries on. The runs live in
``<runs>/plan/<name>`` (:data:`PLAN_FOLDER`), apart from the runs the chapters trained before
this plan, which keep their folders and names.

What the plan trains is set by the module's constants; :class:`PlanSettings` carries them as
one value, so that a chapter's smoke run (:meth:`PlanSettings.smoke`: 64² frames, one epoch,
two encoders) plans and trains the same stages at toy scale. Every function takes
``settings=None``: the module's constants as they are when it is called.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
#: (:mod:`heatsink.data.augment`). Off: on twin 1.4.4 the converged runs with it scored far
#: lower on the twin than without it, both on 160² crops (validation defect mIoU: gslu
#: wcce+dice 34.6 % against 47.0 %, light 18 % against 37 %), with fragmented scratches, and
#: on real plating it did not help the GSLU-style net (12.7 % of the surface called defect
#: against 12.2 %, 52 false components per frame against 30; the carry-over chapter). Stage 0
#: trains the recipe check with it, so what it costs or brings is measured beside the recipe;
#: a run's name marks only a departure from this value (``-photo``).
PHOTOMETRIC = False
#: Texture randomisation of training frames (:mod:`heatsink.data.texture`): random
#: unlabelled plating grain, streaks and specks, so that a net learns defects rather than
#: the twin's plating. Stage 6 trains the texture check with it (:data:`TEXTURE_CHECK`);
#: a run's name marks only a departure from this value (``-tex``).
TEXTURE = False
#: What every run of the plan shares (:class:`heatsink.models.TrainConfig` fields).
RECIPE: dict[str, Any] = {
    "image_size": 256,
    "batch_size": 16,
    "crop": None,
    "schedule": "cosine",
    "patience": 6,
    "min_epochs": 15,
    "epochs": 40,
    "augment": True,
    "photometric": PHOTOMETRIC,
    "texture": TEXTURE,
    "precise_bn": 320,
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
#: Losses whose runs start their logits at the class frequencies
#: (:attr:`heatsink.models.TrainConfig.prior_bias`): plain cross-entropy, which from the
#: default initialisation drove the GSLU-style net to the all-background answer (no defect
#: pixel predicted after 200 steps on 128² crops; train defect IoU 0.0000, against 0.31 from
#: the priors; the 8-epoch study's run left it only at its 8th epoch, stage 1's first run
#: was at 1.5·10⁻⁴ after 5 epochs). The weighted losses, whose constant optimum is not
#: background, start as the seed's models do. The plan's names leave it unsaid.
PRIOR_BIAS_LOSSES = (SEED_LOSS,)
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
#: Recipes stage 3 repeats at every seed before stages 1–2 are finished (they need only
#: their families' range tests): the light net against the GSLU-style net under the study
#: loss, chapter 8's speed/quality comparison, whose margin is 1 point. With one seed each
#: (validation defect mIoU as the runs store it) the light net is 2.5 points below [-4.6,
#: -0.9], and a second seed of one 8-epoch recipe moved its score by 7.6 points. Only the
#: pair's models among the plan's encoders are repeated.
SPEED_PAIR = (("gslu", STUDY_LOSS), ("light", STUDY_LOSS))
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
#: The model and loss of stage 0's recipe checks.
CROP_CHECK = ("gslu", STUDY_LOSS)
#: The crop side of stage 0's crop check; the photometric check is made on crops of this
#: side too, where an epoch costs less than half as much, and compared with the cropped run.
#: Whole frames won: on twin 1.4.4, gslu wcce+dice on random 160² crops (the plan's recipe
#: until then) scored a validation defect mIoU of 46.8 % (best of 39 epochs, 0.8 hours), the
#: same run on whole 256² frames 56.8 % (best epoch 22, stopped at 28, 1.4 hours), with
#: fewer false components (0.7 and 0.8 per frame for scratch and stain against 2.3 and 5.0);
#: an epoch on frames cost 2.3× as long, and the frames run passed the cropped run's best
#: validation IoU by its 10th epoch: better per second of training as well as at the end.
CHECK_CROP = 160
#: Stage 0's design checks: a (model, loss) recipe run trained again with other arguments for
#: its model's builder, beside its stage-1 run; the plan's name marks the arguments
#: (:func:`plan_name`). The light net halves the resolution in its stem, before anything sees
#: a 1–3 px scratch, and trailed the GSLU-style net, which works at full resolution, by 2.1
#: points of validation defect mIoU [−4.4, −0.5] over its three seeds (chapter 8):
#: ``head="refine"`` ends it with a thin full-resolution stage (:func:`heatsink.models.light.
#: light_net`; +3,384 parameters, 4.72 against 4.10 GFLOP per 320² frame).
DESIGN_CHECKS: tuple[tuple[tuple[str, str], dict[str, Any]], ...] = (
    (("light", STUDY_LOSS), {"head": "refine"}),)
#: Stage 6's texture check: these (model, loss) recipe runs trained again with the texture
#: randomisation flipped (:data:`TEXTURE`), each beside its stage-1 run.
TEXTURE_CHECK = (CROP_CHECK, ("light", STUDY_LOSS))
#: Stage 6 also trains texture-check recipes (seed 0) at other doses of the texture
#: randomisation (:class:`heatsink.models.TrainConfig` fields, :mod:`heatsink.data.texture`),
#: each one choice apart from its run at the module's dose. The light net, six times quicker
#: to train, probes each dose: soft stain-sized spots in half the textured frames (the
#: GSLU-style net's false stains on real plating fall on dark mottle spots), a quarter of the
#: frames textured instead of half, and the textures at half strength (at the chosen
#: operating points the textured nets left 4–8 false components per twin frame). The
#: GSLU-style net gets the spots: on twin 1.4.4 the milder doses made the light net more
#: precise on the twin but louder on real plating (5 to 6 false components per real frame
#: at the twin-chosen points, against 2.4; chapter 9), while the spots quieted its stains.
#: Last, the light net gets long bright polishing marks in half the textured frames: at its
#: chosen point four fifths of its false components on real plating are scratches (1.9 per
#: frame of 2.4), drawn along such marks.
TEXTURE_DOSES: tuple[tuple[tuple[str, str], dict[str, float]], ...] = (
    (("light", STUDY_LOSS), {"texture_spots": 0.5}),
    (("light", STUDY_LOSS), {"texture_share": 0.25}),
    (("light", STUDY_LOSS), {"texture_strength": 0.5}),
    (CROP_CHECK, {"texture_spots": 0.5}),
    (("light", STUDY_LOSS), {"texture_marks": 0.5}))
#: Folds of the label checks' out-of-sample models (stage 4).
FOLDS = 3
#: The plan's runs, under the study's runs folder.
PLAN_FOLDER = "plan"
#: Size and seed of the noise-dose experiment's twins (stage 5).
DOSE_TWIN = {"n": 1000, "seed": 0}
#: The stages, in order.
STAGES = (0, 1, 2, 3, 4, 5, 6)
STATUSES = ("done", "partial", "missing", "blocked")


@dataclass(frozen=True)
class PlannedRun:
    """One item of the plan and how far it has come.

    Attributes
    ----------
    name : str
        Its name (:func:`plan_name`; ``lr-range-<family>`` for a range test,
        ``<recipe>-k<folds>-fold<f>`` for a fold model, ``dose-<dose>`` for a dose).
    stage : int
        The stage that plans it (a run two stages share is listed in both).
    kind : str
        ``"lr_range"``, ``"train"``, ``"fold"`` or ``"dose"``.
    path : Path
        Its run folder, the range test's CSV file, or a dose's measurements (CSV).
    status : str
        ``done``, ``partial``, ``missing`` or ``blocked``.
    config : TrainConfig or None
        What it trains; None while blocked for want of a learning rate or a choice.
    epochs : int or None
        Epochs trained so far (None for a range test).
    why : str
        Why it is blocked, else empty.
    kept : bool
        A finished training run read from its copy kept with the results
        (:mod:`heatsink.study.kept`): ``path`` is that copy, which holds the run's scores and
        curve, and its model only if the model is small.
    """

    name: str
    stage: int
    kind: str
    path: Path
    status: str
    config: TrainConfig | None = None
    epochs: int | None = None
    why: str = field(default="")
    kept: bool = False
    parked: Path | None = None


@dataclass(frozen=True)
class PlanSettings:
    """What the plan trains, as one value: the module's constants by default.

    Attributes
    ----------
    recipe : mapping
        :data:`RECIPE`: the :class:`~heatsink.models.TrainConfig` fields every run shares.
    encoders : tuple of str
        :data:`ENCODERS`.
    stage1_losses, ablation_losses, ablation_weightings : tuple of str
        :data:`STAGE1_LOSSES`, :data:`ABLATION_LOSSES`, :data:`ABLATION_WEIGHTINGS`.
    seeds : tuple of int
        :data:`SEEDS` (the first is the seed of stages 1 and 2).
    top_recipes : int
        :data:`TOP_RECIPES`.
    speed_pair : tuple of (str, str)
        :data:`SPEED_PAIR`.
    range_loss : str
    range_steps : int
    range_lr : (float, float)
        :data:`RANGE_LOSS`, :data:`RANGE_STEPS`, :data:`RANGE_LR`.
    crop_check : (str, str)
        :data:`CROP_CHECK`.
    check_crop : int
        :data:`CHECK_CROP`.
    texture_check : tuple of (str, str)
        :data:`TEXTURE_CHECK`.
    texture_doses : tuple of ((str, str), mapping)
        :data:`TEXTURE_DOSES`.
    folds : int
        :data:`FOLDS`.
    encoder_weights, model_kwargs : mapping
        :data:`ENCODER_WEIGHTS`, :data:`MODEL_KWARGS`.
    doses : tuple of str
        Names of the doses of :data:`heatsink.study.dose.DOSES` stage 5 trains (all by
        default).
    dose_twin : mapping
        :data:`DOSE_TWIN`: ``n`` and ``seed`` of the doses' twins.
    folder : str
        :data:`PLAN_FOLDER`: the plan's folder under the runs folder.
    """

    recipe: Mapping[str, Any]
    encoders: tuple[str, ...]
    stage1_losses: tuple[str, ...]
    ablation_losses: tuple[str, ...]
    ablation_weightings: tuple[str, ...]
    seeds: tuple[int, ...]
    top_recipes: int
    speed_pair: tuple[tuple[str, str], ...]
    range_loss: str
    range_steps: int
    range_lr: tuple[float, float]
    crop_check: tuple[str, str]
    texture_check: tuple[tuple[str, str], ...]
    texture_doses: tuple[tuple[tuple[str, str], Mapping[str, float]], ...]
    design_checks: tuple[tuple[tuple[str, str], Mapping[str, Any]], ...]
    prior_bias_losses: tuple[str, ...]
    check_crop: int
    folds: int
    encoder_weights: Mapping[str, str]
    model_kwargs: Mapping[str, Mapping[str, Any]]
    doses: tuple[str, ...]
    dose_twin: Mapping[str, int]
    folder: str

    @classmethod
    def default(cls) -> PlanSettings:
        """The module's constants, as they are now."""
        from heatsink.study.dose import DOSES

        return cls(recipe=dict(RECIPE), encoders=tuple(ENCODERS),
                   stage1_losses=tuple(STAGE1_LOSSES), ablation_losses=tuple(ABLATION_LOSSES),
                   ablation_weightings=tuple(ABLATION_WEIGHTINGS),
                   seeds=tuple(SEEDS), top_recipes=TOP_RECIPES,
                   speed_pair=tuple(tuple(pair) for pair in SPEED_PAIR), range_loss=RANGE_LOSS,
                   range_steps=RANGE_STEPS, range_lr=tuple(RANGE_LR),
                   crop_check=tuple(CROP_CHECK), check_crop=CHECK_CROP,
                   texture_check=tuple(tuple(pair) for pair in TEXTURE_CHECK),
                   texture_doses=tuple((tuple(pair), dict(dose)) for pair, dose in TEXTURE_DOSES),
                   design_checks=tuple((tuple(pair), dict(kw)) for pair, kw in DESIGN_CHECKS),
                   prior_bias_losses=tuple(PRIOR_BIAS_LOSSES),
                   folds=FOLDS,
                   encoder_weights=dict(ENCODER_WEIGHTS),
                   model_kwargs={k: dict(v) for k, v in MODEL_KWARGS.items()},
                   doses=tuple(d.name for d in DOSES), dose_twin=dict(DOSE_TWIN),
                   folder=PLAN_FOLDER)

    @classmethod
    def smoke(cls, **changes: Any) -> PlanSettings:
        """The plan at toy scale, for the chapters' smoke runs: 64² frames (32² crops in the
        crop check), one epoch, two encoders (the GSLU-style net and the light one), three
        ablation losses, two seeds, the best recipe repeated, two folds, two doses on
        24-image twins, no other texture dose, no design check.

        >>> PlanSettings.smoke().recipe["epochs"], PlanSettings.smoke(encoders=("gslu",)).encoders
        (1, ('gslu',))
        """
        base = cls.default()
        values = {
            "recipe": {**base.recipe, "image_size": 64, "batch_size": 8,
                       "patience": 1, "min_epochs": None, "epochs": 1}, "check_crop": 32,
            "encoders": ("gslu", "light"), "ablation_losses": ("cce", "wcce+dice", "dice"),
            "seeds": (0, 1), "top_recipes": 1, "range_steps": 6, "range_lr": (1e-5, 1.0),
            "folds": 2, "model_kwargs": {"unet": {"filters": 8}},
            "doses": ("none", "default"), "dose_twin": {"n": 24, "seed": 1},
            "texture_doses": (), "design_checks": (), **changes}
        return replace(base, **values)


def _settings(settings: PlanSettings | None) -> PlanSettings:
    return PlanSettings.default() if settings is None else settings


def plan_name(config: TrainConfig, settings: PlanSettings | None = None) -> str:
    """A plan run's name: :func:`~heatsink.study.naming.run_name` relative to the plan's
    recipe (:data:`RECIPE`: its size, crop and flips go unsaid).

    >>> plan_name(recipe_config("gslu", "wcce+dice", 1e-3))
    'gslu-wcce+dice'
    >>> plan_name(recipe_config("gslu", "wcce+dice", 1e-3, crop=160, seed=2))
    'gslu-wcce+dice-c160-s2'

    Builder arguments other than the plan's for the model (:data:`MODEL_KWARGS`) are marked
    before the seed: a text by its value, anything else by its name and value.

    >>> plan_name(recipe_config("light", "wcce+dice", 1e-3, model_kwargs={"head": "refine"},
    ...                         seed=1))
    'light-wcce+dice-refine-s1'
    """
    s = _settings(settings)
    recipe = s.recipe
    name = run_name(replace(config, seed=0), base_size=recipe["image_size"],
                    base_crop=recipe.get("crop"), base_augment=recipe.get("augment", False),
                    base_photometric=recipe.get("photometric", False),
                    base_texture=recipe.get("texture", False),
                    base_prior_bias=config.loss in s.prior_bias_losses)
    usual = s.model_kwargs.get(config.model, {})
    name += "".join(f"-{value}" if isinstance(value, str) else f"-{key}{value}"
                    for key, value in sorted(config.model_kwargs.items())
                    if key not in usual or usual[key] != value)
    return name + (f"-s{config.seed}" if config.seed else "")


def recipe_config(model: str, loss: str, learning_rate: float,
                  settings: PlanSettings | None = None, **changes: Any) -> TrainConfig:
    """The :class:`~heatsink.models.TrainConfig` of the recipe for ``model`` and ``loss``.

    >>> recipe_config("resnet50", "cce", 3e-4).encoder_weights
    'imagenet'
    >>> [recipe_config("gslu", loss, 1e-3).prior_bias for loss in ("cce", "dice")]
    [True, False]
    """
    from heatsink.models.run import TrainConfig

    s = _settings(settings)
    values = {**s.recipe, "model": model, "loss": loss, "learning_rate": learning_rate,
              "prior_bias": loss in s.prior_bias_losses,
              "encoder_weights": s.encoder_weights.get(model),
              "model_kwargs": dict(s.model_kwargs.get(model, {})), **changes}
    return TrainConfig.from_dict(values)


def plan_dir(runs_dir: str | Path, settings: PlanSettings | None = None) -> Path:
    """Where the plan's runs live: ``<runs>/plan``."""
    return Path(runs_dir) / _settings(settings).folder


def lr_range_file(results_dir: str | Path, family: str) -> Path:
    """The range test's curve of ``family``: ``<results>/lr_range/<family>.csv``."""
    return Path(results_dir) / "lr_range" / f"{family}.csv"


def dose_file(results_dir: str | Path, dose: str, recipe: str) -> Path:
    """A dose's measurements (stage 5) with the recipe named ``recipe`` (:func:`plan_name`):
    ``<results>/dose/<recipe>/<dose>.csv``, the rows of
    :func:`heatsink.study.dose.dose_experiment`'s table for that dose. Under the recipe's
    name, so that measurements of an earlier choice of recipe are never read as this one's."""
    return Path(results_dir) / "dose" / recipe / f"{dose}.csv"


def dose_dirs(runs_dir: str | Path, settings: PlanSettings | None = None) -> tuple[Path, Path]:
    """The doses' twins and training runs: ``<runs>/plan/dose/twins`` and ``.../runs``."""
    root = plan_dir(runs_dir, settings) / "dose"
    return root / "twins", root / "runs"


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
    from heatsink.models.run import Run, config_changes

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
        changed = config_changes(json.loads(config_file.read_text()), config, epochs,
                                 (path / "metrics.json").exists())
        if changed and epochs:
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


def _train_item(stage: int, config: TrainConfig, runs_dir: Path, results_dir: Path,
                ds: Dataset | None, s: PlanSettings) -> PlannedRun:
    """A training run of the plan: its folder under the runs folder, or, once it is finished
    there or on another machine, its kept copy (:func:`heatsink.study.kept.keep_run`)."""
    from heatsink.study.kept import kept_dir

    name = plan_name(config, s)
    path = plan_dir(runs_dir, s) / name
    status, epochs, why = run_status(path, config, ds)
    if status != "done":
        kept = kept_dir(results_dir) / name
        kept_status, kept_epochs, _ = run_status(kept, config, ds)
        if kept_status == "done":
            return PlannedRun(name, stage, "train", kept, "done", config, kept_epochs,
                              kept=True)
    if status in ("missing", "partial"):
        from heatsink.study.parked import parked_dir

        parked = parked_dir(results_dir) / name
        parked_status, parked_epochs, _ = run_status(parked, config, ds)
        if parked_status == "partial" and parked_epochs > epochs:
            return PlannedRun(name, stage, "train", path, "partial", config, parked_epochs,
                              parked=parked)
    return PlannedRun(name, stage, "train", path, status, config, epochs, why)


def _blocked(stage: int, name: str, path: Path, why: str, kind: str = "train") -> PlannedRun:
    return PlannedRun(name, stage, kind, path, "blocked", None, None, why)


def _stage_runs(stage: int, pairs: Iterable[tuple[str, str]], runs_dir: Path,
                results_dir: Path, ds: Dataset | None, s: PlanSettings,
                **changes: Any) -> list[PlannedRun]:
    """Runs of (model, loss) pairs at their family's learning rate, or blocked without it."""
    out = []
    for model, loss in pairs:
        rate = family_lr(results_dir, model)
        if rate is None:  # a name never depends on the learning rate
            name = plan_name(recipe_config(model, loss, 1.0, s, **changes), s)
            out.append(_blocked(stage, name, plan_dir(runs_dir, s) / name,
                                f"waits for the {model} range test (stage 0)"))
            continue
        out.append(_train_item(stage, recipe_config(model, loss, rate, s, **changes),
                               runs_dir, results_dir, ds, s))
    return out


def _stage1(runs_dir: Path, results_dir: Path, ds: Dataset | None,
            s: PlanSettings) -> list[PlannedRun]:
    return _stage_runs(1, [(m, loss) for m in s.encoders for loss in s.stage1_losses],
                       runs_dir, results_dir, ds, s)


def _finished_scores(runs: list[PlannedRun], stage: int | str) -> dict[str, float] | str:
    """Scores of ``runs`` by name, or why they cannot be had yet."""
    waiting = [r.name for r in runs if r.status != "done"]
    if waiting:
        stages = "stages" if isinstance(stage, str) else "stage"
        return f"waits for {stages} {stage} ({len(waiting)} of {len(runs)} runs unfinished)"
    return {r.name: run_score(r.path) for r in runs}


def chosen_encoder(runs_dir: str | Path, results_dir: str | Path,
                   ds: Dataset | None = None,
                   settings: PlanSettings | None = None) -> str | None:
    """The encoder of the best stage-1 run by validation defect mIoU; None until every
    stage-1 run is finished."""
    s = _settings(settings)
    runs = _stage1(Path(runs_dir), Path(results_dir), ds, s)
    scores = _finished_scores(runs, 1)
    if isinstance(scores, str):
        return None
    best = _rank(scores)[0]
    return next(r.config.model for r in runs if r.name == best)


def _stage2(runs_dir: Path, results_dir: Path, ds: Dataset | None,
            s: PlanSettings) -> list[PlannedRun]:
    encoder = chosen_encoder(runs_dir, results_dir, ds, s)
    if encoder is None:
        why = _finished_scores(_stage1(runs_dir, results_dir, ds, s), 1)
        return [_blocked(2, f"ablation-{loss}", plan_dir(runs_dir, s) / f"ablation-{loss}",
                         f"{why} to choose the encoder") for loss in s.ablation_losses]
    out = _stage_runs(2, [(encoder, loss) for loss in s.ablation_losses], runs_dir,
                      results_dir, ds, s)
    for weighting in s.ablation_weightings:
        out += _stage_runs(2, [(encoder, STUDY_LOSS)], runs_dir, results_dir, ds, s,
                           class_weighting=weighting)
    return out


def top_recipes(runs_dir: str | Path, results_dir: str | Path,
                ds: Dataset | None = None,
                settings: PlanSettings | None = None) -> list[TrainConfig] | str:
    """The recipes stage 3 repeats (seed 0's configs): the :data:`TOP_RECIPES` best of
    stages 1–2 and both stage-1 losses of the chosen encoder; or why they are not known."""
    s = _settings(settings)
    runs_dir, results_dir = Path(runs_dir), Path(results_dir)
    runs = {r.name: r for r in (*_stage1(runs_dir, results_dir, ds, s),
                                *_stage2(runs_dir, results_dir, ds, s))}
    scores = _finished_scores(list(runs.values()), "1-2")
    if isinstance(scores, str):
        return scores
    encoder = chosen_encoder(runs_dir, results_dir, ds, s)
    names = _rank(scores)[:s.top_recipes]
    names += [r.name for r in runs.values() if r.config.model == encoder
              and r.config.loss in s.stage1_losses and r.name not in names]
    return [runs[name].config for name in names]


def _stage3(runs_dir: Path, results_dir: Path, ds: Dataset | None,
            s: PlanSettings) -> list[PlannedRun]:
    pair = [(model, loss) for model, loss in s.speed_pair if model in s.encoders]
    early = [run for seed in s.seeds[1:]
             for run in _stage_runs(3, pair, runs_dir, results_dir, ds, s, seed=seed)]
    recipes = top_recipes(runs_dir, results_dir, ds, s)
    if isinstance(recipes, str):
        return early + [_blocked(3, f"seeds-{seed}", plan_dir(runs_dir, s) / f"seeds-{seed}",
                                 f"{recipes} to rank the recipes") for seed in s.seeds[1:]]
    names = {run.name for run in early}
    seeded = [_train_item(3, replace(c, seed=seed), runs_dir, results_dir, ds, s)
              for c in recipes for seed in s.seeds[1:]]
    return early + [run for run in seeded if run.name not in names]


def seed_runs(config: TrainConfig, runs_dir: str | Path,
              settings: PlanSettings | None = None,
              results_dir: str | Path | None = None) -> dict[int, Path]:
    """The run folders of ``config``'s recipe, one per seed of the plan (seed 0's is the run
    of stage 1 or 2); every other field of the recipe is kept. With ``results_dir``, a run
    finished only in its kept copy (:mod:`heatsink.study.kept`) is that copy."""
    s = _settings(settings)
    out = {}
    for seed in s.seeds:
        seeded = replace(config, seed=seed)
        out[seed] = (plan_dir(runs_dir, s) / plan_name(seeded, s) if results_dir is None else
                     _train_item(0, seeded, Path(runs_dir), Path(results_dir), None, s).path)
    return out


def chosen_recipe(runs_dir: str | Path, results_dir: str | Path,
                  ds: Dataset | None = None,
                  settings: PlanSettings | None = None) -> TrainConfig | str:
    """The recipe of the fold models (seed 0's config): of the recipes of stage 3, the best
    by its validation defect mIoU averaged over the seeds; or why it is not known yet."""
    s = _settings(settings)
    runs_dir, results_dir = Path(runs_dir), Path(results_dir)
    recipes = top_recipes(runs_dir, results_dir, ds, s)
    if isinstance(recipes, str):
        return recipes
    seeded = _stage3(runs_dir, results_dir, ds, s)
    waiting = [r.name for r in seeded if r.status != "done"]
    if waiting:
        return f"waits for stage 3 ({len(waiting)} of {len(seeded)} runs unfinished)"
    means = {}
    for config in recipes:
        paths = list(seed_runs(config, runs_dir, s, results_dir).values())
        means[plan_name(config, s)] = sum(run_score(p) for p in paths) / len(paths)
    best = _rank(means)[0]
    return next(c for c in recipes if plan_name(c, s) == best)


def crossval_dir(runs_dir: str | Path, config: TrainConfig,
                 settings: PlanSettings | None = None) -> Path:
    """The fold models' folder: ``<runs>/plan/label-quality/<recipe>-k<folds>``."""
    s = _settings(settings)
    return plan_dir(runs_dir, s) / "label-quality" / f"{plan_name(config, s)}-k{s.folds}"


def _stage4(runs_dir: Path, results_dir: Path, ds: Dataset | None,
            s: PlanSettings) -> list[PlannedRun]:
    config = chosen_recipe(runs_dir, results_dir, ds, s)
    if isinstance(config, str):
        return [_blocked(4, f"fold{f}", plan_dir(runs_dir, s) / "label-quality" / f"fold{f}",
                         f"{config} to choose the recipe", "fold") for f in range(s.folds)]
    folder = crossval_dir(runs_dir, config, s)
    out = []
    for f in range(s.folds):
        path = folder / f"fold-{f}"
        status, epochs, why = run_status(path, config, ds)
        if status == "done" and not (path / "oos_probs.npy").exists():
            status = "partial"  # trained, but its held-out fold not predicted yet
        out.append(PlannedRun(f"{folder.name}-fold{f}", 4, "fold", path, status, config,
                              epochs, why))
    return out


def _stage5(runs_dir: Path, results_dir: Path, ds: Dataset | None,
            s: PlanSettings) -> list[PlannedRun]:
    """One item per dose: the chosen recipe on the dose's twin and its fold models, done
    once the dose's measurements are written (:func:`dose_file`)."""
    config = chosen_recipe(runs_dir, results_dir, ds, s)
    _, dose_runs = dose_dirs(runs_dir, s)
    out = []
    for name in s.doses:
        if isinstance(config, str):
            out.append(_blocked(5, f"dose-{name}", Path(results_dir) / "dose",
                                f"{config} to choose the recipe", "dose"))
            continue
        path = dose_file(results_dir, name, plan_name(config, s))
        started = (dose_runs / name / run_name(config)).is_dir()  # dose.run_dose's folder
        status = "done" if path.exists() else "partial" if started else "missing"
        out.append(PlannedRun(f"dose-{name}", 5, "dose", path, status, config))
    return out


def _stage0(runs_dir: Path, results_dir: Path, ds: Dataset | None,
            s: PlanSettings) -> list[PlannedRun]:
    out = []
    for family in s.encoders:
        path = lr_range_file(results_dir, family)
        config = recipe_config(family, s.range_loss, s.range_lr[0], s)
        out.append(PlannedRun(f"lr-range-{family}", 0, "lr_range", path,
                              "done" if path.exists() else "missing", config))
    model, loss = s.crop_check
    # the crop check trains the recipe's run again on crops (on whole frames, were the
    # recipe to crop at the check's side); the photometric check is made on crops
    crop = None if s.recipe.get("crop") == s.check_crop else s.check_crop
    out += _stage_runs(0, [(model, loss)], runs_dir, results_dir, ds, s)
    out += _stage_runs(0, [(model, loss)], runs_dir, results_dir, ds, s, crop=crop)
    out += _stage_runs(0, [(model, loss)], runs_dir, results_dir, ds, s, crop=s.check_crop,
                       photometric=not s.recipe.get("photometric", False))
    for (model, loss), kwargs in s.design_checks:
        if model not in s.encoders:  # a plan that compares fewer encoders
            continue
        out += _stage_runs(0, [(model, loss)], runs_dir, results_dir, ds, s,
                           model_kwargs={**s.model_kwargs.get(model, {}), **kwargs})
    return out


def _stage6(runs_dir: Path, results_dir: Path, ds: Dataset | None,
            s: PlanSettings) -> list[PlannedRun]:
    texture = not s.recipe.get("texture", False)
    seeds = [run for seed in s.seeds
             for run in _stage_runs(6, s.texture_check, runs_dir, results_dir, ds, s,
                                    texture=texture, seed=seed)]
    return seeds + [run for pair, dose in s.texture_doses
                    for run in _stage_runs(6, [pair], runs_dir, results_dir, ds, s,
                                           texture=True, **dose)]


_STAGES: dict[int, Callable[[Path, Path, Any, PlanSettings], list[PlannedRun]]] = {
    0: _stage0, 1: _stage1, 2: _stage2, 3: _stage3, 4: _stage4, 5: _stage5, 6: _stage6}


def planned_runs(stage: int, ds: Dataset | None, runs_dir: str | Path,
                 results_dir: str | Path,
                 settings: PlanSettings | None = None) -> list[PlannedRun]:
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
        range tests' curves and the doses' measurements are.
    settings : PlanSettings, optional
        What the plan trains (default: the module's constants; :meth:`PlanSettings.smoke`
        for a toy run).

    Returns
    -------
    list of PlannedRun
        A stage's runs, in training order; a run shared with an earlier stage (the recipe's
        run of the crop check is stage 1's; stage 2's cross-entropy and study-loss runs are stage
        1's of the chosen encoder) is listed in each.
    """
    if stage not in _STAGES:
        raise HeatsinkError(f"the plan has stages {list(STAGES)}, not {stage!r}")
    return _STAGES[stage](Path(runs_dir), Path(results_dir), ds, _settings(settings))


def run_folders(names: Iterable[str], ds: Dataset | None, runs_dir: str | Path,
                results_dir: str | Path,
                settings: PlanSettings | None = None) -> dict[str, Path]:
    """The folder the plan reads for each of its runs ``names``, by the rule that decides
    what to train: its folder under the runs folder, or its kept copy once that copy is a
    finished run of the same configuration (and, with ``ds``, of the same data) and the local
    run is not. The plan is read once for all the names.

    A name the plan does not list (an earlier experiment's run) has no configuration to check
    a kept copy against: its folder under the runs folder is returned as it is.

    >>> run_folders(["not-a-plan-run"], None, "/nowhere/runs", "/nowhere/results")
    {'not-a-plan-run': PosixPath('/nowhere/runs/plan/not-a-plan-run')}
    """
    s = _settings(settings)
    wanted = list(names)
    found: dict[str, Path] = {}
    for stage in STAGES:
        for item in planned_runs(stage, ds, runs_dir, results_dir, s):
            if item.name in wanted and item.kind == "train":
                found.setdefault(item.name, item.path)
    return {name: found.get(name, plan_dir(runs_dir, s) / name) for name in wanted}


def plan_table(stages: Sequence[int], ds: Dataset | None, runs_dir: str | Path,
               results_dir: str | Path,
               settings: PlanSettings | None = None) -> pd.DataFrame:
    """The plan as a table, each run once (in the first stage that lists it): ``stage``,
    ``name``, ``kind``, ``status``, ``epochs`` (trained / planned), ``lr``, ``why`` and
    ``kept`` ("yes" for a run done in its copy kept with the results, "parked" for an
    unfinished run whose copy parked with the results is further on than its folder here)."""
    rows, seen = [], set()
    for stage in sorted(set(stages)):
        for item in planned_runs(stage, ds, runs_dir, results_dir, settings):
            if item.name in seen:
                continue
            seen.add(item.name)
            config = item.config
            rows.append({
                "stage": stage, "name": item.name, "kind": item.kind, "status": item.status,
                "epochs": "" if item.kind in ("lr_range", "dose") or config is None
                else f"{item.epochs}/{config.epochs}",
                "lr": "" if config is None or item.kind == "lr_range"
                else f"{config.learning_rate:.2g}",
                "why": item.why,
                "kept": "yes" if item.kept else "parked" if item.parked is not None else ""})
    return pd.DataFrame(rows, columns=["stage", "name", "kind", "status", "epochs", "lr", "why",
                                       "kept"])


def epoch_minutes(items: Iterable[PlannedRun]) -> dict[str, float]:
    """Median minutes per epoch of each model family over the training runs of ``items``
    that have trained an epoch (here or in a kept copy): what an epoch costs on the machines
    that trained them (the ``seconds`` column of their ``history.csv``)."""
    seconds: dict[str, list[float]] = {}
    for item in items:
        history = item.path / "history.csv"
        if item.kind not in ("train", "fold") or item.config is None or not history.is_file():
            continue
        try:
            values = pd.read_csv(history)["seconds"].dropna().tolist()
        except (ValueError, KeyError, pd.errors.EmptyDataError):
            continue
        seconds.setdefault(item.config.model, []).extend(values)
    return {model: float(pd.Series(values).median()) / 60
            for model, values in seconds.items() if values}


def hours_left(items: Sequence[PlannedRun], settings: PlanSettings | None = None
               ) -> tuple[float, list[str]]:
    """At most how many hours of training the unfinished training runs of ``items`` still
    need, each run to the epoch cap at its family's :func:`epoch_minutes` (a dose counts
    as its recipe run and its fold models); and the names of those whose family has no
    measured epoch yet (not counted). Blocked items are not counted: what they will be
    is not known yet.

    >>> hours_left([])
    (0.0, [])
    """
    s = _settings(settings)
    minutes = epoch_minutes(items)
    total, unknown = 0.0, []
    for item in items:
        if item.status not in ("missing", "partial") or item.kind == "lr_range":
            continue
        config = item.config
        if config is None or config.model not in minutes:
            unknown.append(item.name)
            continue
        runs = 1 + s.folds if item.kind == "dose" else 1
        epochs = max(config.epochs - (item.epochs or 0), 0) if runs == 1 else config.epochs
        total += runs * epochs * minutes[config.model] / 60
    return total, unknown


def missing_runs(stages: Sequence[int], ds: Dataset | None, runs_dir: str | Path,
                 results_dir: str | Path, settings: PlanSettings | None = None) -> str:
    """What keeps ``stages`` from being read: empty when every item is done, else one
    message naming the unfinished items and the command that trains them.

    >>> missing_runs([], None, "runs", "results")
    ''
    """
    table = plan_table(stages, ds, runs_dir, results_dir, settings)
    waiting = table[table["status"] != "done"]
    if waiting.empty:
        return ""
    names = ", ".join(f"{row.name} ({row.status})" for row in waiting.head(8).itertuples())
    more = f" and {len(waiting) - 8} more" if len(waiting) > 8 else ""
    stage_args = " ".join(f"--stage {s}" for s in sorted(set(stages)))
    return (f"{len(waiting)} of {len(table)} items of the training plan (stages "
            f"{', '.join(map(str, sorted(set(stages))))}) are not done: {names}{more}. "
            f"Run `heatsink study train {stage_args}` (it resumes where it stopped), then "
            "execute this chapter again.")


def _run_lr_range(item: PlannedRun, ds: Dataset, train_ids: list[str],
                  s: PlanSettings) -> str:
    from heatsink.io import atomic_path
    from heatsink.models.lr_range import conclusive, lr_range, suggest_lr

    frame = lr_range(item.config, ds, train_ids, steps=s.range_steps, lr_min=s.range_lr[0],
                     lr_max=s.range_lr[1])
    with atomic_path(item.path) as tmp:
        frame.to_csv(tmp, index=False)
    if not conclusive(frame):
        return (f"{len(frame)} steps, inconclusive (lowest loss at the largest rates tried): "
                f"the family gets {FALLBACK_LR:g}")
    return f"{len(frame)} steps, suggested learning rate {suggest_lr(frame):.2g}"


def _run_dose(item: PlannedRun, runs_dir: Path, s: PlanSettings, verbose: int,
              n_boot: int) -> str:
    """One dose of :func:`heatsink.study.dose.run_dose` (resumable), its rows kept."""
    from heatsink.io import atomic_path
    from heatsink.study.dose import DOSE_COLUMNS, DOSES, run_dose

    name = item.name.removeprefix("dose-")
    dose = next(d for d in DOSES if d.name == name)
    twins, runs = dose_dirs(runs_dir, s)
    rows = run_dose(dose, item.config, twins, runs, n=int(s.dose_twin["n"]),
                    seed=int(s.dose_twin["seed"]), k=s.folds, n_boot=n_boot, verbose=verbose)
    frame = pd.DataFrame(
        [(name, s.doses.index(name), dose.noise.level, dose.noise.faint_contrast, measure,
          float(value), float(low), float(high), int(count))
         for measure, value, low, high, count in rows], columns=DOSE_COLUMNS)
    with atomic_path(item.path) as tmp:
        frame.to_csv(tmp, index=False)
    return f"{len(frame)} measurements"


def dose_table(results_dir: str | Path, config: TrainConfig,
               settings: PlanSettings | None = None) -> pd.DataFrame:
    """The measurements of the doses stage 5 has finished with the recipe ``config``, in the
    plan's order (:func:`heatsink.study.dose.dose_experiment`'s columns; empty if none)."""
    from heatsink.study.dose import DOSE_COLUMNS

    s = _settings(settings)
    files = [dose_file(results_dir, name, plan_name(config, s)) for name in s.doses]
    frames = [pd.read_csv(path) for path in files if path.exists()]
    if not frames:
        return pd.DataFrame(columns=DOSE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[DOSE_COLUMNS]


def _fetch_weights(stages: Sequence[int], ds: Dataset, runs_dir: Path, results_dir: Path,
                   wanted: set[str] | None, s: PlanSettings) -> None:
    """Get the ImageNet encoder weights before anything trains, if an unfinished item needs
    them: a machine without network then stops at the start, not hours into the plan."""
    pretrained = [m for m in s.encoders if s.encoder_weights.get(m) == "imagenet"]
    for item in plan_table(stages, ds, runs_dir, results_dir, s).itertuples():
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
    settings: PlanSettings | None = None,
) -> list[PlannedRun]:
    """Train what ``stages`` plan and is missing or partial, in order, and resumably.

    Each stage is planned again after every item it trains, so a range test unblocks its
    family's runs in the same call, and stage 2 is planned from stage 1's finished runs.
    A finished item is skipped; a partial run resumes from its last finished epoch. The
    range tests' curves are written to ``<results>/lr_range/``, the doses' measurements to
    ``<results>/dose/``, and each training run, once finished, is kept in
    ``<results>/plan/`` (:func:`heatsink.study.kept.keep_run`), where a later call, on this
    machine or another, finds it done.

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
    settings : PlanSettings, optional
        What the plan trains (default: the module's constants).

    Returns
    -------
    list of PlannedRun
        The stages' items afterwards, each once.
    """
    from heatsink.study.chapter import study_split
    from heatsink.study.kept import keep_run, kept_dir
    from heatsink.study.parked import drop_parked, restore_run
    from heatsink.train import train

    s = _settings(settings)
    runs_dir, results_dir = Path(runs_dir), Path(results_dir)
    for stage in stages:
        if stage not in _STAGES:
            raise HeatsinkError(f"the plan has stages {list(STAGES)}, not {stage!r}")
    wanted = set(only) if only else None
    if wanted:
        known = set(plan_table(stages, ds, runs_dir, results_dir, s)["name"])
        unknown = sorted(wanted - known)
        if unknown:
            raise HeatsinkError(f"no planned run named {', '.join(unknown)} in stages "
                                f"{sorted(set(stages))} (see `heatsink study train --list`)")
    _fetch_weights(stages, ds, runs_dir, results_dir, wanted, s)
    split = study_split(ds, results_dir)
    train_ids = split.loc[split["split"] == "train", "image_id"].astype(str).tolist()
    tried: set[str] = set()
    for stage in sorted(set(stages)):
        while True:
            todo = [r for r in planned_runs(stage, ds, runs_dir, results_dir, s)
                    if r.status in ("missing", "partial") and r.name not in tried
                    and (wanted is None or r.name in wanted)]
            if not todo:
                break
            item = todo[0]
            tried.add(item.name)
            state = "" if item.status == "missing" else (
                f", resuming after epoch {item.epochs}" if item.kind in ("train", "fold")
                else ", resuming")
            log(f"stage {stage}: {item.name}: started{state}")
            started = time.perf_counter()
            if item.kind == "lr_range":
                done = _run_lr_range(item, ds, train_ids, s)
            elif item.kind == "fold":
                from heatsink.crossval import out_of_sample

                out_of_sample(ds, item.config, item.path.parent, k=s.folds, verbose=verbose)
                done = f"{s.folds} fold models"
            elif item.kind == "dose":
                done = _run_dose(item, runs_dir, s, verbose, n_boot)
            else:
                if item.parked is not None:
                    restore_run(item.parked, item.path)
                    log(f"stage {stage}: {item.name}: restored from {item.parked}")
                run = train(item.config, ds, item.path, split=split, verbose=verbose,
                            n_boot=n_boot)
                keep_run(run.path, kept_dir(results_dir) / item.name,
                         study_split=results_dir / "split.csv")
                drop_parked(results_dir, item.name)
                done = (f"{len(run.history)} epochs, validation defect mIoU "
                        f"{100 * run_score(run.path):.1f} %, kept in {kept_dir(results_dir)}")
            minutes = (time.perf_counter() - started) / 60
            log(f"stage {stage}: {item.name}: finished ({done}; {minutes:.1f} min)")
        for item in planned_runs(stage, ds, runs_dir, results_dir, s):
            if item.status == "blocked" and (wanted is None or item.name in wanted):
                log(f"stage {stage}: {item.name}: blocked ({item.why})")
    final, seen = [], set()
    for stage in sorted(set(stages)):
        for item in planned_runs(stage, ds, runs_dir, results_dir, s):
            if item.name not in seen:
                seen.add(item.name)
                final.append(item)
    return final


def _local_runs(stages: Sequence[int], ds: Dataset, runs_dir: Path, results_dir: Path,
                settings: PlanSettings | None) -> Iterator[tuple[PlannedRun, Path]]:
    """Each training run of ``stages`` once, in the plan's order, with its folder in the runs
    folder (whether or not the plan reads it from a copy kept with the results)."""
    s = _settings(settings)
    seen = set()
    for stage in sorted(set(stages)):
        for item in planned_runs(stage, ds, runs_dir, results_dir, s):
            if item.kind != "train" or item.name in seen or item.config is None:
                continue
            seen.add(item.name)
            yield item, plan_dir(runs_dir, s) / item.name


def keep_finished(stages: Sequence[int], ds: Dataset, runs_dir: str | Path,
                  results_dir: str | Path,
                  settings: PlanSettings | None = None) -> list[str]:
    """Keep every training run of ``stages`` that finished in the runs folder and is not
    kept yet, or is kept with other scores (:func:`heatsink.study.kept.keep_run`); the
    names kept, in the plan's order. Fold models and doses are not kept (the doses keep
    their measurements)."""
    from heatsink.study.kept import keep_run, kept_dir, same_copy
    from heatsink.study.parked import drop_parked

    runs_dir, results_dir = Path(runs_dir), Path(results_dir)
    kept = []
    for item, local in _local_runs(stages, ds, runs_dir, results_dir, settings):
        if run_status(local, item.config, ds)[0] != "done":
            continue
        dest = kept_dir(results_dir) / item.name
        if not same_copy(local, dest):
            keep_run(local, dest, study_split=results_dir / "split.csv")
            kept.append(item.name)
        drop_parked(results_dir, item.name)
    return kept


def park_unfinished(stages: Sequence[int], ds: Dataset, runs_dir: str | Path,
                    results_dir: str | Path, settings: PlanSettings | None = None,
                    limit_mb: float | None = None) -> pd.DataFrame:
    """Park every training run of ``stages`` that is unfinished in the runs folder, has a
    finished epoch, and is further on than its parked copy, if any
    (:func:`heatsink.study.parked.park_run`): a session on a new machine then resumes it.

    Returns
    -------
    pandas.DataFrame
        One row per unfinished run with a finished epoch: ``name``, ``epochs``, ``mb`` (the
        parked copy's size, NaN if not parked) and ``parked`` (``"now"``, ``"already"``,
        ``"too large"`` or ``"no resume state"``).
    """
    from heatsink.study.parked import PARK_LIMIT_MB, epochs_done, park_run, parked_dir

    runs_dir, results_dir = Path(runs_dir), Path(results_dir)
    rows = []
    for item, local in _local_runs(stages, ds, runs_dir, results_dir, settings):
        status, epochs, _ = run_status(local, item.config, ds)
        if status != "partial" or epochs == 0:
            continue
        dest = parked_dir(results_dir) / item.name
        if epochs_done(dest) >= epochs:
            rows.append((item.name, epochs, float("nan"), "already"))
            continue
        try:
            mb = park_run(local, dest, PARK_LIMIT_MB if limit_mb is None else limit_mb,
                          study_split=results_dir / "split.csv")
        except HeatsinkError:  # trained, not yet scored: no resume state to park
            rows.append((item.name, epochs, float("nan"), "no resume state"))
            continue
        rows.append((item.name, epochs, float("nan") if mb is None else round(mb, 1),
                     "too large" if mb is None else "now"))
    return pd.DataFrame(rows, columns=["name", "epochs", "mb", "parked"])


__all__ = [
    "ABLATION_LOSSES",
    "ABLATION_WEIGHTINGS",
    "CROP_CHECK",
    "DESIGN_CHECKS",
    "DOSE_TWIN",
    "ENCODERS",
    "ENCODER_WEIGHTS",
    "FALLBACK_LR",
    "FOLDS",
    "MODEL_KWARGS",
    "PHOTOMETRIC",
    "PLAN_FOLDER",
    "PRIOR_BIAS_LOSSES",
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
    "TEXTURE",
    "TEXTURE_CHECK",
    "TOP_RECIPES",
    "PlanSettings",
    "PlannedRun",
    "chosen_encoder",
    "chosen_recipe",
    "crossval_dir",
    "dose_dirs",
    "dose_file",
    "dose_table",
    "epoch_minutes",
    "family_lr",
    "hours_left",
    "keep_finished",
    "lr_range_file",
    "missing_runs",
    "park_unfinished",
    "plan_dir",
    "plan_name",
    "plan_table",
    "planned_runs",
    "recipe_config",
    "run_folders",
    "run_plan",
    "run_score",
    "run_status",
    "seed_runs",
    "top_recipes",
]
