"""Write a synthetic twin of the heat sink dataset in the Kaggle layout (plus twin extras)."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from heatsink.classes import CLASS_NAMES, VOC_COLOURS
from heatsink.errors import HeatsinkError
from heatsink.objects import image_summary
from heatsink.synth import targets
from heatsink.synth.defects import dark_blot_share
from heatsink.synth.drift import Drift, part_sizes, write_drift_record
from heatsink.synth.noise import NoiseConfig, apply_criterion, criterion_rng
from heatsink.synth.parts import TILE, PartResult, PartSpec, plan_parts, render_part
from heatsink.synth.sampling import count_pairs

#: Version of the generator; bump when output for a given seed changes.
GENERATOR_VERSION = "1.4.4"

ADJACENCY_COLUMNS = ["image_id", "part_id", "row", "col", "part_rows", "part_cols"]
MANIFEST_COLUMNS = [
    "image_id", "error", "class_truth", "class_labelled", "pixels", "top", "left",
    "bbox_h", "bbox_w", "detail",
]
_VOC_LUT = np.zeros((256, 3), np.uint8)
for _k, _rgb in VOC_COLOURS.items():
    _VOC_LUT[_k] = _rgb[::-1]  # BGR for cv2.imwrite


def _fmt_id(k: int) -> str:
    return f"{k:04d}"


def _write_tile(root: Path, image_id: str, image, label, truth) -> None:
    def put(path: Path, array: np.ndarray) -> None:
        if not cv2.imwrite(str(path), array):
            raise HeatsinkError(f"could not write {path}")

    put(root / "images" / f"{image_id}.bmp", image)
    put(root / "labels" / f"{image_id}.png", label)
    put(root / "truth" / f"{image_id}.png", truth)
    jdir = root / "jsons" / f"{image_id}_json"
    jdir.mkdir()
    put(jdir / "img.png", image)
    put(jdir / "label.png", _VOC_LUT[label])


def _work(job: tuple[PartSpec, list[int], str, Drift | None, float | None]
          ) -> tuple[list, list, list]:
    """Render one part, write its tiles; return adjacency, manifest and summary rows."""
    spec, ids, root_str, drift, dark_stains = job
    root = Path(root_str)
    with part_sizes(drift, spec.index + 1), dark_blot_share(dark_stains):
        res: PartResult = render_part(spec)
    adjacency, manifest, summary = [], [], []
    for k, image_id_int in enumerate(ids):
        image_id = _fmt_id(image_id_int)
        r, c = divmod(k, spec.cols)
        label = res.labels[k]
        if spec.noise.criterion:  # the annotator's contrast criterion (off by default)
            label, rows = apply_criterion(res.images[k], label, res.truths[k], spec.noise,
                                          criterion_rng(spec.seed, k))
            manifest.extend((image_id, *row) for row in rows)
        _write_tile(root, image_id, res.images[k], label, res.truths[k])
        adjacency.append((image_id, spec.index + 1, r, c, spec.rows, spec.cols))
        summary.append({"image_id": image_id, **image_summary(label)})
    for err in res.errors:
        r, c = err.tile
        image_id = _fmt_id(ids[r * spec.cols + c])
        ys, xs = np.nonzero(err.diff)
        if len(ys) == 0:
            continue
        top = err.top + int(ys.min()) - r * TILE
        left = err.left + int(xs.min()) - c * TILE
        detail = err.detail
        if err.neighbour is not None:
            nr, nc = err.neighbour
            detail += f" {_fmt_id(ids[nr * spec.cols + nc])}"
        manifest.append((
            image_id, err.error, CLASS_NAMES[err.class_truth], CLASS_NAMES[err.class_labelled],
            len(ys), top, left, int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1),
            detail,
        ))
    return adjacency, manifest, summary


def _plan(n: int, seed: int, noise: NoiseConfig) -> list[tuple[PartSpec, list[int]]]:
    plan_ss, parts_ss = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(plan_ss)
    shapes = plan_parts(rng, n)
    pairs = count_pairs(rng, n)
    ids = rng.permutation(n) + 1  # shuffled over the whole set: ids reveal no neighbours
    seeds = parts_ss.spawn(len(shapes))
    jobs, start = [], 0
    for i, ((rows, cols), ss) in enumerate(zip(shapes, seeds, strict=True)):
        size = rows * cols
        spec = PartSpec(i, rows, cols, pairs[start : start + size], ss, noise)
        jobs.append((spec, [int(v) for v in ids[start : start + size]]))
        start += size
    return jobs


def is_recorded_twin(folder: str | Path) -> bool:
    """Whether ``folder`` is a twin :func:`generate` wrote: its ``twin.json`` is a JSON
    object whose ``generator`` is ``"heatsink.synth"``."""
    try:
        info = json.loads((Path(folder) / "twin.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("generator") == "heatsink.synth"


#: Below this many images :func:`generate` uses one process by default.
POOL_MIN_IMAGES = 100


def generate(
    out_dir: str | Path,
    n: int = 1000,
    seed: int = 0,
    noise: NoiseConfig | None = None,
    overwrite: bool = False,
    progress: bool = True,
    workers: int | None = None,
    drift: Drift | None = None,
    dark_stains: float | None = None,
) -> Path:
    """Generate a synthetic twin of the heat sink dataset.

    Parameters
    ----------
    out_dir : str or Path
        Output folder. Written atomically: built in a temporary folder beside it, renamed
        at the end.
    n : int
        Number of 320×320 images.
    seed : int
        Random seed; the same seed gives byte-identical files whatever ``workers`` is.
    noise : NoiseConfig, optional
        Label noise in ``labels/`` (default ``NoiseConfig()``, the study's stated level).
    overwrite : bool
        Replace an existing non-empty ``out_dir`` if it is a twin this package generated
        (:func:`is_recorded_twin`); any other folder is refused, overwrite or not.
    progress : bool
        Show a tqdm progress bar.
    workers : int, optional
        Worker processes. Default ``os.cpu_count()``, but one (no pool) below
        :data:`POOL_MIN_IMAGES` images, where a pool costs more than it saves, and in a
        process that has loaded TensorFlow. Workers are forked, except from a process that
        has loaded TensorFlow, whose threads make forking unsafe (a child can inherit a lock
        one of them held and wait on it for ever: twins generated that way in a pytest-xdist
        worker hung); they are spawned from it, so its main module must guard its work with
        ``if __name__ == "__main__"``.
    drift : Drift, optional
        Grow stains and lengthen scratches from a known part on
        (:mod:`heatsink.synth.drift`); recorded in ``twin.json`` and ``drift.csv``. Parts
        are made in ``part_id`` order. None (default): no drift, no extra file.
    dark_stains : float, optional
        Share of stains drawn darker than the plating (the rest lighter; default
        :data:`heatsink.synth.defects.DARK_BLOT_SHARE`); recorded in ``twin.json`` when
        given. The random draws, so the labels and everything else, are the same whatever it
        is.

    Returns
    -------
    Path
        ``out_dir``, holding ``images/ labels/ jsons/ truth/ adjacency.csv
        noise_manifest.csv twin.json``.

    Raises
    ------
    HeatsinkError
        If ``out_dir`` exists and is not empty and ``overwrite`` is false or it is not a
        recorded twin, or ``n < 1``.
    """
    if dark_stains is not None and not 0.0 <= float(dark_stains) <= 1.0:
        raise HeatsinkError(f"the share of dark stains must be in [0, 1], not {dark_stains!r}: "
                            "nothing was generated")
    out = Path(out_dir)
    noise = NoiseConfig() if noise is None else noise
    if n < 1:
        raise HeatsinkError(f"n must be at least 1, got {n}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise HeatsinkError(f"{out} exists and is not empty; pass overwrite=True to "
                                "replace it")
        if not is_recorded_twin(out):
            raise HeatsinkError(f"{out}: is not a twin this package generated (no twin.json "
                                "from heatsink.synth); overwrite replaces only such a twin: "
                                "nothing was deleted")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        for sub in ("images", "labels", "truth", "jsons"):
            (tmp / sub).mkdir(parents=True)
        jobs = [(spec, ids, str(tmp), drift, dark_stains) for spec, ids in _plan(n, seed, noise)]
        # TensorFlow's threads make forking unsafe (see `workers`)
        tensorflow = "tensorflow" in sys.modules
        if workers is None:
            workers = (os.cpu_count() or 1) if n >= POOL_MIN_IMAGES and not tensorflow else 1
        workers = max(1, int(workers))
        bar = tqdm(total=n, desc="synth", unit="img", disable=not progress)
        results = []
        if workers == 1:
            for job in jobs:
                results.append(_work(job))
                bar.update(len(job[1]))
        else:
            context = multiprocessing.get_context("spawn") if tensorflow else None
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                for job, result in zip(jobs, pool.map(_work, jobs, chunksize=4), strict=True):
                    results.append(result)
                    bar.update(len(job[1]))
        bar.close()
        _write_tables(tmp, results, jobs, n, seed, noise, drift, dark_stains)
        if out.exists():
            trash = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, trash)
            os.replace(tmp, out)
            shutil.rmtree(trash)
        else:
            os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out


def _write_tables(tmp: Path, results: list, jobs: list, n: int, seed: int,
                  noise: NoiseConfig, drift: Drift | None = None,
                  dark_stains: float | None = None) -> None:
    adjacency = pd.DataFrame([r for res in results for r in res[0]], columns=ADJACENCY_COLUMNS)
    adjacency = adjacency.sort_values("image_id", ignore_index=True)
    adjacency.to_csv(tmp / "adjacency.csv", index=False)
    manifest = pd.DataFrame([r for res in results for r in res[1]], columns=MANIFEST_COLUMNS)
    manifest = manifest.sort_values(["image_id", "error", "top", "left"], ignore_index=True)
    manifest.to_csv(tmp / "noise_manifest.csv", index=False)
    summary = pd.DataFrame([r for res in results for r in res[2]])
    shapes = Counter(f"{spec.rows}x{spec.cols}" for spec, *_ in jobs)
    info = {
        "generator": "heatsink.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "n": n,
        "image_size": [TILE, TILE],
        "noise": noise.to_dict(),
        "calibration_targets": {
            "source": "DatasetNinja, dataset-ninja/heat-sink-surface-defect-dataset",
            "commit": "021c1ac",
            "files": ["classes_per_image.json", "object_sizes.json"],
            "reference_images": targets.N_REFERENCE_IMAGES,
            "reference_objects": targets.N_REFERENCE_OBJECTS,
            "module": "heatsink.synth.targets",
        },
        "counts": {
            "images": n,
            "parts": len(jobs),
            "parts_by_shape": dict(sorted(shapes.items())),
            "labelled_objects": {
                "scratch": int(summary["scratch_count"].sum()),
                "stain": int(summary["stain_count"].sum()),
            },
            "label_errors": {k: int(v) for k, v in manifest["error"].value_counts().items()},
            "images_with_label_errors": int(manifest["image_id"].nunique()),
        },
    }
    if drift is not None:
        write_drift_record(tmp, drift, len(jobs), info)
    if dark_stains is not None:  # the default twin's twin.json is as it was
        info["dark_stains"] = float(dark_stains)
    (tmp / "twin.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


__all__ = [
    "ADJACENCY_COLUMNS",
    "GENERATOR_VERSION",
    "MANIFEST_COLUMNS",
    "POOL_MIN_IMAGES",
    "generate",
    "is_recorded_twin",
]
