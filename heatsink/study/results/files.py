"""The result files a chapter writes, and reading them back.

Each trained model's validation (or test) scores go to ``<results>/models/`` as one JSON file
(configuration, parameters, timing, pooled scores with bootstrap intervals against each
reference) plus its confusion matrix, per-image counts and learning curve as CSV; chapter 6
writes its pass/fail results to ``<results>/postprocess/``. The files are small, hold nothing
derived from images but numbers, and are committed for the twin, so the book's results page
and the README read numbers from files a run really wrote. Every file is written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heatsink import hardware
from heatsink.classes import CLASS_NAMES
from heatsink.errors import HeatsinkError
from heatsink.io import atomic_path, write_text_atomic

if TYPE_CHECKING:
    from heatsink.evaluate import Evaluation
    from heatsink.models.run import Run


def save_model_results(
    directory: str | Path,
    name: str,
    run: Run,
    evaluations: dict[str, Evaluation] | None = None,
    split: str = "val",
    n_boot: int = 1000,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write one model's scores on one split to ``directory/models/<name>-<split>.json``.

    On the validation split the scores are the ones training wrote (the run's
    ``metrics.json`` and per-image counts, :meth:`heatsink.models.Run.evaluations`):
    nothing is predicted or bootstrapped again. Another split's scores are given as
    ``evaluations``.

    Parameters
    ----------
    directory : path
        The study's results folder (``results/twin`` or ``results/real``).
    name : str
        The model's name in the study's tables (e.g. ``"unet"``).
    run : Run
        The training run (config, timing, parameters come from it).
    evaluations : dict, optional
        Reference (``"labels"``, ``"truth"``) -> :class:`~heatsink.evaluate.Evaluation`;
        required for any split but ``"val"``.
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
    if evaluations is None:
        if split != "val":
            raise HeatsinkError(f"{name}: scores on the {split} split must be given; training "
                                "scored only the validation split")
        evaluations = run.evaluations()
        scores, intervals = metrics["scores"], metrics["bootstrap"]
    else:
        scores = {ref: ev.summary().to_dict() for ref, ev in evaluations.items()}
        intervals = {ref: ev.bootstrap(n_boot=n_boot).to_dict(orient="index")
                     for ref, ev in evaluations.items()}
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
        "scores": scores,
        "bootstrap": intervals,
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


def latency_fields(ms_per_image: float, device: str | None = None) -> dict[str, Any]:
    """The ``extra`` fields of :func:`save_model_results` for a measured latency.

    ``device`` is what ran the model (default :func:`heatsink.hardware.device`: ``"GPU"``
    where TensorFlow sees one, else ``"CPU"``), so a table can name its column for it.
    """
    return {"latency_ms_per_image": float(ms_per_image),
            "latency_device": device or hardware.device()}


def latency(payload: dict) -> tuple[float, str] | None:
    """A result's measured milliseconds per image and the device that measured them.

    None where no latency was measured. Results written before the device was recorded
    hold ``cpu_ms_per_image``: measured on a CPU.
    """
    if "latency_ms_per_image" in payload:
        return float(payload["latency_ms_per_image"]), payload.get("latency_device", "CPU")
    if "cpu_ms_per_image" in payload:
        return float(payload["cpu_ms_per_image"]), "CPU"
    return None


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


#: The study's rule for the best model: the highest validation defect mIoU (the mean IoU of
#: scratch and stain) against this reference.
RANKING_MEASURE, RANKING_REFERENCE = "miou_defects", "labels"


def rank_models(results: dict[str, dict], reference: str = RANKING_REFERENCE) -> list[str]:
    """Model names best first by :data:`RANKING_MEASURE`: the study's one "best model" rule.

    Ties keep their order in ``results``; results without the score come last.

    Examples
    --------
    >>> rank_models({"a": {"scores": {"labels": {"miou_defects": 0.2}}},
    ...              "b": {"scores": {"labels": {"miou_defects": 0.4}}}, "c": {}})
    ['b', 'a', 'c']
    """
    def score(name: str) -> float:
        value = results[name].get("scores", {}).get(reference, {}).get(RANKING_MEASURE)
        return float("-inf") if value is None else value

    return sorted(results, key=lambda name: -score(name))  # a stable sort


def load_model_results(directory: str | Path, split: str = "val") -> dict[str, dict]:
    """Every saved model result of ``split`` under ``directory/models``, by model name.

    Best first (:func:`rank_models`), ties in name order: the order of the results page's
    tables and the README's.
    """
    folder = Path(directory) / "models"
    payloads = {payload["name"]: payload for payload in
                (json.loads(path.read_text()) for path in sorted(folder.glob(f"*-{split}.json")))}
    return {name: payloads[name] for name in rank_models(payloads)}


def choose_model(directory: str | Path, split: str = "val",
                 candidates: Sequence[str] | None = None, rule: str | None = None) -> str:
    """Choose the best model of ``split`` by :func:`rank_models` and record it.

    Writes ``directory/models/chosen.json`` (the model's name, the rule and the split it was
    chosen on, and its run folder where its results name one in ``run_path``), which
    :func:`chosen_model` and :func:`chosen_run` read: the choice is a field of the results,
    not inferred from which files remain.

    Parameters
    ----------
    directory : path
        The study's results folder.
    split : str
        The split the choice is made on.
    candidates : sequence of str, optional
        Choose only among these models (e.g. one seed's runs of each recipe, or the recipe
        an earlier rule chose); default every model with results on ``split``.
    rule : str, optional
        How the candidates were narrowed, in words, recorded beside the choice.

    Raises
    ------
    HeatsinkError
        If no model (no candidate) has results on ``split``.
    """
    results = load_model_results(directory, split)
    if candidates is not None:
        missing = sorted(set(candidates) - set(results))
        if missing:
            raise HeatsinkError(f"{Path(directory) / 'models'}: no results on the {split} "
                                f"split for candidate(s) {', '.join(missing)}")
        results = {name: payload for name, payload in results.items() if name in candidates}
    if not results:
        raise HeatsinkError(f"{Path(directory) / 'models'}: no model results on the {split} "
                            "split to choose from")
    name = next(iter(results))
    record = {"name": name, "split": split, "measure": RANKING_MEASURE,
              "reference": RANKING_REFERENCE,
              "score": results[name]["scores"][RANKING_REFERENCE][RANKING_MEASURE]}
    if candidates is not None:
        record["candidates"] = list(results)
    if rule:
        record["rule"] = rule
    if results[name].get("run_path"):
        record["run"] = results[name]["run_path"]
    write_text_atomic(Path(directory) / "models" / CHOSEN_FILE, json.dumps(record, indent=2))
    return name


#: The file :func:`choose_model` writes beside the model results.
CHOSEN_FILE = "chosen.json"


def chosen_model(directory: str | Path) -> str:
    """The name of the model :func:`choose_model` chose.

    Raises
    ------
    HeatsinkError
        If no model has been chosen yet.
    """
    path = Path(directory) / "models" / CHOSEN_FILE
    if not path.exists():
        raise HeatsinkError(f"{path}: no model chosen yet; run the model comparison "
                            "(`heatsink study run --only 04_backbones`)")
    return json.loads(path.read_text())["name"]


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


def remove_model_results(
    directory: str | Path, split: str, keep: tuple[str, ...] = ()
) -> list[Path]:
    """Delete the result files of ``split`` for every model not in ``keep``.

    A chapter that no longer trains a model (an earlier choice of losses or sizes) removes
    its results, which would otherwise sit beside the new ones. Returns the deleted paths.
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


