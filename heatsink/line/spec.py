"""Inspection specs: pass/fail limits on the post-analysis measurements, read from YAML.

A spec file looks like::

    name: example-spec
    min_object_px: 10          # objects smaller than this are ignored
    min_peak: 0                # objects the model is less sure of are ignored (0: none)
    scratch_bias: 0            # log-odds added to the scratch class before the argmax
    stain_bias: 0              # the same for stains (negative: more cautious)
    min_scratch_px: 0          # scratches smaller than this are dropped (0: none)
    min_stain_px: 0            # stains smaller than this are dropped (0: none)
    mm_per_px: null            # optional scale; limits are then in mm / mm²
    max_stain_area: 400        # largest stain (pixels², or mm² when scaled) — pixel area
    max_stain_count: 3
    max_scratch_length: 120    # longest scratch
    max_defect_percent: 1.5    # stain% + scratch%

Every limit is optional (``null`` or absent = no limit), but a spec file must set at least
one (:func:`load_spec` refuses one that would pass every part). A part fails a rule when its
measurement is strictly greater than the limit. The stain-area rule uses the largest
stain's *pixel* area (``LargestStainPixels`` × ``mm_per_px``², not the contour area, which
is 0 for thin stains). Measurements come from :func:`heatsink.line.measurements.defect_table`
made with the spec's ``min_object_px`` and ``mm_per_px`` (:func:`inspect_masks` does both).

``min_peak`` acts before the measurements, where the model's probabilities are at hand
(``heatsink inspect``): a defect object is kept only if the model's probability of its class
reaches ``min_peak`` somewhere in it (:func:`heatsink.decision.keep_confident`). So do
``scratch_bias`` and ``stain_bias``, log-odds added to each class before the argmax (an
operating point such as the one the study chooses on the twin,
:func:`heatsink.study.carry_over.twin_choice`). ``min_scratch_px`` and ``min_stain_px`` drop the
objects of one class smaller than that (:func:`heatsink.decision.drop_small`) before any
measurement, on predicted and on given masks alike; ``min_object_px`` then ignores the small
objects of both classes in the measurements. All are 0 unless set; a spec that leaves them
at 0 keeps the identity it had before the fields existed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from heatsink.errors import HeatsinkError
from heatsink.io import write_text_atomic
from heatsink.line import measurements

PASS = "PASS"
FAIL = "FAIL"

#: Fields holding integer values; the others (but ``name``) take any real number.
_INT_FIELDS = ("min_object_px", "max_stain_count", "min_scratch_px", "min_stain_px")
#: Fields added after the first release, with the defaults :attr:`Spec.identity` leaves out.
_LATER_FIELDS: dict[str, Any] = {"min_peak": 0.0, "scratch_bias": 0.0, "stain_bias": 0.0,
                                 "min_scratch_px": 0, "min_stain_px": 0}
#: Fields that may be negative.
_SIGNED_FIELDS = ("scratch_bias", "stain_bias")
_LIMITS = ("max_stain_area", "max_stain_count", "max_scratch_length", "max_defect_percent")
#: Default limit factors of :func:`spec_tradeoff`: 0.25, 0.5, …, 4.


class SpecError(HeatsinkError, ValueError):
    """An inspection spec (file) is missing, unreadable or holds an invalid value."""


@dataclasses.dataclass(frozen=True)
class Spec:
    """Pass/fail limits of an inspection; ``None`` means no limit.

    Parameters
    ----------
    name : str
        A label for reports.
    min_object_px : int
        Objects with fewer pixels are ignored (0 and 1 keep everything).
    mm_per_px : float, optional
        Scale; when set, lengths are in mm and areas in mm².
    max_stain_area : float, optional
        Largest stain's pixel area (px², or mm² when scaled).
    max_stain_count : int, optional
        Number of stains.
    max_scratch_length : float, optional
        Longest scratch (px, or mm when scaled).
    max_defect_percent : float, optional
        ``TotalStain%`` + ``TotalScratch%``.
    min_peak : float
        In [0, 1): defect objects whose class probability never reaches this are ignored
        (applied to the model's probabilities by ``heatsink inspect``); 0 keeps them all.
    scratch_bias, stain_bias : float
        Log-odds added to the class before the argmax (by ``heatsink inspect``); 0 is the
        plain argmax, positive calls more of that class.
    min_scratch_px, min_stain_px : int
        Objects of the class with fewer pixels are dropped before measuring; 0 keeps all.
    """

    name: str = "unnamed"
    min_object_px: int = 1
    mm_per_px: float | None = None
    max_stain_area: float | None = None
    max_stain_count: int | None = None
    max_scratch_length: float | None = None
    max_defect_percent: float | None = None
    min_peak: float = 0.0
    scratch_bias: float = 0.0
    stain_bias: float = 0.0
    min_scratch_px: int = 0
    min_stain_px: int = 0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = _checked(field.name, getattr(self, field.name))
            object.__setattr__(self, field.name, value)

    def to_dict(self) -> dict[str, Any]:
        """The spec as a plain dict, in field order (what :func:`save_spec` writes)."""
        return dataclasses.asdict(self)

    def min_areas(self) -> dict[str, int]:
        """``min_scratch_px`` and ``min_stain_px`` by class name."""
        return {"scratch": self.min_scratch_px, "stain": self.min_stain_px}

    def decision(self) -> dict[str, Any]:
        """The keyword arguments of :func:`heatsink.decision.decide` the spec sets.

        Examples
        --------
        >>> point = Spec("s", max_stain_count=3, stain_bias=-1, min_scratch_px=80).decision()
        >>> point["defect_bias"], point["min_peak"], point["min_area"]
        ({'scratch': 0.0, 'stain': -1.0}, 0.0, {'scratch': 80, 'stain': 0})
        """
        return {"defect_bias": {"scratch": self.scratch_bias, "stain": self.stain_bias},
                "min_peak": self.min_peak, "min_area": self.min_areas()}

    @property
    def identity(self) -> str:
        """First 12 hex digits of the sha256 of the spec's canonical JSON.

        Fields added after the first release are left out at their defaults, so a spec that
        does not use them keeps its identity (and the reports made with it stay comparable).
        """
        fields = {key: value for key, value in self.to_dict().items()
                  if not (key in _LATER_FIELDS and value == _LATER_FIELDS[key])}
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def limits_text(self) -> str:
        """The limits the spec applies, on one line (``heatsink inspect`` prints it).

        Examples
        --------
        >>> Spec("line-7", min_object_px=10, max_stain_count=3).limits_text()
        'spec line-7: FAIL if stain count > 3; objects under 10 px ignored; units px'
        """
        units = f"mm (mm_per_px {_fmt(self.mm_per_px)})" if self.mm_per_px else "px"
        rules = [f"{rule} > {_fmt(getattr(self, key))}" for rule, key in RULE_LIMITS.items()
                 if getattr(self, key) is not None]
        peak = (f"; objects whose peak probability stays under {_fmt(self.min_peak)} ignored"
                if self.min_peak else "")
        biases = [f"{name} {value:+.6g}" for name, value in
                  (("scratch", self.scratch_bias), ("stain", self.stain_bias)) if value]
        bias = f"; decision bias {', '.join(biases)}" if biases else ""
        plural = {"scratch": "scratches", "stain": "stains"}
        areas = [f"{plural[name]} under {px} px" for name, px in self.min_areas().items()
                 if px > 1]
        area = f"; {' and '.join(areas)} dropped" if areas else ""
        return (f"spec {self.name}: FAIL if {' or '.join(rules) or '(no limit set)'}; "
                f"objects under {self.min_object_px} px ignored{peak}{bias}{area}; "
                f"units {units}")

    def scaled(self, factor: float, rules: Iterable[str] | None = None) -> Spec:
        """A copy with every limit (or the limits of ``rules``) multiplied by ``factor``.

        Counts are rounded down, which is exact for an integer count ``c``: ``c > L`` iff
        ``c > floor(L)``.

        Parameters
        ----------
        factor : float
            A positive, finite factor.
        rules : iterable of str, optional
            Rule names (keys of :data:`RULE_LIMITS`, such as ``"scratch length"``) whose
            limits to scale; the others are kept. All rules when omitted.
        """
        if not (isinstance(factor, int | float | np.number) and math.isfinite(factor)):
            raise ValueError(f"factor must be a finite number, got {factor!r}")
        if factor <= 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        changes: dict[str, Any] = {}
        for key in limit_fields(rules):
            limit = getattr(self, key)
            if limit is not None:
                scaled = limit * float(factor)
                changes[key] = math.floor(scaled) if key in _INT_FIELDS else scaled
        return dataclasses.replace(self, **changes)


def limit_fields(rules: Iterable[str] | None) -> tuple[str, ...]:
    """The spec fields holding the limits of ``rules`` (all limits for ``None``)."""
    if rules is None:
        return _LIMITS
    rules = [rules] if isinstance(rules, str) else list(rules)
    unknown = [rule for rule in rules if rule not in RULE_LIMITS]
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(RULE_LIMITS)}")
    return tuple(RULE_LIMITS[rule] for rule in rules)


def _checked(key: str, value: Any) -> Any:
    """Return the normalised value of spec field ``key``; SpecError names the key."""
    if key == "name":
        if not isinstance(value, str) or not value.strip():
            raise SpecError(f"key 'name': must be a non-empty string, got {value!r}")
        return value
    if value is None:
        if key == "min_object_px":
            raise SpecError("key 'min_object_px': must be an integer >= 0, got null")
        if key == "min_peak":
            raise SpecError("key 'min_peak': must be a number in [0, 1), got null")
        if key in _LATER_FIELDS:
            raise SpecError(f"key {key!r}: must be a number (0 for none), got null")
        return None
    if key in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise SpecError(f"key {key!r}: must be an integer, got {value!r}")
        value = int(value)
    else:
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise SpecError(f"key {key!r}: must be a number or null, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise SpecError(f"key {key!r}: must be finite (use null for no limit), got {value}")
    if value < 0 and key not in _SIGNED_FIELDS:
        raise SpecError(f"key {key!r}: must not be negative, got {value}")
    if key == "min_peak" and value >= 1:
        raise SpecError(f"key 'min_peak': must be below 1 (0 keeps every object), got {value}")
    if key == "mm_per_px" and value == 0:
        raise SpecError("key 'mm_per_px': must be > 0 (or null for pixels), got 0")
    return value


def known_keys() -> list[str]:
    """The keys a spec file may hold."""
    return [field.name for field in dataclasses.fields(Spec)]


def spec_from_dict(data: Any, source: str | Path = "spec") -> Spec:
    """Build a :class:`Spec` from a parsed mapping; errors name ``source`` and the key."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: must be a mapping of key: value, got {type(data).__name__}")
    unknown = [str(key) for key in data if key not in known_keys()]
    if unknown:
        raise SpecError(
            f"{source}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known keys are {', '.join(known_keys())}"
        )
    try:
        return Spec(**data)
    except SpecError as exc:
        raise SpecError(f"{source}: {exc}") from None


