"""An earlier comparison's result files, kept beside the current ones, and what changed.

When the study's protocol changes (chapter 4's 8-epoch comparison gave way to the training
plan, :mod:`heatsink.study.plan`), the result files of the earlier run are kept in
``<results>/previous/<label>/``: a copy of its ``models/`` folder, in the layout of a
results folder, so that every reader of result files (:func:`load_model_results`,
:mod:`heatsink.study.findings`) reads it unchanged, and ``source.json`` saying which commit
wrote them and under what protocol. :func:`protocol_changes` sets each model's score then
and now beside what its training changed; :func:`changed_findings` says which of the
findings' conclusions changed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from heatsink.errors import HeatsinkError
from heatsink.io import write_text_atomic
from heatsink.study.results.files import RANKING_MEASURE, RANKING_REFERENCE, load_model_results

#: The folder of earlier comparisons under a results folder.
PREVIOUS = "previous"
#: Training fields :func:`protocol_changes` reports when they differ.
PROTOCOL_FIELDS = ("model", "encoder_weights", "image_size", "batch_size", "epochs",
                   "learning_rate", "loss", "augment", "photometric", "crop", "schedule",
                   "patience", "seed")


def previous_dir(directory: str | Path, label: str) -> Path:
    """``<results>/previous/<label>``: an earlier comparison's results folder."""
    return Path(directory) / PREVIOUS / label


def keep_previous(directory: str | Path, label: str, source: dict) -> Path:
    """Copy ``<results>/models/`` to ``<results>/previous/<label>/models/``, once.

    Parameters
    ----------
    directory : path
        The study's results folder.
    label : str
        The earlier comparison's name (a plain folder name, e.g. ``"8-epoch"``).
    source : dict
        What wrote the files and how (kept as ``source.json``: e.g. the commit and the
        protocol in words).

    Raises
    ------
    HeatsinkError
        If the label is taken (an earlier comparison is kept once, never overwritten) or
        there are no model results to keep.
    """
    if not label or "/" in label or label.startswith("."):
        raise HeatsinkError(f"a previous comparison's label must be a plain folder name, "
                            f"not {label!r}")
    target = previous_dir(directory, label)
    if target.exists():
        raise HeatsinkError(f"{target} exists: an earlier comparison is kept once")
    models = Path(directory) / "models"
    if not any(models.glob("*-val.json")):
        raise HeatsinkError(f"{models}: no model results to keep")
    shutil.copytree(models, target / "models")
    write_text_atomic(target / "source.json", json.dumps(source, indent=2))
    return target


def _score(payload: dict, measure: str, reference: str) -> float:
    return 100 * payload.get("scores", {}).get(reference, {}).get(measure, float("nan"))


def _field(config: dict, key: str) -> object:
    value = config.get(key)
    return {"augment": False, "photometric": False, "schedule": "constant"}.get(key) \
        if value is None and key in ("augment", "photometric", "schedule") else value


def protocol_changes(previous: dict[str, dict], current: dict[str, dict],
                     measure: str = RANKING_MEASURE,
                     reference: str = RANKING_REFERENCE) -> pd.DataFrame:
    """Each model's score in an earlier comparison and now, and what its training changed.

    Parameters
    ----------
    previous, current : dict
        Model results by name (:func:`~heatsink.study.results.load_model_results`) of the
        earlier comparison and of this one.
    measure, reference : str
        The score compared (percent).

    Returns
    -------
    DataFrame
        One row per model in either, current models first (best first), then those only
        the earlier comparison had: ``then``, ``now``, ``change`` (now − then, points),
        ``epochs then``, ``epochs now`` (trained, and the best epoch), and ``changed``: the
        training fields of :data:`PROTOCOL_FIELDS` that differ, ``field: then → now``, led
        by ``data: <checksum> → <checksum>`` where the model was scored on other data (empty
        where a model is in one comparison only).

    Examples
    --------
    >>> then = {"a": {"scores": {"labels": {"miou_defects": 0.1}}, "epochs_trained": 8,
    ...               "best_epoch": 8, "config": {"epochs": 8, "learning_rate": 0.001}}}
    >>> now = {"a": {"scores": {"labels": {"miou_defects": 0.3}}, "epochs_trained": 14,
    ...              "best_epoch": 8, "config": {"epochs": 40, "learning_rate": 0.0003}}}
    >>> row = protocol_changes(then, now).loc["a"]
    >>> round(float(row["change"]), 1), row["epochs now"], row["changed"]
    (20.0, '14 (best 8)', 'epochs: 8 → 40; learning_rate: 0.001 → 0.0003')
    """
    def epochs(payload: dict | None) -> str:
        if payload is None:
            return ""
        return f"{payload.get('epochs_trained')} (best {payload.get('best_epoch')})"

    rows = {}
    for name in [*current, *(n for n in previous if n not in current)]:
        old, new = previous.get(name), current.get(name)
        then = _score(old, measure, reference) if old else float("nan")
        now = _score(new, measure, reference) if new else float("nan")
        changed = ""
        if old and new:
            a, b = old.get("config", {}), new.get("config", {})
            fields = [f"{key}: {_field(a, key)} → {_field(b, key)}"
                      for key in PROTOCOL_FIELDS if _field(a, key) != _field(b, key)]
            data = [str(p.get("dataset_checksum", ""))[:12] for p in (old, new)]
            if data[0] != data[1]:
                fields.insert(0, f"data: {data[0]} → {data[1]}")
            changed = "; ".join(fields)
        rows[name] = {"then": then, "now": now, "change": now - then,
                      "epochs then": epochs(old), "epochs now": epochs(new),
                      "changed": changed}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[
        "then", "now", "change", "epochs then", "epochs now", "changed"]).rename_axis("model")


