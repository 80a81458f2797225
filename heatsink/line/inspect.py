"""Production-line inspection: images in, one judged row per image out (``heatsink inspect``).

Images are streamed through a trained model one batch at a time; each predicted mask is
measured with :func:`heatsink.line.measurements.defect_table` (the spec's ``min_object_px`` and
``mm_per_px``) and judged with :func:`heatsink.line.spec.judge`, exactly as
:func:`heatsink.line.spec.inspect_masks` does. Nothing but the list of file names is kept for
the whole run, so memory stays flat however many images are given.

Inputs
    Each argument is a file or a folder. A folder contributes every regular, non-hidden
    file directly inside it (not its sub-folders), sorted by name, whatever its suffix: a
    stray file that is not an image becomes an error row instead of being skipped silently.
    Files given by name are taken as given; arguments keep their order; a path given twice
    is inspected once; the report itself is never an input.
Frames
    The model expects frames of the training data's size, :data:`FRAME_SIZE` × FRAME_SIZE
    (320×320). An image of another size is an error row, unless ``resize=True``
    (``--resize``): it is then stretched to the frame size (``cv2.INTER_AREA`` when
    shrinking, ``cv2.INTER_LINEAR`` when enlarging; the aspect ratio is not kept), it is
    measured at the frame size, and its ``note`` says so.
Grayscale
    An 8-bit single-channel image is converted to RGB by repeating its channel
    (R = G = B = grey) and inspected; its ``note`` says so. Other channel counts (e.g.
    RGBA) and 16-bit images are error rows.
Model
    The frame is resized to the run's ``image_size`` as in training, scaled to [0, 1]
    float32, and the softmax probabilities are resized bilinearly back to the frame size
    before the arg-max, by :class:`heatsink.models.predict.Predictor`, as training and
    evaluation predict: the masks are those the study measures.

Report columns (:data:`REPORT_COLUMNS`)
    ``path``, ``image_id`` (the file's stem), the measurements (:data:`DEFECT_COLUMNS`;
    empty on an error row), ``verdict`` (PASS, FAIL or empty on an error row),
    ``failed_rules`` ("; "-joined), ``error`` (what is wrong with the file, empty if
    nothing), ``note`` (a conversion that was applied, empty if none), ``model``
    (``<run folder name>@<first 12 hex digits of the sha256 of best.keras>``) and ``spec``
    (``<spec name>@<Spec.identity>``, a hash of the spec's values).

The report (``.csv`` or ``.parquet``) is written while the images stream, into a hidden
temporary file beside it that is renamed at the end: an interrupted or failed run leaves no
report (an existing one is untouched) and no temporary file. The report is locked while it
is written (:func:`report_lock`): a second run writing it is refused, naming the first's
pid, and a temporary report a killed run left behind is removed. In a CSV report, a text
cell a spreadsheet would run as a formula is neutralised (:func:`heatsink.safety.neutralise_cell`).

Hostile inputs
    Every file is read through :mod:`heatsink.safety` (by :mod:`heatsink.data.readers`):
    a FIFO or device is an error row without being opened for a blocking read, an image
    whose header declares more than :data:`heatsink.safety.MAX_IMAGE_PIXELS` pixels is an
    error row before it is decoded, and a file name that is not UTF-8 is written with its
    bytes escaped (``\\xff``). ``--overlays`` refuses a folder that holds an input
    (:func:`check_output_folder`).
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from tqdm import tqdm

from heatsink.classes import CLASS_NAMES
from heatsink.data.pipeline import NATIVE_SIZE
from heatsink.data.readers import IMAGE_SUFFIXES, hw, read_rgb
from heatsink.errors import DatasetError, HeatsinkError
from heatsink.io import atomic_path, file_sha256
from heatsink.line.measurements import DEFECT_COLUMNS, draw_overlay
from heatsink.line.spec import Spec, inspect_masks, load_spec
from heatsink.safety import neutralise_cell, printable, shorten

if TYPE_CHECKING:

    from heatsink.models.predict import Predictor
    from heatsink.models.run import Run

#: Side of the frames the model is meant for: the training data's 320×320 frames.
FRAME_SIZE: int = NATIVE_SIZE
#: Suffixes known as images (other files are still tried, and reported if unreadable).
INSPECT_SUFFIXES: tuple[str, ...] = (*IMAGE_SUFFIXES, ".tif", ".tiff")
#: Report formats by suffix.
REPORT_FORMATS: dict[str, str] = {".csv": "csv", ".parquet": "parquet"}
#: Measurement columns holding integers (empty on an error row).
INT_COLUMNS: tuple[str, ...] = ("NumberOfStains", "LargestStainPixels", "NumberOfScratches")
#: The report's columns, in order.
REPORT_COLUMNS: list[str] = [
    "path",
    "image_id",
    *DEFECT_COLUMNS,
    "verdict",
    "failed_rules",
    "error",
    "note",
    "model",
    "spec",
]
GRAY_NOTE = "grayscale: channel repeated to RGB"


@dataclass(frozen=True)
class InspectionModel:
    """A loaded model, the input size it was trained at, and its identity for reports.

    Attributes
    ----------
    model : tf.keras.Model
        Takes float32 RGB in [0, 1], returns softmax probabilities of the 3 classes.
    image_size : int
        Side of the square model input (the run's ``image_size``).
    identity : str
        ``<run folder name>@<sha256 of the model file, 12 hex digits>``, and ``+flips``
        with ``flips``.
    flips : bool
        Average each frame's probabilities with those of its three flips
        (:func:`heatsink.models.predict.flip_views`): four times the model's time.
    """

    model: Any
    image_size: int
    identity: str
    flips: bool = False

    @cached_property
    def predictor(self) -> Predictor:
        """The prediction path (:class:`heatsink.models.predict.Predictor`): a Keras model
        compiled, an export run by its own engine, both with the same resizing."""
        from heatsink.models.predict import Predictor

        return Predictor(self.model, self.image_size, classes=len(CLASS_NAMES), flips=self.flips)


def load_inspection_model(run: Run | str | Path, flips: bool = False) -> InspectionModel:
    """Open a model for inspection: a training run's ``best.keras``, or an export.

    What the folder holds decides: an export (:func:`heatsink.models.export.is_export`:
    its ``export.json``) runs in ONNX Runtime or OpenVINO and reports the identity of the
    run it came from; a run folder loads its ``best.keras``. With ``flips`` it predicts with
    test-time flips and its identity says so (``+flips``).

    Raises
    ------
    HeatsinkError
        Naming the folder or file: no such folder, no or unreadable ``config.json``, no or
        unreadable ``best.keras``, an export that cannot be opened, or a model that does not
        output the 3 classes in the package's order.
    """
    model = _load_inspection_model(run)
    if not flips:
        return model
    return replace(model, identity=f"{model.identity}+flips", flips=True)


def _load_inspection_model(run: Run | str | Path) -> InspectionModel:
    from heatsink.models.run import Run

    if not isinstance(run, Run) and Path(run).exists():
        from heatsink.models.export import is_export, load_exported

        if is_export(run):
            exported = load_exported(run)
            if tuple(exported.classes) != tuple(CLASS_NAMES):
                raise HeatsinkError(f"{printable(Path(run))}: the export's classes "
                                    f"{list(exported.classes)} are not {list(CLASS_NAMES)}")
            return InspectionModel(exported, exported.image_size, exported.identity)
    if not isinstance(run, Run):
        path = Path(run)
        if not path.is_dir():
            raise HeatsinkError(f"{path}: no such run folder")
        try:
            run = Run.load(path)
        except HeatsinkError as exc:
            if str(path) in str(exc):
                raise
            raise HeatsinkError(f"{path / 'config.json'}: {exc}") from None
        except (OSError, ValueError, TypeError) as exc:
            raise HeatsinkError(f"{path / 'config.json'}: cannot read the run's configuration "
                                f"({type(exc).__name__}: {exc})") from None
    model_file = run.path / "best.keras"
    model = run.model("best")  # HeatsinkError naming the file if missing or unreadable
    classes = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
    if classes != len(CLASS_NAMES):
        raise HeatsinkError(f"{model_file}: the model outputs {classes} channels; expected "
                            f"{len(CLASS_NAMES)} class probabilities")
    name = run.path.resolve().name
    return InspectionModel(model, int(run.config.image_size),
                           f"{name}@{file_sha256(model_file)[:12]}")


def report_format(path: str | Path) -> str:
    """``"csv"`` or ``"parquet"`` from the report's suffix; HeatsinkError for another one."""
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise HeatsinkError(f"{path}: unknown report format {suffix or '(no suffix)'!r}; "
                            f"use {' or '.join(REPORT_FORMATS)}")
    return REPORT_FORMATS[suffix]


def expand_inputs(inputs: Iterable[str | Path], exclude: Iterable[str | Path] = ()) -> list[Path]:
    """The files to inspect, from file and folder arguments.

    Parameters
    ----------
    inputs : iterable of path
        Files and folders. A folder contributes every non-hidden entry directly in it but
        its sub-folders (which are not entered), sorted by name, whatever the suffix, so
        that a stray non-image file shows up as an error row (as do a broken symbolic
        link, a FIFO or a device, which are never read). A file is taken as given.
    exclude : iterable of path
        Files never to include (the report being written).

    Returns
    -------
    list of Path
        In argument order; a path given twice appears once.

    Raises
    ------
    HeatsinkError
        If an argument does not exist, a folder cannot be listed, or there is no file at all.
    """
    skip = {os.path.abspath(p) for p in exclude}
    seen: set[str] = set()
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            try:
                found = sorted(
                    entry
                    for entry in path.iterdir()
                    if not entry.name.startswith(".") and not entry.is_dir()
                )
            except OSError as exc:
                raise HeatsinkError(f"{printable(path)}: cannot list the folder "
                                    f"({exc.strerror or exc})") from None
        elif path.exists() or path.is_symlink():
            found = [path]
        else:
            raise HeatsinkError(f"{printable(path)}: no such file or folder")
        for file in found:
            key = os.path.abspath(file)
            if key not in seen and key not in skip:
                seen.add(key)
                files.append(file)
    if not files:
        raise HeatsinkError(f"no files to inspect in {', '.join(map(printable, inputs))}")
    return files


def read_frame(path: str | Path, resize: bool = False) -> tuple[np.ndarray, str]:
    """Read one image as a FRAME_SIZE × FRAME_SIZE × 3 uint8 RGB frame.

    Parameters
    ----------
    path : path
        The image file.
    resize : bool
        Stretch an image of another size to the frame size (else it is refused).

    Returns
    -------
    frame : ndarray of shape (FRAME_SIZE, FRAME_SIZE, 3), uint8
    note : str
        The conversions applied ("; "-joined), empty if none.

    Raises
    ------
    DatasetError
        Naming the file and the problem (empty, truncated, corrupt, not an image, wrong
        channel count or bit depth, wrong size without ``resize``).
    """
    path = Path(path)
    try:
        image, was_gray = read_rgb(path, gray_to_rgb=True)
    except DatasetError as exc:
        suffix = path.suffix.lower()
        if suffix not in INSPECT_SUFFIXES and exc.problem.startswith("is corrupt"):
            raise DatasetError(path, f"is not an image file (suffix {suffix or 'none'!r}; "
                                     "OpenCV cannot decode it)") from None
        raise
    notes = [GRAY_NOTE] if was_gray else []
    frame = (FRAME_SIZE, FRAME_SIZE)
    if image.shape[:2] != frame:
        size = hw(image)
        if not resize:
            raise DatasetError(path, f"is {size}, expected {FRAME_SIZE}×{FRAME_SIZE} "
                                     "(--resize would stretch it to that size)")
        shrink = image.shape[0] * image.shape[1] > FRAME_SIZE * FRAME_SIZE
        image = cv2.resize(image, frame,
                           interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        notes.append(f"resized from {size} to {FRAME_SIZE}×{FRAME_SIZE}")
    return image, "; ".join(notes)


def predict_frames(model: InspectionModel, frames: Sequence[np.ndarray],
                   decision: Mapping[str, Any] | None = None) -> list[np.ndarray]:
    """Predicted class masks (uint8, at the frames' size) of a batch of RGB frames, through
    the one prediction path the study scores with (:class:`heatsink.models.predict.Predictor`),
    at the operating point ``decision`` sets (keyword arguments of
    :func:`heatsink.decision.decide`, as :meth:`heatsink.line.spec.Spec.decision` gives them;
    None is the plain argmax)."""
    return list(model.predictor.masks(frames, **(decision or {})))


def write_overlay(folder: str | Path, image_id: str, frame: np.ndarray, mask: np.ndarray,
                  min_area_px: int = 1) -> Path:
    """Write :func:`~heatsink.line.measurements.draw_overlay` as ``folder/<image_id>.png``,
    atomically."""
    target = Path(folder) / f"{image_id}.png"
    overlay = draw_overlay(frame, mask, min_area_px=min_area_px)
    try:
        with atomic_path(target) as tmp:
            ok, data = cv2.imencode(".png", cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
            if not ok:
                raise HeatsinkError(f"{printable(target)}: cannot encode the overlay")
            tmp.write_bytes(data.tobytes())
    except OSError as exc:
        raise HeatsinkError(f"{printable(target)}: cannot write the overlay "
                            f"({exc.strerror or exc})") from None
    return target


def write_mask(folder: str | Path, image_id: str, mask: np.ndarray) -> Path:
    """Write a predicted label mask as ``folder/<image_id>.png`` (values 0, 1, 2: background,
    scratch, stain, the dataset's layout), atomically."""
    target = Path(folder) / f"{image_id}.png"
    with atomic_path(target) as tmp:
        if not cv2.imwrite(str(tmp), np.asarray(mask, np.uint8)):
            raise HeatsinkError(f"{printable(target)}: cannot write the mask")
    return target


def _value(column: str, value: Any) -> int | float:
    return int(value) if column in INT_COLUMNS else float(value)


def _blank_row(path: Path, model_id: str, spec_id: str) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(REPORT_COLUMNS)
    row.update(path=printable(path), image_id=printable(path.stem), verdict="",
               failed_rules="", error="", note="", model=model_id, spec=spec_id)
    return row


def _inspect_batch(paths: Sequence[Path], model: InspectionModel, spec: Spec,
                   overlays: Path | None, resize: bool,
                   masks_dir: Path | None = None) -> list[dict[str, Any]]:
    spec_id = f"{spec.name}@{spec.identity}"
    rows, good, frames = [], [], []
    for path in paths:
        row = _blank_row(path, model.identity, spec_id)
        try:
            frame, row["note"] = read_frame(path, resize=resize)
        except DatasetError as exc:
            row["error"] = exc.problem
        except Exception as exc:  # never a crash for one bad file (MemoryError included)
            row["error"] = f"could not be inspected ({type(exc).__name__}: {shorten(str(exc))})"
        else:
            good.append(len(rows))
            frames.append(frame)
        rows.append(row)
    if not frames:
        return rows
    # the per-class minimum areas are inspect_masks' (given and predicted masks alike)
    masks = predict_frames(model, frames, {**spec.decision(), "min_area": 0})
    # positional keys: two inputs may share a stem
    table = inspect_masks(((str(k), m) for k, m in enumerate(masks)), spec)
    for k, index in enumerate(good):
        measured = table.iloc[k]
        row = rows[index]
        row.update({c: _value(c, measured[c]) for c in DEFECT_COLUMNS})
        row["verdict"] = measured["verdict"]
        row["failed_rules"] = measured["failed_rules"]
        if overlays is not None:
            write_overlay(overlays, row["image_id"], frames[k], masks[k], spec.min_object_px)
        if masks_dir is not None:
            write_mask(masks_dir, row["image_id"], masks[k])
    return rows


def check_output_folder(folder: str | Path, inputs: Iterable[str | Path], what: str) -> Path:
    """Make sure ``folder`` can take the command's output files without touching an input.

    The folder is created if needed, must be writable (checked with a temporary file), and
    must hold none of ``inputs``: ``--overlays FRAMES`` would otherwise write
    ``<image_id>.png`` over the input frames of the same name.

    Raises
    ------
    HeatsinkError
        Naming the folder (and an input in it), before anything is written.
    """
    import tempfile

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise HeatsinkError(f"{printable(folder)}: the {what} folder is a file")
    if folder.is_dir():
        here = os.path.realpath(folder)
        for path in inputs:
            real = os.path.realpath(path)
            if here in (os.path.realpath(Path(path).parent), os.path.dirname(real), real):
                raise HeatsinkError(f"{printable(folder)}: the {what} folder holds the input "
                                    f"{printable(path)}; its files could be overwritten: "
                                    f"write the {what} to another folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise HeatsinkError(f"{printable(folder)}: cannot write the {what} there "
                            f"({exc.strerror or exc})") from None
    return folder


def _check_batch_size(batch_size: int | None) -> None:
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size < 1):
        raise HeatsinkError(f"the batch size must be at least 1, not {batch_size}")


def resolve_batch_size(model: InspectionModel, batch_size: int | None) -> int:
    """``batch_size`` itself, or, for None, the batch size at which ``model`` predicts
    :data:`FRAME_SIZE`² frames fastest per frame on this machine.

    Measured (:meth:`heatsink.models.predict.Predictor.fastest_batch`), not assumed: on a
    2-core CPU a larger batch can be slower per frame, its full-resolution activations
    leaving the cache. The measurement takes a few compiled calls per candidate size.
    """
    if batch_size is not None:
        return batch_size
    return model.predictor.fastest_batch(frame_size=FRAME_SIZE)


def inspect_images(
    paths: Iterable[str | Path],
    run_or_model: InspectionModel | Run | str | Path,
    spec: Spec | str | Path,
    batch_size: int | None = 16,
    overlays: str | Path | None = None,
    resize: bool = False,
    progress: bool = False,
    masks: str | Path | None = None,
    flips: bool = False,
) -> Iterator[dict[str, Any]]:
    """Inspect image files one batch at a time; yield one row per file, in input order.

    Parameters
    ----------
    paths : iterable of path
        Image files (see :func:`expand_inputs` for folders).
    run_or_model : InspectionModel, Run or path
        The model, or the training run whose ``best.keras`` to use.
    spec : Spec or path
        The spec, or its YAML file.
    batch_size : int or None
        Images read and run through the model at once; None: the fastest on this machine,
        measured on the model before the first image is read (:func:`resolve_batch_size`).
    overlays : path, optional
        Folder for an overlay PNG per readable image (``<image_id>.png``; inputs must then
        have distinct stems).
    masks : path, optional
        Folder for each readable image's predicted label mask (:func:`write_mask`), with the
        same rules as ``overlays``.
    resize : bool
        Stretch images of another size than FRAME_SIZE² to it (else they are error rows).
    progress : bool
        Show a tqdm bar on stderr.
    flips : bool
        Predict with test-time flips (:func:`load_inspection_model`); a given
        :class:`InspectionModel` keeps its own.

    Yields
    ------
    dict
        A row with the :data:`REPORT_COLUMNS`. A file that cannot be inspected (missing,
        empty, truncated, corrupt, not an image, wrong size, wrong channel count or depth)
        gives a row with ``error`` set and no measurements or verdict; the run goes on.

    Raises
    ------
    HeatsinkError
        Before any image is read: bad spec or model, batch size < 1, duplicate stems with
        ``overlays``, an overlay folder that holds an input or cannot be written (see
        :func:`check_output_folder`); later: an overlay that cannot be written.
    """
    _check_batch_size(batch_size)
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    model = (run_or_model if isinstance(run_or_model, InspectionModel)
             else load_inspection_model(run_or_model, flips))
    batch_size = resolve_batch_size(model, batch_size)
    paths = [Path(p) for p in paths]
    folder = Path(overlays) if overlays is not None else None
    masks_dir = Path(masks) if masks is not None else None
    for out_dir, what in ((folder, "overlays"), (masks_dir, "masks")):
        if out_dir is None:
            continue
        check_output_folder(out_dir, paths, what)
        stems: dict[str, Path] = {}
        for path in paths:
            if path.stem in stems:
                raise HeatsinkError(f"{printable(stems[path.stem])} and {printable(path)} "
                                    f"share the name {printable(path.stem)!r}; their {what} "
                                    "would overwrite each other")
            stems[path.stem] = path
        del stems
    bar = tqdm(total=len(paths), desc="inspect", unit="img", disable=not progress,
               file=sys.stderr)
    try:
        for start in range(0, len(paths), batch_size):
            rows = _inspect_batch(paths[start : start + batch_size], model, spec, folder, resize,
                                  masks_dir)
            for row in rows:
                yield row
                bar.update()
    finally:
        bar.close()


def _parquet_schema():
    import pyarrow as pa

    fields = []
    for column in REPORT_COLUMNS:
        if column in INT_COLUMNS:
            kind = pa.int64()
        elif column in DEFECT_COLUMNS:
            kind = pa.float64()
        else:
            kind = pa.string()
        fields.append(pa.field(column, kind))
    return pa.schema(fields)


def _require_pyarrow(path: str | Path) -> None:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise HeatsinkError(f"{path}: writing Parquet needs pyarrow (pip install pyarrow); "
                            "or write a .csv report") from None


def _csv_cell(value: Any) -> Any:
    """NaN (no stain: no enclosing circle) and None (error row) are empty CSV cells; a text
    cell a spreadsheet would run as a formula is neutralised
    (:func:`heatsink.safety.neutralise_cell`); numbers are kept as they are."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return neutralise_cell(value)


def _stale_temporaries(path: Path) -> list[Path]:
    """Hidden temporary reports :func:`heatsink.io.atomic_path` left beside ``path`` (a run
    killed with SIGKILL cannot remove its own)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}{re.escape(path.suffix)}")
    try:
        return [entry for entry in path.parent.iterdir() if pattern.fullmatch(entry.name)]
    except OSError:
        return []


@contextlib.contextmanager
def report_lock(path: str | Path) -> Iterator[Path]:
    """Hold the report ``path`` for writing: a second writer is refused, by name.

    The lock is an advisory ``flock`` on a hidden file beside the report
    (``.<name>.lock``, removed at the end), released by the operating system however the
    holder exits. Once it is held, temporary reports left by a killed run are removed.

    Raises
    ------
    HeatsinkError
        If the report is a folder, its folder cannot be written, or another process holds
        the lock (the message gives its pid).
    """
    import fcntl

    path = Path(path)
    if path.is_dir():
        raise HeatsinkError(f"{printable(path)}: is a folder; --out names the report file")
    if path.exists() and not path.is_file():
        raise HeatsinkError(f"{printable(path)}: is not a regular file; refused as a report")
    lock = path.parent / f".{path.name}.lock"
    handle = _locked(lock, path)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        for stale in _stale_temporaries(path):
            with contextlib.suppress(OSError):
                stale.unlink()
        yield path
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # while still held: a waiting writer then finds it gone and retries
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _locked(lock: Path, report: Path):
    """Open and ``flock`` the lock file ``lock``; retry if it was removed meanwhile."""
    import fcntl

    for _ in range(100):
        try:
            report.parent.mkdir(parents=True, exist_ok=True)
            handle = open(lock, "a+")
        except OSError as exc:
            raise HeatsinkError(f"{printable(report)}: cannot write the report there "
                                f"({exc.strerror or exc})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise HeatsinkError(f"{printable(report)}: another process (pid {holder}) is "
                                "writing this report; wait for it to finish, or write "
                                "another report") from None
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()  # the previous holder removed it after we opened it: open it again
    raise HeatsinkError(f"{printable(report)}: cannot lock the report")


@contextlib.contextmanager
def report_writer(path: str | Path) -> Iterator[Callable[[Sequence[dict[str, Any]]], None]]:
    """Yield ``write(rows)``, appending rows to the report at ``path`` as they come.

    CSV (``csv`` module; a missing value, NaN or None, is an empty cell) or Parquet
    (``pyarrow``, fixed schema, one row group per call), chosen by the suffix. The rows go
    to a hidden temporary file beside ``path``, renamed onto it when the block ends
    normally; on any exception (KeyboardInterrupt included) it is removed and an existing
    ``path`` is untouched.

    Raises
    ------
    HeatsinkError
        For a suffix other than ``.csv`` and ``.parquet`` (before anything is written).
    """
    fmt = report_format(path)
    if fmt == "parquet":
        _require_pyarrow(path)
        import pyarrow as pa
        import pyarrow.parquet as pq
    with _report_errors(path), atomic_path(path) as tmp:
        if fmt == "csv":
            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                writer = csv.DictWriter(handle, fieldnames=REPORT_COLUMNS)
                writer.writeheader()

                def write_csv(rows: Sequence[dict[str, Any]]) -> None:
                    writer.writerows({k: _csv_cell(v) for k, v in row.items()} for row in rows)
                    handle.flush()

                yield write_csv
        else:
            schema = _parquet_schema()
            with pq.ParquetWriter(tmp, schema) as parquet:

                def write_parquet(rows: Sequence[dict[str, Any]]) -> None:
                    if rows:
                        parquet.write_table(pa.Table.from_pylist(list(rows), schema=schema))

                yield write_parquet


@contextlib.contextmanager
def _report_errors(path: str | Path) -> Iterator[None]:
    """An OS error while writing the report, as a HeatsinkError naming it."""
    try:
        yield
    except OSError as exc:
        raise HeatsinkError(f"{printable(path)}: cannot write the report "
                            f"({exc.strerror or exc}); nothing was written") from None


@dataclass
class InspectionSummary:
    """Counts of a finished inspection.

    Attributes
    ----------
    out : Path
        The report.
    passed, failed, errors : int
        Rows judged PASS, judged FAIL, and rows with an error.
    batch_size : int or None
        Frames per model call the inspection used.
    """

    out: Path
    batch_size: int | None = None
    passed: int = 0
    failed: int = 0
    errors: int = 0

    @property
    def n(self) -> int:
        """Rows in the report."""
        return self.passed + self.failed + self.errors

    @property
    def exit_code(self) -> int:
        """0 if every image passed, 1 if some failed (and none had errors), 2 on errors."""
        return 2 if self.errors else 1 if self.failed else 0

    def add(self, row: dict[str, Any]) -> None:
        """Count one report row."""
        if row["error"]:
            self.errors += 1
        elif row["verdict"] == "FAIL":
            self.failed += 1
        else:
            self.passed += 1

    def to_text(self) -> str:
        """One line for the terminal."""
        batch = f" (batch {self.batch_size})" if self.batch_size else ""
        return (f"{printable(self.out)}: {self.n} images, {self.passed} PASS, "
                f"{self.failed} FAIL, "
                f"{self.errors} error{'' if self.errors == 1 else 's'}{batch}")


def run_inspection(
    inputs: Iterable[str | Path],
    run: Run | str | Path,
    spec: Spec | str | Path,
    out: str | Path,
    overlays: str | Path | None = None,
    batch_size: int | None = 16,
    resize: bool = False,
    progress: bool = False,
    masks: str | Path | None = None,
    flips: bool = False,
) -> InspectionSummary:
    """Inspect files and folders and write the report; what ``heatsink inspect`` does.

    The report format, the spec, the inputs and the model are checked, in that order,
    before any image is read; then rows are written batch by batch as they come (see
    :func:`report_writer`). Parameters are those of :func:`inspect_images`, plus ``inputs``
    (files and folders, see :func:`expand_inputs`) and ``out`` (``.csv`` or ``.parquet``).

    Returns
    -------
    InspectionSummary
        Its ``exit_code`` is 0 (all PASS), 1 (some FAIL) or 2 (some error rows).

    Raises
    ------
    HeatsinkError
        Naming the file at fault, with no report written (an existing one is untouched):
        unknown report suffix, bad spec, a report that is a folder or whose folder cannot
        be written, a report another process is writing (:func:`report_lock`), missing
        input or unreadable input folder, bad model, an overlay folder that holds an input
        or cannot be written.
    """
    out = Path(out)
    if report_format(out) == "parquet":
        _require_pyarrow(out)
    spec = spec if isinstance(spec, Spec) else load_spec(spec)
    _check_batch_size(batch_size)
    with report_lock(out):
        paths = expand_inputs(inputs, exclude=[out])
        for out_dir, what in ((overlays, "overlays"), (masks, "masks")):
            if out_dir is not None:
                check_output_folder(out_dir, paths, what)
        model = load_inspection_model(run, flips)
        batch_size = resolve_batch_size(model, batch_size)
        summary = InspectionSummary(out=out, batch_size=batch_size)
        rows = inspect_images(paths, model, spec, batch_size=batch_size, overlays=overlays,
                              resize=resize, progress=progress, masks=masks)
        with contextlib.closing(rows), report_writer(out) as write:
            buffer: list[dict[str, Any]] = []
            for row in rows:
                summary.add(row)
                buffer.append(row)
                if len(buffer) == batch_size:
                    write(buffer)
                    buffer = []
            write(buffer)
    return summary


__all__ = [
    "FRAME_SIZE",
    "REPORT_COLUMNS",
    "InspectionModel",
    "InspectionSummary",
    "check_output_folder",
    "expand_inputs",
    "inspect_images",
    "load_inspection_model",
    "predict_frames",
    "read_frame",
    "report_format",
    "report_lock",
    "report_writer",
    "resolve_batch_size",
    "run_inspection",
    "write_mask",
    "write_overlay",
]
