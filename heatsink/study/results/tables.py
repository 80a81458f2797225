"""The book's tables of model scores, read from saved results (percent, with intervals)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from heatsink.hardware import short_line
from heatsink.metrics import wilson_interval
from heatsink.study.results.files import latency, load_evaluation

if TYPE_CHECKING:
    from heatsink.evaluate import Evaluation

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
        measured = latency(payload)
        if measured is not None:
            row[f"{measured[1]} ms/img"] = round(measured[0], 1)
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


def scores_with_ci(evaluations: dict[str, Evaluation], n_boot: int = 1000) -> pd.DataFrame:
    """Headline scores (percent) with 95 % bootstrap intervals, one column per reference."""
    cols = {}
    for ref, ev in evaluations.items():
        ci = ev.bootstrap(n_boot=n_boot) * 100
        cols[ref] = [f"{v:.1f} [{lo:.1f}, {hi:.1f}]" for v, lo, hi in ci.to_numpy()]
        index = ci.index
    return pd.DataFrame(cols, index=index)


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
            "trained on": short_line(payload.get("trained_on") or {}),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def passfail_summary(directory: str | Path) -> pd.DataFrame:
    """Chapter 6's part verdicts: escape and overkill against each reference, per split.

    Returns
    -------
    DataFrame
        Indexed by ``(split, reference)``: ``model, spec, n, defective, good, escapes,
        overkill, escape_rate, escape_low, escape_high, overkill_rate, overkill_low,
        overkill_high`` (95 % Wilson intervals of each rate, :func:`heatsink.metrics.
        wilson_interval`); empty if chapter 6 has not run.
    """
    rows = {}
    for path in sorted((Path(directory) / "postprocess").glob("*-passfail.json")):
        payload = json.loads(path.read_text())
        for ref, c in payload["confusion"].items():
            defective, good = c["tp"] + c["fn"], c["fp"] + c["tn"]
            escape_low, escape_high = wilson_interval(c["fn"], defective)
            overkill_low, overkill_high = wilson_interval(c["fp"], good)
            rows[(payload["split"], ref)] = {
                "model": payload["model"], "spec": payload["spec_identity"], "n": c["n"],
                "defective": defective, "good": good, "escapes": c["fn"], "overkill": c["fp"],
                "escape_rate": c["escape_rate"], "escape_low": escape_low,
                "escape_high": escape_high, "overkill_rate": c["overkill_rate"],
                "overkill_low": overkill_low, "overkill_high": overkill_high}
    counts = ["n", "defective", "good", "escapes", "overkill"]
    rates = ["escape_rate", "escape_low", "escape_high", "overkill_rate", "overkill_low",
             "overkill_high"]
    index = pd.MultiIndex.from_tuples(list(rows), names=["split", "reference"])
    table = pd.DataFrame(list(rows.values()), index=index, columns=["model", "spec", *counts,
                                                                     *rates])
    return table.astype(dict.fromkeys(counts, "Int64") | dict.fromkeys(rates, float))


def passfail_rules(directory: str | Path, split: str = "test") -> pd.DataFrame:
    """Chapter 6's rule counts: frames failing each rule per source, and escapes per rule.

    Returns
    -------
    DataFrame
        Indexed by rule; one column per source of masks (``predicted``, ``labelled``,
        ``clean truth``: frames that break the rule) and one per reference
        (``escapes against labelled``, …: the model's escapes that break the rule in the
        reference). Empty if chapter 6 has not run on ``split`` or its file predates these
        counts.
    """
    path = Path(directory) / "postprocess" / f"{split}-passfail.json"
    if not path.exists():
        return pd.DataFrame()
    payload = json.loads(path.read_text())
    columns = {**payload.get("failed_rules", {}),
               **{f"escapes {ref}": counts
                  for ref, counts in payload.get("escapes_by_rule", {}).items()}}
    return pd.DataFrame(columns).astype("Int64").rename_axis("rule")


__all__ = [
    "TABLE_COLUMNS",
    "label_noise_cap",
    "model_table",
    "paired_table",
    "passfail_rules",
    "passfail_summary",
    "score_intervals",
    "score_text",
    "scores_with_ci",
    "training_table",
]
