"""Post-training int8 quantization of an OpenVINO export, calibrated on frames of the line.

A CPU without bf16 instructions (AVX2 only) runs an exported float32 graph at float32 speed;
its int8 units (``vpmaddubsw``, and VNNI where present) do more work per cycle. NNCF's
post-training quantization (``nncf.quantize``) turns the convolutions of a float32 OpenVINO
export (:func:`heatsink.models.export.export_model`) into int8 ones: the weights per output
channel, the activations per tensor with ranges measured on *calibration frames* (frames as
the line sees them, e.g. the training split's: never the frames the model is then judged on),
followed by NNCF's fast bias correction. Nothing is trained. The first convolution, which
sees the raw pixels (where a scratch is 1–3 px wide), is left in float32 by default: on the
light net it cost no measurable time, and lifted the defect pixels on which the int8 masks
agree with the float32 ones from 96.7 % to 98.0 % (100 validation frames of the twin).

The result is an export folder like any other (``model.xml`` + ``model.bin`` and
``export.json``, read by :func:`heatsink.models.export.load_exported`, ``heatsink inspect
--model``): its sidecar says ``"graph_precision": "int8"``, records how it was quantized
(``"quantization"``: tool and version, preset, number of calibration frames and what they
were), and its identity is the float export's with ``+int8`` appended, so that a report made
with it names the weights it came from and that they were quantized. An int8 graph predicts
slightly differently from its float32 source: measure the difference
(:func:`heatsink.models.speed.mask_agreement`, the speed chapter) before the line uses it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from heatsink.errors import HeatsinkError

#: Calibration frames used at most (NNCF's own default subset).
CALIBRATION_FRAMES = 300
#: NNCF presets: ``"mixed"`` (activations asymmetric, weights symmetric) or
#: ``"performance"`` (both symmetric).
PRESETS = ("mixed", "performance")
#: The suffix added to the identity of an int8 export.
INT8_SUFFIX = "+int8"


@contextlib.contextmanager
def _quiet() -> Any:
    """NNCF's progress bars, info lines and warnings (rich's, in Jupyter: "install
    ipywidgets") kept off the terminal and out of the notebooks."""
    logger = logging.getLogger("nncf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    sink = io.StringIO()
    try:
        with (contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink),
              warnings.catch_warnings()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def calibration_input(frames: Sequence[np.ndarray], image_size: int) -> list[np.ndarray]:
    """The model inputs for ``frames``: one float32 batch ``(1, S, S, 3)`` in [0, 1] each.

    Parameters
    ----------
    frames : sequence of ndarray
        uint8 RGB frames of any size (resized as the prediction path resizes them,
        :func:`heatsink.models.predict.model_input`).
    image_size : int
        The export's input side.

    Examples
    --------
    >>> batches = calibration_input([np.full((320, 320, 3), 255, np.uint8)], 256)
    >>> batches[0].shape, batches[0].dtype, float(batches[0].max())
    ((1, 256, 256, 3), dtype('float32'), 1.0)
    """
    from heatsink.models.predict import model_input

    out = []
    for frame in frames:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise HeatsinkError(f"calibration frames must be uint8 RGB (H, W, 3), got "
                                f"{frame.dtype} {frame.shape}")
        out.append(model_input([frame], image_size).astype(np.float32) / np.float32(255.0))
    return out


def first_convolution(model: Any) -> str | None:
    """The name of the first convolution of an OpenVINO model in execution order (None if it
    has none)."""
    return next((op.get_friendly_name() for op in model.get_ordered_ops()
                 if op.get_type_name() == "Convolution"), None)


def quantize_export(export: str | Path, frames: Sequence[np.ndarray], out: str | Path,
                    preset: str = "mixed", description: str = "",
                    float_stem: bool = True) -> Path:
    """Quantize the float32 OpenVINO export ``export`` to int8, calibrated on ``frames``.

    Parameters
    ----------
    export : path
        A float32 OpenVINO export folder (or its ``model.xml``), as
        :func:`heatsink.models.export.export_model` writes it.
    frames : sequence of ndarray
        Calibration frames, uint8 RGB (:func:`calibration_input`); at most
        :data:`CALIBRATION_FRAMES` are used (the first ones: draw them at random before).
    out : path
        The int8 export folder to write (replaced only if it is an export; written beside
        and renamed into place).
    preset : {"mixed", "performance"}
        NNCF's quantization preset (:data:`PRESETS`).
    description : str
        What the frames are, for the sidecar (e.g. ``"300 frames of the twin's training
        split"``).
    float_stem : bool
        Leave the first convolution in float32 (:func:`first_convolution`).

    Returns
    -------
    Path
        ``out / "model.xml"``.

    Raises
    ------
    HeatsinkError
        If ``export`` is not a float32 OpenVINO export, there are no frames, the preset is
        unknown, NNCF or OpenVINO is missing, or the quantization fails: one line.
    """
    from heatsink.models.export import (
        SIDECAR,
        _export_folder,
        _first_line,
        _read_sidecar,
        _require,
        _version,
    )

    if preset not in PRESETS:
        raise HeatsinkError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    _require(("openvino", "nncf"), "int8 quantization")
    model_file, sidecar = _read_sidecar(Path(export))
    if sidecar["format"] != "openvino" or sidecar.get("graph_precision") != "float32":
        raise HeatsinkError(f"{model_file}: not a float32 OpenVINO export "
                            f"({sidecar['format']}, {sidecar.get('graph_precision')})")
    size = int(sidecar["image_size"])
    batches = calibration_input(list(frames)[:CALIBRATION_FRAMES], size)
    if not batches:
        raise HeatsinkError(f"{model_file}: int8 quantization needs calibration frames")
    import nncf
    import openvino as ov

    out = Path(out)
    with _export_folder(out) as tmp:
        try:
            source = ov.Core().read_model(str(model_file))
            stem = first_convolution(source) if float_stem else None
            with _quiet():
                quantized = nncf.quantize(
                    source, nncf.Dataset(batches), subset_size=len(batches),
                    preset=nncf.QuantizationPreset(preset),
                    ignored_scope=nncf.IgnoredScope(names=[stem] if stem else []))
            ov.save_model(quantized, str(tmp / "model.xml"), compress_to_fp16=False)
        except Exception as exc:
            raise HeatsinkError(f"{model_file}: int8 quantization failed "
                                f"({_first_line(exc)})") from exc
        note = {**sidecar, "identity": f"{sidecar['identity']}{INT8_SUFFIX}",
                "graph_precision": "int8",
                "quantization": {"tool": "nncf", "version": _version("nncf"),
                                 "method": "post-training, fast bias correction",
                                 "preset": preset, "frames": len(batches),
                                 "float32_layers": [stem] if stem else [],
                                 "calibration": description,
                                 "float_export": sidecar["identity"]}}
        (tmp / SIDECAR).write_text(json.dumps(note, indent=2) + "\n", encoding="utf-8")
    return out / "model.xml"


__all__ = ["CALIBRATION_FRAMES", "INT8_SUFFIX", "PRESETS", "calibration_input",
           "first_convolution", "quantize_export"]