_LEAD = re.compile(r"^\*\*(.+?)\*\*")


def _conclusion(topic: str, folder: Path, full: str) -> str:
    """What a finding concludes, without its numbers: the bold lead, or for the losses the
    best loss of the comparison and for the ranking each measure's order of models."""
    if topic == "losses":
        from heatsink.study.results.groups import loss_sweep

        sweep = loss_sweep(load_model_results(folder, "val"))
        if not sweep:
            return ""
        best = max(sweep, key=lambda n: _score(sweep[n], RANKING_MEASURE, RANKING_REFERENCE))
        config = sweep[best]["config"]
        weights = config.get("class_weighting", "balanced")
        loss = config["loss"] + (f" ({weights} weights)" if "wcce" in config["loss"]
                                 and weights != "balanced" else "")
        return f"the best loss on {config['model']} is {loss}"
    if topic == "ranking":
        from heatsink.study.published import rank_orders

        orders = rank_orders(load_model_results(folder, "val"))
        if orders.empty or "twin" not in orders:
            return ""
        return "; ".join(f"{m.replace('_', ' ')}: {orders.loc[m, 'twin']}"
                         for m in orders.index if isinstance(orders.loc[m, "twin"], str))
    lead = _LEAD.match(full)
    return lead.group(1) if lead else full


def changed_findings(previous: str | Path, current: str | Path,
                     topics: Sequence[str] = ("imbalance", "best_model", "losses", "ranking"),
                     n_boot: int = 1000) -> pd.DataFrame:
    """What the findings concluded in an earlier comparison and now.

    Parameters
    ----------
    previous, current : path
        The earlier comparison's results folder (:func:`previous_dir`) and this one.
    topics : sequence of str
        Topics of :func:`heatsink.study.findings.findings`.
    n_boot : int
        Resamples of the findings' paired comparisons.

    Returns
    -------
    DataFrame
        Indexed by topic: ``then`` and ``now``, each finding's conclusion without its
        numbers (its bold lead, e.g. ``Best on validation: gslu-wcce+dice.``; for the
        losses, the best loss of the loss comparison and its model; for the ranking, each
        measure's order of the seed's models; empty where a run has no such finding),
        ``changed`` (bool),
        and the findings in full, ``then (in full)`` and ``now (in full)``.
    """
    from heatsink.study.findings import findings

    rows = {}
    for topic in topics:
        full, said = [], []
        for folder in (Path(previous), Path(current)):
            text = findings(folder, n_boot=n_boot, topics=[topic])
            full.append(text[0] if text else "")
            said.append(_conclusion(topic, folder, full[-1]) if text else "")
        rows[topic] = {"then": said[0], "now": said[1], "changed": said[0] != said[1],
                       "then (in full)": full[0], "now (in full)": full[1]}
    return pd.DataFrame.from_dict(rows, orient="index", columns=[
        "then", "now", "changed", "then (in full)", "now (in full)"]).rename_axis("topic")


__all__ = ["PREVIOUS", "PROTOCOL_FIELDS", "changed_findings", "keep_previous",
           "previous_dir", "protocol_changes"]
