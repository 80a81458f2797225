"""Reading one dataset file: images as RGB, masks as class ids, with errors that name the file.

Every reader checks the file's signature and length before decoding, so empty, mislabelled
(text named ``.png``) and truncated files are reported in words, and no OpenCV traceback or
OpenCV log line ever reaches the user. Only regular files are read (a FIFO or a device is
refused by name), at most :data:`heatsink.safety.MAX_IMAGE_BYTES` bytes, and an image whose
header declares more than :data:`heatsink.safety.MAX_IMAGE_PIXELS` pixels is refused before
it is decoded (:mod:`heatsink.safety`). A JPEG that libjpeg decodes with a warning (a
truncated file with an end marker appended decodes to grey blocks) is refused as corrupt.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from heatsink.classes import CLASS_NAMES, VOC_COLOURS
from heatsink.errors import DatasetError
from heatsink.safety import MAX_IMAGE_BYTES, check_pixels, read_regular_file, shorten

#: File extensions accepted in ``images/`` (lower case).
IMAGE_SUFFIXES: tuple[str, ...] = (".bmp", ".png", ".jpg", ".jpeg")
#: File extensions accepted in ``labels/`` and ``truth/`` (masks must be lossless).
MASK_SUFFIXES: tuple[str, ...] = (".png",)
#: The mask values the dataset defines (background, scratch, stain).
MASK_VALUES: tuple[int, ...] = tuple(range(len(CLASS_NAMES)))

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own logging while decoding (we report problems ourselves)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _container_problem(path: Path, data: bytes) -> str | None:
    """Check the file's signature and length before decoding.

    Catches empty files, files that are not what their extension says (e.g. text named
    ``.png``) and truncated BMP/PNG files before OpenCV sees them: OpenCV returns None for
    these too, but prints its own errors to stderr, and older versions decoded some
    truncated BMPs silently as partly black images.
    """
    suffix = path.suffix.lower()
    if not data:
        return "is empty (0 bytes)"
    if suffix == ".bmp":
        if not data.startswith(b"BM"):
            return "is not a BMP file (it does not start with the 'BM' signature)"
        if len(data) < 54:
            return f"is truncated: {len(data)} bytes, shorter than a BMP header"
        declared = int.from_bytes(data[2:6], "little")
        if declared and len(data) < declared:
            return (
                f"is truncated: the BMP header declares {declared} bytes, the file has {len(data)}"
            )
    elif suffix == ".png":
        if not data.startswith(_PNG_SIGNATURE):
            return "is not a PNG file (it does not start with the PNG signature)"
        if b"IEND" not in data[-12:]:
            return "is truncated: the PNG ends before its end marker (IEND chunk)"
    elif suffix in (".jpg", ".jpeg"):
        if not data.startswith(b"\xff\xd8"):
            return "is not a JPEG file (it does not start with the JPEG signature)"
        if b"\xff\xd9" not in data[-64:]:
            return "is truncated: the JPEG ends before its end marker"
    return None


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _libjpeg_messages() -> Iterator[list[str]]:
    """Collect what C libraries print on file descriptor 2 while the block runs.

    libjpeg reports a JPEG whose data ends early ("Corrupt JPEG data: premature end of data
    segment") only as a warning printed to stderr, and decodes the missing part as grey:
    neither OpenCV nor Pillow tells its caller. One JPEG is decoded at a time this way.
    """
    messages: list[str] = []
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield messages
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            messages += sink.read(4096).decode("utf-8", "replace").splitlines()


def _decode(path: Path) -> np.ndarray:
    """Read and decode one file (any channel count, native dtype) or raise DatasetError."""
    try:
        data = read_regular_file(path, MAX_IMAGE_BYTES)
    except DatasetError as exc:
        if exc.problem.startswith("is missing"):
            raise DatasetError(path, "is missing (it was deleted or moved after loading)"
                               ) from None
        raise
    problem = _container_problem(path, data)
    if problem:
        raise DatasetError(path, problem)
    check_pixels(path, data)
    jpeg = data.startswith(b"\xff\xd8")
    messages: list[str] = []
    try:
        with _quiet_opencv(), (_libjpeg_messages() if jpeg else contextlib.nullcontext(
                messages)) as messages:
            array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error:
        array = None
    if array is None:
        raise DatasetError(path, "is corrupt: OpenCV cannot decode it as an image")
    warnings = [m for m in messages if "JPEG" in m or "jpeg" in m]
    if warnings:
        raise DatasetError(path, f"is truncated or corrupt: libjpeg reports "
                                 f"'{shorten(warnings[0], 120)}'")
    return array


def hw(array: np.ndarray) -> str:
    return f"{array.shape[0]}×{array.shape[1]}"


def read_rgb(path: str | Path, gray_to_rgb: bool = False) -> tuple[np.ndarray, bool]:
    """Read an image as an H×W×3 uint8 RGB array, optionally accepting grayscale files.

    Parameters
    ----------
    path : str or Path
        The image file.
    gray_to_rgb : bool
        Accept an 8-bit single-channel (grayscale) image and convert it to RGB by repeating
        its channel three times (R = G = B = grey). Off by default: a dataset image must be
        colour.

    Returns
    -------
    image : ndarray of shape (H, W, 3), uint8
        The RGB image.
    was_gray : bool
        Whether the file was single-channel and converted.

    Raises
    ------
    DatasetError
        If the file is missing, unreadable, truncated, corrupt, not 8-bit, or neither
        3-channel nor (with ``gray_to_rgb``) single-channel.
    """
    path = Path(path)
    array = _decode(path)
    if array.ndim == 2 and not gray_to_rgb:
        raise DatasetError(path, "is a single-channel (grayscale) image; expected 3-channel RGB")
    if array.ndim == 3 and array.shape[2] != 3:
        raise DatasetError(path, f"has {array.shape[2]} channels; expected 3-channel RGB")
    if array.dtype != np.uint8:
        raise DatasetError(path, f"has {array.dtype} pixels; expected 8-bit (uint8) RGB")
    if array.ndim == 2:
        return np.repeat(array[..., None], 3, axis=2), True
    return cv2.cvtColor(array, cv2.COLOR_BGR2RGB), False


def read_image(path: str | Path) -> np.ndarray:
    """Read a dataset image as an H×W×3 uint8 RGB array.

    Raises
    ------
    DatasetError
        If the file is missing, unreadable, truncated, corrupt, not 8-bit or not 3-channel.
    """
    return read_rgb(path)[0]


def _describe_values(values: np.ndarray, counts: np.ndarray, limit: int = 5) -> str:
    parts = [f"{v} ({c} px)" for v, c in zip(values[:limit], counts[:limit], strict=True)]
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(parts) + more


def colours_to_classes(rgb: np.ndarray, path: str | Path) -> np.ndarray:
    """Map a VOC-colour label (H×W×3 RGB) to class ids (H×W uint8).

    Raises
    ------
    DatasetError
        Naming the colours outside :data:`heatsink.classes.VOC_COLOURS` and their pixel counts.
    """
    rgb = np.asarray(rgb)
    code = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
    classes = np.full(code.shape, 255, np.uint8)
    for class_id, (r, g, b) in VOC_COLOURS.items():
        classes[code == ((r << 16) | (g << 8) | b)] = class_id
    unknown = classes == 255
    if unknown.any():
        values, counts = np.unique(code[unknown], return_counts=True)
        names = [f"({v >> 16}, {(v >> 8) & 255}, {v & 255})" for v in values]
        palette = ", ".join(f"{CLASS_NAMES[c]} {VOC_COLOURS[c]}" for c in VOC_COLOURS)
        raise DatasetError(
            path,
            f"has colours outside the VOC palette ({palette}): "
            + _describe_values(np.array(names), counts),
        )
    return classes


def read_mask(path: str | Path) -> np.ndarray:
    """Read a label or truth mask as an H×W uint8 array with values in {0, 1, 2}.

    A 3-channel file is accepted when its channels are equal (a grey mask saved as colour)
    or when it uses only the VOC colours (a palette PNG, which OpenCV expands to colour).

    Raises
    ------
    DatasetError
        If the file is missing, unreadable, truncated or corrupt, has an unexpected channel
        count, or holds values outside {0, 1, 2} (naming the values and their pixel counts).
    """
    path = Path(path)
    array = _decode(path)
    if array.ndim == 3:
        if array.shape[2] == 3 and (array == array[..., :1]).all():
            array = array[..., 0]
        elif array.shape[2] == 3 and array.dtype == np.uint8:
            try:
                return colours_to_classes(cv2.cvtColor(array, cv2.COLOR_BGR2RGB), path)
            except DatasetError:
                raise DatasetError(
                    path,
                    "is a colour image, not a single-channel mask with values 0, 1, 2 "
                    "(VOC colour labels belong in jsons/<id>_json/label.png)",
                ) from None
        else:
            raise DatasetError(
                path, f"has {array.shape[2]} channels; expected a single-channel mask"
            )
    if array.dtype.kind not in "ui":
        raise DatasetError(path, f"has {array.dtype} pixels; expected integer mask values")
    if array.dtype == np.uint8 and array.max(initial=0) <= MASK_VALUES[-1]:
        return array
    values, counts = np.unique(array, return_counts=True)
    bad = ~np.isin(values, MASK_VALUES)
    if bad.any():
        raise DatasetError(
            path,
            f"has {int(counts[bad].sum())} pixels with unknown mask values outside "
            f"{{0, 1, 2}}: " + _describe_values(values[bad], counts[bad]),
        )
    return array.astype(np.uint8)


def read_voc_label(path: str | Path) -> np.ndarray:
    """Read a ``jsons/<id>_json/label.png`` (VOC colours) as class ids (H×W uint8)."""
    path = Path(path)
    array = _decode(path)
    if array.ndim == 2:
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    if array.shape[2] == 4:
        array = array[..., :3]
    if array.dtype != np.uint8:
        raise DatasetError(path, f"has {array.dtype} pixels; expected 8-bit VOC colours")
    return colours_to_classes(cv2.cvtColor(array, cv2.COLOR_BGR2RGB), path)


__all__ = [
    "IMAGE_SUFFIXES",
    "MASK_SUFFIXES",
    "MASK_VALUES",
    "colours_to_classes",
    "hw",
    "read_image",
    "read_mask",
    "read_rgb",
    "read_voc_label",
]
