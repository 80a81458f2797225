"""Image rankings by label quality: cleanlab's score and two baselines (lower = more suspect)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from heatsink.classes import BACKGROUND
from heatsink.label_quality._inputs import (
    EPS,
    batches,
    check,
    image_ids,
    label_probability,
    quiet_tqdm,
)
from heatsink.label_quality.pixels import cleanlab_pixel_issues


def cleanlab_scores(
    labels, probs, ids: Sequence[str] | None = None, *, method: str = "softmin",
    temperature: float = 0.1, downsample: int | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """Cleanlab's label quality score of each image (lower = more suspect).

    Parameters
    ----------
    labels : ndarray (N, H, W) int
    probs : ndarray (N, H, W, K) float
        Out-of-sample class probabilities (float16 is fine; used as float32).
    ids : sequence of str, optional
        Image ids in array order; default ``0000, 0001, …``.
    method : {"softmin", "num_pixel_issues"}
        ``softmin``: :func:`cleanlab.segmentation.rank.get_label_quality_scores`, a
        soft minimum (temperature ``temperature``) of the per-pixel probability of the
        given label, so a few confidently contradicted pixels pull an image down however
        large the rest. ``num_pixel_issues``: 1 − the fraction of the image's pixels that
        :func:`cleanlab_pixel_issues` flags (with ``downsample``).

    Returns
    -------
    scores : Series
        Score in [0, 1] per image, indexed by image id.
    pixel_scores : ndarray (N, H, W) float32
        Probability of the given label at each pixel.
    """
    labels, probs = check(labels, probs)
    ids = image_ids(ids, len(labels))
    if method == "num_pixel_issues":
        issues = cleanlab_pixel_issues(labels, probs, downsample=downsample)
        image = 1.0 - issues.mean(axis=(1, 2))
        pixel = label_probability(labels, probs)
    elif method == "softmin":
        quiet_tqdm()
        from cleanlab.segmentation.rank import get_label_quality_scores

        image = np.empty(len(labels))
        pixel = np.empty(labels.shape, np.float32)
        for b in batches(len(labels)):  # softmin is per image: batching changes nothing
            nkhw = np.moveaxis(probs[b].astype(np.float32), -1, 1)
            image[b], pixel[b] = get_label_quality_scores(
                labels[b].astype(np.int64), nkhw, method="softmin", verbose=False,
                temperature=temperature,
            )
    else:
        raise ValueError(f"method must be 'softmin' or 'num_pixel_issues', not {method!r}")
    return pd.Series(image, index=pd.Index(ids, name="image_id"), name="cleanlab"), pixel


def _defect_region(label: np.ndarray, pred: np.ndarray) -> np.ndarray:
    return (label != BACKGROUND) | (pred != BACKGROUND)


def loss_scores(
    labels, probs, ids: Sequence[str] | None = None, *, focus: str = "defects"
) -> pd.Series:
    """Baseline: minus the mean out-of-sample cross-entropy of the given label.

    With ``focus="defects"`` (default) the mean runs over the image's defect region, the
    pixels labelled or predicted as a defect, and over the whole frame only if that region
    is empty. A missed 200 px stain in a 320×320 frame moves a whole-frame mean by 0.2 %,
    below the spread of ordinary boundary losses between images; over the defect region it
    counts. ``focus="all"`` averages over every pixel. Probabilities are clipped at 1e-6.

    Returns
    -------
    Series
        ``−loss`` per image, indexed by image id: lower = more suspect.
    """
    labels, probs = check(labels, probs)
    ids = image_ids(ids, len(labels))
    if focus not in ("defects", "all"):
        raise ValueError(f"focus must be 'defects' or 'all', not {focus!r}")
    p_label = label_probability(labels, probs)
    out = np.empty(len(labels))
    for i in range(len(labels)):
        loss = -np.log(np.clip(p_label[i], EPS, 1.0))
        region = _defect_region(labels[i], probs[i].argmax(-1)) if focus == "defects" else None
        out[i] = -(loss[region].mean() if region is not None and region.any() else loss.mean())
    return pd.Series(out, index=pd.Index(ids, name="image_id"), name="loss")


def disagreement_scores(
    labels, probs, ids: Sequence[str] | None = None, *, relative: bool = False
) -> pd.Series:
    """Baseline: minus the number of pixels whose predicted class (argmax) is not the label.

    With ``relative=True``, minus the fraction of the defect region (pixels labelled or
    predicted as a defect) in disagreement, 0 for an image with no defect region; this
    favours small defects, the count favours large ones.

    Returns
    -------
    Series
        Indexed by image id: lower = more suspect.
    """
    labels, probs = check(labels, probs)
    ids = image_ids(ids, len(labels))
    out = np.empty(len(labels))
    for i in range(len(labels)):
        pred = probs[i].argmax(-1)
        wrong = int((pred != labels[i]).sum())
        if relative:
            region = int(_defect_region(labels[i], pred).sum())
            out[i] = -(wrong / region) if region else 0.0
        else:
            out[i] = -wrong
    return pd.Series(out, index=pd.Index(ids, name="image_id"), name="disagreement")


def rank_order(scores: pd.Series) -> list[str]:
    """Image ids from most to least suspect: ascending score, ties by image id, NaN last."""
    frame = pd.DataFrame({"id": scores.index.astype(str), "score": scores.to_numpy(float)})
    return frame.sort_values(["score", "id"], kind="mergesort", na_position="last")["id"].tolist()


def flag_top(scores: pd.Series, n: int) -> list[str]:
    """The ``n`` most suspect image ids, in rank order (for comparisons at equal budget)."""
    return rank_order(scores)[: max(0, int(n))]


__all__ = [
    "cleanlab_scores",
    "disagreement_scores",
    "flag_top",
    "loss_scores",
    "rank_order",
]
