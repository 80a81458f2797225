"""Does a twin-trained model carry over? The real-surface check of the book's models, kept.

:func:`heatsink.real_surface.real_surface_check` runs a model on the 31 real frames of
DatasetNinja's pictures and counts what it calls defect on their real, unlabelled plating.
This module keeps each model's per-frame table as a result file
(``<results>/real_surface/<label>.csv``: numbers only, never a pixel) so that the chapter can
put the models of every generator version side by side, including those no longer on disk
(a fixture of an earlier twin), and sets beside them what the same model finds on the twin's
validation frames against the clean truth: a model that keeps quiet on real plating by
finding nothing is no progress.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from heatsink.io import atomic_path
from heatsink.real_surface import DRAWN_VIEWS, real_surface_check, summarize

if TYPE_CHECKING:
    from collections.abc import Sequence

    from heatsink.data import Dataset
    from heatsink.evaluate import Evaluation
    from heatsink.models.predict import Predictor
    from heatsink.synth.real_frames import RealFrame

__all__ = [
    "BIASES",
    "CHECKS",
    "CONTRAST_SOURCES",
    "CURVE_COLUMNS",
    "GRID_KNOBS",
    "KNOBS",
    "MARGIN_SOURCES",
    "OPACITY_MORE",
    "PARTS",
    "PEAKS",
    "PROTOCOLS",
    "SCRATCH_BIASES",
    "STAIN_BIASES",
    "STAIN_MARGINS",
    "along_bias",
    "at_recall",
    "carry_over_table",
    "check_file",
    "class_grid",
    "contrast_quartiles",
    "control_file",
    "control_table",
    "evaluate_points",
    "frames_changed",
    "grid_point",
    "load_check",
    "load_contrast",
    "load_control",
    "load_curve",
    "load_grid",
    "load_point",
    "load_stain_margins",
    "load_twin",
    "margin_quartiles",
    "meeting_points",
    "operating_curve",
    "peak_reading",
    "record_check",
    "record_contrast",
    "record_control",
    "record_curve",
    "record_grid",
    "record_point",
    "record_stain_margins",
    "record_twin",
    "save_table",
    "sweep",
    "twin_choice",
    "twin_evaluation",
    "twin_file",
    "twin_surface_check",
    "view",
]

#: Sub-folder of the results folder holding one per-frame table per model.
CHECKS = "real_surface"


def _write(path: Path, table: pd.DataFrame, **to_csv: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        table.to_csv(tmp, **to_csv)
    return path


#: What is kept beside a model's check, by the suffix of its file.
PARTS = ("twin", "control", "curve", "contrast", "grid", "point")


def check_file(results_dir: str | Path, label: str, part: str | None = None) -> Path:
    """Where the check of the model called ``label`` is kept, or with ``part`` (one of
    :data:`PARTS`) what is kept beside it.

    Examples
    --------
    >>> check_file("results/twin", "gslu fold 0, twin 1.5.0").as_posix()
    'results/twin/real_surface/gslu-fold-0-twin-1.5.0.csv'
    >>> check_file("results/twin", "plan light-wcce+dice", "curve").name
    'plan-light-wcce+dice.curve.csv'
    """
    if part is not None and part not in PARTS:
        raise ValueError(f"part must be one of {PARTS} or None, not {part!r}")
    slug = re.sub(r"[^A-Za-z0-9.+]+", "-", label).strip("-")
    return Path(results_dir) / CHECKS / (f"{slug}.csv" if part is None else f"{slug}.{part}.csv")


def record_check(model: object, label: str, results_dir: str | Path,
                 frames: Sequence[RealFrame] | None = None,
                 views: Sequence[str] = DRAWN_VIEWS) -> pd.DataFrame:
    """Run the real-surface check of ``model`` and keep its per-frame table.

    The check runs once per entry of ``views`` (the frames as the pictures show them, and
    with their drawn labels filled with plating; see
    :func:`heatsink.real_surface.real_surface_check`); the table's ``drawn`` column says
    which.

    Parameters
    ----------
    model : Keras model, ``.keras`` file, run folder or callable
        Anything :func:`heatsink.real_surface.real_surface_check` takes.
    label : str
        The model's name in the chapter's table (kept in the file's ``model`` column).
    results_dir : str or Path
        The study's results folder.
    frames : sequence of RealFrame, optional
        The real frames (default: loaded from the reference pictures).
    views : sequence of str
        The views to check (:data:`heatsink.real_surface.DRAWN_VIEWS`).

    Returns
    -------
    DataFrame
        The per-frame table, as written.
    """
    from heatsink.real_surface import load_predictor
    from heatsink.synth.real_frames import load_real_frames

    frames = load_real_frames() if frames is None else list(frames)
    predict = load_predictor(model) if isinstance(model, (str, Path)) else model
    check = pd.concat([real_surface_check(predict, frames, drawn=v).assign(drawn=v)
                       for v in views], ignore_index=True).assign(model=label)
    _write(check_file(results_dir, label), check, index=False)
    return check


def load_check(results_dir: str | Path, label: str) -> pd.DataFrame:
    """A kept per-frame table (FileNotFoundError naming the file if there is none); checks
    kept before the drawn labels could be filled are of the frames as shown."""
    path = check_file(results_dir, label)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no real-surface check kept for {label!r}")
    check = pd.read_csv(path)
    return check if "drawn" in check else check.assign(drawn="shown")


def view(check: pd.DataFrame, drawn: str = "shown") -> pd.DataFrame:
    """The rows of a per-frame check table for one view of the frames (empty if not run).

    Examples
    --------
    >>> t = pd.DataFrame({"frame": ["a", "a"], "drawn": ["shown", "filled"]})
    >>> view(t, "filled")["drawn"].tolist(), len(view(t.drop(columns="drawn")))
    (['filled'], 2)
    """
    if "drawn" not in check:
        return check if drawn == "shown" else check.iloc[:0]
    return check[check["drawn"] == drawn]


def twin_file(results_dir: str | Path, label: str) -> Path:
    """Where the twin scores (per-image counts) of the model called ``label`` are kept.

    Examples
    --------
    >>> twin_file("results/twin", "gslu fold 0, twin 1.4.4").name
    'gslu-fold-0-twin-1.4.4.twin.csv'
    """
    return check_file(results_dir, label, "twin")


def record_twin(evaluation: Evaluation, results_dir: str | Path, label: str) -> Path:
    """Keep a model's twin scores (:meth:`heatsink.evaluate.Evaluation.to_table`)."""
    return _write(twin_file(results_dir, label), evaluation.to_table())


def load_twin(results_dir: str | Path, label: str) -> Evaluation | None:
    """Kept twin scores of ``label`` against the clean truth, or None if none were kept."""
    from heatsink.evaluate import Evaluation

    path = twin_file(results_dir, label)
    if not path.exists():
        return None
    table = pd.read_csv(path, index_col="image_id", dtype={"image_id": str})
    return Evaluation.from_table(table, "truth")


def save_table(results_dir: str | Path, table: pd.DataFrame) -> Path:
    """Write the chapter's :func:`carry_over_table` as ``real_surface/carry_over.csv``."""
    return _write(Path(results_dir) / CHECKS / "carry_over.csv", table, index_label="model")


def frames_changed(before: pd.DataFrame, after: pd.DataFrame,
                   cls: str = "defect") -> tuple[int, int]:
    """On how many real frames ``after`` raises fewer, and more, false components than
    ``before`` (two per-frame tables of :func:`record_check`; ties count in neither).

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"frame": ["f", "g", "h"], "class": "defect",
    ...                   "false_components": [3, 1, 2]})
    >>> frames_changed(a, a.assign(false_components=[1, 1, 5]))
    (1, 1)
    """
    pick = {name: view(t)[view(t)["class"] == cls].set_index("frame")["false_components"]
            for name, t in (("before", before), ("after", after))}
    diff = (pick["after"] - pick["before"]).dropna()
    return int((diff < 0).sum()), int((diff > 0).sum())


def carry_over_table(checks: Mapping[str, pd.DataFrame],
                     twin: Mapping[str, Evaluation | None] | None = None) -> pd.DataFrame:
    """One row per model: on real plating, and on the twin's validation frames.

    Parameters
    ----------
    checks : mapping of label to per-frame table
        :func:`record_check` or :func:`load_check` tables.
    twin : mapping of label to Evaluation, optional
        Each model's validation scores against the twin's clean truth (None where there are
        none).

    Returns
    -------
    DataFrame
        Indexed by label: ``real_defect_pct`` (share of the real surface called defect),
        ``real_false_per_frame`` (false defect components per real frame) and the same per
        class, of the frames as shown; ``filled_defect_pct``, ``filled_false_per_frame`` and
        the same per class, with the drawn labels filled (NaN where that was not checked); with
        ``twin``: ``twin_defect_miou``, ``twin_scratch_object_recall``,
        ``twin_stain_object_recall``, ``twin_scratch_false_per_frame``,
        ``twin_stain_false_per_frame`` (NaN where a model has no twin scores).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [{"frame": "a", "class": c, "surface_px": 100, "called_px": n,
    ...          "share": n / 100, "false_components": k}
    ...         for c, n, k in (("scratch", 1, 2), ("stain", 0, 0), ("defect", 1, 2))]
    >>> carry_over_table({"m": pd.DataFrame(rows)}).loc["m"].tolist()
    [1.0, 2.0, 1.0, 2.0, 0.0, 0.0, nan, nan, nan, nan, nan, nan]
    """
    rows = {}
    for label, check in checks.items():
        s = summarize(view(check))
        row = {"real_defect_pct": s.loc["defect", "share_pct"],
               "real_false_per_frame": s.loc["defect", "false_components_per_frame"]}
        for name in ("scratch", "stain"):
            row[f"real_{name}_pct"] = s.loc[name, "share_pct"]
            row[f"real_{name}_false_per_frame"] = s.loc[name, "false_components_per_frame"]
        filled = view(check, "filled")
        f = summarize(filled) if len(filled) else None
        for name in ("defect", "scratch", "stain"):
            known = f is not None and name in f.index
            per = "" if name == "defect" else f"{name}_"
            row[f"filled_{name}_pct"] = f.loc[name, "share_pct"] if known else float("nan")
            row[f"filled_{per}false_per_frame"] = (
                f.loc[name, "false_components_per_frame"] if known else float("nan"))
        if twin is not None:
            ev = twin.get(label)
            summary = ev.summary() if ev is not None else None
            row["twin_defect_miou"] = summary["miou_defects"] if ev is not None else float("nan")
            for name in ("scratch", "stain"):
                for key in (f"{name}_object_recall", f"{name}_false_alarms_per_image"):
                    out = f"twin_{key}".replace("false_alarms_per_image", "false_per_frame")
                    row[out] = summary[key] if ev is not None else float("nan")
        rows[label] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def twin_evaluation(model: str | Path | Predictor, ds: Dataset,
                    ids: Sequence[str]) -> Evaluation:
    """Score a model on twin frames against their clean truth.

    Parameters
    ----------
    model : ``.keras`` file, run folder or Predictor
        A path is opened with :func:`heatsink.real_surface.open_predictor`.
    ds : Dataset
        A twin (it must have the truth).
    ids : sequence of str
        The frames (e.g. a fold the model never trained on).
    """
    from heatsink.evaluate import evaluate_predictions
    from heatsink.models.predict import predict_masks
    from heatsink.real_surface import open_predictor

    predictor = open_predictor(model) if isinstance(model, (str, Path)) else model
    masks = predict_masks(predictor, ds, [str(i) for i in ids])
    return evaluate_predictions(masks, ds, ["truth"])["truth"]


def twin_surface_check(model: str | Path | Predictor, ds: Dataset, ids: Sequence[str],
                       tile_sizes: Sequence[int] | None = None,
                       drawn: str = "shown") -> pd.DataFrame:
    """The real-surface check's protocol on twin frames, a control for the check itself.

    The twin frames' surface is their clean background at least
    :data:`~heatsink.synth.real_frames.SURFACE_MARGIN` px from any true defect; with
    ``tile_sizes`` (the real frames' ``tile_size``) each frame first makes the round trip
    through a tile of that size that the real frames made
    (:func:`heatsink.synth.appearance.resample_like`), so that what the resampling alone
    raises can be told from what the real plating raises. With ``drawn="filled"`` the
    true defects are filled with plating as the real frames' drawn labels are
    (:func:`heatsink.synth.real_frames.fill_drawn`): what the fill alone raises.

    Returns
    -------
    DataFrame
        :func:`heatsink.real_surface.real_surface_check`'s per-frame table.
    """
    from heatsink.real_surface import open_predictor

    predictor = open_predictor(model) if isinstance(model, (str, Path)) else model
    frames = _twin_surface_frames(ds, ids, tile_sizes)
    return real_surface_check(predictor.probabilities, frames, drawn=drawn)


def _twin_surface_frames(ds: Dataset, ids: Sequence[str],
                         tile_sizes: Sequence[int] | None) -> list[RealFrame]:
    """Twin frames with their surface (background ≥ 4 px from any true defect), through the
    real tiles' resampling when ``tile_sizes`` is given."""
    from heatsink.synth.appearance import twin_frames
    from heatsink.synth.real_frames import FRAME

    return twin_frames(ds.root, list(tile_sizes or [FRAME]), n=None, masks="truth", ids=ids)


def control_file(results_dir: str | Path, label: str) -> Path:
    """Where the control (:func:`record_control`) of the model called ``label`` is kept.

    Examples
    --------
    >>> control_file("results/twin", "plan light-wcce+dice").name
    'plan-light-wcce+dice.control.csv'
    """
    return check_file(results_dir, label, "control")


#: The control's two protocols, as :func:`record_control` names them in its ``protocol`` column.
PROTOCOLS = ("twin", "twin resampled", "twin resampled, filled")


def record_control(model: str | Path | Predictor, label: str, ds: Dataset, ids: Sequence[str],
                   tile_sizes: Sequence[int], results_dir: str | Path) -> pd.DataFrame:
    """Run :func:`twin_surface_check` on twin frames as generated, through the real tiles'
    resampling, and through it with the true defects filled with plating as the real
    frames' drawn labels can be; keep the per-frame tables in one file (``protocol`` column:
    :data:`PROTOCOLS`).

    Returns
    -------
    DataFrame
        The two per-frame tables, stacked, as written.
    """
    from heatsink.real_surface import open_predictor

    predict = (open_predictor(model) if isinstance(model, (str, Path)) else model).probabilities
    resampled = _twin_surface_frames(ds, ids, tile_sizes)  # read once for both views
    parts = [real_surface_check(predict, _twin_surface_frames(ds, ids, None))
             .assign(protocol=PROTOCOLS[0]),
             real_surface_check(predict, resampled).assign(protocol=PROTOCOLS[1]),
             real_surface_check(predict, resampled, drawn="filled").assign(protocol=PROTOCOLS[2])]
    table = pd.concat(parts, ignore_index=True).assign(model=label)
    _write(control_file(results_dir, label), table, index=False)
    return table


def load_control(results_dir: str | Path, label: str) -> pd.DataFrame | None:
    """A kept control table of ``label``, or None if none was kept."""
    path = control_file(results_dir, label)
    return pd.read_csv(path) if path.exists() else None


def control_table(controls: Mapping[str, pd.DataFrame],
                  checks: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per model: the share of surface called defect (%) and the false defect
    components per frame, on the twin as generated (``twin_``), through the tiles'
    resampling (``resampled_``), and through it with the defects filled (``twin_filled_``);
    on real plating as shown (``real_``) and with the drawn labels filled
    (``real_filled_``). NaN where a view was not run.

    Parameters
    ----------
    controls : mapping
        Label -> :func:`record_control`'s table.
    checks : mapping
        Label -> :func:`record_check`'s table (the real frames).

    Examples
    --------
    >>> def frame(n, called, comps):
    ...     return {"frame": n, "class": "defect", "surface_px": 100, "called_px": called,
    ...             "share": called / 100, "false_components": comps}
    >>> control = pd.DataFrame([{**frame("a", 1, 1), "protocol": "twin"},
    ...                         {**frame("b", 3, 0), "protocol": "twin resampled"}])
    >>> real = pd.DataFrame([frame("r", 20, 9), frame("s", 10, 5)])
    >>> control_table({"m": control}, {"m": real}).loc["m"].tolist()
    [1.0, 1.0, 3.0, 0.0, nan, nan, 15.0, 7.0, nan, nan]
    """
    names = ("twin", "resampled", "twin_filled", "real", "real_filled")
    rows = {}
    for label, control in controls.items():
        row = {}
        tables = [control[control["protocol"] == p] for p in PROTOCOLS]
        tables += [view(checks[label]), view(checks[label], "filled")]
        for name, table in zip(names, tables, strict=True):
            summary = summarize(table).loc["defect"] if len(table) else None
            row[f"{name}_pct"] = (float(summary["share_pct"]) if summary is not None
                                  else float("nan"))
            row[f"{name}_components"] = (float(summary["false_components_per_frame"])
                                         if summary is not None else float("nan"))
        rows[label] = row
    columns = [f"{n}_{k}" for n in names for k in ("pct", "components")]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns).rename_axis("model")


#: Decision biases of :func:`operating_curve` (log-odds added to the defect classes, see
#: :func:`heatsink.decision.decide`): from cautious to eager, 0 the plain argmax.
BIASES = tuple(k / 2 for k in range(-8, 9))
#: Peak probabilities of :func:`operating_curve`'s second knob (``min_peak`` of
#: :func:`heatsink.decision.decide`, at no bias): an object is kept only if its class's
#: probability reaches this somewhere in it.
PEAKS = (0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
#: The knobs of :func:`operating_curve`, the first columns of a curve.
KNOBS = ("bias", "min_peak")

#: The columns of :func:`operating_curve`, after :data:`KNOBS`.
CURVE_COLUMNS = ("real_defect_pct", "real_false_per_frame", "filled_defect_pct",
                 "filled_false_per_frame", "twin_scratch_object_recall",
                 "twin_stain_object_recall", "twin_scratch_false_per_frame",
                 "twin_stain_false_per_frame")


def operating_curve(model: str | Path | Predictor, ds: Dataset, ids: Sequence[str],
                    frames: Sequence[RealFrame], biases: Sequence[float] = BIASES,
                    peaks: Sequence[float] = PEAKS) -> pd.DataFrame:
    """The real-surface check and the twin's object scores of one model at each operating
    point: each decision bias, then each minimum peak probability.

    A model that calls less of the real surface a defect may only be more cautious: it then
    finds fewer defects on the twin too. Moving each model along its own trade-off
    (:func:`heatsink.decision.decide`) and reading off the real surface it calls defect at
    the same twin object recall tells a quieter model from a more cautious one. The bias
    moves every pixel; the minimum peak drops whole objects the net is nowhere sure of, so
    the two knobs trade recall for false components at different rates.

    Parameters
    ----------
    model : ``.keras`` file, run folder or Predictor
        A path is opened with :func:`heatsink.real_surface.open_predictor`.
    ds : Dataset
        A twin with its clean truth.
    ids : sequence of str
        Twin frames the model never trained on.
    frames : sequence of RealFrame
        The real frames, checked as shown and with their drawn labels filled.
    biases : sequence of float
        Log-odds added to the defect classes, at no minimum peak.
    peaks : sequence of float
        Minimum peak probabilities in (0, 1), at no bias.

    Returns
    -------
    DataFrame
        One row per operating point, the biases first: :data:`KNOBS` and
        :data:`CURVE_COLUMNS` (the real share in %, false components per real frame as shown
        and filled; the twin's object recall, pooled over ``ids``, and false components per
        frame, per class). :func:`sweep` picks one knob's rows.
    """
    points = [{"defect_bias": float(b)} for b in biases]
    points += [{"min_peak": float(t)} for t in peaks]
    knobs = pd.DataFrame([(float(b), 0.0) for b in biases] + [(0.0, float(t)) for t in peaks],
                         columns=list(KNOBS))
    return pd.concat([knobs, evaluate_points(model, ds, ids, frames, points)], axis=1)


def evaluate_points(model: str | Path | Predictor, ds: Dataset, ids: Sequence[str],
                    frames: Sequence[RealFrame],
                    points: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """:data:`CURVE_COLUMNS` of one model at each operating point, a point being the keyword
    arguments of :func:`heatsink.decision.decide` (``defect_bias``, ``min_peak``,
    ``min_area``). The model runs once on each view of the real frames and on the twin
    frames ``ids``; every point is decided from those probabilities."""
    import numpy as np

    from heatsink.classes import DEFECTS
    from heatsink.decision import decide
    from heatsink.evaluate import object_counts, object_scores
    from heatsink.models.predict import predict_probabilities
    from heatsink.real_surface import check_masks, open_predictor, view_images

    predictor = open_predictor(model) if isinstance(model, (str, Path)) else model
    rows: list[dict[str, float]] = [{} for _ in points]
    for drawn, prefix in (("shown", "real"), ("filled", "filled")):
        probs = np.asarray(predictor.probabilities(view_images(frames, drawn)))
        for row, point in zip(rows, points, strict=True):
            masks = [decide(p, **point) for p in probs]
            found = summarize(check_masks(masks, frames)).loc["defect"]
            row[f"{prefix}_defect_pct"] = float(found["share_pct"])
            row[f"{prefix}_false_per_frame"] = float(found["false_components_per_frame"])
    counts: list[list[dict[str, int]]] = [[] for _ in points]  # per point, per image
    for image_id, probs in predict_probabilities(predictor, ds, [str(i) for i in ids]):
        truth = ds.truth(image_id)
        for per_image, point in zip(counts, points, strict=True):
            per_image.append(object_counts(truth, decide(probs, **point)))
    for row, per_image in zip(rows, counts, strict=True):
        scores = object_scores(pd.DataFrame(per_image))
        for _, name in DEFECTS:
            row[f"twin_{name}_object_recall"] = scores[f"{name}_object_recall"]
            row[f"twin_{name}_false_per_frame"] = scores[f"{name}_false_alarms_per_image"]
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def sweep(curve: pd.DataFrame, knob: str) -> pd.DataFrame:
    """The rows of ``curve`` along one of :data:`KNOBS`, the other at rest, ordered by it.

    Examples
    --------
    >>> curve = pd.DataFrame({"bias": [-1.0, 0.0, 1.0, 0.0], "min_peak": [0.0, 0.0, 0.0, 0.9]})
    >>> sweep(curve, "bias")["bias"].tolist(), sweep(curve, "min_peak")["min_peak"].tolist()
    ([-1.0, 0.0, 1.0], [0.0, 0.9])
    """
    if knob not in KNOBS:
        raise ValueError(f"knob must be one of {KNOBS}, not {knob!r}")
    (other,) = (k for k in KNOBS if k != knob)
    return curve[curve[other] == 0].sort_values(knob)


def along_bias(curve: pd.DataFrame, column: str, where: str, at: float) -> float:
    """``column`` along the bias sweep of ``curve`` where ``where`` equals ``at``, linearly
    interpolated; NaN outside the sweep's range. It sets another operating point beside the
    bias that gives the same twin recall.

    Examples
    --------
    >>> curve = pd.DataFrame({"bias": [-1.0, 0.0, 1.0, 0.0], "min_peak": [0, 0, 0, 0.9],
    ...                       "recall": [0.5, 0.6, 0.7, 0.55], "false": [1.0, 2.0, 4.0, 0.5]})
    >>> round(along_bias(curve, "false", "recall", 0.55), 6)
    1.5
    >>> along_bias(curve, "false", "recall", 0.9)
    nan
    """
    import numpy as np

    biased = sweep(curve, "bias").sort_values(where)
    x, y = biased[where].to_numpy(float), biased[column].to_numpy(float)
    if len(x) == 0 or not x[0] <= at <= x[-1]:
        return float("nan")
    return float(np.interp(at, x, y))


def meeting_points(curve: pd.DataFrame, floors: Mapping[str, float], defect_pct: float,
                   false_per_frame: float, drawn: str = "real") -> pd.DataFrame:
    """The rows of an operating curve that find at least the twin recall ``floors`` of both
    classes (``{"scratch": ..., "stain": ...}``) and meet both real targets (at most
    ``defect_pct`` % of the real surface called defect, at most ``false_per_frame`` false
    components per real frame) in the ``drawn`` view: ``"real"`` (the frames as shown) or
    ``"filled"`` (the drawn labels filled).

    Examples
    --------
    >>> curve = pd.DataFrame({"twin_scratch_object_recall": [0.95, 0.95, 0.80],
    ...                       "twin_stain_object_recall": [0.70, 0.65, 0.70],
    ...                       "real_defect_pct": [0.5, 2.0, 0.2],
    ...                       "real_false_per_frame": [1.5, 1.0, 0.5]})
    >>> meeting_points(curve, {"scratch": 0.9, "stain": 0.63}, 1.0, 2.0).index.tolist()
    [0]
    """
    ok = ((curve["twin_scratch_object_recall"] >= floors["scratch"])
          & (curve["twin_stain_object_recall"] >= floors["stain"])
          & (curve[f"{drawn}_defect_pct"] <= defect_pct)
          & (curve[f"{drawn}_false_per_frame"] <= false_per_frame))
    return curve[ok]


def peak_reading(curve: pd.DataFrame, peaks: Sequence[float] = (0.9, 0.95)) -> pd.DataFrame:
    """The minimum-peak rows of ``curve`` at ``peaks``, each beside the argmax and beside the
    bias that finds as many twin stains.

    Parameters
    ----------
    curve : DataFrame
        An :func:`operating_curve`.
    peaks : sequence of float
        Minimum peaks to read; those the curve lacks are left out.

    Returns
    -------
    DataFrame
        Indexed by ``min_peak``: the curve's columns at that peak; ``kept_share``, the share of
        the argmax's false components per real frame (as shown) it keeps (NaN if the argmax
        has none); ``bias_real_false_per_frame`` and ``bias_filled_false_per_frame``, the
        bias sweep's at the same twin stain recall (:func:`along_bias`; NaN where no bias finds
        so few stains).

    Examples
    --------
    >>> curve = pd.DataFrame({"bias": [-1.0, 0.0, 0.0], "min_peak": [0.0, 0.0, 0.9],
    ...                       "real_false_per_frame": [2.0, 8.0, 1.0],
    ...                       "filled_false_per_frame": [1.0, 4.0, 0.5],
    ...                       "twin_stain_object_recall": [0.5, 0.6, 0.55]})
    >>> reading = peak_reading(curve)
    >>> reading[["kept_share", "bias_real_false_per_frame"]].round(3).to_dict("index")
    {0.9: {'kept_share': 0.125, 'bias_real_false_per_frame': 5.0}}
    """
    peaked = sweep(curve, "min_peak").set_index("min_peak")
    rows = peaked.loc[[peak for peak in peaks if peak in peaked.index]].copy()
    argmax = float(peaked.loc[0.0, "real_false_per_frame"]) if 0.0 in peaked.index else 0.0
    rows["kept_share"] = rows["real_false_per_frame"] / argmax if argmax else float("nan")
    for drawn in ("real", "filled"):
        rows[f"bias_{drawn}_false_per_frame"] = [
            along_bias(curve, f"{drawn}_false_per_frame", "twin_stain_object_recall", recall)
            for recall in rows["twin_stain_object_recall"]]
    return rows


#: What :func:`record_contrast` measures: the twin's true defects the model finds and misses
#: (validation frames, clean truth), and its false components on real plating.
CONTRAST_SOURCES = ("twin, found", "twin, missed", "real, false")


def record_contrast(model: str | Path | Predictor, label: str, ds: Dataset, ids: Sequence[str],
                    frames: Sequence[RealFrame], results_dir: str | Path,
                    drawn: str = "filled") -> pd.DataFrame:
    """How marked the defects a model finds and misses on the twin are, beside the false
    components it leaves on real plating, by one measure; kept as ``<label>.contrast.csv``.

    The twin's true defects on frames ``ids`` (:func:`heatsink.study.detectability.findings`)
    and the real frames' false components in the ``drawn`` view
    (:func:`heatsink.real_surface.false_objects`) are measured by the twin annotators'
    contrast (:func:`heatsink.synth.noise.object_contrast`). A false component as marked as
    the twin defects the model must find is one no threshold on the model can drop without
    dropping them too.

    Returns
    -------
    DataFrame
        ``source`` (:data:`CONTRAST_SOURCES`), ``class``, ``area``, ``contrast``, as written.
    """
    from heatsink.models.predict import predict_masks
    from heatsink.real_surface import false_objects, open_predictor, view_images
    from heatsink.study.detectability import findings

    predictor = open_predictor(model) if isinstance(model, (str, Path)) else model
    twin = findings(ds, predict_masks(predictor, ds, ids), ids)
    twin = twin.assign(source=twin["found"].map({True: CONTRAST_SOURCES[0],
                                                 False: CONTRAST_SOURCES[1]}))
    images = view_images(frames, drawn)
    real = false_objects(predictor.masks(images), frames, images).assign(
        source=CONTRAST_SOURCES[2])
    columns = ["source", "class", "area", "contrast"]
    table = pd.concat([twin[columns], real[columns]], ignore_index=True).assign(model=label)
    _write(check_file(results_dir, label, "contrast"), table, index=False)
    return table


def load_contrast(results_dir: str | Path, label: str) -> pd.DataFrame | None:
    """A kept :func:`record_contrast` table of ``label``, or None if none was kept."""
    path = check_file(results_dir, label, "contrast")
    return pd.read_csv(path) if path.exists() else None


def contrast_quartiles(table: pd.DataFrame) -> pd.DataFrame:
    """Objects and quartiles of contrast per class and source of a :func:`record_contrast`
    table.

    Examples
    --------
    >>> t = pd.DataFrame({"source": ["twin, found"] * 3 + ["real, false"] * 2,
    ...                   "class": ["stain"] * 5, "contrast": [0.1, 0.2, 0.3, 0.0, 0.4]})
    >>> contrast_quartiles(t).round(2).to_dict("index")[("stain", "real, false")]
    {'objects': 2.0, 'p25': 0.1, 'median': 0.2, 'p75': 0.3}
    """
    order = {source: k for k, source in enumerate(CONTRAST_SOURCES)}
    grouped = table.groupby(["class", "source"])["contrast"]
    out = pd.DataFrame({"objects": grouped.size().astype(float),
                        "p25": grouped.quantile(0.25), "median": grouped.median(),
                        "p75": grouped.quantile(0.75)})
    return out.sort_index(key=lambda index: index.map(lambda v: order.get(v, v)))


def record_curve(model: str | Path | Predictor, label: str, ds: Dataset, ids: Sequence[str],
                 frames: Sequence[RealFrame], results_dir: str | Path,
                 biases: Sequence[float] = BIASES,
                 peaks: Sequence[float] = PEAKS) -> pd.DataFrame:
    """Run :func:`operating_curve` and keep it beside the model's check (``.curve.csv``)."""
    curve = operating_curve(model, ds, ids, frames, biases, peaks)
    _write(check_file(results_dir, label, "curve"), curve, index=False)
    return curve


