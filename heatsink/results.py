"""Small result files a chapter leaves behind, and the tables read back from them.

Each trained model's validation (or test) scores go to ``results/<twin|real>/models/`` as
one JSON file (configuration, parameters, timing, pooled scores with bootstrap intervals
against each reference) plus its confusion matrix and learning curve as CSV. These files
are small, contain nothing derived from images, and are committed for the twin, so the
book's results page and the README read numbers from files a run really wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heatsink import hardware
from heatsink.classes import CLASS_NAMES
from heatsink.io import atomic_path, write_text_atomic

if TYPE_CHECKING:
    from heatsink.evaluate import Evaluation
    from heatsink.train import Run

#: Columns of :func:`model_table`, in the order the book shows them.
TABLE_COLUMNS = (
    "pixel_accuracy",
    "scratch_recall",
    "stain_recall",
    "scratch_iou",
    "stain_iou",
    "scratch_object_recall",
    "stain_object_recall",
    "miou",
    "miou_defects",
)


def save_model_results(
    directory: str | Path,
    name: str,
    run: Run,
    evaluations: dict[str, Evaluation],
    split: str = "val",
    n_boot: int = 1000,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write one model's scores on one split to ``directory/models/<name>-<split>.json``.

    Parameters
    ----------
    directory : path
        The study's results folder (``results/twin`` or ``results/real``).
    name : str
        The model's name in the study's tables (e.g. ``"unet"``).
    run : Run
        The training run (config, timing, parameters come from it).
    evaluations : dict
        Reference (``"labels"``, ``"truth"``) -> :class:`~heatsink.evaluate.Evaluation`.
    split : str
        Which split was scored.
    n_boot : int
        Bootstrap resamples for the intervals.
    extra : dict, optional
        More fields to store (e.g. inference latency).

    Notes
    -----
    Each image's confusion and object counts go to ``<name>-<split>-per-image-<ref>.csv``
    (numbers only), so that two models can be compared image by image later
    (:func:`load_evaluation`, :func:`heatsink.evaluate.paired_difference`).

    Besides the scores, the file records where they come from: the run's configuration,
    dataset checksum and git commit, the machine it was trained on (``trained_on``, from
    the run's record) and the one that scored it (``scored_on``, where any latency was
    measured).
    """
    folder = Path(directory) / "models"
    metrics = run.metrics
    history = run.history
    payload = {
        "name": name,
        "split": split,
        "n_images": len(next(iter(evaluations.values())).ids),
        "config": run.config.to_dict(),
        "precision": metrics["precision"],
        "parameters": metrics["parameters"],
        "epochs_trained": len(history),
        "best_epoch": metrics["best_epoch"],
        "train_s_per_image": metrics["train_s_per_image"],
        "train_hours": float(history["seconds"].sum() / 3600),
        "dataset_checksum": run.record["dataset"]["checksum"],
        "git_sha": run.record["git_sha"],
        "trained_on": run.record.get("hardware"),
        "scored_on": hardware.describe(),
        "scores": {ref: ev.summary().to_dict() for ref, ev in evaluations.items()},
        "bootstrap": {ref: ev.bootstrap(n_boot=n_boot).to_dict(orient="index")
                      for ref, ev in evaluations.items()},
        **(extra or {}),
    }
    for ref, ev in evaluations.items():
        cm = pd.DataFrame(ev.scores.confusion, index=CLASS_NAMES, columns=CLASS_NAMES)
        with atomic_path(folder / f"{name}-{split}-confusion-{ref}.csv") as tmp:
            cm.rename_axis("truth").to_csv(tmp)
        with atomic_path(folder / f"{name}-{split}-per-image-{ref}.csv") as tmp:
            ev.to_table().to_csv(tmp)
    with atomic_path(folder / f"{name}-history.csv") as tmp:
        history.to_csv(tmp)
    path = folder / f"{name}-{split}.json"  # last: the files beside it are never older
    write_text_atomic(path, json.dumps(payload, indent=2, default=_jsonable))
    return path


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


def load_model_results(directory: str | Path, split: str = "val") -> dict[str, dict]:
    """Every saved model result of ``split`` under ``directory/models``, by model name."""
    folder = Path(directory) / "models"
    out = {}
    for path in sorted(folder.glob(f"*-{split}.json")):
        payload = json.loads(path.read_text())
        out[payload["name"]] = payload
    return out


