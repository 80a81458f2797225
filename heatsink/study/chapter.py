"""What every chapter opens with: its data, split, result and run folders, in one call.

>>> chapter = open_chapter(data, results, runs)  # doctest: +SKIP
>>> chapter.ds, chapter.split, chapter.ids["val"]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from heatsink.data import Dataset, load_dataset, load_split, make_split, save_split
from heatsink.errors import DatasetError
from heatsink.resolve import resolve_data
from heatsink.study.paths import results_dir, runs_dir

#: The splits of the study, in order.
SPLITS = ("train", "val", "test")


def study_split(ds: Dataset, directory: str | Path, seed: int = 0) -> pd.DataFrame:
    """The study's split of ``ds``: loaded from ``directory/split.csv`` or made and saved.

    On the twin the split keeps the tiles of one part together (``ds.parts``), because tiles
    that share a seam are near-duplicates along it; on data without part information it is a
    plain seeded random split, as in the seed study. A saved manifest is verified against the
    dataset's file hashes; one made for other data is replaced (the split is a deterministic
    function of the data and the seed), never silently reused.
    """
    path = Path(directory) / "split.csv"
    if path.exists():
        try:
            return load_split(path, ds)
        except DatasetError as err:
            print(f"{path} was made for other data ({err.problem}); making it anew")
    split = make_split(ds, seed=seed, groups=ds.parts)
    save_split(split, path)
    return split


@dataclass
class Chapter:
    """A chapter's inputs.

    Attributes
    ----------
    ds : Dataset
        The data (the default twin unless the chapter's ``data`` parameter names another).
    results_dir, runs_dir : Path
        Where the chapter's result files and trained models go.
    split : DataFrame
        The study's split (:func:`study_split`).
    ids : dict
        Image ids of each split, by split name.
    """

    ds: Dataset
    results_dir: Path
    runs_dir: Path
    split: pd.DataFrame
    ids: dict[str, list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The data's name, as the chapter's figures say it."""
        return self.ds.name


def open_chapter(data: str | Path | None = None, results: str | Path | None = None,
                 runs: str | Path | None = None, theme: bool = True) -> Chapter:
    """Resolve a chapter's data and folders from its papermill parameters.

    Parameters
    ----------
    data : path, optional
        The ``data`` parameter (:func:`heatsink.resolve.resolve_data`: None is the default
        twin).
    results, runs : path, optional
        The ``results`` and ``runs`` parameters (None: :func:`heatsink.study.paths.results_dir`
        and :func:`~heatsink.study.paths.runs_dir` of the data).
    theme : bool
        Set the book's seaborn theme for the chapter's figures.
    """
    if theme:
        import seaborn as sns

        sns.set_theme(style="whitegrid", context="notebook")
    ds = load_dataset(resolve_data(data))
    out = Path(results).expanduser() if results else results_dir(ds.root)
    models = Path(runs).expanduser() if runs else runs_dir(ds.root)
    split = study_split(ds, out)
    ids = {part: split.loc[split["split"] == part, "image_id"].astype(str).tolist()
           for part in SPLITS}
    return Chapter(ds=ds, results_dir=out, runs_dir=models, split=split, ids=ids)


__all__ = ["SPLITS", "Chapter", "open_chapter", "study_split"]
