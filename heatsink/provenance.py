"""Run records: what ran, on which data, from which code, on which machine."""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from heatsink import hardware

#: Packages whose versions every run record lists.
KEY_PACKAGES = (
    "numpy",
    "pandas",
    "opencv-python-headless",
    "scikit-learn",
    "scikit-image",
    "tensorflow",
    "tf-keras",
    "segmentation-models",
)

PACKAGE_DIR = Path(__file__).resolve().parent

#: Environment variable naming paths (git pathspecs from the checkout's root, ``:``-separated)
#: whose changes do not count as uncommitted code: what a running job writes itself.
GIT_EXCLUDE_VARIABLE = "HEATSINK_GIT_EXCLUDE"


def git_sha(repo: str | Path | None = None, exclude: Sequence[str] | None = None) -> str:
    """The current commit, with ``-dirty`` appended when tracked files have uncommitted changes.

    Parameters
    ----------
    repo : path, optional
        A folder in the checkout (default: the package's own).
    exclude : sequence of str, optional
        Git pathspecs whose changes do not count (default: those in
        :data:`GIT_EXCLUDE_VARIABLE`): the outputs of the job being recorded, which it
        rewrites while it runs and which are what it produces, not the code it ran.

    Returns ``"unknown"`` outside a git checkout (e.g. an installed package).
    """
    if exclude is None:
        exclude = [p for p in os.environ.get(GIT_EXCLUDE_VARIABLE, "").split(":") if p]
    cwd = Path(repo) if repo else PACKAGE_DIR.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
             *(f":(exclude){p}" for p in exclude)],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def code_hash(directory: Path = PACKAGE_DIR) -> str:
    """sha256 over the Python sources below ``directory`` (default: the whole package).

    It changes exactly when the code does, whatever git knows of it.
    """
    digest = hashlib.sha256()
    for path in sorted(Path(directory).rglob("*.py")):
        digest.update(path.relative_to(directory).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of :data:`KEY_PACKAGES` (absent ones are left out)."""
    out = {}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def run_record(
    parameters: dict[str, object],
    dataset_name: str,
    dataset_checksum: str,
    dataset_path: str | Path | None = None,
) -> dict[str, object]:
    """A JSON-ready record of a run, to store with its outputs.

    Parameters
    ----------
    parameters : dict
        The run's parameters as given.
    dataset_name, dataset_checksum : str
        What data it ran on (see :func:`heatsink.data.dataset_checksum`).
    dataset_path : path, optional
        Where that data was; recorded for the user's benefit, not part of the identity.
    """
    return {
        "parameters": parameters,
        "dataset": {
            "name": dataset_name,
            "checksum": dataset_checksum,
            "path": str(dataset_path) if dataset_path else None,
        },
        "git_sha": git_sha(),
        "code_sha256": code_hash(),
        "hardware": hardware.describe(),
        "packages": package_versions(),
        "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }


__all__ = [
    "GIT_EXCLUDE_VARIABLE",
    "KEY_PACKAGES",
    "PACKAGE_DIR",
    "code_hash",
    "git_sha",
    "package_versions",
    "run_record",
]
