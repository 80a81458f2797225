"""Class masks at an operating point: the argmax moved by a log-odds bias on the defects."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from heatsink.decision import decide


def _probs(seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(4, 16, 16, 3))
    e = np.exp(logits)
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def test_no_bias_is_the_argmax():
    p = _probs()
    assert np.array_equal(decide(p), p.argmax(-1))
    assert decide(p).dtype == np.uint8 and decide(p, 0.5).shape == p.shape[:-1]


def test_a_larger_bias_never_calls_fewer_pixels_defect_nor_changes_which_defect():
    p = _probs(1)
    called = [(decide(p, b) > 0) for b in (-3, -1, 0, 1, 3)]
    for fewer, more in pairwise(called):
        assert (more | ~fewer).all() and more.sum() > fewer.sum()
    # the bias is shared by both defect classes, so it never swaps one for the other
    both = (decide(p, -1) > 0) & (decide(p, 2) > 0)
    assert np.array_equal(decide(p, -1)[both], decide(p, 2)[both])


def test_bad_probabilities_and_biases_are_refused():
    with pytest.raises(ValueError, match="3 classes"):
        decide(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="finite"):
        decide(_probs(), float("nan"))


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of two scratches (one sure at its centre, one never above 0.6) and a
    stain sure at one pixel, on a background sure everywhere else."""
    probs = np.zeros((32, 32, 3), np.float32)
    probs[..., 0] = 1.0
    for rows, cls, p in ((slice(2, 4), 1, 0.6), (slice(10, 12), 1, 0.55), (slice(20, 26), 2, 0.55)):
        probs[rows, 4:28] = 0.0
        probs[rows, 4:28, cls] = p
        probs[rows, 4:28, 0] = 1 - p
    probs[3, 16] = (0.02, 0.98, 0.0)   # the first scratch's sure centre
    probs[22, 9] = (0.01, 0.0, 0.99)   # the stain's sure pixel
    return probs, decide(probs)


def test_a_confident_object_keeps_its_whole_extent_and_an_unsure_one_goes_whole():
    probs, argmax = _scene()
    kept = decide(probs, min_peak=0.9)
    assert (argmax[2:4, 4:28] == 1).all()
    assert np.array_equal(kept[2:4], argmax[2:4])           # its faint ends stay
    assert (argmax[10:12, 4:28] == 1).all() and not kept[10:12].any()  # dropped whole
    assert (kept[20:26, 4:28] == 2).all()                  # the stain, sure at one pixel
    assert np.array_equal(decide(probs, min_peak=0.5), argmax)
    # a larger min_peak keeps a subset of the objects; kept pixels keep their class
    for low, high in pairwise((0.0, 0.5, 0.7, 0.95, 0.99)):
        a, b = decide(probs, min_peak=low), decide(probs, min_peak=high)
        assert ((b == 0) | (b == a)).all() and (b > 0).sum() <= (a > 0).sum()
    assert not decide(probs, min_peak=0.995).any()
    # batches are decided image by image, as single images
    batch = np.stack([probs, probs[::-1]])
    assert np.array_equal(decide(batch, 0.5, 0.9)[1], decide(probs[::-1], 0.5, 0.9))


def test_bad_min_peaks_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        decide(_probs(), min_peak=1.0)
    with pytest.raises(ValueError, match="images"):
        decide(np.array([0.2, 0.7, 0.1]), min_peak=0.5)


def test_a_bias_per_class_moves_only_its_class():
    p = _probs(2)
    stain_only = decide(p, {"stain": 2.0})
    assert np.array_equal(decide(p, {"scratch": 0.0, "stain": 0.0}), decide(p))
    assert np.array_equal(decide(p, {"scratch": 1.5, "stain": 1.5}), decide(p, 1.5))
    # the stain bias only turns pixels into stain; every other pixel keeps the argmax's class
    changed = stain_only != decide(p)
    assert changed.any() and (stain_only[changed] == 2).all()
    with pytest.raises(ValueError, match="unknown class 'dent'"):
        decide(p, {"dent": 1.0})
    with pytest.raises(ValueError, match="finite"):
        decide(p, {"stain": float("inf")})


def test_objects_under_their_class_area_are_dropped_whole_and_only_they():
    probs, argmax = _scene()   # two 2 x 24 scratches (48 px) and a 6 x 24 stain (144 px)
    assert np.array_equal(decide(probs, min_area=48), argmax)
    no_scratch = decide(probs, min_area={"scratch": 49})
    assert not (no_scratch == 1).any() and np.array_equal(no_scratch == 2, argmax == 2)
    no_stain = decide(probs, min_area={"stain": 145})
    assert not (no_stain == 2).any() and np.array_equal(no_stain == 1, argmax == 1)
    # after the peak: the sure scratch alone is left, then dropped by its area
    assert (decide(probs, min_peak=0.9, min_area={"stain": 145}) == 1).sum() == 48
    assert not decide(probs, min_peak=0.9, min_area=200).any()
    with pytest.raises(ValueError, match=">= 0"):
        decide(probs, min_area=-1)
    with pytest.raises(ValueError, match="images"):
        decide(np.array([0.2, 0.7, 0.1]), min_area=5)
