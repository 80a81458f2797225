"""Label noise: the annotation errors the seed study describes in the real labels.

The twin writes two masks per image: ``truth/`` (what is really on the surface) and
``labels/`` (what an annotator would have drawn). They differ only by injected errors,
each listed in ``noise_manifest.csv``. The labelled masks are the ones calibrated to the
published statistics, because the published statistics were computed on the real
(annotated, hence noisy) labels.

Besides these errors of chance, an annotator's **criterion** can be injected
(:attr:`NoiseConfig.faint_contrast`): defects too faint for the annotator to see are left
unlabelled (``faint_unlabelled`` in the manifest). Each image gets its own annotator, whose
contrast threshold varies about the stated one (:attr:`NoiseConfig.faint_jitter`), so two
equally faint defects may be labelled in one frame and not in the next, as inconsistent
human criteria would have it. The criterion is applied to each rendered frame after the
errors of chance, from the frame's image and truth (:func:`object_contrast`); it is off
by default, and a twin without it is the same bytes as before it existed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

#: The error types injected at a rate, in manifest order.
ERROR_TYPES: tuple[str, ...] = (
    "missed_stain", "class_swap", "sloppy_boundary", "seam_inconsistency"
)

#: The error an annotator's contrast criterion makes: a faint true defect left unlabelled.
FAINT_ERROR = "faint_unlabelled"

#: Every error type a twin's manifest may hold, in manifest order.
ALL_ERROR_TYPES: tuple[str, ...] = (*ERROR_TYPES, FAINT_ERROR)

#: Ring around a defect (px, chessboard distance) in which its surroundings are measured,
#: and the gap (px) kept from any true defect.
CONTRAST_RING = 6
CONTRAST_GAP = 2
#: Percentile of the signed deviation that measures how far a defect stands out.
CONTRAST_PERCENTILE = 80.0
#: Stream of the annotator criterion's random numbers, apart from the part's own.
_CRITERION_STREAM = 0xFA17

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
    faint_contrast : float
        The annotators' contrast criterion: a true defect whose contrast
        (:func:`object_contrast`) is below the frame's annotator threshold is left
        unlabelled. 0 (the default) switches the criterion off. On the default twin (first
        300 frames, defects clear of other errors) 5 % of the true objects measure below
        0.01 (lost in the surface's texture), 6 % below 0.02 (7 % of the scratches, 6 % of
        the stains; 3.9 % of the defect pixels) and 12 % below 0.05 (17 %, 10 %; 8.8 % of
        the pixels). Independent of ``level``.
    faint_jitter : float in [0, 1]
        How much the annotators disagree: each frame's threshold is drawn uniformly from
        ``faint_contrast × [1 − faint_jitter, 1 + faint_jitter]``. 0 is one consistent
        criterion.
    """

    level: float = DEFAULT_LEVEL
    missed_stain: float | None = None
    class_swap: float | None = None
    sloppy_boundary: float | None = None
    seam_inconsistency: float | None = None
    faint_contrast: float = 0.0
    faint_jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.level <= 1.0:
            raise ValueError(f"noise level must be in [0, 1], got {self.level}")
        for name in ERROR_TYPES:
            v = getattr(self, name)
            if v is not None and not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} rate must be in [0, 1], got {v}")
        if not (np.isfinite(self.faint_contrast) and self.faint_contrast >= 0.0):
            raise ValueError(f"faint_contrast must be a number >= 0, got {self.faint_contrast}")
        if not 0.0 <= self.faint_jitter <= 1.0:
            raise ValueError(f"faint_jitter must be in [0, 1], got {self.faint_jitter}")

    @property
    def criterion(self) -> bool:
        """Whether the annotators' contrast criterion is on."""
        return self.faint_contrast > 0.0

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
        """Settings and effective rates, for ``twin.json``.

        The criterion's settings are written only when it is on, so a twin without it
        records what it recorded before the criterion existed.
        """
        settings = asdict(self)
        if not self.criterion:
            del settings["faint_contrast"], settings["faint_jitter"]
        return {"settings": settings, "rates": self.rates()}


