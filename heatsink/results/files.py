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
    from heatsink.train import Run


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
    """Every saved model result of ``split`` under ``directory/models``, by model name.

    Best first: in descending order of defect mIoU against the labels, ties in name order
    and results without that score last; the order of chapter 7's tables and the README's.
    """
    folder = Path(directory) / "models"
    payloads = [json.loads(path.read_text()) for path in sorted(folder.glob(f"*-{split}.json"))]
    payloads.sort(key=lambda payload: -payload.get("scores", {}).get("labels", {}).get(
        "miou_defects", float("-inf")))  # a stable sort: ties keep their name order
    return {payload["name"]: payload for payload in payloads}


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
    failed_rules: pd.DataFrame | None = None,
    escapes: pd.DataFrame | None = None,
) -> Path:
    """Write chapter 6's results to ``directory/postprocess/``.

    ``<split>-frames.csv`` holds the per-frame measurements and verdicts of the model's
    masks (numbers only, nothing derived from pixels but them); ``<split>-passfail.json``
    the model and spec identity, the pass/fail confusion against each reference, the spec
    trade-off and, when given, the frames failing each rule per source (``failed_rules``:
    one column per source, :func:`heatsink.spec.failed_rule_counts`) and the escapes per
    rule against each reference (``escapes``: one column per reference, as the rows of
    ``confusion`` are named; :func:`heatsink.spec.escape_causes`). Returns the JSON's path.
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
