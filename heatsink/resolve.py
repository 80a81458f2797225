"""Which dataset a run uses: a folder the user gives, the Kaggle download, or the twin.

Order: the ``data`` argument, then the ``HEATSINK_DATA`` environment variable, then the
default synthetic twin, generated once into the cache folder (``HEATSINK_CACHE``, default
``~/.cache/heatsink``) and reused. The twin's cache key includes a hash of the generator's
source (:func:`generator_hash`), so a changed generator never serves a stale twin, and a
change to code that only measures twins leaves the cached one in place.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_TWIN_SIZE = 1000
DEFAULT_TWIN_SEED = 0
#: Modules of :mod:`heatsink.synth` that measure twins and real frames but make no pixel of a
#: twin: left out of :func:`generator_hash`.
MEASURING_MODULES = ("__init__.py", "appearance.py", "calibration.py", "contrast.py",
                     "drawn_labels.py", "real_frames.py")
#: Modules outside :mod:`heatsink.synth` that the generator calls: part of the hash.
GENERATOR_HELPERS = ("classes.py", "components.py", "objects.py")


def generator_hash() -> str:
    """sha256 over the sources that make a twin: :mod:`heatsink.synth` but
    :data:`MEASURING_MODULES`, and :data:`GENERATOR_HELPERS`.

    >>> len(generator_hash())
    64
    """
    import hashlib

    from heatsink.provenance import PACKAGE_DIR

    synth = PACKAGE_DIR / "synth"
    files = [p for p in sorted(synth.rglob("*.py")) if p.relative_to(synth).as_posix()
             not in MEASURING_MODULES] + [PACKAGE_DIR / name for name in GENERATOR_HELPERS]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_dir() -> Path:
    """The folder for generated twins and converted weights (``HEATSINK_CACHE``)."""
    return Path(os.environ.get("HEATSINK_CACHE", Path.home() / ".cache" / "heatsink"))


def twin_path(n: int = DEFAULT_TWIN_SIZE, seed: int = DEFAULT_TWIN_SEED) -> Path:
    """Where the cached twin of ``n`` images and ``seed`` lives (it may not exist yet)."""
    return cache_dir() / "twins" / f"twin-n{n}-seed{seed}-{generator_hash()[:10]}"


def default_twin(
    n: int = DEFAULT_TWIN_SIZE, seed: int = DEFAULT_TWIN_SEED, progress: bool = True
) -> Path:
    """The default synthetic twin (default label noise), generated on first use.

    Twins of the same size and seed from other generators are left in the cache, and named
    on standard error when a new one is made: a run started with other code (a training in
    another checkout) may still be reading one, and deleting it under that run would fail
    it hours in. Delete them by hand when no run reads them.
    """
    from heatsink.io import exclusive_folder
    from heatsink.synth import generate

    path = twin_path(n, seed)
    if (path / "twin.json").exists():
        return path
    # two processes starting on a machine without the twin (a training and a notebook, two
    # test workers): one generates, the other waits for it instead of replacing the twin
    # under it when it finishes
    with exclusive_folder(path.parent, "generating the default twin", wait=True):
        if (path / "twin.json").exists():
            return path
        generate(path, n=n, seed=seed, overwrite=True, progress=progress)
        others = sorted(old.name for old in path.parent.glob(f"twin-n{n}-seed{seed}-*")
                        if old != path and (old / "twin.json").exists())
        if others:
            print(f"heatsink: twins of other generators left in {path.parent} (a run may still "
                  f"read them; delete them by hand when none does): {', '.join(others)}",
                  file=sys.stderr)
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
    "GENERATOR_HELPERS",
    "MEASURING_MODULES",
    "cache_dir",
    "default_twin",
    "generator_hash",
    "resolve_data",
    "twin_path",
]
