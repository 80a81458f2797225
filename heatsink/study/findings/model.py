"""What one trained model's run shows, in sentences from its saved result files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from heatsink.classes import CLASS_NAMES
from heatsink.evaluate import paired_difference
from heatsink.study.findings.text import bullets, pct, signed, with_interval
from heatsink.study.published import TWIN_NAMES, published_table
from heatsink.study.results import load_evaluation

#: Below this validation defect IoU an epoch counts as predicting (almost) background only.
BACKGROUND_ONLY_IOU = 0.01


def model_findings(directory: str | Path, name: str, split: str = "val",
                   reference: str = "labels", n_boot: int = 1000) -> list[str]:
    """What one model's run shows, in sentences written from its saved result files.

    A chapter that trains and scores a model (chapter 3's baseline) ends with these, so its
    conclusions follow its run, on the twin or on the real data, instead of being typed
    for one run and left behind by the next.

    Parameters
    ----------
    directory : path
        The study's results folder, holding the files
        :func:`heatsink.study.results.save_model_results` wrote for ``name``.
    name : str
        The model's name in the study's tables (e.g. ``"unet"``).
    split : str
        The split it was scored on.
    reference : str
        What its scores are measured against (``"labels"``, as the seed measures).
    n_boot : int
        Resamples of the paired bootstrap of the label-noise change (twin only).

    Returns
    -------
    list of str
        The learning curve, pixel accuracy against the all-background share, each defect
        class's pixel recall (beside the seed's figure on the real data, where it quotes
        one), defects found as objects, and on the twin how the clean truth changes the
        score. Each starts with a bold summary.

    Raises
    ------
    FileNotFoundError
        If ``directory`` holds no results of ``name`` on ``split``.
    """
    directory = Path(directory)
    stored = directory / "models" / f"{name}-{split}.json"
    if not stored.exists():
        raise FileNotFoundError(f"{directory / 'models'}: no results of model {name!r} on "
                                f"the {split} split (results.save_model_results writes them)")
    payload = json.loads(stored.read_text())
    found = [
        _learning_curve(directory / "models" / f"{name}-history.csv", payload),
        _accuracy_floor(payload, reference),
        _class_recalls(directory, name, split, payload, reference),
        _objects(payload, reference),
        _noise_change(directory, name, split, payload, n_boot),
    ]
    return [text for text in found if text]


def model_findings_markdown(directory: str | Path, name: str, split: str = "val",
                            reference: str = "labels", n_boot: int = 1000) -> str:
    """:func:`model_findings` as a Markdown bullet list."""
    return bullets(model_findings(directory, name, split, reference, n_boot))


def _learning_curve(path: Path, payload: dict) -> str | None:
    history = pd.read_csv(path) if path.exists() else pd.DataFrame()
    if "val_defect_iou" not in history:
        return None
    curve = history["val_defect_iou"].to_numpy()
    epochs, best = len(curve), payload["best_epoch"]
    started = next((k for k, value in enumerate(curve) if value >= BACKGROUND_ONLY_IOU), epochs)
    if started == epochs:
        return (f"**It never left the background.** In all {epochs} epochs the validation "
                f"defect IoU stayed under {100 * BACKGROUND_ONLY_IOU:.0f} %: the network "
                "learned the class imbalance and nothing else.")
    text = "**The learning curve.** "
    if started:
        text += (f"For its first {started} of {epochs} epochs the validation defect IoU "
                 f"stayed under {100 * BACKGROUND_ONLY_IOU:.0f} %: the network predicted "
                 "(almost) background only, learning the imbalance first. ")
    text += f"Its best validation defect IoU, {100 * max(curve):.1f} %, came at epoch {best}"
    if best is not None and best > 0.9 * epochs:
        budget = f"{epochs} epoch{'' if epochs == 1 else 's'}"
        return text + f" of {epochs}, near the end: {budget} is a budget, not convergence."
    return text + f" of {epochs}; the last epoch scored {100 * curve[-1]:.1f} %."


def _accuracy_floor(payload: dict, reference: str) -> str:
    accuracy = pct(payload, reference, "pixel_accuracy")
    floor = pct(payload, reference, "all_background_accuracy")
    lead = ("**Its pixel accuracy says almost nothing.**" if abs(accuracy - floor) < 1
            else "**Its pixel accuracy, against the floor.**")
    return (f"{lead} {accuracy:.2f} %, where predicting background everywhere scores "
            f"{floor:.2f} % on the same pixels ({signed(accuracy - floor)} points).")


def _class_recalls(directory: Path, name: str, split: str, payload: dict,
                   reference: str) -> str:
    path = directory / "models" / f"{name}-{split}-confusion-{reference}.csv"
    predicted = (pd.read_csv(path, index_col=0).sum(axis=0) if path.exists() else None)
    table = published_table()
    quoted = table[(table["source"] == "seed") & (table["model"] == TWIN_NAMES.get(name))]
    parts, never = [], []
    for cls in CLASS_NAMES[1:]:
        part = f"{cls} recall {with_interval(payload, reference, f'{cls}_recall')}"
        seed = quoted[quoted["measure"] == f"{cls}_recall"]["value"]
        if not seed.empty:
            part += f" (the seed's on the real data: {seed.iloc[0]:.0f} %)"
        parts.append(part)
        if predicted is not None and predicted[cls] == 0:
            never.append(cls)
    text = "**Defect pixels found:** " + "; ".join(parts) + "."
    if never:
        text += (f" Not one pixel is predicted as {' or '.join(never)}: the model never "
                 "uses that class.")
    return text + (" The seed's figures are quoted, on other images and labels: not "
                   "comparable as numbers (chapter 7)." if not quoted.empty else "")


def _objects(payload: dict, reference: str) -> str:
    scores = payload["scores"][reference]
    found = " and ".join(f"{100 * scores[f'{cls}_object_recall']:.0f} % of the {plural}"
                         for cls, plural in zip(CLASS_NAMES[1:], ("scratches", "stains"),
                                                strict=True))
    alarms = ", ".join(f"{scores[f'{cls}_false_alarms_per_image']:.1f} {cls}"
                       for cls in CLASS_NAMES[1:])
    return ("**Defects found as objects** (a labelled defect counts as found when any of its "
            f"pixels gets its class): {found}; false alarms per image: {alarms}.")


def _noise_change(directory: Path, name: str, split: str, payload: dict,
                  n_boot: int) -> str | None:
    if "truth" not in payload["scores"]:
        return None
    change = pct(payload, "truth", "miou_defects") - pct(payload, "labels", "miou_defects")
    text = (f"**Label noise and this score.** Against the twin's clean truth instead of its "
            f"labels, the defect mIoU changes by {signed(change)} points")
    paired = label_noise_change(directory, name, split, n_boot)
    if paired is None:
        return text + "."
    interval = f"[{signed(100 * paired['low'])}, {signed(100 * paired['high'])}]"
    if paired["low"] <= 0 <= paired["high"]:
        return (text + f" (95 % paired bootstrap interval {interval}, which holds zero): the "
                "twin's injected label errors do not explain what the model misses.")
    return (text + f" (95 % paired bootstrap interval {interval}): the twin's injected label "
            "errors move the measured score by that much.")


def label_noise_change(directory: Path, name: str, split: str = "val",
                       n_boot: int = 1000) -> dict[str, float] | None:
    """How the twin's clean truth moves a saved model's defect mIoU, with a paired interval.

    The same predictions on the same images, scored against the truth and against the
    labels (:func:`heatsink.evaluate.paired_difference`); None where either per-image file
    is missing (real data, or results saved before per-image files existed).
    """
    truth = load_evaluation(directory, name, split, "truth")
    labels = load_evaluation(directory, name, split, "labels")
    if truth is None or labels is None:
        return None
    return paired_difference(truth, labels, "miou_defects", n_boot=n_boot,
                             same_reference=False)


__all__ = [
    "BACKGROUND_ONLY_IOU",
    "label_noise_change",
    "model_findings",
    "model_findings_markdown",
]
