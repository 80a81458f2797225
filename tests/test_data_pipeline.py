"""The tf.data pipeline: shapes, dtypes, ranges, resizing and aligned augmentation."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from heatsink.data import load_dataset, make_tf_dataset

tf = pytest.importorskip("tensorflow")


def _all(data):
    images, masks = zip(*((x.numpy(), y.numpy()) for x, y in data), strict=True)
    return np.concatenate(images), np.concatenate(masks)


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    from conftest import write_dataset

    return load_dataset(write_dataset(tmp_path_factory.mktemp("pipe") / "data", 5, 40))


def test_import_does_not_load_tensorflow():
    code = "import sys, heatsink.data; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shapes_dtypes_range_onehot(ds):
    data = make_tf_dataset(ds, ds.ids, size=24, batch_size=2)
    batches = list(data)
    assert [int(x.shape[0]) for x, _ in batches] == [2, 2, 1]
    image, mask = batches[0]
    assert image.dtype == tf.float32 and tuple(image.shape) == (2, 24, 24, 3)
    assert mask.dtype == tf.float32 and tuple(mask.shape) == (2, 24, 24, 3)
    images, masks = _all(data)
    assert images.min() >= 0.0 and images.max() <= 1.0 and images.max() > 0.5
    assert np.array_equal(masks.sum(axis=-1), np.ones(masks.shape[:-1]))
    assert set(np.unique(masks)) == {0.0, 1.0}


def test_nearest_neighbour_masks_and_bilinear_images(ds):
    images, masks = _all(make_tf_dataset(ds, ds.ids, size=29, batch_size=8, onehot=False))
    assert masks.dtype == np.int32 and masks.shape == (5, 29, 29, 1)
    assert set(np.unique(masks)) <= {0, 1, 2} and set(np.unique(masks)) >= {1, 2}
    expected = cv2.resize(ds.image(0), (29, 29), interpolation=cv2.INTER_LINEAR) / 255.0
    assert np.allclose(images[0], expected, atol=1e-6)


def test_native_size_is_not_resized(ds):
    images, masks = _all(make_tf_dataset(ds, ds.ids[:2], size=40, onehot=False, cache=False))
    assert np.allclose(images[1], ds.image(1) / 255.0)
    assert np.array_equal(masks[1, ..., 0], ds.mask(1))


def test_order_follows_ids_and_shuffle_is_seeded(ds):
    ids = ["0003", "0001"]
    _, masks = _all(make_tf_dataset(ds, ids, size=40, onehot=False))
    assert np.array_equal(masks[0, ..., 0], ds.mask("0003"))

    def order(seed):
        data = make_tf_dataset(ds, ds.ids, size=8, batch_size=5, shuffle=True, seed=seed)
        return [_all(data)[0].sum(axis=(1, 2, 3)).round(3).tolist() for _ in range(2)]

    first, again = order(0), order(0)
    assert first == again  # reproducible
    assert sorted(first[0]) == sorted(first[1])  # each epoch holds every image once
    unshuffled = _all(make_tf_dataset(ds, ds.ids, size=8, batch_size=5))[0]
    in_id_order = unshuffled.sum(axis=(1, 2, 3)).round(3).tolist()
    assert first[0] != in_id_order and first[0] != first[1]  # shuffled, anew each epoch
    assert order(1)[0] != first[0]  # another seed, another order


def test_augmentation_keeps_image_and_mask_aligned(tmp_path):
    size = 16
    rng = np.random.default_rng(0)
    for folder in ("images", "labels"):
        (tmp_path / folder).mkdir()
    for k in range(6):
        # an asymmetric image; the mask is its red channel thresholded into 0/1/2
        red = rng.integers(0, 256, (size, size), dtype=np.uint8)
        image = np.dstack([red, np.zeros_like(red), np.zeros_like(red)])
        mask = np.digitize(red, [86, 171]).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "images" / f"{k:04d}.bmp"), image[..., ::-1])
        cv2.imwrite(str(tmp_path / "labels" / f"{k:04d}.png"), mask)
    ds = load_dataset(tmp_path)
    data = make_tf_dataset(ds, ds.ids, size=size, batch_size=6, augment=True, onehot=False)
    originals = [ds.image(i)[..., 0] for i in ds.ids]
    changed = 0
    for _ in range(3):
        images, masks = _all(data)
        for image, mask, original in zip(images, masks, originals, strict=True):
            red = np.rint(image[..., 0] * 255).astype(np.uint8)
            assert np.array_equal(np.digitize(red, [86, 171]), mask[..., 0])
            assert sorted(red.ravel()) == sorted(original.ravel())  # a permutation of pixels
            changed += not np.array_equal(red, original)
    assert changed >= 6  # augmentation did something, differently across images/epochs


def test_unknown_ids_are_rejected(ds):
    with pytest.raises(KeyError, match="9999"):
        make_tf_dataset(ds, ["0001", "9999"])