def chosen_run(directory: str | Path, runs: str | Path) -> Path:
    """The run folder of the chosen model (:func:`chosen_model`): ``runs/<run>`` where the
    choice recorded the run's folder (``run_path`` in its results, relative to ``runs``),
    else ``runs/<name>``.

    Parameters
    ----------
    directory : path
        The study's results folder (``results/twin`` or ``results/real``).
    runs : path
        The folder holding the study's training runs (``runs/twin`` or ``runs/real``).

    Raises
    ------
    HeatsinkError
        If no model has been chosen yet, or its run folder is missing.
    """
    name = chosen_model(directory)
    record = json.loads((Path(directory) / "models" / CHOSEN_FILE).read_text())
    path = Path(runs) / record.get("run", name)
    if not (path / "best.keras").exists():
        raise HeatsinkError(f"{path}: the chosen model's run folder has no best.keras; "
                            "run the model comparison again to train it")
    return path


#: The label checks' result tables, each written to ``<results>/label_quality/<name>.csv``.
LABEL_QUALITY_TABLES = ("excluded", "folds", "precision_at_k", "image_detection",
                        "component_detection", "component_precision_at_n", "seams",
                        "ranked_issues")


def label_quality_file(directory: str | Path, table: str) -> Path:
    """Where the label checks' ``table`` (one of :data:`LABEL_QUALITY_TABLES`) is kept.

    Examples
    --------
    >>> label_quality_file("results/twin", "folds").as_posix()
    'results/twin/label_quality/folds.csv'
    """
    if table not in LABEL_QUALITY_TABLES:
        raise HeatsinkError(f"unknown label-quality table {table!r}; the tables are "
                            f"{LABEL_QUALITY_TABLES}")
    return Path(directory) / "label_quality" / f"{table}.csv"


