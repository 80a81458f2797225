"""Unfinished training runs parked with the results, so that a session on a new machine
resumes them instead of starting again.

The plan's runs (:mod:`heatsink.study.plan`) train in the study's runs folder, outside the
repository, and a run of the GSLU-style net takes longer than a working session: when the
next session starts on another machine, the runs folder is gone and with it every epoch
trained. :func:`park_run` copies what a resume needs of an unfinished run into
``<results>/parked/<name>/`` (:func:`parked_dir`), which is committed: its configuration,
provenance and learning curve, the best epoch so far (``best.json``, and ``best.keras``
without the optimiser's state) and Keras's resume state (``backup/``: the weights, the
optimiser's state and the epoch reached). :func:`restore_run` puts it back into a runs
folder, where :func:`heatsink.train.train` resumes it after its last finished epoch, as it
would on the machine that trained it.

Only a run whose copy weighs at most :data:`PARK_LIMIT_MB` in all is parked (the GSLU-style
net: about 5 MB, the light net: about 18 MB; a U-Net with its optimiser's state weighs
hundreds): a larger one resumes only on the machine that trained it. No parked file is larger
than :data:`PART_MB`, which keeps every file the repository tracks under its 5 MiB limit: a
larger one (the light net's resume state is one file of 13.5 MB) is parked as numbered parts,
``<name>.part000``, ``<name>.part001``, ..., which ``parked.json`` lists and :func:`restore_run`
joins again.
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

#: The parked runs' folder under the results folder.
PARKED_FOLDER = "parked"
#: The largest copy parked, in MB.
PARK_LIMIT_MB = 24.0
#: The largest file parked, in MB (binary: 2**20 bytes); a larger one is parked in parts.
PART_MB = 4.0
#: What :func:`park_run` says of the copy.
NOTE_FILE = "parked.json"
#: The files of an unfinished run that are parked (with ``backup/`` and ``best.keras``).
STATE_FILES = ("config.json", "record.json", "split.csv", "history.csv", "best.json")


def parked_dir(results_dir: str | Path) -> Path:
    """Where the parked runs are: ``<results>/parked``.

    >>> parked_dir("results/twin").as_posix()
    'results/twin/parked'
    """
    return Path(results_dir) / PARKED_FOLDER


def epochs_done(run_dir: str | Path) -> int:
    """Epochs in a run folder's learning curve (an epoch redone after an interruption counts
    once).

    >>> epochs_done("no/such/run")
    0
    """
    import pandas as pd

    history = Path(run_dir) / "history.csv"
    if not history.is_file():
        return 0
    try:
        return int(pd.read_csv(history)["epoch"].nunique())
    except (ValueError, KeyError, OSError, pd.errors.EmptyDataError):
        return 0


def _resumable(run_dir: Path) -> bool:
    """Whether ``run_dir`` is an unfinished run with a resume state and finished epochs."""
    return ((run_dir / "record.json").is_file() and not (run_dir / "metrics.json").exists()
            and not (run_dir / "fitted.json").exists()
            and any((run_dir / "backup").rglob("*.index")) and epochs_done(run_dir) > 0)


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def part_name(name: str, index: int) -> str:
    """The name of part ``index`` of a file parked in parts.

    >>> part_name("backup/chief/ckpt-3.data-00000-of-00001", 2)
    'backup/chief/ckpt-3.data-00000-of-00001.part002'
    """
    return f"{name}.part{index:03d}"


def split_large_files(folder: Path, part_mb: float = PART_MB) -> dict[str, int]:
    """Split every file under ``folder`` larger than ``part_mb`` into parts of that size
    (:func:`part_name`), in place; the number of parts of each file split, by its path
    relative to ``folder``.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "big.bin").write_bytes(bytes(range(10)))
    >>> _ = (folder / "small.txt").write_text("ok")
    >>> split_large_files(folder, part_mb=4 / 2**20)
    {'big.bin': 3}
    >>> sorted(p.name for p in folder.iterdir())
    ['big.bin.part000', 'big.bin.part001', 'big.bin.part002', 'small.txt']
    >>> join_parts(folder, {"big.bin": 3}); (folder / "big.bin").read_bytes() == bytes(range(10))
    True
    """
    size = max(1, int(part_mb * 2**20))
    parts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.stat().st_size <= size:
            continue
        name = path.relative_to(folder).as_posix()
        with path.open("rb") as whole:
            n = 0
            while chunk := whole.read(size):
                (folder / part_name(name, n)).write_bytes(chunk)
                n += 1
        path.unlink()
        parts[name] = n
    return parts


def join_parts(folder: Path, parts: dict[str, int]) -> None:
    """Join the files :func:`split_large_files` split under ``folder``, in place.

    Raises
    ------
    HeatsinkError
        If a part is missing (nothing is then joined of that file).
    """
    for name, n in parts.items():
        pieces = [folder / part_name(name, i) for i in range(int(n))]
        missing = [p.name for p in pieces if not p.is_file()]
        if missing or not pieces:
            raise HeatsinkError(f"{folder / name}: parked in {n} parts, "
                                f"{', '.join(missing) or 'none'} missing")
        with (folder / name).open("wb") as whole:
            for piece in pieces:
                whole.write(piece.read_bytes())
        for piece in pieces:
            piece.unlink()


def park_run(run_dir: str | Path, dest: str | Path, limit_mb: float = PARK_LIMIT_MB,
             study_split: str | Path | None = None, part_mb: float = PART_MB) -> float | None:
    """Copy the unfinished run ``run_dir`` into ``dest`` if the copy weighs at most
    ``limit_mb``; its size in MB, or None if it is larger (nothing is then written).

    The copy is made in a new folder beside ``dest`` and then put in its place (an earlier
    copy is replaced); ``run_dir`` is only read. A ``split.csv`` that is byte for byte
    ``study_split`` is not copied: ``parked.json`` names it instead. A file larger than
    ``part_mb`` is parked in parts (:func:`split_large_files`), which ``parked.json`` lists.

    Raises
    ------
    HeatsinkError
        If ``run_dir`` is not an unfinished run with a finished epoch and a resume state,
        or ``dest`` is inside it.
    """
    from heatsink.models.run import Run
    from heatsink.study.kept import files_to_copy, staging_beside

    run_dir, dest = Path(run_dir), Path(dest)
    if not _resumable(run_dir):
        raise HeatsinkError(f"{run_dir}: not an unfinished run with a finished epoch and its "
                            "resume state; nothing was parked")
    if dest.resolve().is_relative_to(run_dir.resolve()):
        raise HeatsinkError(f"{dest}: cannot park a run inside its own folder")
    staging = staging_beside(dest)
    try:
        names, shared = files_to_copy(run_dir, STATE_FILES, study_split)
        for name in names:
            shutil.copy2(run_dir / name, staging / name)
        shutil.copytree(run_dir / "backup", staging / "backup")
        if (run_dir / "best.keras").is_file():
            # loaded uncompiled: saved without the optimiser's state, which a resume takes
            # from backup/, not from here
            Run.load(run_dir).model("best").save(staging / "best.keras")
        size = _folder_mb(staging)
        if size > limit_mb:
            shutil.rmtree(staging, ignore_errors=True)
            return None
        parts = split_large_files(staging, part_mb)
        note = {"source": f"{run_dir.parent.name}/{run_dir.name}",
                "parked": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "epochs": epochs_done(run_dir),
                "split": (Path(os.path.relpath(Path(study_split).resolve(), dest.resolve()))
                          .as_posix() if shared else "split.csv"),
                "mb": round(size, 2), "parts": parts}
        (staging / NOTE_FILE).write_text(json.dumps(note, indent=2) + "\n")
        swap_folder(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return size


def restore_run(parked: str | Path, run_dir: str | Path) -> Path:
    """Put the parked run ``parked`` back at ``run_dir``, to resume there.

    ``run_dir`` must be missing, empty, or an unfinished run with fewer finished epochs; such
    a run is moved aside to ``<run_dir>.superseded-<time>`` (never deleted). ``parked`` is
    only read.

    Returns
    -------
    Path
        ``run_dir``.

    Raises
    ------
    HeatsinkError
        If ``parked`` is not a parked run, or ``run_dir`` holds a finished run or one with
        as many epochs or more.
    """
    parked, run_dir = Path(parked), Path(run_dir)
    note_file = parked / NOTE_FILE
    if not note_file.is_file():
        raise HeatsinkError(f"{parked}: not a parked run (no {NOTE_FILE})")
    try:
        note = json.loads(note_file.read_text())
        split_name = str(note["split"])
        parts = {str(k): int(v) for k, v in note.get("parts", {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise HeatsinkError(f"{note_file}: not a parked run's note (JSON with its split)"
                            ) from None
    there = run_dir.is_dir() and any(run_dir.iterdir())
    if there:
        if (run_dir / "metrics.json").exists() or (run_dir / "fitted.json").exists():
            raise HeatsinkError(f"{run_dir}: holds a finished run; the parked copy "
                                f"{parked} was not restored")
        if epochs_done(run_dir) >= epochs_done(parked):
            raise HeatsinkError(f"{run_dir}: has trained as far as the parked copy "
                                f"{parked}; it was not restored")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
    try:
        for entry in parked.iterdir():
            if entry.name == NOTE_FILE:
                continue
            if entry.is_dir():
                shutil.copytree(entry, staging / entry.name)
            else:
                shutil.copy2(entry, staging / entry.name)
        join_parts(staging, parts)
        if not (staging / "split.csv").exists():
            split = (parked / split_name).resolve()
            if not split.is_file():
                raise HeatsinkError(f"{parked}: its split {split_name} is missing")
            shutil.copy2(split, staging / "split.csv")
        if there:
            os.replace(run_dir, run_dir.with_name(
                f"{run_dir.name}.superseded-{time.strftime('%Y%m%dT%H%M%S')}"))
        elif run_dir.exists():
            run_dir.rmdir()
        os.replace(staging, run_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return run_dir


def drop_parked(results_dir: str | Path, name: str) -> bool:
    """Remove the parked copy of the run ``name`` (once the run is finished and kept);
    whether there was one."""
    folder = parked_dir(results_dir) / name
    if not (folder / NOTE_FILE).is_file():
        return False
    shutil.rmtree(folder)
    return True


__all__ = ["NOTE_FILE", "PARKED_FOLDER", "PARK_LIMIT_MB", "PART_MB", "STATE_FILES",
           "drop_parked", "epochs_done", "join_parts", "park_run", "parked_dir", "part_name",
           "restore_run", "split_large_files"]