def load_evaluation(
    directory: str | Path, name: str, split: str = "val", reference: str = "labels"
) -> Evaluation | None:
    """A saved model's per-image scores back as an :class:`~heatsink.evaluate.Evaluation`.

    Returns None if the model's results predate per-image files, were not saved, or the
    per-image file does not reproduce the scores stored in the model's JSON (a file left
    from another run).
    """
    from heatsink.evaluate import Evaluation

    folder = Path(directory) / "models"
    path = folder / f"{name}-{split}-per-image-{reference}.csv"
    stored = folder / f"{name}-{split}.json"
    if not (path.exists() and stored.exists()):
        return None
    table = pd.read_csv(path, index_col="image_id", dtype={"image_id": str})
    evaluation = Evaluation.from_table(table, reference)
    scores = json.loads(stored.read_text())["scores"].get(reference, {})
    recomputed = evaluation.summary()
    if not scores or not all(np.isclose(recomputed[k], v, equal_nan=True)
                             for k, v in scores.items() if k in recomputed):
        return None
    return evaluation


def paired_table(
    directory: str | Path, results: dict[str, dict], measure: str = "miou_defects",
    reference: str = "labels", split: str = "val", n_boot: int = 1000,
) -> pd.DataFrame:
    """Every model against the best one on ``measure``, image by image.

    Returns
    -------
    DataFrame
        Indexed by model (the best left out): the best's lead in points of percent on the
        same images with its 95 % paired bootstrap interval (``lead``, ``low``, ``high``)
        and the share of resamples in which the best scores higher. Models without stored
        per-image results, or scored on other data than the best, are left out; empty if
        fewer than two remain. The best was picked on these same images, so its leads
        lean optimistic.
    """
    from heatsink.evaluate import paired_difference

    evaluations = {name: load_evaluation(directory, name, split, reference) for name in results}
    evaluations = {name: ev for name, ev in evaluations.items() if ev is not None}
    if len(evaluations) < 2:
        return pd.DataFrame(columns=["lead", "low", "high", "share_best_higher"])
    best = max(evaluations, key=lambda name: results[name]["scores"][reference][measure])
    rows = {}
    for name, ev in evaluations.items():
        if (name == best or sorted(ev.ids) != sorted(evaluations[best].ids)
                or results[name]["dataset_checksum"] != results[best]["dataset_checksum"]):
            continue
        paired = paired_difference(evaluations[best], ev, measure, n_boot=n_boot)
        rows[name] = {"lead": 100 * paired["difference"], "low": 100 * paired["low"],
                      "high": 100 * paired["high"],
                      "share_best_higher": paired["share_a_higher"]}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis(f"{best} against")
    return table


def model_table(
    results: dict[str, dict], reference: str = "labels", with_ci: bool = True
) -> pd.DataFrame:
    """One row per model: the headline scores (percent), parameters and timing.

    With ``with_ci`` each score is a string ``"value [low, high]"`` (95 % bootstrap interval
    over images) where an interval was stored.
    """
    rows = {}
    for name, payload in results.items():
        row: dict[str, object] = {}
        for col in TABLE_COLUMNS:
            value, low, _ = _score_with_interval(payload, reference, col)
            row[col] = (score_text(payload, reference, col) if with_ci and low is not None
                        else round(value, 1))
        row["parameters"] = payload["parameters"]
        row["train s/img"] = round(payload["train_s_per_image"], 3)
        if "cpu_ms_per_image" in payload:
            row["CPU ms/img"] = round(payload["cpu_ms_per_image"], 1)
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def _score_with_interval(
    payload: dict, reference: str, measure: str
) -> tuple[float, float | None, float | None]:
    """A saved score and its stored 95 % bootstrap interval, in percent (None: no interval)."""
    value = 100 * payload["scores"][reference][measure]
    bounds = payload.get("bootstrap", {}).get(reference, {}).get(measure)
    if not bounds:
        return value, None, None
    return value, 100 * bounds["low"], 100 * bounds["high"]


def score_text(payload: dict, reference: str, measure: str, interval: bool = True,
               unit: str = "") -> str:
    """``"38.7 [31.2, 45.0]"``: a stored score in percent, with its stored 95 % interval.

    ``unit`` follows the value (``" %"`` gives ``"38.7 % [31.2, 45.0]"``); the interval is
    left out when not asked for or not stored.
    """
    value, low, high = _score_with_interval(payload, reference, measure)
    text = f"{value:.1f}{unit}"
    if interval and low is not None:
        text += f" [{low:.1f}, {high:.1f}]"
    return text


