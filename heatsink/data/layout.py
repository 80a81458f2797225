"""The dataset folder: finding it, scanning its structure, and the :class:`Dataset`.

Layout (the Kaggle download of Yang et al.'s heat sink dataset, and the synthetic twin)::

    <root>/images/<id>.bmp              RGB image (320×320 in the real data)
    <root>/labels/<id>.png              single-channel uint8 mask: 0 background, 1 scratch, 2 stain
    <root>/jsons/<id>_json/label.png    optional: the same mask in VOC colours
    <root>/truth/<id>.png               twin only: the clean truth mask
    <root>/adjacency.csv                twin only: image_id, part_id, row, col, ...
    <root>/twin.json                    twin only: generator metadata

:func:`load_dataset` raises a :class:`~heatsink.errors.DatasetError` naming the first bad
file; :func:`heatsink.data.report.check_dataset` collects every problem.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from heatsink.data.checksum import checksum_from_hashes, file_hashes
from heatsink.data.readers import (
    IMAGE_SUFFIXES,
    MASK_SUFFIXES,
    MASK_VALUES,
    hw,
    read_image,
    read_mask,
    read_voc_label,
)
from heatsink.errors import DatasetError

REAL_NAME = "heat sink dataset"
TWIN_NAME = "synthetic twin"

Problem = tuple[Path, str]

_SEARCH_DEPTH = 4
_SEARCH_MAX_DIRS = 2000


# --------------------------------------------------------------------------------------
# finding the dataset folder
# --------------------------------------------------------------------------------------


def _is_root(path: Path) -> bool:
    return (path / "images").is_dir() and (path / "labels").is_dir()


def _candidate_roots(path: Path) -> list[Path]:
    """Folders below ``path`` (breadth first, bounded) that hold images/ and labels/."""
    found: list[Path] = []
    level, visited = [path], 0
    for _ in range(_SEARCH_DEPTH):
        nxt = []
        for folder in level:
            try:
                children = sorted(
                    c for c in folder.iterdir() if c.is_dir() and not c.name.startswith(".")
                )
            except OSError:
                continue
            for child in children:
                visited += 1
                if _is_root(child):
                    found.append(child)
                elif visited < _SEARCH_MAX_DIRS:
                    nxt.append(child)
        if found or not nxt:
            break
        level = nxt
    return found


def find_dataset_root(path: str | Path) -> Path | None:
    """The dataset folder at or below ``path``, or None.

    ``path`` itself if it holds ``images/`` and ``labels/``; else the single such folder
    found below it (downloads are often nested, e.g. ``.../versions/1/<name>/``); None if
    there is none or more than one.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        return None
    if _is_root(path):
        return path
    found = _candidate_roots(path)
    return found[0] if len(found) == 1 else None


def _root_problem(root: Path) -> str | None:
    """Why ``root`` is not a dataset folder (with a "did you mean" where possible), or None."""
    if not root.exists():
        hint = "" if root.parent.exists() else f" (nor does its parent {root.parent})"
        return f"does not exist{hint}"
    if root.is_file():
        if root.suffix.lower() == ".zip":
            return (
                "is a zip file, not a folder: unzip it and pass the folder that holds "
                "images/ and labels/"
            )
        return "is a file, not a folder: pass the dataset folder that holds images/ and labels/"
    if (root / "images").is_dir():
        return None  # a missing labels/ is reported by the scan
    if (root / "labels").is_dir():
        return "has a labels/ folder but no images/ folder"
    if root.name.lower() in ("images", "labels", "jsons", "truth") and _is_root(root.parent):
        return (
            f"is the {root.name}/ folder itself, not the dataset folder; "
            f"did you mean {root.parent}?"
        )
    found = _candidate_roots(root)
    if len(found) == 1:
        return f"holds no images/ and labels/ folders; did you mean {found[0]}?"
    if found:
        listed = ", ".join(str(p) for p in found[:3])
        return f"holds no images/ and labels/ folders; did you mean one of {listed}?"
    try:
        has_images = any(p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir()
                         if p.is_file())
    except OSError as exc:
        return f"cannot be listed ({exc.strerror or exc})"
    if has_images:
        return (
            "holds image files but no images/ and labels/ folders; the dataset folder must "
            "hold images/<id>.bmp and labels/<id>.png"
        )
    return "holds no images/ and labels/ folders: this is not a heat sink dataset folder"