def load_spec(path: str | Path) -> Spec:
    """Read and validate a YAML spec file.

    A missing ``name`` defaults to the file's stem.

    Raises
    ------
    SpecError
        (a :class:`~heatsink.errors.HeatsinkError`) naming the file, and the key when one is
        at fault: missing or unreadable file (a FIFO or device is refused, as is a file over
        1 MB), invalid YAML, a duplicated key, aliases expanding beyond a bound (see
        :func:`heatsink.safety.load_yaml`), not a mapping, unknown key (the message lists
        the known ones), wrong type, a negative value, or no limit at all (a spec that
        passes every part is a mistake, not a spec).
    """
    from heatsink.safety import load_yaml, printable, read_text_file

    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise SpecError(f"{printable(path)}: spec file not found")
    try:
        data = load_yaml(read_text_file(path, "spec file"), path)
    except SpecError:
        raise
    except HeatsinkError as exc:
        raise SpecError(str(exc)) from None
    if isinstance(data, Mapping) and "name" not in data:
        data = {"name": printable(path.stem), **data}
    spec = spec_from_dict(data, printable(path))
    if all(getattr(spec, key) is None for key in _LIMITS):
        raise SpecError(f"{printable(path)}: sets no limit, so every part would pass; set at "
                        f"least one of {', '.join(_LIMITS)}")
    return spec


