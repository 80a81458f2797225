"""Which dataset a run uses: a folder the user gives, the Kaggle download, or the twin.

Order: the ``data`` argument, then the ``HEATSINK_DATA`` environment variable, then the
default synthetic twin, generated once into the cache folder (``HEATSINK_CACHE``, default
``~/.cache/heatsink``) and reused. The twin's cache key includes a hash of the generator's
source, so a changed generator never serves a stale twin.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

DEFAULT_TWIN_SIZE = 1000
DEFAULT_TWIN_SEED = 0


def cache_dir() -> Path:
    """The folder for generated twins and converted weights (``HEATSINK_CACHE``)."""
    return Path(os.environ.get("HEATSINK_CACHE", Path.home() / ".cache" / "heatsink"))


def twin_path(n: int = DEFAULT_TWIN_SIZE, seed: int = DEFAULT_TWIN_SEED) -> Path:
    """Where the cached twin of ``n`` images and ``seed`` lives (it may not exist yet)."""
    from heatsink.provenance import PACKAGE_DIR, code_hash

    generator = code_hash(PACKAGE_DIR / "synth")[:10]
    return cache_dir() / "twins" / f"twin-n{n}-seed{seed}-{generator}"


def default_twin(
    n: int = DEFAULT_TWIN_SIZE, seed: int = DEFAULT_TWIN_SEED, progress: bool = True
) -> Path:
    """The default synthetic twin (default label noise), generated on first use.

    Generating it removes cached twins of the same size and seed from older generators.
    """
    from heatsink.synth import generate

    path = twin_path(n, seed)
    if not (path / "twin.json").exists():
        generate(path, n=n, seed=seed, overwrite=True, progress=progress)
        # twins of the same size and seed made by an older generator are stale now
        for old in path.parent.glob(f"twin-n{n}-seed{seed}-*"):
            if old != path and (old / "twin.json").exists():
                shutil.rmtree(old, ignore_errors=True)
    return path


def resolve_data(
    data: str | Path | None = None,
    *,
    n: int = DEFAULT_TWIN_SIZE,
    seed: int = DEFAULT_TWIN_SEED,
    progress: bool = True,
) -> Path:
    """The dataset folder a run should use.

    Parameters
    ----------
    data : str or Path, optional
        A dataset folder (real or twin), ``"kaggle"`` for the Kaggle download through
        kagglehub, ``"twin"`` or None for the default twin. When None, ``HEATSINK_DATA`` is
        used if set.
    n, seed : int
        Size and seed of the twin, when the twin is used.
    """
    if data is None or str(data) == "":
        data = os.environ.get("HEATSINK_DATA") or None
    if data is None or str(data) == "twin":
        return default_twin(n, seed, progress=progress)
    if str(data) == "kaggle":
        from heatsink.data.download import download

        return download()
    return Path(data).expanduser().resolve()


__all__ = [
    "DEFAULT_TWIN_SEED",
    "DEFAULT_TWIN_SIZE",
    "cache_dir",
    "default_twin",
    "resolve_data",
    "twin_path",
]
