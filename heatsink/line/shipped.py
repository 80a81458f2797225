"""The model shipped with the repository: what ``heatsink inspect`` uses without ``--model``.

It lives in the clone's ``models/`` folder (:data:`SHIPPED`), laid out as a training run
(``best.keras``, ``config.json``) with its model card (``README.md``): trained on the synthetic
twin only, it lets a newcomer inspect frames without training for hours first, and its card
says what it is not fit for.
"""

from __future__ import annotations

from pathlib import Path

from heatsink.errors import HeatsinkError

__all__ = ["SHIPPED", "shipped_model"]

#: The shipped model's folder name under the clone's ``models/``.
SHIPPED = "light-twin"


def shipped_model(root: str | Path | None = None) -> Path:
    """The shipped model's folder.

    Parameters
    ----------
    root : str or Path, optional
        The folder holding ``models/`` (default: the clone this package was imported from).

    Raises
    ------
    HeatsinkError
        If the folder has no ``config.json`` and ``best.keras`` (an installed package without
        its clone, or a checkout from before the model was shipped): one line, naming it.

    Examples
    --------
    >>> shipped_model().name
    'light-twin'
    """
    base = Path(root) if root is not None else Path(__file__).resolve().parents[2]
    folder = base / "models" / SHIPPED
    if not ((folder / "config.json").is_file() and (folder / "best.keras").is_file()):
        raise HeatsinkError(f"{folder}: no shipped model here (no config.json and best.keras); "
                            "pass --model RUN_OR_EXPORT")
    return folder
