"""Reading a twin's own records: the label-noise manifest and the part adjacency."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from heatsink.errors import DatasetError
from heatsink.synth.noise import ERROR_TYPES


def _read(root: str | Path, name: str) -> pd.DataFrame:
    path = Path(root) / name
    if not path.is_file():
        raise DatasetError(path, "is missing: only a synthetic twin has it")
    return pd.read_csv(path, dtype={"image_id": str})


def read_manifest(root: str | Path) -> pd.DataFrame:
    """The twin's ``noise_manifest.csv``: one row per injected label error."""
    return _read(root, "noise_manifest.csv")


def noise_summary(root: str | Path) -> pd.DataFrame:
    """Injected label errors per type: how many, in how many images, how many pixels.

    Returns
    -------
    DataFrame
        Indexed by error type (every type injected at a rate, zero rows included, then
        any other the manifest holds, such as ``faint_unlabelled``) plus ``any``; columns
        ``errors, images, pixels``.
    """
    manifest = read_manifest(root)
    summary = (
        manifest.groupby("error")
        .agg(errors=("image_id", "size"), images=("image_id", "nunique"),
             pixels=("pixels", "sum"))
        .reindex([*ERROR_TYPES, *sorted(set(manifest["error"]) - set(ERROR_TYPES))],
                 fill_value=0)
    )
    summary.loc["any"] = [len(manifest), manifest["image_id"].nunique(),
                          int(manifest["pixels"].sum())]
    return summary.astype(int)


def read_adjacency(root: str | Path) -> pd.DataFrame:
    """The twin's ``adjacency.csv``: each tile's part, row and column, and the part's shape."""
    return _read(root, "adjacency.csv")


def part_tiles(root: str | Path, part_id: int | None = None) -> pd.DataFrame:
    """The tiles of one part (default: the first of the largest parts), by row and column."""
    adjacency = read_adjacency(root)
    if part_id is None:
        sizes = adjacency.groupby("part_id")["image_id"].transform("size")
        part_id = adjacency.loc[sizes == sizes.max(), "part_id"].iloc[0]
    tiles = adjacency[adjacency["part_id"] == part_id]
    if tiles.empty:
        raise DatasetError(Path(root) / "adjacency.csv", f"has no part {part_id}")
    return tiles.sort_values(["row", "col"]).reset_index(drop=True)


__all__ = [
    "noise_summary",
    "part_tiles",
    "read_adjacency",
    "read_manifest",
]