def load_curve(results_dir: str | Path, label: str) -> pd.DataFrame | None:
    """A kept :func:`operating_curve` of ``label``, or None if none was kept (a curve kept
    before the second knob is read as biases at no minimum peak)."""
    path = check_file(results_dir, label, "curve")
    if not path.exists():
        return None
    curve = pd.read_csv(path)
    if "min_peak" not in curve:
        curve.insert(1, "min_peak", 0.0)
    return curve


def at_recall(curve: pd.DataFrame, scratch: float, stain: float) -> pd.Series | None:
    """The most cautious bias of ``curve`` whose twin object recall reaches both floors, or
    None if no bias reaches them. Where it is the curve's most cautious point, a more
    cautious bias than the curve tried might reach them too. Only the bias rows are read
    (:func:`sweep`): a minimum peak only ever lowers recall.

    Examples
    --------
    >>> curve = pd.DataFrame({"bias": [-1.0, 0.0, 1.0], "min_peak": [0.0, 0.0, 0.0],
    ...                       "real_defect_pct": [0.5, 1.0, 2.0],
    ...                       "twin_scratch_object_recall": [0.85, 0.92, 0.95],
    ...                       "twin_stain_object_recall": [0.60, 0.62, 0.70]})
    >>> float(at_recall(curve, 0.92, 0.63)["bias"]), at_recall(curve, 0.99, 0.5)
    (1.0, None)
    """
    biased = sweep(curve, "bias")
    ok = biased[(biased["twin_scratch_object_recall"] >= scratch)
                & (biased["twin_stain_object_recall"] >= stain)]
    return None if ok.empty else ok.iloc[0]


