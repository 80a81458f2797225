"""Photometric augmentation (heatsink.data.augment) and its wiring into training."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import heatsink  # noqa: F401  (selects legacy Keras before TensorFlow)

tf = pytest.importorskip("tensorflow")

from heatsink.data import augment, load_dataset, make_tf_dataset  # noqa: E402
from heatsink.models.run import TrainConfig  # noqa: E402


def _batch(n: int = 4, size: int = 32) -> tf.Tensor:
    rng = np.random.default_rng(0)
    return tf.constant(rng.uniform(0.05, 0.6, (n, size, size, 3)).astype(np.float32))


def test_doctests():
    result = doctest.testmod(augment)
    assert result.attempted > 0 and result.failed == 0


def test_shape_dtype_range_and_determinism():
    x = _batch()
    a = augment.photometric(x, tf.constant([7, 1]))
    b = augment.photometric(x, tf.constant([7, 1]))
    c = augment.photometric(x, tf.constant([7, 2]))
    assert a.shape == x.shape and a.dtype == tf.float32
    assert float(tf.reduce_min(a)) >= 0.0 and float(tf.reduce_max(a)) <= 1.0
    assert np.array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())
    assert not np.allclose(a.numpy(), x.numpy())


def test_each_image_gets_its_own_draw():
    x = tf.repeat(_batch(1), 4, axis=0)  # four identical images
    y = augment.photometric(x, tf.constant([3, 3])).numpy()
    means = y.reshape(4, -1).mean(axis=1)
    assert np.ptp(means) > 0.01


def test_changes_stay_within_the_stated_ranges():
    x = tf.fill([64, 16, 16, 3], 0.4)
    y = augment.photometric(x, tf.constant([5, 9])).numpy()
    lo = (0.4 * 0.75) ** 1.25 * 0.9
    hi = min(1.0, (0.4 * 1.3) ** 0.8 * 1.1)
    means = y.mean(axis=(1, 2, 3))
    assert means.min() > lo - 0.03 and means.max() < hi + 0.03


def test_off_by_default_and_masks_untouched(make_dataset):
    assert TrainConfig().photometric is False
    ds = load_dataset(make_dataset(n=3, size=64))
    plain = list(make_tf_dataset(ds, ds.ids, size=64, batch_size=3, cache=False))
    again = list(make_tf_dataset(ds, ds.ids, size=64, batch_size=3, cache=False,
                                 photometric=False))
    photo = list(make_tf_dataset(ds, ds.ids, size=64, batch_size=3, cache=False,
                                 photometric=True, seed=1))
    (xi, yi), (xa, _), (xp, yp) = plain[0], again[0], photo[0]
    assert np.array_equal(xi.numpy(), xa.numpy())
    assert not np.allclose(xi.numpy(), xp.numpy())
    assert np.array_equal(yi.numpy(), yp.numpy())
    assert xp.shape == xi.shape and xp.dtype == xi.dtype