def object_contrast(image: np.ndarray, truth: np.ndarray, obj: np.ndarray) -> float:
    """How far one true defect stands out from the surface around it.

    Measured on the red channel, which the twin's colouring makes proportional to the
    surface's luminance (:func:`heatsink.synth.surface.colourize`): each pixel's relative
    deviation from the median of the defect's surroundings (a ring up to
    :data:`CONTRAST_RING` px around it, at least :data:`CONTRAST_GAP` px from any true
    defect), signed in the direction the defect deviates on average (darker or brighter).
    The contrast is the :data:`CONTRAST_PERCENTILE`-th percentile of that deviation over
    the defect's pixels minus the same percentile over the ring, floored at 0: how much the
    defect's most marked fifth stands out beyond what the surface's own texture does. A
    label covers more than the visible mark (a scratch's band is several times its line),
    hence a high percentile rather than the mean.

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8
        The frame, BGR (as OpenCV reads and the generator writes it).
    truth : ndarray (H, W)
        The frame's clean truth mask.
    obj : ndarray (H, W) bool
        The defect's pixels.

    Returns
    -------
    float
        0 for a defect indistinguishable from its surroundings; 0.1 means its marked
        fifth deviates 10 % of the surface's brightness beyond the texture's.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((40, 40, 3), 100, np.uint8)
    >>> image[..., 2] += np.random.default_rng(0).integers(0, 10, (40, 40), dtype=np.uint8)
    >>> truth = np.zeros((40, 40), np.uint8); truth[15:25, 15:25] = 2
    >>> round(object_contrast(image, truth, truth == 2), 2)  # no mark: texture only
    0.0
    >>> image[15:25, 15:25, 2] -= 30
    >>> round(object_contrast(image, truth, truth == 2), 2)  # 30 darker on ~104
    0.29
    """
    import cv2

    red = np.asarray(image)[..., 2].astype(np.float64)
    obj = np.asarray(obj, bool)
    square = np.ones((2 * CONTRAST_RING + 1,) * 2, np.uint8)
    gap = np.ones((2 * CONTRAST_GAP + 1,) * 2, np.uint8)
    ring = (cv2.dilate(obj.astype(np.uint8), square).astype(bool)
            & ~cv2.dilate((np.asarray(truth) != 0).astype(np.uint8), gap).astype(bool))
    if not ring.any():  # a defect filling its surroundings: the whole frame's surface
        ring = np.asarray(truth) == 0
    if not ring.any() or not obj.any():
        return 0.0
    base = max(float(np.median(red[ring])), 1.0)
    deviation = (red - base) / base
    sign = 1.0 if float(np.mean(deviation[obj])) >= 0 else -1.0
    mark = np.percentile(sign * deviation[obj], CONTRAST_PERCENTILE)
    texture = np.percentile(sign * deviation[ring], CONTRAST_PERCENTILE)
    return max(float(mark - texture), 0.0)


def criterion_rng(seed: np.random.SeedSequence, frame: int) -> np.random.Generator:
    """The random numbers of the annotator of one frame of a part: a stream of their own,
    so that switching the criterion on changes nothing else of the twin."""
    return np.random.default_rng(np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, _CRITERION_STREAM, int(frame))))


def apply_criterion(
    image: np.ndarray, label: np.ndarray, truth: np.ndarray, noise: NoiseConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[tuple]]:
    """One frame's label as an annotator with a contrast criterion would have drawn it.

    The frame's annotator threshold is drawn from ``noise`` (see
    :attr:`NoiseConfig.faint_contrast`); every true defect (an 8-connected component of
    one class in ``truth``) whose :func:`object_contrast` is below it is set to background
    in the label where the label had it right. A defect that already carries an injected
    error (the label differs from the truth on it or within 2 px of it) is left alone, so
    each changed pixel belongs to one manifest row.

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8
        The frame, BGR.
    label, truth : ndarray (H, W) uint8
        The frame's label (after the errors of chance) and its clean truth.
    noise : NoiseConfig
        With the criterion on (``faint_contrast > 0``); otherwise ``label`` comes back.
    rng : Generator
        The frame's annotator (:func:`criterion_rng`).

    Returns
    -------
    label : ndarray (H, W) uint8
        A new label (or ``label`` itself when nothing changed).
    rows : list of tuple
        One per defect left out: ``error, class_truth, class_labelled, pixels, top, left,
        bbox_h, bbox_w, detail``, the manifest's columns after ``image_id``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((40, 40, 3), 100, np.uint8)
    >>> truth = np.zeros((40, 40), np.uint8); truth[5:10, 5:10] = 2; truth[25:30, 25:30] = 2
    >>> image[5:10, 5:10, 2] = 60  # a marked stain; the other one is invisible
    >>> noise = NoiseConfig(faint_contrast=0.05, faint_jitter=0.0)
    >>> new, rows = apply_criterion(image, truth.copy(), truth, noise,
    ...                             np.random.default_rng(0))
    >>> int((new != truth).sum()), rows[0][:8]
    (25, ('faint_unlabelled', 'stain', 'background', 25, 25, 25, 5, 5))
    """
    import cv2

    from heatsink.classes import BACKGROUND, CLASS_NAMES, DEFECTS
    from heatsink.components import components

    if not noise.criterion:
        return label, []
    jitter = noise.faint_jitter
    threshold = noise.faint_contrast * float(rng.uniform(1 - jitter, 1 + jitter))
    label, truth = np.asarray(label), np.asarray(truth)
    wrong = cv2.dilate((label != truth).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    out, rows = label, []
    for class_id, name in DEFECTS:
        found = components(truth == class_id)
        for k in range(1, found.n + 1):
            obj = found.labels == k
            if (obj & wrong).any():
                continue
            contrast = object_contrast(image, truth, obj)
            if contrast >= threshold:
                continue
            if out is label:
                out = label.copy()
            out[obj] = BACKGROUND
            ys, xs = np.nonzero(obj)
            rows.append((FAINT_ERROR, name, CLASS_NAMES[BACKGROUND], int(obj.sum()),
                         int(ys.min()), int(xs.min()), int(ys.max() - ys.min() + 1),
                         int(xs.max() - xs.min() + 1),
                         f"{name} of contrast {contrast:.3f} below the annotator's "
                         f"{threshold:.3f}: not labelled"))
    return out, rows


__all__ = [
    "ALL_ERROR_TYPES",
    "CONTRAST_GAP",
    "CONTRAST_PERCENTILE",
    "CONTRAST_RING",
    "DEFAULT_LEVEL",
    "DEFAULT_RATES",
    "ERROR_TYPES",
    "FAINT_ERROR",
    "NoiseConfig",
    "apply_criterion",
    "criterion_rng",
    "object_contrast",
]
