"""Label noise: the annotation errors the seed study describes in the real labels.

The twin writes two masks per image: ``truth/`` (what is really on the surface) and
``labels/`` (what an annotator would have drawn). They differ only by injected errors,
each listed in ``noise_manifest.csv``. The labelled masks are the ones calibrated to the
published statistics, because the published statistics were computed on the real
(annotated, hence noisy) labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: The error types, in manifest order.
ERROR_TYPES: tuple[str, ...] = (
    "missed_stain", "class_swap", "sloppy_boundary", "seam_inconsistency"
)

#: The default level: the approximate fraction of images with at least one label error.
DEFAULT_LEVEL = 0.20

#: Rates at the default level: per image for the first three, per seam-crossing defect
#: for ``seam_inconsistency``.
DEFAULT_RATES: dict[str, float] = {
    "missed_stain": 0.07,
    "class_swap": 0.035,
    "sloppy_boundary": 0.05,
    "seam_inconsistency": 0.20,
}


@dataclass(frozen=True)
class NoiseConfig:
    """How much label noise to inject into ``labels/``.

    The default (``level=0.20``, about one image in five with a label error) is the twin's
    stated noise level for the study. The real rate is unknown; the seed study calls
    unlabelled and mislabelled defects "relatively common". Per image: a 7 % chance of a
    missed stain (a faint stain present in the truth, left out of the label), 3.5 % of a
    scratch/stain class swap (the most ambiguous object of the image labelled as the other
    class), 5 % of a sloppy boundary (one object's label grown, shrunk or shifted by 1–2 px
    with respect to the truth), and, for each defect that crosses a seam between two tiles
    of a part, a 20 % chance that the piece in one tile is left unlabelled or labelled as
    the other class while the neighbour's piece is labelled correctly. ``twin.json`` records
    how many images this touched (``counts.images_with_label_errors``).

    Parameters
    ----------
    level : float in [0, 1]
        Approximate fraction of images with at least one label error. All default rates
        are scaled by ``level / DEFAULT_LEVEL`` (0 = no noise; rates are capped at 1, so large
        levels touch fewer images than ``level`` says).
    missed_stain, class_swap, sloppy_boundary, seam_inconsistency : float, optional
        Explicit rates overriding the scaled default for that type.
    """

    level: float = DEFAULT_LEVEL
    missed_stain: float | None = None
    class_swap: float | None = None
    sloppy_boundary: float | None = None
    seam_inconsistency: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.level <= 1.0:
            raise ValueError(f"noise level must be in [0, 1], got {self.level}")
        for name in ERROR_TYPES:
            v = getattr(self, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} rate must be in [0, 1], got {v}")

    @classmethod
    def none(cls) -> NoiseConfig:
        """No label noise: ``labels/`` equals ``truth/``."""
        return cls(level=0.0)

    def rates(self) -> dict[str, float]:
        """Effective rate of each error type."""
        out = {}
        for name in ERROR_TYPES:
            v = getattr(self, name)
            scaled = self.level / DEFAULT_LEVEL * DEFAULT_RATES[name]
            out[name] = min(1.0, scaled) if v is None else float(v)
        return out

    def to_dict(self) -> dict[str, object]:
        """Settings and effective rates, for ``twin.json``."""
        return {"settings": asdict(self), "rates": self.rates()}


__all__ = [
    "DEFAULT_LEVEL",
    "DEFAULT_RATES",
    "ERROR_TYPES",
    "NoiseConfig",
]
