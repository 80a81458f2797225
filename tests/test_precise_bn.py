"""Precise batch-norm statistics: what they compute, and that training validates with them."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from heatsink.models.precise_bn import PreciseStatistics, batchnorm_layers, precise_frames
from heatsink.models.run import TrainConfig


def test_the_statistics_are_the_frame_weighted_mean_of_the_batches_own():
    rng = np.random.default_rng(3)
    model = tf.keras.Sequential([tf.keras.Input((16, 16, 2)),
                                 tf.keras.layers.BatchNormalization(momentum=0.9),
                                 tf.keras.layers.Conv2D(3, 3),
                                 tf.keras.layers.BatchNormalization(momentum=0.9)])
    # batches of unequal sizes and very different statistics: a plain mean over batches,
    # or Keras's moving average, would give other numbers
    batches = [rng.normal(loc, scale, (n, 16, 16, 2)).astype("float32")
               for loc, scale, n in ((0.0, 1.0, 6), (4.0, 3.0, 2), (-2.0, 0.5, 4))]
    first = model.layers[0]
    assert PreciseStatistics(model)(batches) == 12
    weights = np.array([b.shape[0] for b in batches], dtype=float)
    means = np.array([b.mean(axis=(0, 1, 2)) for b in batches])
    variances = np.array([b.var(axis=(0, 1, 2)) for b in batches])
    want_mean = weights @ means / weights.sum()
    want_var = weights @ variances / weights.sum()
    assert first.moving_mean.numpy() == pytest.approx(want_mean, rel=1e-4)
    # the fused kernel keeps the unbiased batch variance: n / (n − 1) with n ≥ 512 pixels
    assert first.moving_variance.numpy() == pytest.approx(want_var, rel=3e-3)
    assert all(layer.momentum == 0.9 for layer in batchnorm_layers(model))
    # the weights are held: a second pass on the same batches gives the same statistics,
    # and no batches leave the model as it was
    second = model.layers[2]
    before = second.moving_mean.numpy().copy()
    PreciseStatistics(model)(batches)
    assert second.moving_mean.numpy() == pytest.approx(before, rel=1e-5)
    assert PreciseStatistics(model)([]) == 0
    assert second.moving_mean.numpy() == pytest.approx(before, rel=1e-5)


def test_a_net_without_batch_norm_is_left_alone():
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(2)])
    assert batchnorm_layers(model) == []
    assert PreciseStatistics(model)([np.ones((2, 4), "float32")]) == 0


def test_the_frames_are_a_seeded_subset_in_order():
    ids = [f"f{i:03d}" for i in range(100)]
    picked = precise_frames(ids, 20, seed=1)
    assert len(set(picked)) == 20 and picked == sorted(picked)
    assert picked != precise_frames(ids, 20, seed=2)


def test_precise_bn_must_be_a_number_of_frames():
    from heatsink.errors import HeatsinkError

    for bad in (0, -5, 2.5, True, "320"):
        with pytest.raises(HeatsinkError, match="precise_bn"):
            TrainConfig(precise_bn=bad)
    assert TrainConfig(precise_bn=320).precise_bn == 320
