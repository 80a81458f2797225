"""A content checksum of a dataset folder, to record which data a result was computed on.

The checksum covers the files a model sees (``images/`` and ``labels/``) and nothing else:
it does not depend on modification times, on file order on disk, or on extra folders such
as ``truth/`` or ``jsons/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from heatsink.errors import DatasetError
from heatsink.io import file_sha256

if TYPE_CHECKING:
    from heatsink.data.layout import Dataset

#: The folders whose files the checksum covers, relative to the dataset root.
CHECKSUM_FOLDERS: tuple[str, ...] = ("images", "labels")


def checksum_files(root: str | Path) -> list[Path]:
    """The files the checksum covers: every regular, non-hidden file directly inside
    ``images/`` and ``labels/`` (whatever its extension), sorted by relative path."""
    root = Path(root)
    files = []
    for folder in CHECKSUM_FOLDERS:
        if (root / folder).is_dir():
            files += [
                p for p in (root / folder).iterdir() if p.is_file() and not p.name.startswith(".")
            ]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def file_hashes(root: str | Path, files: Iterable[Path] | None = None) -> dict[str, str]:
    """SHA-256 of every checksummed file, keyed by its POSIX path relative to ``root``.

    Raises
    ------
    DatasetError
        If a file cannot be read.
    """
    root = Path(root)
    hashes = {}
    for path in checksum_files(root) if files is None else files:
        try:
            hashes[path.relative_to(root).as_posix()] = file_sha256(path)
        except OSError as exc:
            raise DatasetError(path, f"cannot be read ({exc.strerror or exc})") from None
    return hashes


def checksum_from_hashes(hashes: dict[str, str]) -> str:
    """Combine per-file hashes into the dataset checksum (see :func:`dataset_checksum`)."""
    lines = "".join(f"{rel}  {sha}\n" for rel, sha in sorted(hashes.items()))
    # a file name that is not UTF-8 enters with its own bytes (surrogateescape)
    return hashlib.sha256(lines.encode("utf-8", "surrogateescape")).hexdigest()


def dataset_checksum(path_or_ds: str | Path | Dataset) -> str:
    """SHA-256 checksum of a dataset's ``images/`` and ``labels/`` files.

    Definition: for every regular, non-hidden file directly inside ``images/`` and
    ``labels/`` (any extension), form the line ``"<relative/path>  <sha256 of the file>\\n"``
    where the relative path uses forward slashes (e.g. ``images/0001.bmp``) and the file
    hash is lower-case hex; sort the lines by relative path, concatenate them and take the
    SHA-256 (lower-case hex) of the UTF-8 bytes. Modification times, file order on disk and
    any other folder or file (``truth/``, ``jsons/``, ``adjacency.csv``, ``twin.json``, ...)
    do not enter it, so a copy of the data has the same checksum as the original.

    Parameters
    ----------
    path_or_ds : str, Path or Dataset
        A dataset folder, or a loaded :class:`~heatsink.data.Dataset` (whose cached
        checksum is returned).

    Returns
    -------
    str
        64 hex characters.

    Raises
    ------
    DatasetError
        If the folder has no ``images/`` folder or a file cannot be read.
    """
    if hasattr(path_or_ds, "checksum") and hasattr(path_or_ds, "root"):
        return path_or_ds.checksum
    root = Path(path_or_ds).expanduser()
    if not (root / "images").is_dir():
        raise DatasetError(root, "has no images/ folder, so there is no dataset to checksum")
    return checksum_from_hashes(file_hashes(root))


__all__ = [
    "CHECKSUM_FOLDERS",
    "checksum_files",
    "checksum_from_hashes",
    "dataset_checksum",
    "file_hashes",
]