def save_label_quality(directory: str | Path, tables: dict[str, pd.DataFrame]) -> list[Path]:
    """Write the label checks' tables (names from :data:`LABEL_QUALITY_TABLES`) atomically.

    The worklist (``ranked_issues``) goes through
    :func:`heatsink.label_quality.write_ranked_issues`, the others through
    :func:`heatsink.label_quality.save_tables`.
    """
    from heatsink.label_quality import save_tables, write_ranked_issues

    folder = label_quality_file(directory, "folds").parent  # every table's folder
    plain = {name: frame for name, frame in tables.items() if name != "ranked_issues"}
    for name in plain:
        label_quality_file(directory, name)  # an unknown name fails before anything is written
    paths = save_tables(folder, plain)
    if "ranked_issues" in tables:
        paths.append(write_ranked_issues(tables["ranked_issues"],
                                         label_quality_file(directory, "ranked_issues")))
    return paths


def save_postprocess_results(
    directory: str | Path,
    split: str,
    model: str,
    spec: Any,
    frames: pd.DataFrame,
    confusion: pd.DataFrame,
    tradeoff: pd.DataFrame,
    failed_rules: pd.DataFrame | None = None,
    escapes: pd.DataFrame | None = None,
) -> Path:
    """Write chapter 6's results to ``directory/postprocess/``.

    ``<split>-frames.csv`` holds the per-frame measurements and verdicts of the model's
    masks (numbers only, nothing derived from pixels but them); ``<split>-passfail.json``
    the model and spec identity, the pass/fail confusion against each reference, the spec
    trade-off and, when given, the frames failing each rule per source (``failed_rules``:
    one column per source, :func:`heatsink.line.spec.failed_rule_counts`) and the escapes per
    rule against each reference (``escapes``: one column per reference, as the rows of
    ``confusion`` are named; :func:`heatsink.line.spec.escape_causes`). Returns the JSON's path.
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
    for key, table in (("failed_rules", failed_rules), ("escapes_by_rule", escapes)):
        if table is not None:
            payload[key] = {str(c): {str(r): _plain(v) for r, v in table[c].items()}
                            for c in table.columns}
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


def save_figure(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Save a matplotlib figure as PNG atomically (the README shows some of them)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return path


__all__ = [
    "CHOSEN_FILE",
    "LABEL_QUALITY_TABLES",
    "RANKING_MEASURE",
    "RANKING_REFERENCE",
    "choose_model",
    "chosen_model",
    "chosen_run",
    "label_quality_file",
    "latency",
    "latency_fields",
    "load_evaluation",
    "load_model_results",
    "rank_models",
    "remove_model_results",
    "save_figure",
    "save_label_quality",
    "save_model_results",
    "save_postprocess_results",
]