# --------------------------------------------------------------------------------------
# scanning the structure
# --------------------------------------------------------------------------------------


@dataclass
class _Scan:
    """What a structural scan found (no pixels decoded)."""

    root: Path
    problems: list[Problem] = field(default_factory=list)
    images: dict[str, Path] = field(default_factory=dict)
    labels: dict[str, Path] = field(default_factory=dict)
    truth: dict[str, Path] | None = None
    jsons: dict[str, Path] = field(default_factory=dict)
    parts: pd.Series | None = None
    twin: dict | None = None

    @property
    def ids(self) -> list[str]:
        return sorted(set(self.images) & set(self.labels))


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _list_folder(folder: Path, suffixes: tuple[str, ...], problems: list[Problem]) -> dict:
    """Map id -> file for the files in ``folder`` with an accepted suffix.

    A folder that cannot be listed and a file name that is not valid UTF-8 (an id must be
    text) are problems; such files are left out.
    """
    files: dict[str, Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        problems.append((folder, f"cannot be listed ({exc.strerror or exc})"))
        return files
    for path in entries:
        if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in suffixes:
            continue
        if not _utf8(path.name):
            problems.append((path, "has a file name that is not valid UTF-8; rename it"))
            continue
        if path.stem in files:
            problems.append((path, f"has the same id as {files[path.stem].name}"))
            continue
        files[path.stem] = path
    return files


def _read_parts(path: Path, problems: list[Problem]) -> pd.Series | None:
    try:
        frame = pd.read_csv(path, dtype={"image_id": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        problems.append((path, f"cannot be parsed as CSV ({exc})"))
        return None
    missing = {"image_id", "part_id"} - set(frame.columns)
    if missing:
        problems.append((path, f"lacks the column(s) {', '.join(sorted(missing))}"))
        return None
    duplicated = frame["image_id"][frame["image_id"].duplicated()]
    if len(duplicated):
        problems.append((path, f"lists image {duplicated.iloc[0]} more than once"))
        return None
    return frame.set_index("image_id")["part_id"].sort_index()


def scan_folder(root: Path) -> _Scan:
    """Check the folder structure and the pairing of files; decode nothing."""
    scan = _Scan(root)
    problem = _root_problem(root)
    if problem:
        scan.problems.append((root, problem))
        return scan
    images_dir, labels_dir = root / "images", root / "labels"
    scan.images = _list_folder(images_dir, IMAGE_SUFFIXES, scan.problems)
    if not labels_dir.is_dir():
        scan.problems.append((labels_dir, "is missing: the dataset needs labels/<id>.png masks"))
    else:
        scan.labels = _list_folder(labels_dir, MASK_SUFFIXES, scan.problems)
    if not scan.images:
        scan.problems.append((images_dir, "is empty: no .bmp/.png/.jpg images in it"))
    if labels_dir.is_dir() and not scan.labels:
        scan.problems.append((labels_dir, "is empty: no .png masks in it"))
    if scan.images and scan.labels:
        for image_id in sorted(set(scan.images) - set(scan.labels)):
            scan.problems.append(
                (scan.images[image_id], f"has no label: labels/{image_id}.png is missing")
            )
        for image_id in sorted(set(scan.labels) - set(scan.images)):
            scan.problems.append(
                (scan.labels[image_id], f"has no image: images/{image_id}.bmp is missing")
            )
    ids = scan.ids
    if (root / "truth").is_dir():
        scan.truth = _list_folder(root / "truth", MASK_SUFFIXES, scan.problems)
        missing = [i for i in ids if i not in scan.truth]
        if missing:
            scan.problems.append(
                (root / "truth", f"has no truth mask for {len(missing)} images (e.g. {missing[0]})")
            )
    if (root / "jsons").is_dir():
        for image_id in ids:
            label = root / "jsons" / f"{image_id}_json" / "label.png"
            if label.is_file():
                scan.jsons[image_id] = label
    if (root / "adjacency.csv").is_file():
        scan.parts = _read_parts(root / "adjacency.csv", scan.problems)
        if scan.parts is not None:
            missing = [i for i in ids if i not in scan.parts.index]
            if missing:
                scan.problems.append(
                    (
                        root / "adjacency.csv",
                        f"has no part for {len(missing)} images (e.g. {missing[0]})",
                    )
                )
    if (root / "twin.json").is_file():
        try:
            scan.twin = json.loads((root / "twin.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            scan.problems.append((root / "twin.json", f"is not valid JSON ({exc})"))
            scan.twin = {}
    return scan


# --------------------------------------------------------------------------------------
# decoding every file
# --------------------------------------------------------------------------------------


@dataclass
class _Verified:
    problems: list[Problem]
    counts: np.ndarray | None  # pixels per class in the label mask, if it decoded
    size: tuple[int, int] | None = None  # the image's (H, W), if it decoded


def _verify_one(scan: _Scan, image_id: str) -> _Verified:
    problems: list[Problem] = []
    image = mask = None
    try:
        image = read_image(scan.images[image_id])
    except DatasetError as exc:
        problems.append((exc.path, exc.problem))
    label_path = scan.labels[image_id]
    try:
        mask = read_mask(label_path)
    except DatasetError as exc:
        problems.append((exc.path, exc.problem))
    if image is not None and mask is not None and image.shape[:2] != mask.shape:
        problems.append(
            (
                label_path,
                f"size mismatch: the mask is {hw(mask)} (H×W) but its image "
                f"{scan.images[image_id].name} is {hw(image)}",
            )
        )
        mask = None
    others = []
    if scan.truth and image_id in scan.truth:
        others.append((scan.truth[image_id], read_mask))
    if image_id in scan.jsons:
        others.append((scan.jsons[image_id], read_voc_label))
    for path, reader in others:
        try:
            other = reader(path)
        except DatasetError as exc:
            problems.append((exc.path, exc.problem))
            continue
        if image is not None and other.shape != image.shape[:2]:
            problems.append(
                (path, f"size mismatch: {hw(other)} (H×W) but its image is {hw(image)}")
            )
    counts = None
    if mask is not None:
        counts = np.bincount(mask.ravel(), minlength=len(MASK_VALUES))[: len(MASK_VALUES)]
    size = None if image is None else (int(image.shape[0]), int(image.shape[1]))
    return _Verified(problems, counts, size)


def verify_files(scan: _Scan, progress: bool = False) -> dict[str, _Verified]:
    """Decode every file of every paired id (threads: OpenCV releases the GIL).

    ``progress`` shows a tqdm bar (used by ``heatsink data check``).
    """
    ids = scan.ids
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(lambda i: _verify_one(scan, i), ids, chunksize=16)
        bar = tqdm(results, total=len(ids), desc="check", unit="img", disable=not progress,
                   leave=False)
        return dict(zip(ids, bar, strict=True))


# --------------------------------------------------------------------------------------
# the Dataset
# --------------------------------------------------------------------------------------


class Dataset:
    """A validated dataset folder (real heat sink data or the synthetic twin).

    Create with :func:`load_dataset`. Pixels are read from disk on each access, so a file
    that went bad after loading raises a :class:`~heatsink.errors.DatasetError` naming it.

    Attributes
    ----------
    root : Path
        The dataset folder.
    ids : list of str
        Image ids (file stems), sorted.
    name : str
        ``"synthetic twin"`` if ``twin.json`` is present, else ``"heat sink dataset"``.
    twin : dict or None
        The twin's ``twin.json`` metadata, None for real data.
    """

    def __init__(self, scan: _Scan) -> None:
        self.root = scan.root
        self.ids: list[str] = scan.ids
        self._images = {i: scan.images[i] for i in self.ids}
        self._labels = {i: scan.labels[i] for i in self.ids}
        self._truth = scan.truth
        self._parts = scan.parts
        self.twin = scan.twin
        self.name = TWIN_NAME if scan.twin is not None else REAL_NAME
        self._index = {image_id: k for k, image_id in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._index

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, {len(self)} images, root={str(self.root)!r})"

    def _id(self, i: int | str) -> str:
        if isinstance(i, str):
            if i not in self._index:
                raise KeyError(f"no image with id {i!r} in {self.root}")
            return i
        return self.ids[i]

    def image_path(self, i: int | str) -> Path:
        """Path of image ``i`` (an int index or a str id)."""
        return self._images[self._id(i)]

    def mask_path(self, i: int | str) -> Path:
        """Path of the label mask of image ``i``."""
        return self._labels[self._id(i)]

    def truth_path(self, i: int | str) -> Path:
        """Path of the clean truth mask of image ``i`` (twin only)."""
        self._require_truth()
        return self._truth[self._id(i)]

    def _require_truth(self) -> None:
        if not self.has_truth:
            raise DatasetError(
                self.root,
                "has no truth/ folder: clean truth masks exist only for the synthetic twin",
            )

    def image(self, i: int | str) -> np.ndarray:
        """Image ``i`` as an H×W×3 uint8 RGB array."""
        return read_image(self.image_path(i))

    def mask(self, i: int | str) -> np.ndarray:
        """Label mask of image ``i`` as an H×W uint8 array with values in {0, 1, 2}."""
        return read_mask(self.mask_path(i))

    def truth(self, i: int | str) -> np.ndarray:
        """Clean truth mask of image ``i`` (synthetic twin only), H×W uint8 in {0, 1, 2}."""
        return read_mask(self.truth_path(i))

    @property
    def has_truth(self) -> bool:
        """Whether the folder has clean truth masks (``truth/``; the synthetic twin)."""
        return self._truth is not None

    @property
    def parts(self) -> pd.Series | None:
        """Part id of each image (index ``image_id``) from ``adjacency.csv``, or None."""
        return None if self._parts is None else self._parts.copy()

    def masks(self, which: str = "labels") -> Iterator[tuple[str, np.ndarray]]:
        """Iterate ``(image_id, mask)`` over all images, for :mod:`heatsink.stats`.

        Parameters
        ----------
        which : {"labels", "truth"}
            The label masks, or the twin's clean truth masks.
        """
        if which not in ("labels", "truth"):
            raise ValueError(f"which must be 'labels' or 'truth', not {which!r}")
        if which == "truth":
            self._require_truth()
        read = self.mask if which == "labels" else self.truth
        return ((image_id, read(image_id)) for image_id in self.ids)

    @cached_property
    def file_hashes(self) -> dict[str, str]:
        """SHA-256 of every checksummed file, keyed by POSIX path relative to ``root``."""
        return file_hashes(self.root)

    def file_sha256(self, path: Path) -> str:
        """SHA-256 of one of the dataset's image or label files (cached)."""
        return self.file_hashes[path.relative_to(self.root).as_posix()]

    @cached_property
    def checksum(self) -> str:
        """The dataset checksum (see :func:`heatsink.data.dataset_checksum`), cached."""
        return checksum_from_hashes(self.file_hashes)


def _raise_first(problems: list[Problem]) -> None:
    path, problem = problems[0]
    more = len(problems) - 1
    if more:
        problem += (
            f" (and {more} more problem{'s' if more > 1 else ''}; "
            "`heatsink data check` lists them all)"
        )
    raise DatasetError(path, problem)


def load_dataset(path: str | Path, verify: bool = True) -> Dataset:
    """Open a dataset folder, validating it.

    Parameters
    ----------
    path : str or Path
        The folder that holds ``images/`` and ``labels/``.
    verify : bool
        Decode every file once (images, labels, truth masks, jsons labels) and check
        channels, sizes and mask values; about a second per thousand images. If False,
        check only the folder structure and the pairing of images and labels.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        For the first problem found (naming the file or folder), saying how many more
        there are: missing folder, a file instead of a folder, the wrong folder (with a
        "did you mean"), empty images/ or labels/, an image without a label or a label
        without an image, an unreadable, truncated or corrupt file, a non-RGB image, a mask
        whose size differs from its image, unknown mask values or VOC colours.
    """
    scan = scan_folder(Path(path).expanduser())
    problems = list(scan.problems)
    if verify and scan.ids:
        for result in verify_files(scan).values():
            problems += result.problems
    if problems:
        _raise_first(problems)
    return Dataset(scan)


__all__ = [
    "REAL_NAME",
    "TWIN_NAME",
    "Dataset",
    "Problem",
    "find_dataset_root",
    "load_dataset",
    "scan_folder",
    "verify_files",
]