#: Scratch biases of :func:`class_grid`: from the argmax to eager (the nets are shy of faint
#: scratches, so their floor is reached only with a positive bias).
SCRATCH_BIASES = tuple(k / 2 for k in range(9))
#: Stain biases of :func:`class_grid`, both ways from the argmax.
STAIN_BIASES = (-2.0, -1.0, 0.0, 1.0, 2.0)
#: The knobs of :func:`class_grid`, the first columns of a grid.
GRID_KNOBS = ("scratch_bias", "stain_bias", "min_scratch_px", "min_stain_px")


def class_grid(model: str | Path | Predictor, ds: Dataset, ids: Sequence[str],
               frames: Sequence[RealFrame], scratch_biases: Sequence[float] = SCRATCH_BIASES,
               stain_biases: Sequence[float] = STAIN_BIASES,
               min_areas: Sequence[Mapping[str, int]] = ({"scratch": 0, "stain": 0},),
               ) -> pd.DataFrame:
    """:func:`operating_curve` with a bias per class and a minimum object area per class.

    One bias for both classes ties them: a net shy of faint scratches reaches the scratch
    recall floor only at a bias that also calls every stain-like mottle a stain. A bias per
    class and the objects too small for a labeller to have drawn dropped
    (:func:`heatsink.decision.drop_small`, with areas such as
    :func:`heatsink.reference.smallest_objects`) give each class its own trade-off.
    :func:`twin_choice` picks a point from the twin's columns alone.

    Parameters
    ----------
    model, ds, ids, frames
        As in :func:`operating_curve`.
    scratch_biases, stain_biases : sequence of float
        Log-odds added to each class; every pair is tried.
    min_areas : sequence of mapping
        Minimum object areas by class name (px), each tried with every pair of biases.

    Returns
    -------
    DataFrame
        One row per point: :data:`GRID_KNOBS` then :data:`CURVE_COLUMNS`.
    """
    knobs = [(float(a), float(b), int(area.get("scratch", 0)), int(area.get("stain", 0)))
             for area in min_areas for a in scratch_biases for b in stain_biases]
    points = [grid_point(dict(zip(GRID_KNOBS, k, strict=True))) for k in knobs]
    return pd.concat([pd.DataFrame(knobs, columns=list(GRID_KNOBS)),
                      evaluate_points(model, ds, ids, frames, points)], axis=1)