def save_spec(spec: Spec, path: str | Path) -> None:
    """Write ``spec`` as YAML to ``path`` (atomically); :func:`load_spec` reads it back."""
    write_text_atomic(path, yaml.safe_dump(spec.to_dict(), sort_keys=False))


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _measure(row: Mapping, column: str) -> float:
    try:
        return float(row[column])
    except KeyError:
        raise HeatsinkError(
            f"measurement {column!r} missing from the row; make the table with "
            "heatsink.line.measurements.defect_table"
        ) from None


def judge(row: Mapping, spec: Spec) -> tuple[str, list[str]]:
    """Judge one image's measurements against ``spec``.

    Parameters
    ----------
    row : mapping
        One row of :func:`heatsink.line.measurements.defect_table` (made with the spec's
        ``min_object_px`` and ``mm_per_px``).
    spec : Spec

    Returns
    -------
    verdict : str
        ``"PASS"`` or ``"FAIL"``.
    failed : list of str
        The broken rules, e.g. ``"stain area 512 > 400"``; empty on a pass.
    """
    failed = []
    for rule, field in RULE_LIMITS.items():
        limit = getattr(spec, field)
        if limit is None:
            continue
        value = _rule_value(row, rule, spec)
        if value > limit:
            failed.append(f"{rule} {_fmt(value)} > {_fmt(limit)}")
    return (FAIL if failed else PASS), failed


