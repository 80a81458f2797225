"""Checks and helpers shared by the label-quality modules (not public API)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from heatsink.classes import CLASS_NAMES

BATCH = 32  # images converted to float32 at once
EPS = 1e-6
SUM_TOLERANCE = 1e-2  # float16 probabilities sum to 1 within ~1e-3


def quiet_tqdm() -> None:
    """Silence tqdm's "IProgress not found" warning, raised when cleanlab imports
    ``tqdm.auto`` in a notebook without ipywidgets (cleanlab's bars are off anyway)."""
    import warnings

    from tqdm import TqdmWarning

    warnings.filterwarnings("ignore", category=TqdmWarning)


def check(labels, probs) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``labels`` (N, H, W) integer and ``probs`` (N, H, W, K) float arrays."""
    labels, probs = np.asarray(labels), np.asarray(probs)
    if labels.ndim != 3:
        raise ValueError(f"labels must have shape (N, H, W), got {labels.shape}")
    if probs.ndim != 4:
        raise ValueError(f"probs must have shape (N, H, W, K), got {probs.shape}")
    if probs.shape[:3] != labels.shape:
        raise ValueError(
            f"labels {labels.shape} and probs {probs.shape} differ in (N, H, W); "
            "probs must be channels-last (N, H, W, K)"
        )
    if labels.shape[0] == 0:
        raise ValueError("no images")
    k = probs.shape[-1]
    if k < 2:
        raise ValueError(f"probs need at least 2 classes, got K={k}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= k:
        raise ValueError(f"labels hold classes {low}..{high}, outside 0..{k - 1} of probs")
    if not np.issubdtype(probs.dtype, np.floating):
        raise ValueError(f"probs must be floating point, got dtype {probs.dtype}")
    for batch in batches(len(probs)):
        chunk = probs[batch].astype(np.float32)
        if not np.isfinite(chunk).all() or chunk.min() < 0:
            raise ValueError("probs must be finite and non-negative (probabilities, not logits)")
        error = float(np.abs(chunk.sum(-1) - 1).max())
        if error > SUM_TOLERANCE:
            raise ValueError(f"probs must sum to 1 over the last axis; off by up to {error:.3g}")
    return labels, probs


def image_ids(ids: Sequence[str] | None, n: int) -> list[str]:
    """Image ids as str; default the zero-padded positions ``0000, 0001, …``."""
    if ids is None:
        return [f"{i:04d}" for i in range(n)]
    ids = [str(i) for i in ids]
    if len(ids) != n:
        raise ValueError(f"{len(ids)} ids for {n} images")
    if len(set(ids)) != n:
        raise ValueError("ids are not unique")
    return ids


def batches(n: int, size: int = BATCH) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def class_name(k: int) -> str:
    return CLASS_NAMES[k] if k < len(CLASS_NAMES) else f"class {k}"


def label_probability(labels: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Probability of the given label at each pixel, float32 (N, H, W)."""
    out = np.empty(labels.shape, np.float32)
    for b in batches(len(labels)):
        lab = labels[b, ..., None].astype(np.intp)
        out[b] = np.take_along_axis(probs[b], lab, axis=-1)[..., 0]
    return out

