"""What a study run cost: each chapter's execution and each model's training time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from heatsink.hardware import short_line
from heatsink.study.results.files import label_quality_file, load_model_results


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
            "hardware": short_line(stamp.get("hardware", {})),
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
                      "hardware": short_line(payload.get("trained_on") or {})}
    folds = label_quality_file(directory, "folds")
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


def _short_sha(sha: str) -> str:
    """First 10 hex digits, keeping a ``-dirty`` mark (uncommitted changes when it ran)."""
    return sha[:10] + ("-dirty" if sha.endswith("-dirty") else "")


__all__ = [
    "chapter_times",
    "training_time",
]