#: Each rule (as it starts an entry of ``failed_rules``) and the spec field holding its limit.
RULE_LIMITS: dict[str, str] = {
    "stain area": "max_stain_area",
    "stain count": "max_stain_count",
    "scratch length": "max_scratch_length",
    "defect percent": "max_defect_percent",
}


def _rule_value(row: Mapping, rule: str, spec: Spec) -> float:
    """The measurement a rule compares with its limit, in the spec's units."""
    if rule == "stain area":  # the pixel area, not the contour area (0 for thin stains)
        return _measure(row, "LargestStainPixels") * (spec.mm_per_px or 1.0) ** 2
    if rule == "stain count":
        return _measure(row, "NumberOfStains")
    if rule == "scratch length":
        return _measure(row, "LongestScratchLength")
    if rule == "defect percent":
        return _measure(row, "TotalStain%") + _measure(row, "TotalScratch%")
    raise HeatsinkError(f"unknown rule {rule!r}; known: {', '.join(RULE_LIMITS)}")


def limits_in_context(
    table: pd.DataFrame, spec: Spec, quantiles: tuple[float, ...] = (0.5, 0.75, 0.9)
) -> pd.DataFrame:
    """Each rule's limit beside the distribution of what it measures over a set of frames.

    Parameters
    ----------
    table : DataFrame
        :func:`heatsink.line.measurements.defect_table` of the frames, made with the spec's
        settings.
    spec : Spec
    quantiles : tuple of float
        The percentiles of each measurement to show.

    Returns
    -------
    DataFrame
        One row per rule: ``limit``, the measurement's percentiles (``p50``…) and
        ``frames over limit (%)``; a last row ``any rule`` with the share of frames the
        spec fails (NaN elsewhere in that row).
    """
    _check_settings(table, spec)
    rows = {}
    for rule, field in RULE_LIMITS.items():
        values = pd.Series([_rule_value(row, rule, spec) for _, row in table.iterrows()],
                           dtype=float)
        limit = getattr(spec, field)
        rows[rule] = {"limit": limit,
                      **{f"p{100 * q:g}": values.quantile(q) for q in quantiles},
                      "frames over limit (%)": (100 * float((values > limit).mean())
                                                if limit is not None else np.nan)}
    failed = judge_table(table, spec)["verdict"] == FAIL
    rows["any rule"] = {"frames over limit (%)": 100 * float(failed.mean())}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("rule")


def _check_settings(table: pd.DataFrame, spec: Spec) -> None:
    """Refuse a table whose recorded settings differ from the spec's."""
    expected = {"mm_per_px": spec.mm_per_px, "min_area_px": spec.min_object_px}
    for key, want in expected.items():
        have = table.attrs.get(key, want)
        if key == "min_area_px":  # 0 and 1 both keep every object
            have, want = max(have, 1), max(want, 1)
        if have != want:
            raise HeatsinkError(
                f"the table was measured with {key}={have!r} but spec "
                f"{spec.name!r} uses {want!r}; remake it with measurements.defect_table"
                f"(..., min_area_px=spec.min_object_px, mm_per_px=spec.mm_per_px)"
            )