def twin_choice(grid: pd.DataFrame, floors: Mapping[str, float]) -> pd.Series | None:
    """The point of ``grid`` chosen from the twin alone: of those finding at least the twin
    object recall ``floors`` of both classes, the one with the fewest false components per
    twin frame (both classes), then the smallest biases; None if none reaches the floors.
    The real columns play no part, so that they stay a test of the choice.

    Examples
    --------
    >>> grid = pd.DataFrame({"scratch_bias": [0.0, 1.0, 2.0], "stain_bias": [0.0, 0.0, 0.0],
    ...                      "twin_scratch_object_recall": [0.85, 0.93, 0.95],
    ...                      "twin_stain_object_recall": [0.7, 0.7, 0.7],
    ...                      "twin_scratch_false_per_frame": [0.1, 0.3, 0.6],
    ...                      "twin_stain_false_per_frame": [0.2, 0.2, 0.2],
    ...                      "real_false_per_frame": [1.0, 9.0, 0.0]})
    >>> float(twin_choice(grid, {"scratch": 0.92, "stain": 0.63})["scratch_bias"])
    1.0
    >>> twin_choice(grid, {"scratch": 0.99, "stain": 0.63}) is None
    True
    """
    ok = ((grid["twin_scratch_object_recall"] >= floors["scratch"])
          & (grid["twin_stain_object_recall"] >= floors["stain"]))
    if not ok.any():
        return None
    found = grid[ok].assign(_false=grid["twin_scratch_false_per_frame"]
                            + grid["twin_stain_false_per_frame"])
    return found.sort_values(["_false", "scratch_bias", "stain_bias"]).iloc[0].drop("_false")


