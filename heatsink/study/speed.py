"""Line speed against quality: trained runs timed engine by engine on this CPU.

For a set of trained runs (by default the training plan's stage-1 runs with the study's loss,
:func:`plan_runs`) this measures, per model:

* its parameters and GFLOP per frame at its input size (:func:`measure_speed`;
  :func:`heatsink.models.speed.frozen_gflop`);
* per engine (:data:`heatsink.models.speed.ENGINES` that can run here), the median ms per
  320² frame at each batch size, hence at batch 1 and at the best batch, and the share of
  the machine's measured matmul peak (float32 or bfloat16, as the engine computes) it
  reaches;
* per engine, how far its masks agree with the float32 Keras model's on real frames, and
  how many verdicts under a spec differ (:func:`engine_agreement`);
* its validation defect mIoU with its bootstrap interval (:func:`quality_table`), and the
  paired difference of two models on the same images (:func:`paired_quality`).

The tables are tidy DataFrames, saved with :func:`heatsink.study.results.save_speed_results`
beside the machine's hardware line (:func:`machine_line`: CPU, cores, flags, peaks and the
load average before and after, so a measurement on a loaded machine says so).
:func:`speed_quality_figure` draws quality against ms per frame.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heatsink import hardware
from heatsink.errors import HeatsinkError
from heatsink.study import plan

if TYPE_CHECKING:

    from heatsink.data import Dataset
    from heatsink.evaluate import Evaluation
    from heatsink.line.spec import Spec
    from heatsink.models.run import Run

#: The target of issue 27: the paper's GPU figure, ms per 320² frame.
TARGET_MS = 14.0
#: How far (defect mIoU, as a fraction) the light model may trail the GSLU-style net.
MARGIN = 0.01
#: The measure the quality side is read on.
MEASURE = "miou_defects"
#: Builder arguments of the untrained tiny models that stand in for missing runs (smoke).
STAND_IN_KWARGS: dict[str, dict[str, Any]] = {
    "unet": {"filters": 8},
    "gslu": {"widths": (8, 16, 32, 64)},
    "light": {"widths": (8, 16, 16, 24, 32), "decoder_widths": (16, 16, 8, 8)},
}
#: CPU flags worth recording beside a timing (vector units and bf16/int8 matrix maths).
FLAG_PREFIXES = ("avx", "amx", "fma", "sse4", "f16c")
#: The columns of each table :func:`measure_speed` and its siblings return.
COLUMNS = {
    "models": ["model", "run", "architecture", "stand_in", "identity", "parameters",
               "input_size", "gflop_per_frame"],
    "timing": ["model", "engine", "precision", "batch", "frame_size", "ms_per_frame"],
    "speed": ["model", "engine", "precision", "ms_batch1", "best_batch", "ms_best",
              "frames_per_s_best", "gflops_best", "peak_share_best"],
    "agreement": ["model", "engine", "frames", "pixels_agree", "worst_frame",
                  "defect_pixels_agree", "verdicts_differ"],
    "quality": ["model", "reference", "measure", "value", "low", "high", "n_images"],
    "paired": ["a", "b", "reference", "measure", "difference", "low", "high",
               "share_a_higher", "n_images", "margin", "within_margin", "seeds_a", "seeds_b",
               "seed_spread"],
    "seeds": ["model", "seed", "reference", "measure", "value"],
    "engine_quality": ["model", "engine", "reference", "measure", "value_engine",
                       "low_engine", "high_engine", "value_float32", "difference", "low",
                       "high", "n_images"],
}


@dataclass
class SpeedModel:
    """A run opened for timing: its float32 Keras model and how to rebuild it.

    Attributes
    ----------
    name : str
        Its name in the tables (the model family, e.g. ``"light"``).
    run : Run
        The training run (a stand-in's is untrained: no scores).
    model : tf.keras.Model
        ``best.keras`` computing in float32 (:func:`heatsink.models.export.float32_model`).
    build : callable
        Builds the same architecture (for the bfloat16 engine).
    image_size : int
        The input side it runs at (the run's ``image_size``).
    identity : str
        ``<run folder>@<sha256 of best.keras, 12 hex digits>``.
    stand_in : bool
        An untrained model standing in for a missing run.
    weights : bool
        Whether ``model`` holds the run's trained weights. A finished run kept with the
        results without its model (:mod:`heatsink.study.kept`: the U-Nets) is opened as its
        architecture with fresh weights: its speed is the run's, its masks are not, and its
        scores are the stored ones.
    """

    name: str
    run: Run
    model: Any = field(repr=False)
    build: Callable[[], Any] = field(repr=False)
    image_size: int
    identity: str
    stand_in: bool = False
    weights: bool = True


def plan_runs(runs_dir: str | Path, encoders: Sequence[str] | None = None,
              loss: str | None = None,
              results_dir: str | Path | None = None,
              settings: plan.PlanSettings | None = None) -> dict[str, Path]:
    """The plan's stage-1 run folders of ``encoders`` with ``loss``, by encoder.

    Defaults: every encoder of the plan (``settings``, by default
    :data:`heatsink.study.plan.ENCODERS`) with the study's loss. With ``results_dir``, a run
    finished only in its kept copy is that copy (:func:`heatsink.study.plan.run_folders`:
    the rule by which the plan decides what to train).

    Examples
    --------
    >>> {k: v.as_posix() for k, v in plan_runs("runs", ["light"]).items()}
    {'light': 'runs/plan/light-wcce+dice'}
    """
    s = plan.PlanSettings.default() if settings is None else settings
    encoders = s.encoders if encoders is None else encoders
    loss = plan.STUDY_LOSS if loss is None else loss
    # a plan run's name does not depend on its learning rate
    names = {m: plan.plan_name(plan.recipe_config(m, loss, 1.0, s), s) for m in encoders}
    if results_dir is not None:
        folders = plan.run_folders(names.values(), None, runs_dir, results_dir, s)
        return {m: folders[name] for m, name in names.items()}
    return {m: plan.plan_dir(runs_dir, s) / name for m, name in names.items()}


def stand_in_run(folder: str | Path, model: str, image_size: int = 64,
                 **model_kwargs: Any) -> Path:
    """An untrained run folder (``config.json`` and ``best.keras``) of ``model``.

    For proving a chapter's cells run where no trained run exists: the model is built with
    ``model_kwargs`` (default :data:`STAND_IN_KWARGS`, tiny) in float32. An existing stand-in
    of the same configuration is reused.
    """
    from heatsink.models import build_model
    from heatsink.models.run import TrainConfig

    folder = Path(folder)
    kwargs = model_kwargs or STAND_IN_KWARGS.get(model, {})
    config = TrainConfig(model=model, image_size=image_size, precision="float32",
                         model_kwargs={k: list(v) if isinstance(v, tuple) else v
                                       for k, v in kwargs.items()})
    text = json.dumps(config.to_dict(), indent=2)
    if (folder / "best.keras").exists() and (folder / "config.json").read_text() == text:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    build_model(model, **kwargs).save(folder / "best.keras")
    (folder / "config.json").write_text(text)
    return folder


def open_models(runs: Mapping[str, str | Path], stand_ins: str | Path | None = None,
                stand_in_size: int = 64) -> dict[str, SpeedModel]:
    """Open each run of ``runs`` (name -> run folder) for timing.

    Parameters
    ----------
    runs : mapping
        Model name -> run folder holding ``best.keras``.
    stand_ins : path, optional
        Where to make untrained tiny stand-ins (:func:`stand_in_run`) for runs that are
        missing; None: a missing run is an error.
    stand_in_size : int
        The stand-ins' input side.

    Raises
    ------
    HeatsinkError
        Naming every missing run at once (without ``stand_ins``).
    """
    from heatsink.io import file_sha256
    from heatsink.models import build_model
    from heatsink.models.export import float32_model
    from heatsink.models.run import Run

    paths = {name: Path(path) for name, path in runs.items()}
    kept = {name for name, path in paths.items()  # finished, kept without its model
            if not (path / "best.keras").is_file() and Run(path, None).finished}
    missing = [f"{name} ({path})" for name, path in paths.items()
               if not (path / "best.keras").is_file() and name not in kept]
    if missing and stand_ins is None:
        raise HeatsinkError(
            f"no trained model for {len(missing)} of {len(paths)} runs: {', '.join(missing)}. "
            "Train them first (`heatsink study train --stage 1`, the plan's stage 1).")
    out = {}
    for name, path in paths.items():
        stand_in = not (path / "best.keras").is_file() and name not in kept
        if stand_in:
            path = stand_in_run(Path(stand_ins) / name, name, stand_in_size)
        run = Run.load(path)
        config = run.config
        kwargs = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in config.model_kwargs.items()}
        build = functools.partial(build_model, config.model, **kwargs)
        if name in kept:
            model, identity = build(), f"{path.resolve().name}@architecture"
        else:
            model = float32_model(run.model("best"))
            identity = f"{path.resolve().name}@{file_sha256(path / 'best.keras')[:12]}"
        out[name] = SpeedModel(name=name, run=run, model=model, build=build,
                               image_size=int(config.image_size), identity=identity,
                               stand_in=stand_in, weights=name not in kept)
    return out


def cpu_flags_line() -> list[str]:
    """The CPU's vector and matrix flags (:data:`FLAG_PREFIXES`), sorted."""
    return sorted(f for f in hardware.cpu_flags() if f.startswith(FLAG_PREFIXES))


def machine_line(peaks: bool = True, matmul_n: int = 2048) -> dict[str, Any]:
    """This machine for the record: CPU, cores, memory, flags, load, matmul peaks.

    ``peak_float32`` (and ``peak_bfloat16`` where the CPU has bf16 instructions) are the
    measured GFLOP/s of an ``matmul_n``² matmul (:func:`heatsink.models.speed.peak_gflops`);
    ``load_before`` the 1-minute load average before they ran (:func:`measure_speed` adds
    ``load_after``).
    """
    from heatsink.models.speed import peak_gflops

    described = hardware.describe()
    out: dict[str, Any] = {
        "cpu": described["cpu"], "cores": described["cores"],
        "memory_gib": described["memory_gib"], "bf16": described["bf16"],
        "flags": cpu_flags_line(), "platform": described["platform"],
        "measured": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "load_before": round(os.getloadavg()[0], 2),
    }
    if peaks:
        out["peak_float32"] = round(peak_gflops("float32", matmul_n), 1)
        if hardware.has_bf16():
            out["peak_bfloat16"] = round(peak_gflops("bfloat16", matmul_n), 1)
    return out


def hardware_text(machine: Mapping[str, Any]) -> str:
    """The machine in one line for a caption: CPU, cores, bf16, load average.

    Examples
    --------
    >>> hardware_text({"cpu": "AMD EPYC", "cores": 2, "bf16": ["avx512_bf16"],
    ...                "load_before": 2.7, "load_after": 2.9})
    'AMD EPYC, 2 cores, avx512_bf16; load average 2.7 before, 2.9 after (a loaded machine)'
    """
    from heatsink.study.results.speed import was_loaded

    text = hardware.short_line(dict(machine))
    loads = [machine.get("load_before"), machine.get("load_after")]
    if any(v is not None for v in loads):
        text += "; load average " + ", ".join(
            f"{v:.1f} {when}" for v, when in zip(loads, ("before", "after"), strict=True)
            if v is not None)
        if machine.get("other_cores") is not None:
            text += f"; other processes {machine['other_cores']:.2f} cores while timing"
        if was_loaded(dict(machine)):
            text += " (a loaded machine)"
    return text


def measure_speed(
    models: Mapping[str, SpeedModel],
    engines: Sequence[str],
    frame_size: int = 320,
    batches: Sequence[int] = (1, 2, 4, 8, 16),
    repeats: int = 20,
    budget_s: float | None = 5.0,
    machine: dict[str, Any] | None = None,
    workdir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    calibration: Sequence[np.ndarray] | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Time every model of ``models`` with every engine of ``engines`` that runs here.

    Parameters
    ----------
    models : mapping
        Name -> :class:`SpeedModel` (:func:`open_models`).
    engines : sequence of str
        Engines (:data:`heatsink.models.speed.ENGINES`); those that cannot run here
        (:func:`heatsink.models.speed.engine_missing`) are left out, and listed in the
        machine's ``engines_skipped``.
    frame_size : int
        The side of the frames timed (resized to each model's input and back).
    batches : sequence of int
        Batch sizes timed; the best is the one with the lowest ms per frame.
    repeats, budget_s
        Timed calls per figure, cut to about ``budget_s`` seconds
        (:func:`heatsink.models.speed.latency_by_batch`).
    machine : dict, optional
        :func:`machine_line`, measured here if not given.
    workdir : path, optional
        Where the exports go (default: a temporary folder, removed afterwards).
    log : callable, optional
        Receives one line per model and engine timed.
    calibration : sequence of ndarray, optional
        uint8 RGB frames to calibrate ``openvino-int8`` on (without them it is skipped).

    Returns
    -------
    (tables, machine)
        ``tables``: ``models`` (one row per model), ``timing`` (one row per model, engine
        and batch) and ``speed`` (one row per model and engine), with the columns of
        :data:`COLUMNS`; ``machine``: the hardware line, with ``load_after`` and
        ``other_cores``, the cores' worth of CPU other processes used while the models were
        timed (:func:`heatsink.hardware.other_cores`; Linux only).
    """
    from heatsink.models import count_params
    from heatsink.models.speed import (
        ENGINE_PRECISION,
        engine_missing,
        engine_predictor,
        frozen_gflop,
        latency_by_batch,
        peak_share,
    )

    machine = dict(machine) if machine is not None else machine_line()
    busy_start, wall_start = hardware.busy_seconds(), time.perf_counter()
    skipped = {e: engine_missing(e) for e in engines if engine_missing(e)}
    if "openvino-int8" in engines and "openvino-int8" not in skipped and calibration is None:
        skipped["openvino-int8"] = "no calibration frames given"
    runnable = [e for e in engines if e not in skipped]
    model_rows, timing_rows, speed_rows = [], [], []
    with tempfile.TemporaryDirectory(prefix="heatsink-speed-") as tmp:
        base = Path(workdir) if workdir is not None else Path(tmp)
        for name, item in models.items():
            gflop = frozen_gflop(item.model, item.image_size)
            model_rows.append({
                "model": name, "run": item.run.path.name, "architecture": item.run.config.model,
                "stand_in": item.stand_in, "identity": item.identity,
                "parameters": count_params(item.model), "input_size": item.image_size,
                "gflop_per_frame": gflop})
            for engine in runnable:
                predictor = engine_predictor(item.model, engine, item.image_size,
                                             base / name, build=item.build,
                                             calibration=calibration)
                times = latency_by_batch(predictor, batches, frame_size, repeats, budget_s)
                precision = ENGINE_PRECISION[engine]
                timing_rows += [{"model": name, "engine": engine, "precision": precision,
                                 "batch": b, "frame_size": frame_size, "ms_per_frame": ms}
                                for b, ms in times.items()]
                best = min(times, key=times.get)
                speed_rows.append({
                    "model": name, "engine": engine, "precision": precision,
                    "ms_batch1": times.get(1, float("nan")), "best_batch": best,
                    "ms_best": times[best], "frames_per_s_best": 1000 / times[best],
                    "gflops_best": gflop / (times[best] / 1000),
                    "peak_share_best": peak_share(gflop, times[best],
                                                  machine.get(f"peak_{precision}"))})
                if log:
                    log(f"{name} {engine}: " + ", ".join(f"b{b} {ms:.1f}"
                                                         for b, ms in times.items())
                        + " ms per frame")
    machine["load_after"] = round(os.getloadavg()[0], 2)
    others = hardware.other_cores(busy_start, hardware.busy_seconds(),
                                  time.perf_counter() - wall_start)
    if others is not None:  # what other processes used while the models were timed
        machine["other_cores"] = round(others, 2)
    machine["engines_skipped"] = skipped
    machine.update({"frame_size": frame_size, "batches": list(batches), "repeats": repeats,
                    "budget_s": budget_s})
    tables = {"models": pd.DataFrame(model_rows, columns=COLUMNS["models"]),
              "timing": pd.DataFrame(timing_rows, columns=COLUMNS["timing"]),
              "speed": pd.DataFrame(speed_rows, columns=COLUMNS["speed"])}
    return tables, machine


def engine_agreement(
    models: Mapping[str, SpeedModel],
    frames: Sequence[np.ndarray],
    engines: Sequence[str],
    spec: Spec | None = None,
    batch_size: int = 8,
    workdir: str | Path | None = None,
    calibration: Sequence[np.ndarray] | None = None,
) -> pd.DataFrame:
    """Each engine's masks against the float32 Keras model's, on the same ``frames``; models
    opened without their trained weights (``weights`` False) are left out.

    The reference is the package's prediction path with the float32 Keras model
    (:class:`heatsink.models.predict.Predictor`, as ``heatsink inspect`` and the study
    predict); every engine goes through the same path (resize in, resize back, arg-max), so
    only the engine differs. Engines that cannot run here are left out, and
    ``openvino-int8`` without ``calibration`` frames (uint8 RGB, never ``frames`` themselves:
    :func:`heatsink.models.quantize.quantize_export`).

    Returns
    -------
    DataFrame
        One row per model and engine: :func:`heatsink.models.speed.mask_agreement`'s shares
        and, with ``spec``, ``verdicts_differ``: the frames whose verdict under ``spec``
        differs from the reference's (else NaN).
    """
    from heatsink.models.predict import Predictor
    from heatsink.models.speed import (
        engine_missing,
        engine_predictor,
        mask_agreement,
        quiet_tensorflow,
    )

    runnable = [e for e in engines if not engine_missing(e)
                and (e != "openvino-int8" or calibration is not None)]
    frames = list(frames)
    rows = []

    def verdicts(masks: Sequence[np.ndarray]) -> list[str]:
        from heatsink.line.spec import inspect_masks

        return list(inspect_masks(((str(k), m) for k, m in enumerate(masks)), spec)["verdict"])

    with tempfile.TemporaryDirectory(prefix="heatsink-agree-") as tmp, quiet_tensorflow():
        base = Path(workdir) if workdir is not None else Path(tmp)
        for name, item in models.items():
            if not item.weights:  # fresh weights: agreement on their masks would say nothing
                continue
            reference = list(Predictor(item.model, item.image_size, batch_size).masks(frames))
            ref_verdicts = verdicts(reference) if spec is not None else None
            for engine in runnable:
                predictor = engine_predictor(item.model, engine, item.image_size, base / name,
                                             build=item.build, batch_size=batch_size,
                                             calibration=calibration)
                masks = list(predictor.masks(frames))
                differ = (sum(a != b for a, b in zip(verdicts(masks), ref_verdicts,
                                                     strict=True))
                          if ref_verdicts is not None else float("nan"))
                rows.append({"model": name, "engine": engine,
                             **mask_agreement(masks, reference), "verdicts_differ": differ})
    return pd.DataFrame(rows, columns=COLUMNS["agreement"])


def run_evaluations(models: Mapping[str, SpeedModel], ds: Dataset | None = None,
                    ids: Sequence[str] | None = None, reference: str = "labels"
                    ) -> dict[str, Evaluation]:
    """Each model's validation scores against ``reference``, image by image.

    A finished run's are the ones training stored (:meth:`heatsink.models.Run.evaluation`:
    nothing is predicted again); a stand-in's (or an unfinished run's) are predicted here on
    ``ids`` of ``ds``, which are then required.
    """
    from heatsink.evaluate import evaluate_predictions
    from heatsink.models.predict import predict_masks

    out = {}
    for name, item in models.items():
        if item.run.finished:
            out[name] = item.run.evaluation(reference)
            continue
        if ds is None or ids is None:
            raise HeatsinkError(f"{item.run.path}: no stored validation scores; give the data "
                                "and image ids to score it on")
        masks = predict_masks(item.model, ds, list(ids), item.image_size)
        out[name] = evaluate_predictions(masks, ds, [reference])[reference]
    return out


def engine_quality(
    models: Mapping[str, SpeedModel],
    ds: Dataset,
    ids: Sequence[str],
    engine: str,
    calibration: Sequence[np.ndarray] | None = None,
    reference: str = "labels",
    measure: str = MEASURE,
    n_boot: int = 1000,
    workdir: str | Path | None = None,
) -> pd.DataFrame:
    """What running each model by ``engine`` costs in quality: ``measure`` on ``ids`` of
    ``ds`` predicted by ``engine`` against the same images predicted by the float32 Keras
    model, both through the package's prediction path, with the paired bootstrap interval
    of the difference (:func:`paired_quality`). Models without their trained weights are
    left out; an engine that cannot run here gives an empty table.

    ``calibration``: uint8 RGB frames for ``openvino-int8`` (not the frames of ``ids``).
    """
    from heatsink.evaluate import evaluate_predictions
    from heatsink.models.predict import Predictor, predict_masks
    from heatsink.models.speed import engine_missing, engine_predictor, quiet_tensorflow

    rows = []
    if engine_missing(engine) or (engine == "openvino-int8" and calibration is None):
        return pd.DataFrame(rows, columns=COLUMNS["engine_quality"])
    ids = list(ids)
    with tempfile.TemporaryDirectory(prefix="heatsink-engine-quality-") as tmp, \
            quiet_tensorflow():
        base = Path(workdir) if workdir is not None else Path(tmp)
        for name, item in models.items():
            if not item.weights:
                continue
            predictors = {
                engine: engine_predictor(item.model, engine, item.image_size, base / name,
                                         build=item.build, batch_size=8,
                                         calibration=calibration),
                "float32": Predictor(item.model, item.image_size, 8)}
            scores = {k: evaluate_predictions(predict_masks(p, ds, ids), ds,
                                              [reference])[reference]
                      for k, p in predictors.items()}
            pair = paired_quality(scores, engine, "float32", measure, n_boot).iloc[0]
            own = quality_table({name: scores[engine]}, measure, n_boot).iloc[0]
            rows.append({"model": name, "engine": engine, "reference": reference,
                         "measure": measure, "value_engine": own.value,
                         "low_engine": own.low, "high_engine": own.high,
                         "value_float32": float(scores["float32"].summary()[measure]),
                         "difference": pair.difference, "low": pair.low, "high": pair.high,
                         "n_images": len(ids)})
    return pd.DataFrame(rows, columns=COLUMNS["engine_quality"])


def quality_table(evaluations: Mapping[str, Evaluation], measure: str = MEASURE,
                  n_boot: int = 1000) -> pd.DataFrame:
    """Each model's ``measure`` with its 95 % bootstrap interval over images (fractions)."""
    rows = []
    for name, evaluation in evaluations.items():
        boot = evaluation.bootstrap(n_boot=n_boot).loc[measure]
        rows.append({"model": name, "reference": evaluation.reference, "measure": measure,
                     "value": float(boot["value"]), "low": float(boot["low"]),
                     "high": float(boot["high"]), "n_images": len(evaluation.ids)})
    return pd.DataFrame(rows, columns=COLUMNS["quality"])


def seed_evaluations(models: Mapping[str, Path], runs_dir: str | Path,
                     results_dir: str | Path | None = None, reference: str = "labels",
                     settings: plan.PlanSettings | None = None,
                     ) -> dict[str, dict[int, Evaluation]]:
    """Each model's finished runs of its recipe under the plan's seeds, scored as training
    stored them (:meth:`heatsink.models.Run.evaluation`: nothing is predicted).

    ``models`` maps a model to its seed-0 run (a plan run, as :func:`plan_runs` gives it);
    its other seeds are the plan's runs of the same recipe (:func:`heatsink.study.plan.
    seed_runs`, their kept copies where ``results_dir`` is given). A seed not trained yet is
    left out; the seed-0 run is always the folder given.
    """
    from heatsink.models.run import Run

    out = {}
    for name, path in models.items():
        run = Run.load(path)
        folders = plan.seed_runs(run.config, runs_dir, settings, results_dir)
        folders[run.config.seed] = Path(path)
        seeded = {seed: Run.load(folder) for seed, folder in sorted(folders.items())
                  if (folder / "config.json").exists()}
        out[name] = {seed: r.evaluation(reference) for seed, r in seeded.items() if r.finished}
    return out


def seed_scores(seeds: Mapping[str, Mapping[int, Evaluation]],
                measure: str = MEASURE) -> pd.DataFrame:
    """One row per model and seed: its ``measure`` on its validation images (a fraction)."""
    rows = [{"model": name, "seed": seed, "reference": ev.reference,
             "measure": measure, "value": float(ev.summary()[measure])}
            for name, by_seed in seeds.items() for seed, ev in by_seed.items()]
    return pd.DataFrame(rows, columns=COLUMNS["seeds"])


def paired_quality(evaluations: Mapping[str, Evaluation | Sequence[Evaluation]], a: str,
                   b: str, measure: str = MEASURE, n_boot: int = 1000,
                   margin: float = MARGIN) -> pd.DataFrame:
    """``a`` − ``b`` in ``measure`` on the same images, with the paired bootstrap interval.

    :func:`heatsink.evaluate.paired_difference`: every resample draws images and scores both
    models on the same draw. A model given as several evaluations (its recipe trained with
    several seeds, :func:`seed_evaluations`) scores their mean; ``seed_spread`` is then the
    larger of the two recipes' spreads over seeds (max − min; NaN with one seed on a side),
    which the difference must exceed to be called (:func:`heatsink.study.results.
    called_difference`). ``within_margin`` is whether the interval's low end lies above
    −``margin``: ``a`` is then shown to trail ``b`` by less than the margin.

    Raises
    ------
    HeatsinkError
        If ``a`` or ``b`` has no scores, or they were scored on different images.
    """
    from heatsink.evaluate import Evaluation, paired_difference

    sides = {}
    for name in (a, b):
        got = evaluations.get(name)
        if got is None or (not isinstance(got, Evaluation) and not list(got)):
            raise HeatsinkError(f"no scores of {name!r} to compare; have {sorted(evaluations)}")
        sides[name] = [got] if isinstance(got, Evaluation) else list(got)
    try:
        diff = paired_difference(sides[a], sides[b], measure, n_boot=n_boot)
    except ValueError as exc:
        raise HeatsinkError(f"{a} against {b}: {exc}") from None
    spreads = [np.ptp([ev.summary()[measure] for ev in side]) if len(side) > 1 else np.nan
               for side in sides.values()]
    return pd.DataFrame([{"a": a, "b": b, "reference": sides[a][0].reference,
                          "measure": measure, **diff, "n_images": len(sides[a][0].ids),
                          "margin": margin, "within_margin": diff["low"] > -margin,
                          "seeds_a": len(sides[a]), "seeds_b": len(sides[b]),
                          "seed_spread": np.nan if np.isnan(spreads).any() else max(spreads)}],
                        columns=COLUMNS["paired"])


#: Marker per model and line style per engine in :func:`speed_quality_figure`.
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
ENGINE_STYLE = {"keras-eager": ("0.6", "none"), "keras-graph": ("C0", "full"),
                "keras-graph-bf16": ("C0", "none"), "onnx": ("C2", "full"),
                "openvino": ("C3", "full"), "openvino-bf16": ("C3", "none"),
                "openvino-int8": ("C4", "full")}


def speed_quality_figure(speed: pd.DataFrame, quality: pd.DataFrame,
                         machine: Mapping[str, Any] | None = None,
                         target_ms: float = TARGET_MS, column: str = "ms_batch1",
                         ax: Any = None, engine_quality: pd.DataFrame | None = None) -> Any:
    """Defect mIoU (with its interval) against ms per frame: one point per model and engine.

    Parameters
    ----------
    speed : DataFrame
        :func:`measure_speed`'s ``speed`` table.
    quality : DataFrame
        :func:`quality_table` (fractions; drawn in percent).
    machine : mapping, optional
        The hardware line (:func:`machine_line`), named in the title.
    target_ms : float
        A vertical line there: the target per frame.
    column : str
        ``"ms_batch1"`` or ``"ms_best"``.
    ax : matplotlib Axes, optional
    engine_quality : DataFrame, optional
        :func:`engine_quality`: an engine that predicts otherwise than the float32 model
        (int8) is drawn at its own score and interval, not the model's.

    Returns
    -------
    matplotlib Figure
        Log x axis; marker shape per model, colour and fill per engine.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if speed.empty:
        raise ValueError("no timings to draw")
    fig, ax = (plt.subplots(figsize=(8, 4.8)) if ax is None else (ax.figure, ax))
    scores = quality.set_index("model")
    models = list(dict.fromkeys(speed["model"]))
    marker = {m: MARKERS[k % len(MARKERS)] for k, m in enumerate(models)}
    for row in speed.itertuples():
        if row.model not in scores.index:
            continue
        score = scores.loc[row.model]
        if engine_quality is not None:
            own = engine_quality[(engine_quality["model"] == row.model)
                                 & (engine_quality["engine"] == row.engine)]
            if len(own):
                score = pd.Series({"value": own["value_engine"].iloc[0],
                                   "low": own["low_engine"].iloc[0],
                                   "high": own["high_engine"].iloc[0]})
        colour, fill = ENGINE_STYLE.get(row.engine, ("k", "full"))
        y = 100 * score["value"]
        ax.errorbar(getattr(row, column), y,
                    yerr=[[y - 100 * score["low"]], [100 * score["high"] - y]],
                    fmt=marker[row.model], color=colour, fillstyle=fill, ms=8, capsize=2,
                    lw=0.8, mfc=colour if fill == "full" else "white")
    ax.axvline(target_ms, color="0.3", ls="--", lw=1)
    ax.annotate(f"target {target_ms:g} ms", (target_ms, 1), xycoords=("data", "axes fraction"),
                xytext=(3, -12), textcoords="offset points", fontsize=9, color="0.3")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    side = int((machine or {}).get("frame_size") or 320)
    ax.set_xlabel(f"ms per {side}² frame"
                  + (" at batch 1" if column == "ms_batch1" else " at the best batch")
                  + " (log)")
    ax.set_ylabel("defect mIoU, % (95 % interval)")
    handles = [Line2D([], [], ls="", marker=marker[m], color="0.2", label=m) for m in models]
    engines = list(dict.fromkeys(speed["engine"]))
    handles += [Line2D([], [], ls="", marker="o", color=ENGINE_STYLE.get(e, ("k",))[0],
                       fillstyle=ENGINE_STYLE.get(e, ("k", "full"))[1],
                       mfc="white" if ENGINE_STYLE.get(e, ("k", "full"))[1] == "none"
                       else ENGINE_STYLE.get(e, ("k",))[0], label=e) for e in engines]
    ax.legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5),
              frameon=False)
    if machine:
        ax.set_title(hardware_text(machine), fontsize=9)
    fig.tight_layout()
    return fig


__all__ = [
    "COLUMNS",
    "ENGINE_STYLE",
    "FLAG_PREFIXES",
    "MARGIN",
    "MARKERS",
    "MEASURE",
    "STAND_IN_KWARGS",
    "TARGET_MS",
    "SpeedModel",
    "cpu_flags_line",
    "engine_agreement",
    "engine_quality",
    "hardware_text",
    "machine_line",
    "measure_speed",
    "open_models",
    "paired_quality",
    "plan_runs",
    "quality_table",
    "run_evaluations",
    "seed_evaluations",
    "seed_scores",
    "speed_quality_figure",
    "stand_in_run",
]