def judge_table(table: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """A copy of ``table`` with columns ``verdict`` and ``failed_rules`` ("; "-joined)."""
    _check_settings(table, spec)
    out = table.copy()
    results = [judge(row, spec) for _, row in table.iterrows()]
    out["verdict"] = pd.Series([v for v, _ in results], index=table.index, dtype=object)
    out["failed_rules"] = pd.Series(
        ["; ".join(f) for _, f in results], index=table.index, dtype=object
    )
    return out


def inspect_masks(masks: Iterable[tuple[str, np.ndarray]], spec: Spec) -> pd.DataFrame:
    """Measure ``(image_id, mask)`` pairs with the spec's settings and judge them.

    Masks carry no probabilities: the spec's ``min_peak`` and biases are applied where they
    are made (:meth:`heatsink.models.predict.Predictor.masks`, as ``heatsink inspect`` does).
    Its per-class minimum areas need none, and are applied here too.
    """
    if any(px > 1 for px in spec.min_areas().values()):
        from heatsink.decision import drop_small

        masks = ((image_id, drop_small(mask, spec.min_areas())) for image_id, mask in masks)
    table = measurements.defect_table(
        masks, mm_per_px=spec.mm_per_px, min_area_px=spec.min_object_px
    )
    return judge_table(table, spec)


def aligned_verdicts(pred_verdicts: pd.Series, true_verdicts: pd.Series
                      ) -> tuple[pd.Series, pd.Series]:
    """Both verdict series, checked (PASS/FAIL, unique ids, the same ids) and aligned."""
    pred = pd.Series(pred_verdicts)
    true = pd.Series(true_verdicts)
    for what, series in (("predicted", pred), ("true", true)):
        if series.index.has_duplicates:
            raise HeatsinkError(f"{what} verdicts have duplicate ids")
        bad = sorted(set(series.astype(str)) - {PASS, FAIL})
        if bad:
            raise HeatsinkError(f"{what} verdicts must be PASS or FAIL, found {bad[:5]}")
    missing = pred.index.symmetric_difference(true.index)
    if len(missing):
        raise HeatsinkError(
            f"predicted and true verdicts cover different ids, e.g. {list(missing[:5])}"
        )
    return pred.reindex(true.index), true


def pass_fail_confusion(pred_verdicts: pd.Series, true_verdicts: pd.Series) -> dict[str, float]:
    """Part-level confusion of predicted against true verdicts; FAIL is the positive class.

    Parameters
    ----------
    pred_verdicts, true_verdicts : Series of "PASS"/"FAIL"
        Indexed by the same part (image) ids, in any order.

    Returns
    -------
    dict
        ``tp`` (defective part failed), ``fn`` (defective part passed: an escape), ``fp``
        (good part failed: overkill), ``tn``, ``n``, ``escape_rate`` = fn / (tp + fn) and
        ``overkill_rate`` = fp / (fp + tn); a rate is NaN when its denominator is 0.
    """
    pred, true = aligned_verdicts(pred_verdicts, true_verdicts)
    p_fail, t_fail = pred == FAIL, true == FAIL
    tp = int((p_fail & t_fail).sum())
    fn = int((~p_fail & t_fail).sum())
    fp = int((p_fail & ~t_fail).sum())
    tn = int((~p_fail & ~t_fail).sum())
    return {
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "n": tp + fn + fp + tn,
        "escape_rate": fn / (tp + fn) if tp + fn else math.nan,
        "overkill_rate": fp / (fp + tn) if fp + tn else math.nan,
    }


#: Rule names as they start each entry of ``failed_rules``.
RULES: tuple[str, ...] = tuple(RULE_LIMITS)


__all__ = [
    "FAIL",
    "PASS",
    "RULES",
    "RULE_LIMITS",
    "Spec",
    "SpecError",
    "aligned_verdicts",
    "inspect_masks",
    "judge",
    "judge_table",
    "known_keys",
    "limit_fields",
    "limits_in_context",
    "load_spec",
    "pass_fail_confusion",
    "save_spec",
    "spec_from_dict",
]
