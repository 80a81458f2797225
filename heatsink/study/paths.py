"""Where the study's things live: the one module of the package that knows the repository.

The toolkit (everything outside :mod:`heatsink.study`) works on folders it is given; the
study's notebooks, results, trained models and example spec sit at the places named here.
The repository is found from this file only when the package runs from a clone
(``pip install -e .``, as ``make`` installs it); an installed copy has no repository, and
:func:`repo_dir` says so instead of pointing into site-packages.
"""

from __future__ import annotations

import os
from pathlib import Path

from heatsink.errors import HeatsinkError
from heatsink.resolve import cache_dir

#: Paths (git pathspecs, from the repository root) that a study run writes: changes to them
#: do not make the code a run records "dirty" (see :func:`heatsink.provenance.git_sha`).
STUDY_OUTPUTS = ("notebooks/*.ipynb", "results")


def repo_dir() -> Path:
    """The clone this package runs from.

    Raises
    ------
    HeatsinkError
        If the package does not sit in a clone of the study (an installed copy).
    """
    candidate = Path(__file__).resolve().parents[2]
    if not ((candidate / "_toc.yml").exists() and (candidate / "notebooks").is_dir()):
        raise HeatsinkError(f"{candidate} is not a clone of heatsink-study: the study's "
                            "notebooks and results live in the repository (git clone it)")
    return candidate


def notebook_dir() -> Path:
    """The study's notebooks: ``<repo>/notebooks``."""
    return repo_dir() / "notebooks"


def example_spec() -> Path:
    """The example inspection spec the study judges frames with: ``<repo>/specs/example.yaml``."""
    return repo_dir() / "specs" / "example.yaml"


def data_kind(ds_root: str | Path) -> str:
    """``"twin"`` for a synthetic twin (it has ``twin.json``), else ``"real"``."""
    return "twin" if (Path(ds_root) / "twin.json").exists() else "real"


def results_dir(ds_root: str | Path, base: str | Path | None = None) -> Path:
    """Folder for a run's small result files: ``<base>/twin`` or ``<base>/real``.

    ``base`` defaults to the repository's ``results/``. Twin results are committed with the
    book; results on the real data stay on the user's machine (``results/real`` is ignored
    by git).
    """
    return (Path(base) if base else repo_dir() / "results") / data_kind(ds_root)


def runs_dir(ds_root: str | Path, base: str | Path | None = None) -> Path:
    """Folder for the study's trained models: ``<base>/twin`` or ``<base>/real``.

    ``base`` defaults to ``HEATSINK_RUNS`` if set, else ``runs`` in the cache folder beside
    the twin (``~/.cache/heatsink/runs``). Trained weights are never committed, and keeping
    them outside the clone means a fresh clone, or a work tree laid anew, reuses them: the
    study's training takes many CPU hours and resumes across sessions.
    """
    if base is None:
        base = Path(os.environ.get("HEATSINK_RUNS") or cache_dir() / "runs")
    return Path(base).expanduser() / data_kind(ds_root)


__all__ = [
    "STUDY_OUTPUTS",
    "data_kind",
    "example_spec",
    "notebook_dir",
    "repo_dir",
    "results_dir",
    "runs_dir",
]
