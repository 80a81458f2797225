"""Exceptions with messages a user can act on."""

from __future__ import annotations

from pathlib import Path


class HeatsinkError(Exception):
    """Base class for every error this package raises on purpose."""


class DatasetError(HeatsinkError, ValueError):
    """A dataset file or folder is missing, unreadable or inconsistent.

    Parameters
    ----------
    path : str or Path
        The file or folder at fault.
    problem : str
        What is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


__all__ = [
    "DatasetError",
    "HeatsinkError",
]
