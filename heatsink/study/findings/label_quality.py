"""What the label checks found, in sentences from their result tables.

The label-quality chapter writes its tables with
:func:`heatsink.study.results.save_label_quality` (``results/<twin|real>/label_quality/``).
On the twin they include how well each check found the errors the twin injected (its noise
manifest); on real data only the fold models, the seams and the exclusion table exist, and
only their sentences are written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from heatsink.study.findings.text import bullets, signed, span
from heatsink.study.results import label_quality_file


def label_quality_findings(directory: str | Path) -> list[str]:
    """The label checks' findings, one Markdown sentence or two each, from their saved tables.

    Parameters
    ----------
    directory : path
        A study's results folder (``results/twin`` or ``results/real``).

    Returns
    -------
    list of str
        In reading order: the fold models' out-of-sample quality, the image rankings against
        a random draw, their best slice, the suspect components, the seams, and what leaving
        out suspect images does to the scores. Each starts with a bold summary; those whose
        table is missing are left out.
    """
    def table(name: str) -> Path:
        return label_quality_file(directory, name)

    found = [
        _fold_models(table("folds")),
        image_ranking_finding(directory),
        _best_slice(table("precision_at_k"), table("image_detection"), table("ranked_issues")),
        _components(table("component_detection"), table("component_precision_at_n")),
        _seams(table("seams")),
        _exclusion(table("excluded")),
    ]
    return [text for text in found if text]


def label_quality_markdown(directory: str | Path) -> str:
    """:func:`label_quality_findings` as a Markdown bullet list."""
    return bullets(label_quality_findings(directory))


def image_ranking_finding(directory: str | Path) -> str | None:
    """How many images with injected errors each ranking's flagged images hold, against chance.

    The p-value is the chance that a random draw of as many images holds at least as many
    erroneous ones (hypergeometric). None without the detection table (real data).
    """
    detection = label_quality_file(directory, "image_detection")
    ranked = label_quality_file(directory, "ranked_issues")
    if not (detection.exists() and ranked.exists()):
        return None
    from scipy.stats import hypergeom

    table = pd.read_csv(detection, index_col=0)
    overall = table[table["error"] == "any"].set_index("method")
    if overall.empty:
        return None
    n_images = len(pd.read_csv(ranked))
    errors, flagged = int(overall["images"].iloc[0]), int(overall["flagged"].iloc[0])
    methods = []
    for method, row in overall.iterrows():
        p = hypergeom.sf(int(row["caught"]) - 1, n_images, errors, flagged)
        methods.append(f"{method} {int(row['caught'])} ({100 * row['recall']:.1f} %, "
                       f"p = {p:.2g})")
    text = (f"**Label-issue detection, measured.** Of the {errors} images (of {n_images}) "
            f"with injected label errors, the {flagged} each ranking finds most suspect hold: "
            f"{', '.join(methods)}; a random draw of {flagged} would hold "
            f"{errors * flagged / n_images:.1f} on average ({100 * flagged / n_images:.1f} %; "
            "p: the chance a random draw holds as many, hypergeometric).")
    kinds = table[(table["method"] == "cleanlab") & (table["error"] != "any")
                  & (table["images"] > 0)]
    if not kinds.empty:
        text += " cleanlab by kind: " + ", ".join(
            f"{row['error'].replace('_', ' ')} {int(row['caught'])} of {int(row['images'])}"
            for _, row in kinds.iterrows()) + "."
    return text


def _fold_models(path: Path) -> str | None:
    if not path.exists():
        return None
    folds = pd.read_csv(path)
    share = {m: span((100 * folds[m]).tolist())
             for m in ("miou_defects", "scratch_recall", "stain_recall")}
    return (f"**The judges.** Each image is judged by one of {len(folds)} fold models that "
            f"never saw it; on their held-out images they reach a defect mIoU of "
            f"{share['miou_defects']} (scratch recall {share['scratch_recall']}, stain recall "
            f"{share['stain_recall']}). A label check can only be as sure as they are good.")


def _best_slice(path: Path, detection: Path, ranked: Path) -> str | None:
    if not (path.exists() and detection.exists() and ranked.exists()):
        return None
    table = pd.read_csv(path, index_col=[0, 1]).droplevel(1).reset_index()
    errors = pd.read_csv(detection, index_col=0).query("error == 'any'")["images"].iloc[0]
    base = 100 * errors / len(pd.read_csv(ranked))
    best = table.loc[table["precision"].idxmax()]
    above = best["ci_low"] * 100 > base
    return (f"**The cleanest slice** of any ranking is the {best['method']} ranking's top "
            f"{100 * best['fraction']:.0f} % ({int(best['k'])} images): "
            f"{100 * best['precision']:.0f} % of them hold an injected error "
            f"(95 % interval {100 * best['ci_low']:.0f}–{100 * best['ci_high']:.0f} %), against "
            f"{base:.1f} % of all images; its interval "
            f"{'lies above' if above else 'includes'} that share. It is the best of "
            f"{len(table)} slices, so it leans optimistic.")


def _components(detection: Path, at_n: Path) -> str | None:
    if not detection.exists():
        return None
    table = pd.read_csv(detection, index_col=0).query("method == 'components'")
    if table.empty:
        return None
    overall = table[table["error"] == "any"].iloc[0]
    if overall["n_components"] == 0:
        return (f"**Suspect components.** cleanlab marks no suspect component, so none of the "
                f"{int(overall['n_errors'])} injected errors is found this way.")
    kinds = ", ".join(f"{row['error'].replace('_', ' ')} {int(row['found'])} of "
                      f"{int(row['n_errors'])}"
                      for _, row in table[(table["error"] != "any")
                                          & (table["n_errors"] > 0)].iterrows())
    text = (f"**Suspect components.** cleanlab's {int(overall['n_components']):,} suspect "
            f"components overlap {int(overall['found'])} of the {int(overall['n_errors'])} "
            f"injected errors ({kinds}), a lenient match that credits any suspect component "
            "on or beside a mislabelled object, whatever it marks; and only "
            f"{100 * overall['precision']:.1f} % of them are injected errors: most mark where "
            "the model, not the label, is wrong.")
    if at_n.exists():
        top = pd.read_csv(at_n).set_index("kind")
        columns = sorted((c for c in top.columns if c.startswith("top_")),
                         key=lambda c: int(c[4:]))
        if "class_swap" in top.index and columns and pd.notna(top.loc["class_swap", columns[0]]):
            swaps = top.loc["class_swap"]
            text += (f" Those marked as class swaps are errors {100 * swaps['precision_all']:.0f} %"
                     f" of the time, {100 * swaps[columns[0]]:.0f} % among the "
                     f"{columns[0][4:]} most confident.")
    return text


def _seams(path: Path) -> str | None:
    if not path.exists():
        return None
    facts = pd.read_csv(path, index_col=0)["value"]
    text = (f"**Seams.** {int(facts['seams found'])} neighbouring pairs of images were found "
            f"from their pixels alone; on {int(facts['seams with inconsistent labels'])} of "
            "their seams the two labels disagree.")
    if "neighbours: precision" in facts:
        text += (f" Against the twin's layout the pairs have precision "
                 f"{facts['neighbours: precision']:.2f} and recall "
                 f"{facts['neighbours: recall']:.2f}, and the disagreeing seams hold "
                 f"{int(facts['seam errors: caught'])} of the "
                 f"{int(facts['seam errors: seam_errors'])} injected seam errors.")
    return text


def _exclusion(path: Path) -> str | None:
    if not path.exists():
        return None
    table = pd.read_csv(path).set_index(["reference", "left_out"])["miou_defects"] * 100
    parts = []
    for reference in table.index.unique("reference"):
        scores = table.loc[reference]
        changes = "/".join(signed(scores.loc[f] - scores.loc[0.0])
                           for f in scores.index if f > 0)
        parts.append(f"{changes} points against the "
                     f"{'labels' if reference == 'labels' else 'clean truth'}")
    fractions = "/".join(f"{100 * f:.0f}" for f in table.index.unique("left_out") if f > 0)
    text = (f"**What it means for the scores.** Leaving out cleanlab's most suspect "
            f"{fractions} % of the images moves the out-of-sample defect mIoU by "
            + " and ".join(parts) + ".")
    if "truth" in table.index.unique("reference"):
        text += (" Scoring every image against the clean truth instead of the labels moves it "
                 f"by {signed(table.loc[('truth', 0.0)] - table.loc[('labels', 0.0)])} points.")
    return text


__all__ = [
    "image_ranking_finding",
    "label_quality_findings",
    "label_quality_markdown",
]
