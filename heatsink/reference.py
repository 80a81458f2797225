"""The published statistics of the real heat sink dataset (DatasetNinja).

The real images cannot be downloaded everywhere, but DatasetNinja published per-image and
per-object statistics of the full real dataset (``dataset-ninja/heat-sink-surface-defect-dataset``,
commit 021c1ac). This module loads them into tables with the same column names as
:mod:`heatsink.stats`, so the real figures and the synthetic twin's can be put side by side.

The files are looked up in a reference folder (see :func:`find_dir`); nothing here is
bundled with the package.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heatsink.classes import CLASS_NAMES
from heatsink.data.pipeline import NATIVE_SIZE
from heatsink.errors import DatasetError, HeatsinkError
from heatsink.stats import cooccurrence as _cooccurrence

#: Environment variable that points at the reference folder.
ENV_VAR = "HEATSINK_REFERENCE"
#: Relative location of the reference folder, searched upward from the cwd and the package.
RELATIVE = Path("shared") / "reference" / "datasetninja"

_IMAGE_COLUMNS = ["image_id", "scratch_count", "scratch_pct", "stain_count", "stain_pct"]
_OBJECT_COLUMNS = ["image_id", "class_name", "bbox_h", "bbox_w", "area_pct"]


def _candidates() -> list[Path]:
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    seen: list[Path] = []
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / RELATIVE
            if candidate not in seen:
                seen.append(candidate)
    return seen


def _checked(path: Path, given: str) -> Path:
    if not (path / "classes_per_image.json").is_file():
        raise HeatsinkError(
            f"{given} is not a DatasetNinja reference folder (no classes_per_image.json)"
        )
    return path


def find_dir(directory: str | Path | None = None) -> Path:
    """Locate the folder holding DatasetNinja's published statistics.

    Parameters
    ----------
    directory : str or Path, optional
        Use this folder. Otherwise ``$HEATSINK_REFERENCE``, otherwise the first
        ``shared/reference/datasetninja`` found walking upward from the current directory
        and from the package directory.

    Returns
    -------
    Path
        The reference folder (it contains ``classes_per_image.json``).

    Raises
    ------
    HeatsinkError
        If no such folder exists; the message lists where it looked.
    """
    if directory is not None:
        return _checked(Path(directory), str(directory))
    env = os.environ.get(ENV_VAR)
    if env:
        return _checked(Path(env), f"${ENV_VAR}={env}")
    looked = _candidates()
    for candidate in looked:
        if (candidate / "classes_per_image.json").is_file():
            return candidate
    listing = "\n  ".join(str(p) for p in looked)
    raise HeatsinkError(
        "DatasetNinja reference statistics not found. Set $"
        f"{ENV_VAR} to the folder, or place it at {RELATIVE}. Looked in:\n  {listing}"
    )


def _load(name: str, directory: str | Path | None) -> dict[str, Any]:
    path = find_dir(directory) / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(path, f"cannot read published statistics: {exc}") from exc


def _class_name(label: str) -> str:
    # DatasetNinja names the classes "scratch area" and "stain area".
    return label.replace(" area", "").strip()


def image_table(directory: str | Path | None = None) -> pd.DataFrame:
    """One row per real image, as :func:`heatsink.stats.image_table` computes for a mask set.

    Returns
    -------
    DataFrame
        ``image_id, scratch_count, scratch_pct, stain_count, stain_pct`` (1000 rows).
    """
    raw = _load("classes_per_image.json", directory)
    cols = raw["columns"]
    if cols[5:9] != ["scratch area", "scratch area", "stain area", "stain area"]:
        raise DatasetError(find_dir(directory) / "classes_per_image.json",
                           f"unexpected columns {cols}")
    rows = [
        (Path(r[0]).stem, int(r[5]), float(r[6]), int(r[7]), float(r[8])) for r in raw["data"]
    ]
    frame = pd.DataFrame(rows, columns=_IMAGE_COLUMNS)
    return frame.sort_values("image_id", ignore_index=True)


def objects_table(directory: str | Path | None = None) -> pd.DataFrame:
    """One row per real labelled object (connected component of one class).

    Returns
    -------
    DataFrame
        ``image_id, class_name`` ('scratch' or 'stain'), ``bbox_h, bbox_w`` (px) and
        ``area_pct`` (percent of the 320×320 image, rounded to 0.01 by DatasetNinja).
    """
    raw = _load("object_sizes.json", directory)
    rows = [
        (Path(r[2]).stem, _class_name(r[1]), int(r[4]), int(r[6]), float(r[8]))
        for r in raw["data"]
    ]
    return pd.DataFrame(rows, columns=_OBJECT_COLUMNS)


def smallest_objects(share: float = 0.01,
                     directory: str | Path | None = None) -> dict[str, int]:
    """Per defect class, the area (px of a 320² frame) under which ``share`` of the real
    labelled objects of that class lie: the size below which a labeller rarely drew one.

    The published areas are rounded to 0.01 % of the frame (about 10 px), so the figure is
    good to that step. On the published statistics, ``smallest_objects(0.01)`` is 82 px for
    scratches and 31 px for stains.
    """
    if not 0 <= share < 1:
        raise ValueError(f"share must be in [0, 1), not {share!r}")
    table = objects_table(directory)
    px = table["area_pct"] * NATIVE_SIZE**2 / 100  # the areas are % of a 320² frame
    return {name: round(float(np.quantile(px[table["class_name"] == name], share)))
            for name in CLASS_NAMES[1:]}


def cooccurrence(directory: str | Path | None = None) -> pd.Series:
    """Real images per class combination (``scratch only, stain only, both, neither``)."""
    return _cooccurrence(image_table(directory))


def pixel_composition(directory: str | Path | None = None) -> pd.Series:
    """Share of all real pixels (percent) per class, from the per-image pixel shares."""
    images = image_table(directory)
    scratch = float(images["scratch_pct"].mean())
    stain = float(images["stain_pct"].mean())
    return pd.Series(
        [100.0 - scratch - stain, scratch, stain], index=list(CLASS_NAMES), name="pixel %"
    )


def heatmap_png(directory: str | Path | None = None) -> Path:
    """Path of DatasetNinja's class heatmap figure (where defects sit in the frame)."""
    path = find_dir(directory) / "classes_heatmaps.png"
    if not path.is_file():
        raise DatasetError(path, "heatmap figure missing from the reference folder")
    return path


__all__ = [
    "ENV_VAR",
    "RELATIVE",
    "cooccurrence",
    "find_dir",
    "heatmap_png",
    "image_table",
    "objects_table",
    "pixel_composition",
    "smallest_objects",
]
