"""The study's findings (chapter 7 and the README), in sentences from its result files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from heatsink.evaluate import paired_difference
from heatsink.study.findings.label_quality import image_ranking_finding
from heatsink.study.findings.model import label_noise_change
from heatsink.study.findings.text import (
    bullets,
    pct,
    rate,
    signed,
    signed_span,
    span,
    with_interval,
)
from heatsink.study.published import published_table, rank_orders
from heatsink.study.results import (
    input_variants,
    label_noise_cap,
    load_evaluation,
    load_model_results,
    loss_sweep,
    passfail_rules,
    passfail_summary,
)

#: Chapter 6's name for its verdicts measured against the labels.
PASSFAIL_LABELS = "against labelled"


#: The findings in reading order, by the name :func:`findings` selects them with.
TOPICS = ("mixed_data", "imbalance", "best_model", "losses", "input_variants", "ranking",
          "noise", "label_issues", "pass_fail")


def findings(directory: str | Path, reference: str = "labels", n_boot: int = 1000,
             topics: Sequence[str] | None = None) -> list[str]:
    """The study's findings, one Markdown sentence or two each, from its result files.

    Parameters
    ----------
    directory : path
        A study's results folder (``results/twin`` or ``results/real``).
    reference : str
        What the model scores are measured against (``"labels"``, as the seed and the
        paper measure).
    n_boot : int
        Resamples of each paired bootstrap comparison of two models.
    topics : sequence of str, optional
        Only these findings (names from :data:`TOPICS`), e.g. chapter 4's models and
        losses; default all.

    Returns
    -------
    list of str
        In reading order: a warning if the model results come from different data, the
        imbalance, the best model, the losses, input size and augmentation, the published
        ranking, label noise, label-issue detection, pass/fail. Each starts with a bold
        summary; those whose result files are missing are left out.

    Raises
    ------
    ValueError
        If a topic is not one of :data:`TOPICS`.
    """
    unknown = sorted(set(topics or ()) - set(TOPICS))
    if unknown:
        raise ValueError(f"unknown findings topic(s) {unknown}; choose from {list(TOPICS)}")
    directory = Path(directory)
    val = load_model_results(directory, "val")
    test = load_model_results(directory, "test")
    writers = {
        "mixed_data": lambda: _mixed_data(val),
        "imbalance": lambda: _imbalance(val, reference),
        "best_model": lambda: _best_model(val, test, reference, directory, n_boot),
        "losses": lambda: _losses(val, reference, directory, n_boot),
        "input_variants": lambda: _input_variants(val, reference, directory, n_boot),
        "ranking": lambda: _ranking(val, reference,
                                    "twin" if directory.name == "twin" else "this run"),
        "noise": lambda: _noise_cap(val, directory, n_boot),
        "label_issues": lambda: image_ranking_finding(directory),
        "pass_fail": lambda: _pass_fail(directory, test),
    }
    found = [writers[topic]() for topic in TOPICS if topics is None or topic in topics]
    return [text for text in found if text]


def findings_markdown(directory: str | Path, reference: str = "labels", n_boot: int = 1000,
                      topics: Sequence[str] | None = None) -> str:
    """:func:`findings` as a Markdown bullet list (empty if nothing has run)."""
    return bullets(findings(directory, reference, n_boot, topics))


def _versus(directory: Path, a: str, b: str, val: dict[str, dict], reference: str,
            n_boot: int, measure: str = "miou_defects") -> str:
    """`` (difference on the same images +3.1 points, 95 % paired bootstrap interval …)``.

    Falls back to the plain difference and whether the two models' own intervals overlap
    where their per-image results are not stored or come from different data.
    """
    first = load_evaluation(directory, a, "val", reference)
    second = load_evaluation(directory, b, "val", reference)
    same_data = val[a]["dataset_checksum"] == val[b]["dataset_checksum"]
    if (first is None or second is None or not same_data
            or sorted(first.ids) != sorted(second.ids)):
        change = pct(val[a], reference, measure) - pct(val[b], reference, measure)
        overlap = _overlap(val[a], val[b], reference, measure)
        return f" ({signed(change)} points{'; ' + overlap[2:-1] if overlap else ''})"
    paired = paired_difference(first, second, measure, n_boot=n_boot)
    return (f" (difference on the same images {signed(100 * paired['difference'])} points, "
            f"95 % paired bootstrap interval [{signed(100 * paired['low'])}, "
            f"{signed(100 * paired['high'])}])")


def _overlap(a: dict, b: dict, reference: str, measure: str) -> str:
    """`` (intervals overlap)``, `` (intervals do not overlap)`` or ``""`` (none stored)."""
    first = a.get("bootstrap", {}).get(reference, {}).get(measure)
    second = b.get("bootstrap", {}).get(reference, {}).get(measure)
    if not (first and second):
        return ""
    apart = first["low"] > second["high"] or second["low"] > first["high"]
    return " (95 % intervals do not overlap)" if apart else " (95 % intervals overlap)"


def _mixed_data(val: dict[str, dict]) -> str | None:
    checksums: dict[str, list[str]] = {}
    for name, payload in val.items():
        checksums.setdefault(payload["dataset_checksum"][:12], []).append(name)
    if len(checksums) < 2:
        return None
    groups = "; ".join(f"{checksum}: {', '.join(names)}" for checksum, names in checksums.items())
    return (f"**Caution: these results come from {len(checksums)} different datasets** "
            f"(data checksum: models) — {groups}. Re-execute the older chapters on the "
            "current data before comparing them.")


def _imbalance(val: dict[str, dict], reference: str) -> str | None:
    if not val:
        return None
    background = [pct(p, reference, "all_background_accuracy") for p in val.values()]
    accuracy = [pct(p, reference, "pixel_accuracy") for p in val.values()]
    scratch = [pct(p, reference, "scratch_recall") for p in val.values()]
    stain = [pct(p, reference, "stain_recall") for p in val.values()]
    close = all(abs(a - b) < 3 for a, b in zip(accuracy, background, strict=True))
    lead = ("**Pixel accuracy says almost nothing.**" if close
            else "**Pixel accuracy, and what it hides.**")
    models = "the model scores" if len(val) == 1 else f"the {len(val)} models score"
    text = (f"{lead} Predicting background everywhere is right for {span(background)} of "
            f"the validation pixels; {models} {span(accuracy)}, while finding "
            f"{span(scratch)} of the scratch pixels and {span(stain)} of the stain "
            "pixels.")
    quoted = published_table().query("source == 'seed' and measure == 'pixel_accuracy'")
    if not quoted.empty:
        text += (f" On the real images the seed reported {span(quoted['value'].tolist())} "
                 f"for its {len(quoted)} models (quoted, not run here).")
    return text


def _best_model(val: dict[str, dict], test: dict[str, dict], reference: str,
                directory: Path, n_boot: int) -> str | None:
    if len(val) < 2:
        return None
    ranked = sorted(val, key=lambda name: -pct(val[name], reference, "miou_defects"))
    best, second = ranked[:2]
    text = (f"**Best on validation: {best}.** Its defect mIoU (scratch and stain) is "
            f"{with_interval(val[best], reference, 'miou_defects')}, against "
            f"{with_interval(val[second], reference, 'miou_defects')} for the next, "
            f"{second}{_versus(directory, best, second, val, reference, n_boot)}; both were "
            "picked on these images, so the lead leans optimistic.")
    for name, payload in test.items():
        which = "Scored once on the test split" if name == best else (
            f"Chapter 4 chose {name} among the models it trained; scored once on the test "
            "split")
        text += (f" {which} ({payload['n_images']} images), {name} reaches "
                 f"{with_interval(payload, reference, 'miou_defects')}.")
    return text


def _losses(val: dict[str, dict], reference: str, directory: Path,
            n_boot: int) -> str | None:
    sweep = loss_sweep(val)
    if not sweep:
        return None
    base_name = next(iter(sweep))  # loss_sweep puts the cross-entropy run first
    base = sweep[base_name]
    parts = [
        f"with {_loss_words(name[len(base_name) + 1:], payload.get('config', {}))}, "
        f"{pct(payload, reference, 'scratch_recall'):.1f} % at "
        f"{pct(payload, reference, 'miou_defects'):.1f} %"
        for name, payload in sweep.items() if name != base_name]
    best = max(sweep, key=lambda name: pct(sweep[name], reference, "miou_defects"))
    text = (f"**Losses for the imbalance.** On {base_name}, cross-entropy finds "
            f"{pct(base, reference, 'scratch_recall'):.1f} % of the scratch pixels at a "
            f"defect mIoU of {pct(base, reference, 'miou_defects'):.1f} %; "
            + "; ".join(parts) + ".")
    change = pct(sweep[best], reference, "miou_defects") - pct(base, reference, "miou_defects")
    if best == base_name or round(change, 1) == 0:
        return text + " No other loss beat cross-entropy on defect mIoU."
    return (text + f" The best, {best}, adds {change:.1f} points of defect mIoU"
            f"{_versus(directory, best, base_name, val, reference, n_boot)}.")


#: The losses' names in words (chapter 4's run names use the codes).
LOSS_WORDS = {
    "cce": "cross-entropy",
    "wcce": "class-weighted cross-entropy",
    "focal": "focal loss",
    "dice": "Dice",
}


def _loss_words(code: str, config: dict | None = None) -> str:
    """``"wcce+dice"`` -> ``"class-weighted cross-entropy + Dice (wcce+dice)"``.

    ``code`` is what a run's name adds to its encoder's; with the run's ``config`` the words
    are its loss's, and a class weighting other than the default is named
    (``"... (wcce+dice-isqrt, inverse_sqrt class weights)"``).

    >>> _loss_words("focal+dice")
    'focal loss + Dice (focal+dice)'
    >>> _loss_words("wcce+dice-isqrt", {"loss": "wcce+dice", "class_weighting": "inverse_sqrt"})
    'class-weighted cross-entropy + Dice (wcce+dice-isqrt, inverse_sqrt class weights)'
    """
    config = config or {}
    loss = config.get("loss", code)
    words = " + ".join(LOSS_WORDS.get(term, term) for term in loss.split("+"))
    weighting = config.get("class_weighting", "balanced")
    if "wcce" in loss.split("+") and weighting != "balanced":
        return f"{words} ({code}, {weighting} class weights)"
    return f"{words} ({code})"


def _input_variants(val: dict[str, dict], reference: str, directory: Path,
                    n_boot: int) -> str | None:
    pairs = input_variants(val)
    if not pairs:
        return None
    parts = []
    for name, base in pairs.items():
        config = val[name]["config"]
        how = f"{config['image_size']}² input" + (", flips and 90° rotations"
                                                  if config.get("augment") else "")
        measure = "miou_defects"
        parts.append(f"{name} ({how}) scores {with_interval(val[name], reference, measure)} "
                     f"against {with_interval(val[base], reference, measure)} for {base}"
                     f"{_versus(directory, name, base, val, reference, n_boot)}")
    return "**Native resolution and augmentation.** Defect mIoU: " + "; ".join(parts) + "."


def _ranking(val: dict[str, dict], reference: str, data: str) -> str | None:
    orders = rank_orders(val, reference)
    if orders.empty:
        return None
    comparable = orders[orders["same order"].notna()]
    if comparable.empty:
        return None
    same = comparable.index[comparable["same order"].astype(bool)].tolist()
    lead = ("**The seed's ranking of models carries over.**" if len(same) == len(comparable)
            else "**The seed's ranking of models carries over only in part.**" if same
            else "**The seed's ranking of models does not carry over.**")
    details = "; ".join(f"{m.replace('_', ' ')}: seed {comparable.loc[m, 'published']}, "
                        f"{data} {comparable.loc[m, 'twin']}" for m in comparable.index)
    return (f"{lead} Validation split, measure by measure where the seed gives an order: "
            f"{details}.")


def _noise_cap(val: dict[str, dict], directory: Path, n_boot: int) -> str | None:
    cap = label_noise_cap(val)
    if cap.empty:
        return None
    whose = "the model's" if len(cap) == 1 else f"each of the {len(cap)} models'"
    text = (f"**Label noise and the measured scores.** Scored against the twin's clean "
            f"truth instead of its labels, {whose} defect mIoU changes by "
            f"{signed_span(cap['gap'].tolist())} points, under the label errors the twin "
            "injects at its stated rate (the real rate is unknown).")
    excluding_zero, paired = 0, 0
    for name in cap.index:
        difference = label_noise_change(directory, name, "val", n_boot)
        if difference is None:
            continue
        paired += 1
        excluding_zero += difference["low"] > 0 or difference["high"] < 0
    if paired:
        text += (f" The paired 95 % interval of the change (same predictions, same images) "
                 f"excludes zero for {excluding_zero} of {paired} "
                 f"model{'' if paired == 1 else 's'}.")
    return text


def _pass_fail(directory: Path, test: dict[str, dict]) -> str | None:
    summary = passfail_summary(directory)
    if summary.empty or ("test", PASSFAIL_LABELS) not in summary.index:
        return None
    row = summary.loc[("test", PASSFAIL_LABELS)]
    escapes, overkill = int(row["escapes"]), int(row["overkill"])
    # chapter 6 names the model by its run folder; the tables by its result name
    model = next((name for name, payload in test.items()
                  if payload.get("run_dir", name) == row["model"]), row["model"])
    escape = rate("escape rate", row["escape_rate"], "no frame is defective",
                  row["escape_low"], row["escape_high"])
    overkilled = rate("overkill", row["overkill_rate"], "no frame is good",
                      row["overkill_low"], row["overkill_high"])
    return (f"**On the line,** the chosen model ({model}) under the example spec "
            f"passes {escapes} of {int(row['defective'])} defective test frames{escape} and "
            f"fails {overkill} of {int(row['good'])} good ones{overkilled}, against the "
            "verdicts the labels give under the same spec (95 % Wilson intervals)."
            f"{_escape_cause(directory, escapes)}")


def _escape_cause(directory: Path, escapes: int) -> str:
    """`` Most escapes (17 of 26) break the labels' scratch-length rule: …`` (or nothing)."""
    rules = passfail_rules(directory, "test")
    column = f"escapes {PASSFAIL_LABELS}"
    if not escapes or column not in rules or not {"predicted", "labelled"} <= set(rules):
        return ""
    rule = rules[column].idxmax()
    n = int(rules.loc[rule, column])
    lead = (f"Most escapes ({n} of {escapes}) break" if 2 * n > escapes
            else f"The rule the escapes break most often ({n} of {escapes}) is")
    predicted = int(rules.loc[rule, "predicted"])
    return (f" {lead} the labels' {rule.replace(' ', '-')} rule: the model's masks break it on "
            f"{predicted} test frame{'' if predicted == 1 else 's'}, the labels on "
            f"{int(rules.loc[rule, 'labelled'])}.")


__all__ = [
    "LOSS_WORDS",
    "PASSFAIL_LABELS",
    "TOPICS",
    "findings",
    "findings_markdown",
]
