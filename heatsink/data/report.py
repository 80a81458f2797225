"""``heatsink data check``: a complete check of a dataset folder, every problem listed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from heatsink.classes import CLASS_NAMES
from heatsink.data.checksum import checksum_from_hashes, file_hashes
from heatsink.data.layout import REAL_NAME, TWIN_NAME, Problem, scan_folder, verify_files
from heatsink.errors import DatasetError
from heatsink.safety import printable


@dataclass
class CheckReport:
    """Everything :func:`check_dataset` found.

    Attributes
    ----------
    root : Path
        The folder checked.
    name : str or None
        Dataset name, None if the folder is not a dataset at all.
    problems : list of (Path, str)
        Every problem found: the file or folder at fault and what is wrong.
    n_images, n_masks : int
        Image files in ``images/`` and mask files in ``labels/``.
    n_pairs : int
        Ids with both an image and a mask.
    pixel_fractions : Series or None
        Fraction (0..1) of all label pixels per class (index: class names), over the masks
        that decoded.
    cooccurrence : Series or None
        Images per class combination (:func:`heatsink.stats.cooccurrence`).
    checksum : str or None
        The dataset checksum, None if a file could not be read.
    has_truth : bool
        Whether ``truth/`` is present.
    n_parts : int or None
        Distinct parts in ``adjacency.csv``, if present.
    """

    root: Path
    name: str | None = None
    problems: list[Problem] = field(default_factory=list)
    n_images: int = 0
    n_masks: int = 0
    n_pairs: int = 0
    pixel_fractions: pd.Series | None = None
    cooccurrence: pd.Series | None = None
    checksum: str | None = None
    has_truth: bool = False
    n_parts: int | None = None

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def to_text(self, max_problems: int = 50) -> str:
        """A plain-text report for the command line."""
        lines = [f"{printable(self.root)}: {self.name or 'not a dataset'}"]
        if self.name is not None:
            lines.append(
                f"  images: {self.n_images}  masks: {self.n_masks}  paired: {self.n_pairs}"
                + ("  (with truth/)" if self.has_truth else "")
                + (f"  parts: {self.n_parts}" if self.n_parts is not None else "")
            )
        if self.pixel_fractions is not None:
            shares = ", ".join(f"{k} {100 * v:.3f}%" for k, v in self.pixel_fractions.items())
            lines.append(f"  pixels: {shares}")
        if self.cooccurrence is not None:
            combos = ", ".join(f"{k} {v}" for k, v in self.cooccurrence.items())
            lines.append(f"  images with: {combos}")
        if self.checksum:
            lines.append(f"  checksum: {self.checksum}")
        if self.ok:
            lines.append("OK: no problems found")
        else:
            n = len(self.problems)
            lines.append(f"{n} problem{'s' if n > 1 else ''}:")
            lines += [f"  {printable(path)}: {problem}"
                      for path, problem in self.problems[:max_problems]]
            if n > max_problems:
                lines.append(f"  ... and {n - max_problems} more")
        return "\n".join(lines)


def check_dataset(path: str | Path, progress: bool = False) -> CheckReport:
    """Check a dataset folder completely, collecting every problem instead of raising.

    Decodes every file once, as :func:`load_dataset` with ``verify=True`` does, and also
    computes counts, the class pixel fractions, the class co-occurrence and the checksum.

    Parameters
    ----------
    path : str or Path
        The folder to check.
    progress : bool
        Show a progress bar while decoding.

    Returns
    -------
    CheckReport
        ``report.ok`` is True when no problem was found; ``report.to_text()`` prints it.
    """
    from heatsink.stats import cooccurrence

    root = Path(path).expanduser()
    scan = scan_folder(root)
    report = CheckReport(root=root, problems=list(scan.problems))
    if not (root.is_dir() and (root / "images").is_dir()):
        return report
    report.name = TWIN_NAME if scan.twin is not None else REAL_NAME
    report.n_images, report.n_masks, report.n_pairs = (
        len(scan.images),
        len(scan.labels),
        len(scan.ids),
    )
    report.has_truth = scan.truth is not None
    if scan.parts is not None:
        report.n_parts = int(scan.parts.nunique())
    verified = verify_files(scan, progress=progress)
    rows = []
    for image_id, result in verified.items():
        report.problems += result.problems
        if result.counts is not None:
            rows.append((image_id, *result.counts))
    report.problems += _odd_sizes(scan, verified)
    if rows:
        table = pd.DataFrame(rows, columns=["image_id", *CLASS_NAMES])
        totals = table[list(CLASS_NAMES)].sum()
        report.pixel_fractions = (totals / totals.sum()).rename("pixel fraction")
        # cooccurrence() only asks whether a class is present (count > 0), so pixel counts
        # serve as well as object counts here.
        report.cooccurrence = cooccurrence(
            table.rename(columns={"scratch": "scratch_count", "stain": "stain_count"})
        )
    try:
        report.checksum = checksum_from_hashes(file_hashes(root))
    except DatasetError as exc:
        report.problems.append((exc.path, exc.problem))
    except OSError as exc:
        report.problems.append((Path(exc.filename or root), f"cannot be read "
                                                            f"({exc.strerror or exc})"))
    return report


def _odd_sizes(scan, verified: dict) -> list:
    """Images that are not square, or not the size most of the dataset's images are: the
    line inspects frames of one size (a 319×320 frame is refused there, so here too)."""
    sizes = Counter(result.size for result in verified.values() if result.size is not None)
    if not sizes:
        return []
    common, _ = sizes.most_common(1)[0]
    problems = []
    for image_id, result in verified.items():
        if result.size is None:
            continue
        h, w = result.size
        if h != w or result.size != common:
            problems.append((scan.images[image_id],
                             f"is {h}×{w} (H×W); the dataset's images are {common[0]}×"
                             f"{common[1]}, and the line inspects square frames of one size"))
    return problems


__all__ = [
    "CheckReport",
    "check_dataset",
]
