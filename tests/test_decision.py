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
