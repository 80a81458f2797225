"""Compare a twin's labels with the real dataset's published statistics, definition for definition.

Both sides use the same definitions: objects are 8-connected components of one class in the
label mask (:mod:`heatsink.objects`); the twin's side is computed with :mod:`heatsink.stats`
on ``labels/``, the real side is loaded with :mod:`heatsink.reference`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from heatsink import reference, stats

__all__ = ["COOCCURRENCE_MAX", "KS_MAX", "appearance_report", "calibration_report"]

#: Acceptance thresholds used by the study (KS statistic; relative co-occurrence error).
KS_MAX = 0.2
COOCCURRENCE_MAX = 0.05


def calibration_report(
    twin_dir: str | Path, reference_dir: str | Path | None = None, masks: str = "labels",
    appearance: bool = False, n_frames: int | None = 300,
) -> pd.DataFrame:
    """Distribution-by-distribution comparison of a twin with the real dataset.

    Parameters
    ----------
    twin_dir : str or Path
        A folder written by :func:`heatsink.synth.generate`.
    reference_dir : str or Path, optional
        DatasetNinja reference folder (default :func:`heatsink.reference.find_dir`).
    masks : str
        Sub-folder of masks to measure: ``'labels'`` (as labelled; the calibrated one) or
        ``'truth'``.
    appearance : bool
        Also compare what the camera sees (:func:`appearance_report`): rows of level
        ``'appearance'`` are appended, with ``twin_median, real_median``, ``rel_diff`` (band
        energies) or ``ks`` (per-frame distributions) and ``ok``. Needs the reference pictures.
    n_frames : int or None
        Twin frames measured for the appearance rows (a seeded sample; None: all).

    Returns
    -------
    DataFrame
        One row per statistic with ``statistic, level, twin_mean, real_mean, twin_median,
        real_median, ks`` (two-sample KS statistic, scipy), and for the co-occurrence rows
        ``twin_count, real_count_scaled, rel_diff``; ``ok`` says whether the row meets the
        study's threshold (KS ≤ 0.2, co-occurrence within ±5 %).
    """
    from heatsink.data import load_dataset

    pairs = list(load_dataset(twin_dir, verify=False).masks(masks))
    t_img = stats.image_table(pairs)
    t_obj = stats.objects_table(pairs)
    r_img = reference.image_table(reference_dir)
    r_obj = reference.objects_table(reference_dir)

    rows = []

    def dist(name: str, level: str, a: pd.Series, b: pd.Series) -> None:
        a, b = np.asarray(a, float), np.asarray(b, float)
        ks = float(ks_2samp(a, b).statistic) if len(a) and len(b) else np.nan
        rows.append({
            "statistic": name, "level": level, "twin_n": len(a), "real_n": len(b),
            "twin_mean": a.mean() if len(a) else np.nan, "real_mean": b.mean(),
            "twin_median": np.median(a) if len(a) else np.nan, "real_median": np.median(b),
            "ks": ks, "ok": bool(ks <= KS_MAX),
        })

    for col in ("scratch_count", "stain_count", "scratch_pct", "stain_pct"):
        dist(col, "image", t_img[col], r_img[col])
    for cls in ("scratch", "stain"):
        tw = t_obj[t_obj["class_name"] == cls] if len(t_obj) else t_obj
        rl = r_obj[r_obj["class_name"] == cls]
        for col in ("bbox_h", "bbox_w"):
            dist(f"{cls} {col}", "object", tw[col] if len(tw) else [], rl[col])
        # DatasetNinja rounds object area % to 0.01: round the twin's the same way
        dist(f"{cls} area_pct", "object",
             np.round(tw["area_pct"], 2) if len(tw) else [], rl["area_pct"])

    t_co = stats.cooccurrence(t_img)
    r_co = reference.cooccurrence(reference_dir)
    scale = len(t_img) / len(r_img)
    for key in ("scratch only", "stain only", "both"):
        expected = r_co[key] * scale
        rel = (t_co[key] - expected) / expected if expected else np.nan
        rows.append({
            "statistic": f"images: {key}", "level": "cooccurrence",
            "twin_count": int(t_co[key]), "real_count_scaled": expected, "rel_diff": rel,
            "ok": bool(abs(rel) <= COOCCURRENCE_MAX),
        })
    t_pix = stats.pixel_composition(pairs)
    r_pix = reference.pixel_composition(reference_dir)
    for cls in ("scratch", "stain"):
        rows.append({
            "statistic": f"{cls} pixel share %", "level": "pixels",
            "twin_mean": float(t_pix[cls]), "real_mean": float(r_pix[cls]),
        })
    cols = ["statistic", "level", "twin_n", "real_n", "twin_mean", "real_mean", "twin_median",
            "real_median", "ks", "twin_count", "real_count_scaled", "rel_diff", "ok"]
    table = pd.DataFrame(rows).reindex(columns=cols)
    if appearance:
        app = appearance_report(twin_dir, reference_dir, n_frames=n_frames, masks=masks)
        extra = pd.DataFrame({
            "statistic": app["statistic"], "level": "appearance",
            "twin_n": app["twin_n"], "real_n": app["real_n"],
            "twin_median": app["twin_median"], "real_median": app["real_median"],
            "ks": app["distance"].where(app["measure"] == "ks"),
            "rel_diff": app["distance"].where(app["measure"] == "rel"),
            "ok": app["ok"],
        })
        table = pd.concat([table, extra.reindex(columns=cols)], ignore_index=True)
    return table


def appearance_report(
    twin_dir: str | Path, reference_dir: str | Path | None = None, n_frames: int | None = 300,
    masks: str = "labels", seed: int = 0,
) -> pd.DataFrame:
    """Appearance of a twin beside the real frames' (:mod:`heatsink.synth.appearance`).

    The real frames are cut from the reference folder's pictures
    (:func:`heatsink.synth.real_frames.load_real_frames`); twin frames go through the same
    resampling as the real tiles, each with a real frame's tile size in turn.

    Returns
    -------
    DataFrame
        :func:`heatsink.synth.appearance.appearance_table`, with ``twin_n`` and ``real_n``.
    """
    from heatsink.synth import appearance
    from heatsink.synth.real_frames import load_real_frames

    real_frames = load_real_frames(reference_dir)
    sizes = [f.tile_size for f in real_frames]
    real = appearance.measure_frames(real_frames)
    twin = appearance.measure_frames(
        appearance.twin_frames(twin_dir, sizes, n=n_frames, seed=seed, masks=masks))
    table = appearance.appearance_table(real, twin)
    table.insert(4, "twin_n", len(twin))
    table.insert(5, "real_n", len(real))
    return table
