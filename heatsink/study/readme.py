"""The README's findings and results table, written from the committed result files.

The README opens with what the study found. Its numbers must be the ones the executed
chapters wrote, so they are not typed by hand: :func:`readme_block` renders the findings
(:mod:`heatsink.study.findings`), chapter 7's figure and a table of every model from
``results/<twin|real>/``, and :func:`update_readme` puts them between two marker lines.
``heatsink study readme`` does it (``make study`` runs it last), and a test fails while the
README and the result files disagree.
"""

from __future__ import annotations

import os
from pathlib import Path

from heatsink.errors import HeatsinkError
from heatsink.io import write_text_atomic
from heatsink.study.findings import findings_markdown
from heatsink.study.results import latency, load_model_results, score_text

START = "<!-- results: written by `heatsink study readme` from results/; do not edit -->"
END = "<!-- end of results -->"

#: Chapter 7's figure of every model's pixel accuracy, defect recall and IoU
#: (:func:`heatsink.viz.model_scores_figure`), under the results folder.
FIGURE = Path("figures") / "models.png"

#: Columns of the README table: (result field, heading).
COLUMNS = (
    ("pixel_accuracy", "pixel accuracy"),
    ("scratch_recall", "scratch recall"),
    ("stain_recall", "stain recall"),
    ("miou_defects", "defect mIoU"),
)


def results_table(directory: str | Path, reference: str = "labels") -> str:
    """A Markdown table of every model scored on the validation split, and a caption.

    Parameters
    ----------
    directory : path
        A study's results folder (``results/twin`` or ``results/real``).
    reference : str
        What the predictions are scored against (``"labels"``, or ``"truth"`` on the twin).

    Returns
    -------
    str
        Percentages to one decimal, with the 95 % bootstrap interval of the defect mIoU;
        parameters; milliseconds per image at batch 1 where measured, on the device named
        in the heading. The chosen
        model's test-split defect mIoU follows the table. Empty if nothing is scored yet.
    """
    directory = Path(directory)
    val = load_model_results(directory, "val")
    if not val:
        return ""
    data = "synthetic twin" if directory.name == "twin" else directory.name
    checksums = sorted({payload["dataset_checksum"][:12] for payload in val.values()})
    n_images = sorted({payload["n_images"] for payload in val.values()})
    latencies = {name: latency(payload) for name, payload in val.items()}
    devices = sorted({measured[1] for measured in latencies.values() if measured})
    lines = [
        f"| model | {' | '.join(heading for _, heading in COLUMNS)} | parameters | "
        f"{'/'.join(devices) or 'CPU'} ms/image |",
        "|---|" + "---:|" * (len(COLUMNS) + 2),
    ]
    for name, payload in val.items():
        cells = [score_text(payload, reference, measure, interval=measure == "miou_defects")
                 for measure, _ in COLUMNS]
        measured = latencies[name]
        cells += [f"{payload['parameters'] / 1e6:.2f} M",
                  f"{measured[0]:.0f}" if measured is not None else "–"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    caption = (f"{data.capitalize()} (data checksum {', '.join(checksums)}), validation "
               f"split ({', '.join(map(str, n_images))} images), scored against the "
               f"{reference}, the best defect mIoU first; percent, defect mIoU with its 95 % "
               "bootstrap interval over images.")
    test = load_model_results(directory, "test")
    for name, payload in test.items():
        caption += (f" Chosen on validation and scored once on the test split "
                    f"({payload['n_images']} images): {name}, defect mIoU "
                    f"{score_text(payload, reference, 'miou_defects')} %.")
    return "\n".join([*lines, "", caption])


def readme_block(directory: str | Path, readme_dir: str | Path) -> str:
    """The findings, chapter 7's figure (if drawn) and the results table, as Markdown.

    ``readme_dir`` is the README's folder: the figure's link is relative to it.
    """
    directory = Path(directory)
    parts = [findings_markdown(directory)]
    figure = directory / FIGURE
    if figure.exists():
        link = Path(os.path.relpath(figure, readme_dir)).as_posix()
        parts.append(f"![Each model's pixel accuracy beside the all-background score, and "
                     f"its recall and IoU per defect class, with 95 % intervals "
                     f"(chapter 7)]({link})")
    parts.append(results_table(directory))
    return "\n\n".join(part for part in parts if part)


def update_readme(readme: str | Path, directory: str | Path, check: bool = False) -> bool:
    """Write :func:`readme_block` between the README's marker lines.

    Parameters
    ----------
    readme : path
        The README; it must hold the :data:`START` and :data:`END` lines, in that order.
    directory : path
        The results folder the table is read from.
    check : bool
        Only compare: leave the file as it is.

    Returns
    -------
    bool
        True if the README already held this table (nothing written).

    Raises
    ------
    HeatsinkError
        If the README cannot be read or lacks the marker lines.
    """
    readme = Path(readme)
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as err:
        raise HeatsinkError(f"{readme}: cannot read the README ({err.strerror})") from err
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise HeatsinkError(f"{readme}: no results markers; put the lines\n{START}\n"
                            f"{END}\nwhere the table belongs")
    head, tail = text[: start + len(START)], text[end:]
    block = readme_block(directory, readme.parent)
    updated = f"{head}\n{block}\n{tail}" if block else f"{head}\n{tail}"
    if updated == text:
        return True
    if not check:
        write_text_atomic(readme, updated)
    return False


__all__ = [
    "COLUMNS",
    "END",
    "FIGURE",
    "START",
    "readme_block",
    "results_table",
    "update_readme",
]
