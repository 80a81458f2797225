"""Suspect pixels: cleanlab's confident-learning filter on block-pooled frames."""

from __future__ import annotations

import numpy as np

from heatsink.label_quality._inputs import batches, check, quiet_tqdm

#: Largest block side :func:`cleanlab_pixel_issues` pools to by default (320 px → 160 px).
MAX_DOWNSAMPLE = 2


def default_downsample(height: int, width: int, largest: int = MAX_DOWNSAMPLE) -> int:
    """The largest block side ≤ ``largest`` that divides both ``height`` and ``width``."""
    return max(d for d in range(1, max(1, largest) + 1) if height % d == 0 and width % d == 0)


def _pool(labels: np.ndarray, probs: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels by majority vote (ties to the lower class) and mean probabilities per d×d block."""
    n, h, w, k = probs.shape
    small_labels = np.empty((n, h // d, w // d), np.int64)
    small_probs = np.empty((n, k, h // d, w // d), np.float32)
    for b in batches(n):
        m = b.stop - b.start
        p = probs[b].astype(np.float32).reshape(m, h // d, d, w // d, d, k).mean(axis=(2, 4))
        small_probs[b] = np.moveaxis(p / p.sum(-1, keepdims=True), -1, 1)
        votes = [(labels[b] == c).reshape(m, h // d, d, w // d, d).sum(axis=(2, 4))
                 for c in range(k)]
        small_labels[b] = np.argmax(np.stack(votes, axis=-1), axis=-1)
    return small_labels, small_probs


def cleanlab_pixel_issues(labels, probs, *, downsample: int | None = None) -> np.ndarray:
    """Pixels whose label cleanlab's confident learning calls an issue, bool (N, H, W).

    :func:`cleanlab.segmentation.filter.find_label_issues` runs on ``downsample``-pooled
    frames (default :func:`default_downsample`, 2 for 320×320: a 1000-image dataset then
    takes ~15 s on one core instead of ~1 min). The pooling is done here, not by cleanlab,
    whose own downsampling rounds the *mean class index* of a block, which turns a block
    half stain, half background into "scratch"; here a block's label is its majority class
    and its probabilities the block mean. A flagged block marks those of its pixels whose
    predicted class (argmax) differs from their label, as cleanlab does. Defects thinner
    than about half a block can vanish in the pooling; use ``downsample=1`` for them.
    """
    labels, probs = check(labels, probs)
    quiet_tqdm()
    from cleanlab.segmentation.filter import find_label_issues

    n, h, w, _ = probs.shape
    d = default_downsample(h, w) if downsample is None else int(downsample)
    if d < 1 or h % d or w % d:
        raise ValueError(f"downsample {d} does not divide the frame size {h}×{w}")
    small_labels, small_probs = _pool(labels, probs, d)
    blocks = find_label_issues(small_labels, small_probs, downsample=1, n_jobs=1, verbose=False)
    issues = np.empty(labels.shape, bool)
    for b in batches(n):
        full = blocks[b].repeat(d, axis=1).repeat(d, axis=2)
        issues[b] = full & (probs[b].argmax(-1) != labels[b])
    return issues


__all__ = [
    "MAX_DOWNSAMPLE",
    "cleanlab_pixel_issues",
    "default_downsample",
]
