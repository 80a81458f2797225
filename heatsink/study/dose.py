"""The noise-dose experiment: the chosen recipe trained on twins with more and more label noise.

Chapter 5's finding about label noise follows from the twin's stated noise level (its
injected errors cover about 1.5 % of the defect pixels). Whether it holds at other levels is
measured here: one twin per *dose* (:class:`Dose`, a :class:`~heatsink.synth.NoiseConfig`
with a name), the same recipe trained on each, and per dose

* the injected error share: of the images (those with at least one manifest row) and of
  the true defect pixels (the manifest's pixels over the ``truth/`` masks' defect pixels);
* the defect mIoU on the validation split against the labels and against the clean truth,
  with the 95 % bootstrap intervals training stores (:func:`heatsink.train.train`), and the
  change truth − labels with its paired interval
  (:func:`heatsink.evaluate.paired_difference`);
* cleanlab's precision among its most suspect ``fraction`` of the images
  (:func:`heatsink.label_quality.precision_at_k` on
  :func:`~heatsink.label_quality.cleanlab_scores` of k-fold out-of-sample probabilities,
  :func:`heatsink.crossval.out_of_sample`), with its Wilson interval
  (:func:`heatsink.metrics.wilson_interval`) and what a random draw would hold.

Everything is resumable: a twin is generated once and reused when its ``twin.json`` records
the same generator, size, seed and noise; a finished training run (``metrics.json``) is read
back, not trained again; finished folds are reused by the cross-validation.

Layout, under the folders given::

    twins/<dose>/            the dose's twin
    runs/<dose>/<run name>/  the recipe trained on it (heatsink.models.run's layout)
    runs/<dose>/label-quality-<run name>-k<k>/   the fold models for cleanlab

The twins of two doses with the same seed share their part plan and split, but not their
images when their noise *rates* differ (the generator draws the errors of chance between the
defects and the surface); doses that differ only in the annotators' criterion
(``faint_contrast``) share every image and truth mask, and differ in their labels alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from heatsink.errors import HeatsinkError
from heatsink.study.naming import run_name
from heatsink.synth.noise import NoiseConfig

if TYPE_CHECKING:
    from heatsink.crossval import ForestConfig
    from heatsink.data import Dataset
    from heatsink.models.run import Run, TrainConfig


@dataclass(frozen=True)
class Dose:
    """One label-noise level of the experiment.

    Attributes
    ----------
    name : str
        Its folder name and its label in tables and figures.
    noise : NoiseConfig
        The twin's label noise.
    """

    name: str
    noise: NoiseConfig

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise HeatsinkError(f"a dose's name must be a plain folder name, not {self.name!r}")


#: The issue's ladder: no noise, the stated default (errors on about 1.5 % of the defect
#: pixels), twice its rates, and twice its rates with annotators who leave faint defects
#: unlabelled (thresholds 0.025–0.075 about 0.05: roughly another 9 % of the defect pixels
#: on the default twin; see :attr:`heatsink.synth.NoiseConfig.faint_contrast`).
DOSES: tuple[Dose, ...] = (
    Dose("none", NoiseConfig.none()),
    Dose("default", NoiseConfig()),
    Dose("double", NoiseConfig(level=0.40)),
    Dose("double+faint", NoiseConfig(level=0.40, faint_contrast=0.05)),
)

#: Columns of :func:`dose_experiment`'s table.
DOSE_COLUMNS = ["dose", "position", "level", "faint_contrast", "measure", "value", "low",
                "high", "n"]


def dose_twin(dose: Dose, twins: str | Path, n: int = 1000, seed: int = 0,
              workers: int | None = None, progress: bool = False) -> Path:
    """The twin of ``dose``: ``twins/<dose.name>``, generated unless it is already there.

    Parameters
    ----------
    dose : Dose
    twins : path
        The folder of the doses' twins.
    n, seed : int
        Size and seed of the twin (the same for every dose).
    workers : int, optional
        Generator processes (:func:`heatsink.synth.generate`).
    progress : bool
        Show the generator's progress bar.

    Returns
    -------
    Path

    Raises
    ------
    HeatsinkError
        If the folder holds a twin of another generator version, size, seed or noise: its
        runs would be refused anyway (they record the data's checksum); delete it to
        generate it anew.
    """
    from heatsink.synth import GENERATOR_VERSION, generate

    root = Path(twins) / dose.name
    wanted = {"generator_version": GENERATOR_VERSION, "n": n, "seed": seed,
              "noise": json.loads(json.dumps(dose.noise.to_dict()))}
    info_file = root / "twin.json"
    if info_file.exists():
        info = json.loads(info_file.read_text(encoding="utf-8"))
        found = {key: info.get(key) for key in wanted}
        if found == wanted:
            return root
        changed = sorted(key for key in wanted if found[key] != wanted[key])
        raise HeatsinkError(f"{root} holds a twin of another setting (differs in {changed}); "
                            "delete it to generate this dose's twin")
    return generate(root, n=n, seed=seed, noise=dose.noise, progress=progress, workers=workers)


def injected_share(ds: Dataset) -> dict[str, int]:
    """How much of a twin its manifest's errors touch.

    Returns
    -------
    dict
        ``images``, ``images_with_errors``, ``error_pixels`` (the manifest's changed
        pixels) and ``defect_pixels`` (defect pixels of the ``truth/`` masks).
    """
    from heatsink.synth import records

    manifest = records.read_manifest(ds.root)
    defect = sum(int(np.count_nonzero(mask)) for _, mask in ds.masks("truth"))
    return {"images": len(ds), "images_with_errors": int(manifest["image_id"].nunique()),
            "error_pixels": int(manifest["pixels"].sum()), "defect_pixels": defect}


def _train_dose(config: TrainConfig, ds: Dataset, run_dir: Path, split: pd.DataFrame,
                verbose: int, n_boot: int) -> Run:
    """The recipe's run on the dose's twin: read back when finished, else trained."""
    from heatsink.models.run import Run

    if Run(path=run_dir, config=config).finished:
        run = Run.load(run_dir, ds)
        if run.config.to_dict() == json.loads(json.dumps(config.to_dict())):
            return run
    from heatsink.train import train  # trains, resumes, or refuses another configuration

    return train(config, ds, run_dir, split=split, verbose=verbose, n_boot=n_boot)


def _out_of_sample(ds: Dataset, label_model: TrainConfig | ForestConfig, path: Path, k: int,
                   verbose: int):
    from heatsink import crossval

    if isinstance(label_model, crossval.ForestConfig):
        return crossval.forest_out_of_sample(ds, path, label_model, k=k)
    return crossval.out_of_sample(ds, label_model, path, k=k, verbose=verbose)


def _label_model_name(label_model: TrainConfig | ForestConfig) -> str:
    from heatsink.crossval import ForestConfig

    return "forest" if isinstance(label_model, ForestConfig) else run_name(label_model)


def _cleanlab_rows(ds: Dataset, label_model, path: Path, k: int, fraction: float,
                   verbose: int) -> list[tuple]:
    """cleanlab's precision at its top ``fraction`` (and the random draw's) on one twin."""
    from heatsink import label_quality as lq
    from heatsink.metrics import wilson_interval
    from heatsink.synth import records

    key = f"cleanlab_precision_top{round(100 * fraction)}"
    positives = set(records.read_manifest(ds.root)["image_id"].astype(str))
    if not positives:  # nothing to find: no fold models trained for a precision of 0
        return [(key, math.nan, math.nan, math.nan, 0),
                ("cleanlab_random", 0.0, math.nan, math.nan, len(ds))]
    oos = _out_of_sample(ds, label_model, path, k, verbose)
    labels = np.stack([ds.mask(i) for i in oos.ids])
    scores = lq.cleanlab_scores(labels, oos.probabilities(), oos.ids)[0]
    top = lq.precision_at_k(scores, positives, [fraction]).iloc[0]
    low, high = wilson_interval(int(top["hits"]), int(top["k"]))
    return [(key, float(top["precision"]), low, high, int(top["k"])),
            ("cleanlab_random", len(positives) / len(oos.ids), math.nan, math.nan,
             len(oos.ids))]


def run_dose(
    dose: Dose, config: TrainConfig, twins: str | Path, runs: str | Path, *,
    n: int = 1000, seed: int = 0, split_seed: int = 0,
    label_model: TrainConfig | ForestConfig | None = None, k: int = 3,
    fraction: float = 0.2, n_boot: int = 1000, verbose: int = 0,
    workers: int | None = None,
) -> list[tuple]:
    """One dose's measurements: ``(measure, value, low, high, n)`` rows.

    See :func:`dose_experiment` for the parameters and the measures.
    """
    from heatsink.data import load_dataset, make_split
    from heatsink.evaluate import paired_difference

    ds = load_dataset(dose_twin(dose, twins, n=n, seed=seed, workers=workers))
    share = injected_share(ds)
    rows = [
        ("error_share_images", share["images_with_errors"] / max(share["images"], 1),
         math.nan, math.nan, share["images"]),
        ("error_share_pixels", share["error_pixels"] / max(share["defect_pixels"], 1),
         math.nan, math.nan, share["defect_pixels"]),
    ]
    split = make_split(ds, seed=split_seed, groups=ds.parts)
    run = _train_dose(config, ds, Path(runs) / dose.name / run_name(config), split, verbose,
                      n_boot)
    n_val = int(run.metrics["n_images"])
    for reference in ("labels", "truth"):
        box = run.metrics["bootstrap"][reference]["miou_defects"]
        rows.append((f"miou_defects_{reference}", box["value"], box["low"], box["high"], n_val))
    change = paired_difference(run.evaluation("truth"), run.evaluation("labels"),
                               n_boot=n_boot, same_reference=False)
    rows.append(("miou_defects_truth_minus_labels", change["difference"], change["low"],
                 change["high"], n_val))
    label_model = config if label_model is None else label_model
    path = Path(runs) / dose.name / f"label-quality-{_label_model_name(label_model)}-k{k}"
    rows += _cleanlab_rows(ds, label_model, path, k, fraction, verbose)
    return rows


def dose_experiment(
    doses: Sequence[Dose], config: TrainConfig, twins: str | Path, runs: str | Path, *,
    n: int = 1000, seed: int = 0, split_seed: int = 0,
    label_model: TrainConfig | ForestConfig | None = None, k: int = 3,
    fraction: float = 0.2, n_boot: int = 1000, verbose: int = 0,
    workers: int | None = None,
) -> pd.DataFrame:
    """Generate a twin per dose, train ``config`` on each, and measure what the noise did.

    Parameters
    ----------
    doses : sequence of Dose
        The doses, in the order they are plotted (e.g. :data:`DOSES`); names must differ.
    config : TrainConfig
        The recipe trained on every twin (the study's chosen one).
    twins, runs : path
        Folders of the doses' twins and of their training runs (see the module's layout).
    n, seed : int
        Size and seed of every twin.
    split_seed : int
        Seed of the split (grouped by part; the same images for every dose, since the doses'
        twins share their part plan).
    label_model : TrainConfig or ForestConfig, optional
        The k-fold models whose out-of-sample probabilities cleanlab ranks (default:
        ``config``; chapter 5 uses a short GSLU training).
    k : int
        Folds of the cross-validation.
    fraction : float
        cleanlab's top share of the images whose precision is measured.
    n_boot : int
        Bootstrap resamples of the validation scores' intervals.
    verbose : int
        Keras verbosity of the trainings.
    workers : int, optional
        Generator processes.

    Returns
    -------
    DataFrame
        Tidy, one row per dose and measure: :data:`DOSE_COLUMNS`. ``value, low, high`` are
        fractions (``low, high`` NaN where there is no interval) and ``n`` what the value
        is counted over (images, defect pixels, validation images, cleanlab's top images).
        Measures: ``error_share_images``, ``error_share_pixels``, ``miou_defects_labels``,
        ``miou_defects_truth``, ``miou_defects_truth_minus_labels`` (paired interval),
        ``cleanlab_precision_top<percent>`` (Wilson interval; NaN for a twin without
        errors, where nothing is trained for it) and ``cleanlab_random`` (the share of
        images with errors: a random ranking's expected precision).
    """
    names = [d.name for d in doses]
    if len(set(names)) != len(names):
        raise HeatsinkError(f"dose names must differ, got {names}")
    if not doses:
        raise HeatsinkError("no doses given")
    rows = []
    for position, dose in enumerate(doses):
        for measure, value, low, high, count in run_dose(
                dose, config, twins, runs, n=n, seed=seed, split_seed=split_seed,
                label_model=label_model, k=k, fraction=fraction, n_boot=n_boot,
                verbose=verbose, workers=workers):
            rows.append((dose.name, position, dose.noise.level, dose.noise.faint_contrast,
                         measure, float(value), float(low), float(high), int(count)))
    return pd.DataFrame(rows, columns=DOSE_COLUMNS)


def dose_curve(table: pd.DataFrame, title: str = ""):
    """The dose curve: error share, defect mIoU and cleanlab's precision against the dose.

    Three panels over the doses in :func:`dose_experiment`'s order, each tick naming the
    dose and the share of defect pixels its errors cover: the injected error share (of the
    images and of the defect pixels); the defect mIoU against the labels and against the
    clean truth, with their 95 % intervals; cleanlab's precision at its top share, with its
    Wilson interval, beside a random ranking's (dashed).

    Parameters
    ----------
    table : DataFrame
        :func:`dose_experiment`'s table.
    title : str
        The figure's title (name the data and the recipe).

    Returns
    -------
    matplotlib Figure
    """
    import matplotlib.pyplot as plt

    from heatsink.classes import OVERLAY_COLOURS, SCRATCH, STAIN

    wide = table.pivot_table(index=["position", "dose"], columns="measure",
                             values=["value", "low", "high"], aggfunc="first")
    wide = wide.sort_index(level="position")
    x = wide.index.get_level_values("position").to_numpy()
    names = wide.index.get_level_values("dose")

    def series(measure: str, what: str = "value") -> np.ndarray:
        key = (what, measure)
        return 100 * wide[key].to_numpy(float) if key in wide else np.full(len(x), np.nan)

    def errorbars(ax, measure: str, offset: float = 0.0, **style) -> None:
        value, low, high = (series(measure, w) for w in ("value", "low", "high"))
        yerr = np.vstack([value - low, high - value])
        ax.errorbar(x + offset, value, yerr=np.where(np.isfinite(yerr), yerr, 0), fmt="o-",
                    capsize=3, **style)

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    share, miou, cleanlab = axes
    share.plot(x, series("error_share_images"), "o-", label="images with an error")
    share.plot(x, series("error_share_pixels"), "s-", label="defect pixels in error")
    share.set_ylabel("percent")
    share.set_title("injected label errors", fontsize=10)
    colours = [tuple(v / 255 for v in OVERLAY_COLOURS[c]) for c in (SCRATCH, STAIN)]
    errorbars(miou, "miou_defects_labels", -0.05, label="against the labels", color="0.3")
    errorbars(miou, "miou_defects_truth", 0.05, label="against the clean truth",
              color=colours[0])
    miou.set_ylabel("defect mIoU, percent (95 % interval)")
    miou.set_title("the recipe's validation score", fontsize=10)
    top = [m for m in table["measure"].unique() if m.startswith("cleanlab_precision_top")]
    if top:
        percent = top[0].removeprefix("cleanlab_precision_top")
        errorbars(cleanlab, top[0], label=f"cleanlab, top {percent} %", color=colours[1])
    cleanlab.plot(x, series("cleanlab_random"), "--", color="0.5", label="random ranking")
    cleanlab.set_ylim(0, 100)
    cleanlab.set_ylabel("images with an error, percent")
    cleanlab.set_title("label-issue detection", fontsize=10)
    pixels = series("error_share_pixels")
    ticks = [f"{d}\n{p:.1f} % px" if np.isfinite(p) else d
             for d, p in zip(names, pixels, strict=True)]
    for ax in axes:
        ax.set_xticks(x, ticks, fontsize=8)
        ax.set_xlabel("dose")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


__all__ = [
    "DOSES",
    "DOSE_COLUMNS",
    "Dose",
    "dose_curve",
    "dose_experiment",
    "dose_twin",
    "injected_share",
    "run_dose",
]