def record_grid(model: str | Path | Predictor, label: str, ds: Dataset, ids: Sequence[str],
                frames: Sequence[RealFrame], results_dir: str | Path,
                scratch_biases: Sequence[float] = SCRATCH_BIASES,
                stain_biases: Sequence[float] = STAIN_BIASES,
                min_areas: Sequence[Mapping[str, int]] = ({"scratch": 0, "stain": 0},),
                ) -> pd.DataFrame:
    """Run :func:`class_grid` and keep it beside the model's check (``.grid.csv``)."""
    grid = class_grid(model, ds, ids, frames, scratch_biases, stain_biases, min_areas)
    _write(check_file(results_dir, label, "grid"), grid, index=False)
    return grid


def load_grid(results_dir: str | Path, label: str) -> pd.DataFrame | None:
    """A kept :func:`class_grid` of ``label``, or None if none was kept."""
    path = check_file(results_dir, label, "grid")
    return pd.read_csv(path) if path.exists() else None


def grid_point(row: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """The keyword arguments of :func:`heatsink.decision.decide` at a row of a class grid.

    Examples
    --------
    >>> grid_point({"scratch_bias": 2.5, "stain_bias": 1.0, "min_scratch_px": 82,
    ...             "min_stain_px": 31})
    {'defect_bias': {'scratch': 2.5, 'stain': 1.0}, 'min_area': {'scratch': 82, 'stain': 31}}
    """
    return {"defect_bias": {"scratch": float(row["scratch_bias"]),
                            "stain": float(row["stain_bias"])},
            "min_area": {"scratch": int(row["min_scratch_px"]),
                         "stain": int(row["min_stain_px"])}}


def record_point(model: str | Path | Predictor, label: str, point: Mapping[str, float],
                 results_dir: str | Path, frames: Sequence[RealFrame] | None = None,
                 views: Sequence[str] = DRAWN_VIEWS) -> pd.DataFrame:
    """The real-surface check at one point of a class grid, per frame, kept (``.point.csv``).

    A grid keeps only each point's figures over all frames; the per-frame table at the point
    a chapter reports gives their interval over the frames
    (:func:`heatsink.real_surface.frame_interval`). The table carries the point's
    :data:`GRID_KNOBS`, so that :func:`load_point` can tell a kept point from another.

    Parameters
    ----------
    model : run folder, ``.keras`` file or Predictor
        The model, as :func:`class_grid` takes it (a Predictor keeps its test-time flips).
    label : str
        Its name in the chapter (the file's name, as :func:`check_file` makes it).
    point : mapping
        A row of a class grid (at least :data:`GRID_KNOBS`), e.g. :func:`twin_choice`'s.
    results_dir : str or Path
        The study's results folder.
    frames : sequence of RealFrame, optional
        The real frames (default: loaded from the reference pictures).
    views : sequence of str
        The views of the frames to check (:data:`heatsink.real_surface.DRAWN_VIEWS`).

    Returns
    -------
    DataFrame
        The per-frame table of every view (``drawn`` column), with the point's knobs.
    """
    from heatsink.real_surface import open_predictor
    from heatsink.synth.real_frames import load_real_frames

    frames = load_real_frames() if frames is None else list(frames)
    predictor = open_predictor(model) if isinstance(model, (str, Path)) else model
    knobs = {k: point[k] for k in GRID_KNOBS}
    check = pd.concat([real_surface_check(predictor.probabilities, frames, drawn=v,
                                          decision=grid_point(knobs)).assign(drawn=v)
                       for v in views], ignore_index=True).assign(model=label, **knobs)
    _write(check_file(results_dir, label, "point"), check, index=False)
    return check


def load_point(results_dir: str | Path, label: str,
               point: Mapping[str, float] | None = None) -> pd.DataFrame | None:
    """A kept :func:`record_point` table of ``label``; None if none was kept or, given a
    ``point``, if the kept one was measured at another."""
    path = check_file(results_dir, label, "point")
    if not path.exists():
        return None
    table = pd.read_csv(path)
    if point is not None and not all(np.isclose(table[k], float(point[k])).all()
                                     for k in GRID_KNOBS):
        return None
    return table


#: What :func:`record_stain_margins` measures, by its ``source`` column.
MARGIN_SOURCES = ("real, labelled", "real, labelled, more opaque", "twin, labelled",
                  "twin, truth", "data, labelled", "real, false")
#: How much more opaque than its estimate the fill is also read (the estimate is a floor).
OPACITY_MORE = 0.05
#: The stain-margin table's file under the checks' folder.
STAIN_MARGINS = "stain_margins.csv"


def record_stain_margins(frames: Sequence[RealFrame], ds: Dataset, ids: Sequence[str],
                         models: Mapping[str, str | Path | Predictor],
                         results_dir: str | Path, drawn: str = "filled") -> pd.DataFrame:
    """The real labelled stains, the twin's and each model's false stains on real plating,
    by one measure (:mod:`heatsink.synth.drawn_labels`); kept as ``stain_margins.csv``.

    The real stains are read under their translucent labels at the fill's estimated
    opacity and at :data:`OPACITY_MORE` above it (the estimate is a floor); the twin's, on
    frames ``ids`` resampled through the grids' tile sizes, against its labels and its
    truth (on data without a clean truth, the real dataset, its labelled stains are
    ``data, labelled``: no fill over them); each model's, on the grids' frames in the
    ``drawn`` view.

    Returns
    -------
    DataFrame
        ``source`` (:data:`MARGIN_SOURCES`), ``model`` (empty but for ``real, false``),
        ``frame``, ``area``, ``shift`` (:func:`heatsink.synth.drawn_labels.margin_shift`),
        ``opacity`` (the fill's, for the real labelled rows), as written.
    """
    from heatsink.real_surface import open_predictor, view_images
    from heatsink.synth import drawn_labels as dl

    grids = [f for f in frames if f.name.startswith(dl.GRIDS)]
    opacity = dl.fill_opacity(grids)
    sizes = [f.tile_size for f in grids]
    real = dl.real_stain_shift(grids, opacity)
    more = opacity + OPACITY_MORE  # a shift scales as 1 / (1 - opacity)
    parts = [real.assign(source=MARGIN_SOURCES[0], opacity=opacity),
             real.assign(shift=real["shift"] * (1 - opacity) / (1 - more),
                         source=MARGIN_SOURCES[1], opacity=more),
             *([dl.twin_stain_shift(ds, ids, sizes, "labels").assign(source=MARGIN_SOURCES[2]),
                dl.twin_stain_shift(ds, ids, sizes, "truth").assign(source=MARGIN_SOURCES[3])]
               if ds.has_truth else  # the real dataset: its labelled stains, no fill over them
               [dl.twin_stain_shift(ds, ids, sizes, "labels").assign(source=MARGIN_SOURCES[4])])]
    images = view_images(grids, drawn)
    for label, model in models.items():
        predictor = open_predictor(model) if isinstance(model, (str, Path)) else model
        parts.append(dl.component_shift(predictor.masks(images), grids, images).assign(
            source=MARGIN_SOURCES[5], model=label))
    table = pd.concat(parts, ignore_index=True)
    table["model"] = table["model"].fillna("") if "model" in table else ""
    table = table.reindex(columns=["source", "model", "frame", "area", "shift", "opacity"])
    table = table.astype({"area": np.int64, "shift": np.float64, "opacity": np.float64})
    _write(Path(results_dir) / CHECKS / STAIN_MARGINS, table, index=False)
    return table


def load_stain_margins(results_dir: str | Path) -> pd.DataFrame | None:
    """The kept :func:`record_stain_margins` table, or None if none was kept."""
    path = Path(results_dir) / CHECKS / STAIN_MARGINS
    if not path.exists():
        return None
    return pd.read_csv(path, dtype={"model": str, "frame": str}).fillna({"model": ""})


def margin_quartiles(table: pd.DataFrame) -> pd.DataFrame:
    """Per source and model of a :func:`record_stain_margins` table: stains, the share that
    is darker than its margin, quartiles of the shift's size and the median area, in
    :data:`MARGIN_SOURCES` order.

    >>> t = pd.DataFrame({"source": ["twin, labelled"] * 4, "model": [""] * 4,
    ...                   "area": [10, 20, 30, 40], "shift": [-0.1, -0.2, 0.3, -0.4]})
    >>> row = margin_quartiles(t).round(3).to_dict("records")[0]
    >>> row["darker"], row["median"]
    (0.75, 0.25)
    """
    size = table["shift"].abs()
    grouped = table.assign(size=size, darker=table["shift"] < 0).fillna({"model": ""}).groupby(
        ["source", "model"], sort=False)
    out = pd.DataFrame({"stains": grouped.size(),
                        "darker": grouped["darker"].mean(),
                        "p25": grouped["size"].quantile(0.25),
                        "median": grouped["size"].median(),
                        "p75": grouped["size"].quantile(0.75),
                        "median area": grouped["area"].median()})
    order = {s: i for i, s in enumerate(MARGIN_SOURCES)}
    return out.reset_index().sort_values(
        "source", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