def scores_with_ci(evaluations: dict[str, Evaluation], n_boot: int = 1000) -> pd.DataFrame:
    """Headline scores (percent) with 95 % bootstrap intervals, one column per reference."""
    cols = {}
    for ref, ev in evaluations.items():
        ci = ev.bootstrap(n_boot=n_boot) * 100
        cols[ref] = [f"{v:.1f} [{lo:.1f}, {hi:.1f}]" for v, lo, hi in ci.to_numpy()]
        index = ci.index
    return pd.DataFrame(cols, index=index)


def chosen_run(directory: str | Path, runs: str | Path) -> Path:
    """The run folder of the model chapter 4 chose (the one scored on the test split).

    Parameters
    ----------
    directory : path
        The study's results folder (``results/twin`` or ``results/real``).
    runs : path
        The folder holding the study's training runs (``runs/twin`` or ``runs/real``).

    Raises
    ------
    HeatsinkError
        If chapter 4 has not chosen a model yet, or its run folder is missing.
    """
    from heatsink.errors import HeatsinkError

    chosen = load_model_results(directory, split="test")
    if not chosen:
        raise HeatsinkError(f"{Path(directory) / 'models'}: no model scored on the test split "
                            "yet; run chapter 4 (`heatsink study run --only 04_backbones`)")
    if len(chosen) > 1:
        raise HeatsinkError(f"{Path(directory) / 'models'}: several test-split results "
                            f"({sorted(chosen)}); chapter 4 chooses one, remove the others")
    payload = next(iter(chosen.values()))
    path = Path(runs) / payload.get("run_dir", payload["name"])
    if not (path / "best.keras").exists():
        raise HeatsinkError(f"{path}: the chosen model's run folder has no best.keras; "
                            "rerun chapter 4 to train it")
    return path


def save_postprocess_results(
    directory: str | Path,
    split: str,
    model: str,
    spec: Any,
    frames: pd.DataFrame,
    confusion: pd.DataFrame,
    tradeoff: pd.DataFrame,
) -> Path:
    """Write chapter 6's results to ``directory/postprocess/``.

    ``<split>-frames.csv`` holds the per-frame measurements and verdicts of the model's
    masks (numbers only, nothing derived from pixels but them); ``<split>-passfail.json``
    the model and spec identity, the pass/fail confusion against each reference and the
    spec trade-off. Returns the JSON's path.
    """
    folder = Path(directory) / "postprocess"
    with atomic_path(folder / f"{split}-frames.csv") as tmp:
        frames.to_csv(tmp)
    payload = {
        "split": split,
        "model": model,
        "spec": spec.to_dict(),
        "spec_identity": spec.identity,
        "n_frames": len(frames),
        "verdicts": frames["verdict"].value_counts().to_dict(),
        "confusion": {str(k): {c: _plain(v) for c, v in row.items()}
                      for k, row in confusion.iterrows()},
        "tradeoff": [{c: _plain(v) for c, v in row.items()} for _, row in tradeoff.iterrows()],
    }
    path = folder / f"{split}-passfail.json"
    write_text_atomic(path, json.dumps(payload, indent=2))
    return path


