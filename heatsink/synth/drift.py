"""A drifting process: from a known part on, stains grow and scratches lengthen.

The twin's parts are independent draws, so a run chart of them can only raise false alarms.
A :class:`Drift` passed to :func:`heatsink.synth.generate` makes a sequence with a known
process change, the thing a run chart exists to detect: parts are made in the order of
their ``part_id`` (``adjacency.csv``; the frames of a part row by row), and from
``start_part`` on every defect's size is drawn as before and then scaled: a stain's
bounding box by √``stain_scale`` on each side (its area by about ``stain_scale``), a
scratch's box by ``scratch_scale`` on each side (its length by about ``scratch_scale``, its
thickness unchanged). The change is a step or, with ``ramp_parts``, a linear ramp.

What stays fixed: the parts before ``start_part`` are byte for byte the parts of the twin
with the same ``n`` and ``seed`` and no drift (each part has its own random stream); the
number of objects per frame, the label noise and the surface are drawn as without drift.
Sizes are clipped at the 320-pixel frame, and a defect that no longer fits where it was to
go is redrawn or dropped by the generator as any crowded defect is, so very large factors
fall short of what they ask; measure the effect (:func:`heatsink.synth.records`, the
``truth/`` masks) rather than assume it.

Examples
--------
>>> d = Drift(start_part=11, stain_scale=2.0, scratch_scale=1.5, ramp_parts=4)
>>> [d.factors(p) for p in (10, 11, 12, 14, 20)]  # doctest: +NORMALIZE_WHITESPACE
[(1.0, 1.0), (1.25, 1.125), (1.5, 1.25), (2.0, 1.5), (2.0, 1.5)]
>>> Drift.from_dict(d.to_dict()) == d
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from heatsink.synth.sampling import SIDE_SCALE

#: Columns of ``drift.csv``, written beside ``adjacency.csv`` by a drifted twin.
DRIFT_COLUMNS = ["part_id", "stain_area_factor", "scratch_length_factor"]


@dataclass(frozen=True)
class Drift:
    """A size drift from a known part on.

    Attributes
    ----------
    start_part : int
        ``part_id`` (1-based production order, as in ``adjacency.csv``) of the first
        drifted part.
    stain_scale : float
        Factor on stain areas once the drift is complete (1: stains unchanged).
    scratch_scale : float
        Factor on scratch lengths once the drift is complete (1: unchanged).
    ramp_parts : int
        0: a step, full size from ``start_part``. k > 0: a linear ramp, the factor growing
        by 1/k of the change per part and complete at part ``start_part + k - 1``.
    """

    start_part: int
    stain_scale: float = 1.0
    scratch_scale: float = 1.0
    ramp_parts: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.start_part, bool) or int(self.start_part) != self.start_part \
                or self.start_part < 1:
            raise ValueError(f"start_part must be a part id (1 or more), got {self.start_part}")
        for name in ("stain_scale", "scratch_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}")
        if isinstance(self.ramp_parts, bool) or int(self.ramp_parts) != self.ramp_parts \
                or self.ramp_parts < 0:
            raise ValueError(f"ramp_parts must be 0 or more, got {self.ramp_parts}")

    def fraction(self, part_id: int) -> float:
        """How much of the change part ``part_id`` carries: 0 before the start, 1 in full."""
        k = part_id - self.start_part
        if k < 0:
            return 0.0
        return 1.0 if self.ramp_parts == 0 else min(1.0, (k + 1) / self.ramp_parts)

    def factors(self, part_id: int) -> tuple[float, float]:
        """``(stain area factor, scratch length factor)`` of part ``part_id``."""
        f = self.fraction(part_id)
        return 1.0 + (self.stain_scale - 1.0) * f, 1.0 + (self.scratch_scale - 1.0) * f

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (as recorded in ``twin.json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Drift:
        """The inverse of :meth:`to_dict`."""
        return cls(int(d["start_part"]), float(d["stain_scale"]), float(d["scratch_scale"]),
                   int(d["ramp_parts"]))


@contextmanager
def scaled_sizes(stain_area: float = 1.0, scratch_length: float = 1.0) -> Iterator[None]:
    """Within the block, defect sizes drawn by :func:`heatsink.synth.sampling.sample_bboxes`
    are scaled: stain box sides by √``stain_area``, scratch box sides by ``scratch_length``.

    With both factors 1 nothing is set, so the draws are exactly the calibrated ones.

    Examples
    --------
    >>> import numpy as np
    >>> from heatsink.synth.sampling import sample_bboxes
    >>> plain = sample_bboxes(np.random.default_rng(0), "scratch", 3)
    >>> with scaled_sizes(scratch_length=2.0):
    ...     longer = sample_bboxes(np.random.default_rng(0), "scratch", 3)
    >>> bool((longer == np.minimum(2 * plain, 320)).all())
    True
    """
    if stain_area == 1.0 and scratch_length == 1.0:
        yield
        return
    token = SIDE_SCALE.set({"stain": math.sqrt(stain_area), "scratch": float(scratch_length)})
    try:
        yield
    finally:
        SIDE_SCALE.reset(token)


def part_sizes(drift: Drift | None, part_id: int):
    """The context in which part ``part_id`` of a twin with ``drift`` is rendered."""
    if drift is None:
        return scaled_sizes()
    return scaled_sizes(*drift.factors(part_id))


def write_drift_record(folder: Path, drift: Drift, n_parts: int, info: dict[str, Any]) -> None:
    """Write ``drift.csv`` (each part's factors) into ``folder`` and add ``drift`` to the
    twin's ``info`` (the dict written as ``twin.json``)."""
    rows = [(p, *drift.factors(p)) for p in range(1, n_parts + 1)]
    pd.DataFrame(rows, columns=DRIFT_COLUMNS).to_csv(folder / "drift.csv", index=False)
    info["drift"] = {
        **drift.to_dict(),
        "production_order": "part_id in adjacency.csv; a part's frames row by row",
        "parts_drifted": sum(1 for p in range(1, n_parts + 1) if drift.fraction(p) > 0),
    }


def read_drift(root: str | Path) -> Drift | None:
    """The :class:`Drift` recorded in a twin's ``twin.json`` (None: the twin has none)."""
    info = json.loads((Path(root) / "twin.json").read_text(encoding="utf-8"))
    return Drift.from_dict(info["drift"]) if "drift" in info else None


__all__ = [
    "DRIFT_COLUMNS",
    "Drift",
    "part_sizes",
    "read_drift",
    "scaled_sizes",
    "write_drift_record",
]
