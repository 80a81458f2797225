"""Fetching the real heat sink dataset from Kaggle through ``kagglehub``.

The dataset is Yang et al.'s heat sink surface defect dataset (IEEE TIM 2022), published
on Kaggle under CC BY-NC-SA 4.0. Without network access, or if Kaggle refuses the request,
:func:`download` fails within seconds and says how to place the data by hand.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from heatsink.data.layout import find_dataset_root, load_dataset
from heatsink.errors import DatasetError, HeatsinkError

KAGGLE_HANDLE = "kaifengyang/heat-sink-surface-defect-dataset"
KAGGLE_URL = f"https://www.kaggle.com/datasets/{KAGGLE_HANDLE}"

log = logging.getLogger(__name__)

MANUAL_STEPS = (
    f"To place the data by hand: download the zip from {KAGGLE_URL} "
    "(button 'Download'), unzip it, and pass the folder that holds images/ and labels/ "
    "as DATA=path (make), the HEATSINK_DATA environment variable, or --data path (CLI)."
)


@contextlib.contextmanager
def _kagglehub_cache(cache_dir: str | Path | None) -> Iterator[None]:
    """Point kagglehub's cache (``KAGGLEHUB_CACHE``, read per call) at ``cache_dir``."""
    if cache_dir is None:
        yield
        return
    old = os.environ.get("KAGGLEHUB_CACHE")
    os.environ["KAGGLEHUB_CACHE"] = str(Path(cache_dir).expanduser())
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("KAGGLEHUB_CACHE", None)
        else:
            os.environ["KAGGLEHUB_CACHE"] = old


def _cached_copy(cache_dir: str | Path | None) -> Path | None:
    """The newest complete version of the dataset already in kagglehub's cache, if any."""
    base = Path(
        cache_dir or os.environ.get("KAGGLEHUB_CACHE") or Path.home() / ".cache" / "kagglehub"
    ).expanduser()
    versions = base / "datasets" / KAGGLE_HANDLE / "versions"
    if not versions.is_dir():
        return None
    numbered = sorted(
        (p for p in versions.iterdir() if p.is_dir() and p.name.isdigit()),
        key=lambda p: int(p.name),
        reverse=True,
    )
    for version in numbered:
        root = find_dataset_root(version)
        if root is not None:
            return root
    return None


def _locate(downloaded: Path) -> Path:
    root = find_dataset_root(downloaded)
    if root is None:
        raise DatasetError(
            downloaded,
            "the Kaggle download holds no single folder with images/ and labels/; " + MANUAL_STEPS,
        )
    load_dataset(root, verify=False)
    return root


def download(cache_dir: str | Path | None = None, force: bool = False) -> Path:
    """Download the real dataset through kagglehub and return its folder.

    Parameters
    ----------
    cache_dir : str or Path, optional
        kagglehub's cache folder (sets ``KAGGLEHUB_CACHE`` for this call); default
        kagglehub's own (``~/.cache/kagglehub`` unless ``KAGGLEHUB_CACHE`` is set).
    force : bool
        Download again even if a copy is cached.

    Returns
    -------
    Path
        The folder holding ``images/`` and ``labels/`` (found inside the download, which
        kagglehub nests), after :func:`~heatsink.data.load_dataset` with ``verify=False``
        accepted it.

    Raises
    ------
    HeatsinkError
        Within seconds if Kaggle cannot be reached or refuses the download (no
        credentials, not found, ...), saying how to place the data by hand. When offline
        but a previous download is in the cache, that copy is returned instead (with a
        warning), unless ``force``.
    DatasetError
        If the download does not look like the dataset.
    """
    import kagglehub

    # kagglehub 1.0 makes no retries and uses a 5 s connect timeout (clients.py), so an
    # offline machine fails here within seconds (0.5 s when DNS fails at once).
    try:
        with _kagglehub_cache(cache_dir):
            downloaded = kagglehub.dataset_download(KAGGLE_HANDLE, force_download=force)
    except Exception as exc:  # kagglehub raises requests, OS and its own errors
        reason = f"kagglehub could not download {KAGGLE_HANDLE} ({exc.__class__.__name__}: {exc})"
    else:
        return _locate(Path(downloaded))
    cached = None if force else _cached_copy(cache_dir)
    if cached is not None:
        log.warning("%s; using the copy cached at %s", reason, cached)
        return _locate(cached)
    raise HeatsinkError(f"Cannot download the heat sink dataset: {reason}. {MANUAL_STEPS}")


__all__ = [
    "KAGGLE_HANDLE",
    "KAGGLE_URL",
    "MANUAL_STEPS",
    "download",
    "log",
]
