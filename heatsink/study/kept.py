"""Finished training runs kept with the results, so that a new machine need not train them
again.

A run folder (:mod:`heatsink.models.run`) lives in the study's runs folder, outside the
repository: its checkpoints weigh up to 390 MB (the ResNet50 U-Net with Adam's state), and
training the plan takes days of a two-core CPU, spread over sessions that may each start on a
new machine. What the book reads of a finished run is small: its configuration and provenance,
its learning curve, and its validation scores image by image. :func:`keep_run` copies those
into ``<results>/plan/<name>/`` (:func:`kept_dir`), which is committed, together with the best
model without the optimiser's state when it is small enough (the GSLU-style and light nets:
about a megabyte), so that the training plan (:mod:`heatsink.study.plan`) counts the run as
done wherever the repository is cloned. A kept run opens with
:meth:`heatsink.models.Run.load` like any run; only a large model is missing, and
:func:`has_model` says so before anything asks for it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from heatsink.errors import HeatsinkError
from heatsink.io import swap_folder

#: The files of a finished run that are kept (with every ``val-per-image-<reference>.csv``).
RECORD_FILES = ("config.json", "record.json", "split.csv", "best.json", "history.csv",
                "metrics.json", "confusion.csv")
#: The largest model kept with its run, in MB (without the optimiser's state).
MODEL_LIMIT_MB = 8.0
#: The kept runs' folder under the results folder.
KEPT_FOLDER = "plan"
#: What :func:`keep_run` says of the copy.
NOTE_FILE = "kept.json"


def kept_dir(results_dir: str | Path) -> Path:
    """Where the kept runs are: ``<results>/plan``.

    >>> kept_dir("results/twin").as_posix()
    'results/twin/plan'
    """
    return Path(results_dir) / KEPT_FOLDER


def has_model(path: str | Path) -> bool:
    """Whether the run folder ``path`` holds its best model (a kept large model does not)."""
    return (Path(path) / "best.keras").is_file()


def same_copy(run_dir: str | Path, dest: str | Path) -> bool:
    """Whether ``dest`` already keeps the finished run ``run_dir`` (its scores unchanged)."""
    mine, kept = Path(run_dir) / "metrics.json", Path(dest) / "metrics.json"
    return kept.is_file() and mine.is_file() and kept.read_bytes() == mine.read_bytes()


def staging_beside(dest: Path) -> Path:
    """A new empty folder beside ``dest``, where a copy is made before it takes ``dest``'s
    place (:func:`heatsink.io.swap_folder`)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    os.chmod(staging, 0o755)  # mkdtemp's 0700 is for secrets; this is a results folder
    return staging


def files_to_copy(run_dir: Path, names: tuple[str, ...],
                  study_split: str | Path | None) -> tuple[list[str], bool]:
    """Which of ``names`` the run folder ``run_dir`` holds and a copy of it takes, and whether
    its ``split.csv`` is byte for byte the study's split ``study_split``, which the copy then
    names in its note instead of holding it."""
    split = run_dir / "split.csv"
    shared = (study_split is not None and Path(study_split).is_file() and split.is_file()
              and Path(study_split).read_bytes() == split.read_bytes())
    return [n for n in names if (run_dir / n).is_file()
            and not (shared and n == "split.csv")], shared


def keep_run(run_dir: str | Path, dest: str | Path,
             model_limit_mb: float = MODEL_LIMIT_MB,
             study_split: str | Path | None = None) -> Path:
    """Copy the finished run ``run_dir`` into ``dest``: its record (:data:`RECORD_FILES`, the
    per-image scores) and, if it weighs at most ``model_limit_mb`` without the optimiser's
    state, its best model.

    A run's ``split.csv`` (1000 rows on the twin) that is byte for byte ``study_split``, the
    study's split which every plan run shares, is not copied again: ``kept.json`` names it
    (``"split"``) instead.

    The copy is made in a new folder beside ``dest`` and then put in its place, so a reader
    sees the old copy or the new one, never half of one; ``run_dir`` is only read.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    HeatsinkError
        If ``run_dir`` holds no finished run, or ``dest`` is inside it.
    """
    from heatsink.models.run import Run
    from heatsink.models.run import per_image_file as _per_image

    run_dir, dest = Path(run_dir), Path(dest)
    run = Run.load(run_dir)
    if not run.finished:
        raise HeatsinkError(f"{run_dir}: not a finished run (no validation scores yet); "
                            "nothing was kept")
    if dest.resolve().is_relative_to(run_dir.resolve()):
        raise HeatsinkError(f"{dest}: cannot keep a run inside its own folder")
    staging = staging_beside(dest)
    try:
        names, shared = files_to_copy(run_dir, RECORD_FILES, study_split)
        names += sorted(p.name for p in run_dir.glob(_per_image(".", "*").name))
        for name in names:
            shutil.copy2(run_dir / name, staging / name)
        model_mb = _keep_model(run, staging / "best.keras", model_limit_mb)
        # paths as a clone reads them: the run's name under its runs folder, the split
        # relative to the copy (the machine's own folders say nothing elsewhere)
        note = {"source": f"{run_dir.parent.name}/{run_dir.name}",
                "kept": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "model": "best.keras" if model_mb is not None else None,
                "model_limit_mb": model_limit_mb,
                "split": (Path(os.path.relpath(Path(study_split).resolve(), dest.resolve()))
                          .as_posix() if shared else "split.csv")}
        if model_mb is not None:
            note["model_mb"] = round(model_mb, 2)
        (staging / NOTE_FILE).write_text(json.dumps(note, indent=2) + "\n")
        swap_folder(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _keep_model(run, target: Path, limit_mb: float) -> float | None:
    """Save the run's best model without the optimiser's state to ``target`` if it is no
    larger than ``limit_mb``; its size in MB, or None if not kept."""
    source = run.path / "best.keras"
    if not source.is_file():
        return None
    parameters = _parameters(run.path)
    if parameters is not None and parameters * 4 / 2**20 > limit_mb:
        return None  # float32 weights alone exceed the limit: no need to load the model
    run.model("best").save(target)  # loaded uncompiled: no optimiser state is written
    size = target.stat().st_size / 2**20
    if size > limit_mb:
        target.unlink()
        return None
    return size


def _parameters(run_dir: Path) -> int | None:
    """The run's parameter count from its ``metrics.json``, or None if it does not say."""
    try:
        value = json.loads((run_dir / "metrics.json").read_text()).get("parameters")
    except (OSError, ValueError):
        return None
    return int(value) if isinstance(value, int | float) else None


__all__ = ["KEPT_FOLDER", "MODEL_LIMIT_MB", "NOTE_FILE", "RECORD_FILES", "files_to_copy",
           "has_model", "keep_run", "kept_dir", "same_copy", "staging_beside"]
