"""Train/validation/test splits: deterministic, recorded with file hashes, verifiable.

A split is a table with one row per image: ``image_id, split, image_sha256,
label_sha256``. The hashes pin the split to the exact files it was made on, so
:func:`load_split` can refuse a split that no longer matches the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from heatsink.data.layout import Dataset
from heatsink.errors import DatasetError
from heatsink.io import atomic_path

SPLITS: tuple[str, ...] = ("train", "val", "test")
SPLIT_COLUMNS: list[str] = ["image_id", "split", "image_sha256", "label_sha256"]


def _targets(n: int, fractions: Sequence[float]) -> list[int]:
    """Exact split sizes: train and val rounded half up, test takes the rest."""
    if len(fractions) != len(SPLITS) or any(f < 0 for f in fractions):
        raise ValueError(f"fractions must be three non-negative numbers, not {fractions!r}")
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions must sum to 1, not {sum(fractions)}")
    n_train = min(n, math.floor(fractions[0] * n + 0.5))
    n_val = min(n - n_train, math.floor(fractions[1] * n + 0.5))
    return [n_train, n_val, n - n_train - n_val]


def assign_groups(
    ids: Sequence[str], groups: Mapping[str, object] | None, targets: Sequence[int],
    rng: np.random.Generator,
) -> list[int]:
    """Bin index of each id, keeping groups whole.

    Groups are taken in random order (``rng``), each into the bin furthest below its
    target size. An id without a group (or with a missing one) is a group of its own.

    Parameters
    ----------
    ids : sequence of str
    groups : mapping id -> group key, optional
        ``None``: every id is its own group.
    targets : sequence of int
        Wanted size of each bin.
    rng : numpy Generator

    Returns
    -------
    list of int
        ``targets`` index of each id, in ``ids`` order.
    """
    members: dict[str, list[int]] = {}
    for k, image_id in enumerate(ids):
        key = None if groups is None else groups.get(image_id)
        key = f"image:{image_id}" if key is None or pd.isna(key) else f"group:{key}"
        members.setdefault(key, []).append(k)
    keys = sorted(members)
    counts = [0] * len(targets)
    bins = [0] * len(ids)
    for g in rng.permutation(len(keys)):
        group = members[keys[g]]
        b = int(np.argmax([t - c for t, c in zip(targets, counts, strict=True)]))
        counts[b] += len(group)
        for k in group:
            bins[k] = b
    return bins


def make_split(
    ds: Dataset,
    seed: int = 0,
    fractions: Sequence[float] = (0.70, 0.15, 0.15),
    groups: Mapping[str, object] | pd.Series | None = None,
) -> pd.DataFrame:
    """Split a dataset's images into train, val and test.

    Parameters
    ----------
    ds : Dataset
        The dataset.
    seed : int
        Seed of the random permutation; the same seed and data give the same split.
    fractions : sequence of 3 floats
        Train, val, test fractions (summing to 1). Without ``groups`` the sizes are exact:
        ``round(f_train * n)`` and ``round(f_val * n)`` (half up), test takes the rest
        (700/150/150 for 1000 images).
    groups : Series or mapping, optional
        A group label per image id (e.g. ``ds.parts``, the part each tile was cut from).
        All images of a group land in the same split; ids without a group are their own
        group. Use it whenever images are not independent: tiles of one heat sink part
        are near-duplicates at their seams and share lighting and surface texture, so
        spreading a part over train and test leaks test information into training and
        inflates the test score. Groups are taken in random order, each into the split
        furthest below its target size, so sizes are then only approximately the
        fractions.

    Returns
    -------
    DataFrame
        Columns ``image_id, split, image_sha256, label_sha256``, sorted by ``image_id``.
    """
    ids = list(ds.ids)
    targets = _targets(len(ids), fractions)
    rng = np.random.default_rng(seed)
    if groups is None:
        labels = np.repeat(np.array(SPLITS), targets)
        assignment = dict(zip((ids[k] for k in rng.permutation(len(ids))), labels, strict=True))
    else:
        if isinstance(groups, pd.Series):
            groups = groups.to_dict()
        bins = assign_groups(ids, groups, targets, rng)
        assignment = {i: SPLITS[b] for i, b in zip(ids, bins, strict=True)}
    return pd.DataFrame(
        {
            "image_id": ids,
            "split": [str(assignment[i]) for i in ids],
            "image_sha256": [ds.file_sha256(ds.image_path(i)) for i in ids],
            "label_sha256": [ds.file_sha256(ds.mask_path(i)) for i in ids],
        },
        columns=SPLIT_COLUMNS,
    )


def save_split(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a split table to CSV atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        df.loc[:, SPLIT_COLUMNS].to_csv(tmp, index=False)
    return path


def load_split(path: str | Path, ds: Dataset | None = None) -> pd.DataFrame:
    """Read a split CSV written by :func:`save_split`, optionally verifying it against data.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    ds : Dataset, optional
        If given, every id must exist in ``ds`` and its image and label hashes must match
        the files on disk.

    Raises
    ------
    DatasetError
        If the file is missing or malformed, or (with ``ds``) an id is unknown or its files
        changed since the split was made (naming the id).
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise DatasetError(path, "does not exist") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DatasetError(path, f"cannot be read as a split CSV ({exc})") from None
    missing = [c for c in SPLIT_COLUMNS if c not in df.columns]
    if missing:
        raise DatasetError(path, f"is not a split file: lacks the column(s) {', '.join(missing)}")
    bad = df.loc[~df["split"].isin(SPLITS), "split"]
    if len(bad):
        raise DatasetError(path, f"has an unknown split name {bad.iloc[0]!r} (expected {SPLITS})")
    duplicated = df.loc[df["image_id"].duplicated(), "image_id"]
    if len(duplicated):
        raise DatasetError(path, f"lists image {duplicated.iloc[0]} more than once")
    if ds is not None:
        for row in df.itertuples(index=False):
            if row.image_id not in ds:
                raise DatasetError(path, f"image {row.image_id} is not in the dataset {ds.root}")
            for column, file in (
                ("image_sha256", ds.image_path(row.image_id)),
                ("label_sha256", ds.mask_path(row.image_id)),
            ):
                if getattr(row, column) != ds.file_sha256(file):
                    raise DatasetError(
                        path,
                        f"image {row.image_id}: {file.relative_to(ds.root).as_posix()} "
                        f"differs from the file the split was made on ({column} mismatch); "
                        "the data changed since, so make the split again",
                    )
    return df[SPLIT_COLUMNS]


__all__ = [
    "SPLITS",
    "SPLIT_COLUMNS",
    "assign_groups",
    "load_split",
    "make_split",
    "save_split",
]
