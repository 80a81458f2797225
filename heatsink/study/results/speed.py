"""The line-speed result files: tables per model and engine, and the machine they ran on.

Written to ``<results>/speed/``: one CSV per table of :data:`SPEED_TABLES` and
``machine.json``, the hardware line of the measurement (CPU model, cores, SIMD flags, the
measured matmul peaks and the load average before and after measuring, so that figures
taken on a loaded machine say so in the record). Every file is written atomically, the
machine last: a ``machine.json`` is never older than the tables beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from heatsink.errors import HeatsinkError
from heatsink.io import atomic_path, write_text_atomic

#: The speed chapter's tables, each in ``<results>/speed/<name>.csv``.
SPEED_TABLES = ("models", "timing", "speed", "agreement", "quality", "paired",
                "seeds", "engine_quality")
#: The hardware line beside them.
MACHINE_FILE = "machine.json"
#: A 1-minute load average above this (per core) marks a measurement as taken under load.
LOADED_PER_CORE = 0.25


def speed_file(directory: str | Path, table: str) -> Path:
    """Where the speed table ``table`` (one of :data:`SPEED_TABLES`) is kept.

    Examples
    --------
    >>> speed_file("results/twin", "speed").as_posix()
    'results/twin/speed/speed.csv'
    """
    if table not in SPEED_TABLES:
        raise HeatsinkError(f"unknown speed table {table!r}; the tables are {SPEED_TABLES}")
    return Path(directory) / "speed" / f"{table}.csv"


def was_loaded(machine: dict[str, Any]) -> bool:
    """Whether a recorded measurement shared the CPU: other processes used more than
    :data:`LOADED_PER_CORE` of each core while it ran (``other_cores``), or, where that was
    not recorded, the 1-minute load average before it was above that. Load averages count
    the measurement's own threads too, which keep every core busy while they time, so the
    one after it is no guide.

    Examples
    --------
    >>> was_loaded({"cores": 2, "load_before": 0.6, "load_after": 2.0, "other_cores": 0.02})
    False
    >>> was_loaded({"cores": 2, "load_before": 0.6, "load_after": 2.9, "other_cores": 1.1})
    True
    >>> was_loaded({"cores": 2, "load_before": 2.7, "load_after": 2.9})
    True
    """
    cores = machine.get("cores") or 1
    measure = machine.get("other_cores", machine.get("load_before"))
    return measure is not None and measure > LOADED_PER_CORE * cores


def save_speed_results(directory: str | Path, tables: dict[str, pd.DataFrame],
                       machine: dict[str, Any]) -> list[Path]:
    """Write the speed tables (names from :data:`SPEED_TABLES`) and ``machine.json``.

    Returns the paths written, the machine's last.
    """
    for name in tables:
        speed_file(directory, name)  # an unknown name fails before anything is written
    paths = []
    for name, frame in tables.items():
        path = speed_file(directory, name)
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
        paths.append(path)
    path = Path(directory) / "speed" / MACHINE_FILE
    write_text_atomic(path, json.dumps({**machine, "loaded": was_loaded(machine)}, indent=2,
                                       default=str) + "\n")
    paths.append(path)
    return paths


def load_speed_results(directory: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The saved speed tables (those present) and the machine they were measured on.

    Raises
    ------
    HeatsinkError
        If no speed results were saved under ``directory``.
    """
    machine_file = Path(directory) / "speed" / MACHINE_FILE
    if not machine_file.exists():
        raise HeatsinkError(f"{machine_file}: no speed results saved (run the speed chapter)")
    tables = {name: pd.read_csv(speed_file(directory, name)) for name in SPEED_TABLES
              if speed_file(directory, name).exists()}
    return tables, json.loads(machine_file.read_text())


__all__ = [
    "LOADED_PER_CORE",
    "MACHINE_FILE",
    "SPEED_TABLES",
    "load_speed_results",
    "save_speed_results",
    "speed_file",
    "was_loaded",
]
