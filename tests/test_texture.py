"""Texture randomisation (heatsink.data.texture) and its wiring into training."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import heatsink  # noqa: F401  (selects legacy Keras before TensorFlow)

tf = pytest.importorskip("tensorflow")

from heatsink.components import components  # noqa: E402
from heatsink.data import load_dataset, make_tf_dataset, texture  # noqa: E402
from heatsink.errors import HeatsinkError  # noqa: E402
from heatsink.models.fitting import training_batches  # noqa: E402
from heatsink.models.run import TrainConfig  # noqa: E402


def test_doctests():
    result = doctest.testmod(texture)
    assert result.attempted > 0 and result.failed == 0


def test_same_seed_same_texture_other_seed_other_texture():
    x = tf.fill([4, 48, 48, 3], 0.3)
    a = texture.texture(x, tf.constant([7, 1])).numpy()
    b = texture.texture(x, tf.constant([7, 1])).numpy()
    c = texture.texture(x, tf.constant([7, 2])).numpy()
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_each_image_gets_its_own_texture_of_stated_strength(monkeypatch):
    monkeypatch.setitem(texture.SHARES, "textured", 1.0)
    x = tf.fill([32, 64, 64, 3], 0.3)
    g = texture.texture_field(tf.shape(x), tf.constant([2, 5])).numpy()[..., 0]
    spread = g.reshape(32, -1).std(axis=1)
    assert np.ptp(spread) > 0.01  # the strength differs from image to image
    # the weakest image is no stronger than its grain, streak and speck maxima allow
    assert spread.max() < 3 * (texture.RANGES["grain_amp"][1] + texture.RANGES["streak_amp"][1])
    assert abs(float(g.mean())) < 0.05  # a modulation around the plating, not a gain


def test_grain_is_skewed_to_bright_when_asked(monkeypatch):
    monkeypatch.setitem(texture.RANGES, "grain_skew", (0.2, 0.2))
    monkeypatch.setitem(texture.RANGES, "grain_tail", (0.0, 0.0))
    monkeypatch.setitem(texture.SHARES, "textured", 1.0)
    monkeypatch.setitem(texture.SHARES, "streaks", 0.0)
    monkeypatch.setitem(texture.SHARES, "specks", 0.0)
    g = texture.texture_field(tf.constant([8, 96, 96, 3]), tf.constant([1, 1])).numpy().ravel()
    z = (g - g.mean()) / g.std()
    assert float(np.mean(z ** 3)) > 0.2


def test_off_by_default_and_masks_untouched(make_dataset, monkeypatch):
    monkeypatch.setitem(texture.SHARES, "textured", 1.0)
    assert TrainConfig().texture is False
    ds = load_dataset(make_dataset(n=3, size=64))
    plain = list(make_tf_dataset(ds, ds.ids, size=64, batch_size=3, cache=False))
    tex = list(make_tf_dataset(ds, ds.ids, size=64, batch_size=3, cache=False,
                               texture=True, seed=1))
    (xi, yi), (xt, yt) = plain[0], tex[0]
    assert not np.allclose(xi.numpy(), xt.numpy())
    assert np.array_equal(yi.numpy(), yt.numpy())
    assert xt.shape == xi.shape and xt.dtype == xi.dtype


def test_a_textured_share_leaves_the_other_images_as_rendered(monkeypatch):
    x = tf.fill([64, 32, 32, 3], 0.3)
    monkeypatch.setitem(texture.SHARES, "textured", 0.5)
    y = texture.texture(x, tf.constant([4, 4])).numpy()
    untouched = np.all(y == 0.3, axis=(1, 2, 3))
    assert 16 < untouched.sum() < 48  # about half of 64
    monkeypatch.setitem(texture.SHARES, "textured", 0.0)
    assert np.array_equal(texture.texture(x, tf.constant([4, 4])).numpy(), x.numpy())


def test_a_run_sets_the_share_and_strength_of_its_textures(make_dataset):
    ds = load_dataset(make_dataset(n=8, size=64))

    def first_batch(**dose):
        config = TrainConfig(model="light", image_size=64, batch_size=8, texture=True, **dose)
        return next(iter(training_batches(config, ds, ds.ids)))[0].numpy()

    plain = next(iter(training_batches(TrainConfig(model="light", image_size=64, batch_size=8),
                                       ds, ds.ids)))[0].numpy()
    changed = [np.any(first_batch(texture_share=p) != plain, axis=(1, 2, 3))
               for p in (0.01, 1.0)]
    assert changed[0].sum() < changed[1].sum() == 8
    full = first_batch(texture_share=1.0) - plain
    weak = first_batch(texture_share=1.0, texture_strength=0.25) - plain
    assert 0 < np.abs(weak).mean() < 0.5 * np.abs(full).mean()


def test_a_texture_dose_out_of_range_is_refused():
    for bad in ({"texture_share": 0.0}, {"texture_share": 1.5}, {"texture_strength": 0},
                {"texture_strength": float("nan")}, {"texture_share": True}):
        with pytest.raises(HeatsinkError, match="texture_s"):
            TrainConfig(texture=True, **bad)
    with pytest.raises(HeatsinkError, match="need texture on"):
        TrainConfig(texture_spots=0.5)


def test_spots_are_faint_soft_blobs_added_to_the_same_texture():
    shape, seed = tf.constant([8, 128, 128, 3]), tf.constant([5, 6])
    plain = texture.texture_field(shape, seed, share=1.0).numpy()[..., 0]
    spotted = texture.texture_field(shape, seed, share=1.0, spots=1.0).numpy()[..., 0]
    d = spotted - plain
    lo, hi = texture.RANGES["spot_amp"]
    peak = np.abs(d).max(axis=(1, 2))
    assert np.all(peak > 0.5 * lo) and np.all(peak < 2 * hi)  # faint: 2 may overlap
    step = np.abs(np.diff(d, axis=2)).max(axis=(1, 2))
    assert np.all(step < 0.4 * peak)                           # soft, not pixel specks
    assert (d < -0.01).sum() > (d > 0.01).sum()                # mostly darker
    none = texture.texture_field(shape, seed, share=1.0, spots=0.0).numpy()[..., 0]
    assert np.array_equal(none, plain)


def test_marks_are_long_bright_blobs_along_one_direction_added_to_the_same_texture():
    shape, seed = tf.constant([16, 256, 256, 3]), tf.constant([5, 6])  # about 150 marks
    plain = texture.texture_field(shape, seed, share=1.0).numpy()[..., 0]
    marked = texture.texture_field(shape, seed, share=1.0, marks=1.0).numpy()[..., 0]
    d = marked - plain
    assert (d > 0.02).sum() > 2 * (d < -0.02).sum()            # mostly brighter
    assert np.all(np.abs(d).max(axis=(1, 2)) > 0.5 * texture.RANGES["mark_amp"][0])
    # elongated: per image, the second moments of the marked pixels have one long axis
    for k in range(len(d)):
        found = components(np.abs(d[k]) > 0.5 * np.abs(d[k]).max())
        biggest = 1 + int(np.argmax(found.stats[1:, 4]))
        pts = np.argwhere(found.labels == biggest).astype(float)
        axes = np.sqrt(np.linalg.eigvalsh(np.cov(pts.T)))
        assert axes[1] > 2.5 * axes[0], k
    none = texture.texture_field(shape, seed, share=1.0, marks=0.0).numpy()[..., 0]
    assert np.array_equal(none, plain)
    with pytest.raises(HeatsinkError, match="need texture on"):
        TrainConfig(texture_marks=0.5)
    with pytest.raises(HeatsinkError, match="texture_marks must be"):
        TrainConfig(texture=True, texture_marks=1.5)