def _plain(value: object) -> object:
    """A JSON-ready scalar (NaN becomes None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def chapter_times(notebook_dir: str | Path) -> pd.DataFrame:
    """Each executed chapter's stamp: when, on which commit and data, and how long it took.

    ``wall_time_s`` is the final, successful execution of the notebook. Training that a
    chapter resumed from checkpoints of earlier, interrupted executions is not in it; each
    model's own training hours are in its results file (``train_hours``).

    Returns
    -------
    DataFrame
        Indexed by notebook name: ``started, wall_time_s, git_sha, dataset_checksum,
        profile, hardware`` (CPU, cores and bf16 support of the machine that ran it).
    """
    rows = {}
    for path in sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        stamp = json.loads(path.read_text()).get("metadata", {}).get("heatsink")
        if not stamp:
            continue
        rows[path.stem] = {
            "started": stamp.get("started"),
            "wall_time_s": stamp.get("wall_time_s"),
            "git_sha": _short_sha(str(stamp.get("git_sha", ""))),
            "dataset_checksum": str(stamp.get("dataset", {}).get("checksum", ""))[:12],
            "profile": stamp.get("parameters", {}).get("profile"),
            "hardware": _hardware_line(stamp.get("hardware", {})),
        }
    columns = ["started", "wall_time_s", "git_sha", "dataset_checksum", "profile", "hardware"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns).rename_axis("notebook")


def training_time(directory: str | Path) -> pd.DataFrame:
    """The CPU training behind every model of a study run, and its total.

    One row per model scored on the validation split (chapters 3 and 4) and per
    label-quality fold model (chapter 5's ``label_quality/folds.csv``): epochs trained and
    hours, summed over every epoch including those of interrupted executions, and the
    machine it trained on. This is what regenerating the run's trained weights costs.

    Returns
    -------
    DataFrame
        Indexed by model: ``epochs, train_hours, hardware``; a last row ``total``.
    """
    rows: dict[str, dict[str, Any]] = {}
    for name, payload in load_model_results(directory, "val").items():
        rows[name] = {"epochs": payload["epochs_trained"], "train_hours": payload["train_hours"],
                      "hardware": _hardware_line(payload.get("trained_on") or {})}
    folds = Path(directory) / "label_quality" / "folds.csv"
    if folds.exists():
        for fold, row in pd.read_csv(folds, index_col="fold").iterrows():
            if "train_hours" in row:
                rows[f"label-quality fold {fold}"] = {"epochs": row["epochs_trained"],
                                                      "train_hours": row["train_hours"],
                                                      "hardware": ""}
    table = pd.DataFrame.from_dict(rows, orient="index",
                                   columns=["epochs", "train_hours", "hardware"])
    if not table.empty:
        table.loc["total"] = [table["epochs"].sum(), table["train_hours"].sum(), ""]
    return table.rename_axis("model")


def _hardware_line(described: dict[str, Any]) -> str:
    """``"AMD EPYC, 2 cores, avx512_bf16"`` from a :func:`heatsink.hardware.describe` dict."""
    if not described:
        return ""
    bf16 = ", ".join(described.get("bf16") or []) or "no bf16"
    return f"{described.get('cpu')}, {described.get('cores')} cores, {bf16}"


def _short_sha(sha: str) -> str:
    """First 10 hex digits, keeping a ``-dirty`` mark (uncommitted changes when it ran)."""
    return sha[:10] + ("-dirty" if sha.endswith("-dirty") else "")


def label_noise_cap(results: dict[str, dict], measure: str = "miou_defects") -> pd.DataFrame:
    """Each model's score against the labels and against the clean truth, and the gap.

    Only results scored against both references (the synthetic twin) appear. The gap is
    what the labels' own errors take off the measured score: an estimate of how much label
    noise caps the score a model can be credited with.

    Returns
    -------
    DataFrame
        Per model, percent: ``labels``, ``truth``, ``gap`` (truth − labels).
    """
    rows = {}
    for name, payload in results.items():
        scores = payload["scores"]
        if "labels" in scores and "truth" in scores:
            labels, truth = 100 * scores["labels"][measure], 100 * scores["truth"][measure]
            rows[name] = {"labels": labels, "truth": truth, "gap": truth - labels}
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["labels", "truth", "gap"]).rename_axis("model")


def score_intervals(results: dict[str, dict], measures: list[str],
                    reference: str = "labels") -> pd.DataFrame:
    """Scores with their bootstrap intervals in long form, for plotting (percent).

    Returns
    -------
    DataFrame
        ``model, measure, value, low, high``; ``low``/``high`` equal ``value`` where no
        interval was stored.
    """
    rows = []
    for name, payload in results.items():
        for measure in measures:
            value, low, high = _score_with_interval(payload, reference, measure)
            rows.append({"model": name, "measure": measure, "value": value,
                         "low": value if low is None else low,
                         "high": value if high is None else high})
    return pd.DataFrame(rows, columns=["model", "measure", "value", "low", "high"])


def _name_parts(name: str) -> list[str]:
    """``"gslu-wcce+dice-320-flips"`` -> ``["gslu", "wcce+dice", "320", "flips"]``."""
    return name.split("-")


def loss_sweep(results: dict[str, dict]) -> dict[str, dict]:
    """The runs of chapter 4's loss comparison: the model with the most loss variants.

    Runs are named ``<model>`` (cross-entropy) and ``<model>-<loss>``; a run at another
    input size or with augmentation (``<model>-<loss>-<size>[-flips]``) differs in more than
    its loss and is left out (see :func:`input_variants`). Returns the results of the model
    with the most loss variants beside its cross-entropy run, that run first, then the
    others in their saved order; empty if no model has both.
    """
    variants: dict[str, list[str]] = {}
    for name in results:
        parts = _name_parts(name)
        if len(parts) == 2:
            variants.setdefault(parts[0], []).append(name)
    candidates = {model: names for model, names in variants.items() if model in results}
    if not candidates:
        return {}
    model = max(candidates, key=lambda m: len(candidates[m]))
    return {name: results[name] for name in [model, *candidates[model]]}


def input_variants(results: dict[str, dict]) -> dict[str, str]:
    """Runs that differ from another run only in input size or augmentation.

    Returns
    -------
    dict
        ``<model>-<loss>-<size>[-flips]`` -> the run of the same model and loss at the
        default size without augmentation (``<model>`` for cross-entropy,
        ``<model>-<loss>`` otherwise), for each such pair both of whose results exist.
    """
    pairs = {}
    for name in results:
        parts = _name_parts(name)
        if len(parts) <= 2:
            continue
        model, loss = parts[0], parts[1]
        base = model if loss == "cce" else f"{model}-{loss}"
        if base in results and _same_but_input(results[name], results[base]):
            pairs[name] = base
    return pairs


def _same_but_input(a: dict, b: dict) -> bool:
    """Whether two runs' configurations differ in nothing but input size and augmentation."""
    if "config" not in a or "config" not in b:
        return True  # results without their configuration: trust the names
    ignore = {"image_size", "augment"}
    first = {k: v for k, v in a["config"].items() if k not in ignore}
    second = {k: v for k, v in b["config"].items() if k not in ignore}
    return first == second


def training_table(results: dict[str, dict]) -> pd.DataFrame:
    """How each model was trained: the conditions that differ between chapters' models.

    Returns
    -------
    DataFrame
        One row per model: ``loss, encoder, input, augment, batch, learning rate,
        precision, epochs, best epoch, train s/img, trained on`` (the machine, from the
        run's record). Training seconds per image are comparable only between rows
        trained on the same machine at the same precision.
    """
    rows = {}
    for name, payload in results.items():
        config = payload["config"]
        rows[name] = {
            "loss": config["loss"],
            "encoder": config.get("encoder_weights") or "none (random init)",
            "input": f"{config['image_size']}²",
            "augment": bool(config.get("augment")),
            "batch": config["batch_size"],
            "learning rate": config["learning_rate"],
            "precision": payload.get("precision"),
            "epochs": payload["epochs_trained"],
            "best epoch": payload["best_epoch"],
            "train s/img": round(payload["train_s_per_image"], 3),
            "trained on": _hardware_line(payload.get("trained_on") or {}),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def remove_model_results(
    directory: str | Path, split: str, keep: tuple[str, ...] = ()
) -> list[Path]:
    """Delete the result files of ``split`` for every model not in ``keep``.

    Chapter 4 scores one chosen model on the test split; a choice left from an earlier run
    would otherwise sit beside it. Returns the deleted paths.
    """
    folder = Path(directory) / "models"
    removed = []
    for name in load_model_results(directory, split):
        if name in keep:
            continue
        for path in [folder / f"{name}-{split}.json",
                     *folder.glob(f"{name}-{split}-*.csv")]:
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def passfail_summary(directory: str | Path) -> pd.DataFrame:
    """Chapter 6's part verdicts: escape and overkill against each reference, per split.

    Returns
    -------
    DataFrame
        Indexed by ``(split, reference)``: ``model, spec, n, escapes, overkill,
        escape_rate, overkill_rate``; empty if chapter 6 has not run.
    """
    rows = {}
    for path in sorted((Path(directory) / "postprocess").glob("*-passfail.json")):
        payload = json.loads(path.read_text())
        for ref, c in payload["confusion"].items():
            rows[(payload["split"], ref)] = {
                "model": payload["model"], "spec": payload["spec_identity"], "n": c["n"],
                "escapes": c["fn"], "overkill": c["fp"], "escape_rate": c["escape_rate"],
                "overkill_rate": c["overkill_rate"]}
    columns = ["model", "spec", "n", "escapes", "overkill", "escape_rate", "overkill_rate"]
    index = pd.MultiIndex.from_tuples(list(rows), names=["split", "reference"])
    table = pd.DataFrame(list(rows.values()), index=index, columns=columns)
    numbers = ["n", "escapes", "overkill", "escape_rate", "overkill_rate"]
    return table.astype(dict.fromkeys(numbers[:3], "Int64") | dict.fromkeys(numbers[3:], float))


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically (the README shows some of them)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return path
