"""A ``tf.data`` input pipeline over a :class:`~heatsink.data.Dataset`.

TensorFlow is imported inside the functions only, so ``import heatsink.data`` stays fast
and :mod:`heatsink` can set TensorFlow's environment variables first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from heatsink.classes import CLASS_NAMES
from heatsink.data.layout import Dataset

if TYPE_CHECKING:
    import tensorflow as tf

#: Image size of the dataset; ``size=NATIVE_SIZE`` reads images without resizing.
NATIVE_SIZE = 320


def load_pair(ds: Dataset, image_id: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Image (size×size×3 uint8) and mask (size×size uint8) of one id, resized if needed.

    Images are resized bilinearly, masks with exact nearest neighbour (so they keep only
    the values 0, 1, 2); images already ``size``×``size`` are left as they are.
    """
    image, mask = ds.image(image_id), ds.mask(image_id)
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    if mask.shape != (size, size):
        mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
    return image, mask


def _augment(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Random horizontal/vertical flip and rot90, identical for image and mask."""
    import tensorflow as tf

    draws = tf.random.stateless_uniform([3], seed=seed, maxval=4, dtype=tf.int32)
    both = tf.concat([image, tf.cast(mask, image.dtype)[..., None]], axis=-1)
    both = tf.cond(draws[0] >= 2, lambda: tf.reverse(both, axis=[1]), lambda: both)
    both = tf.cond(draws[1] >= 2, lambda: tf.reverse(both, axis=[0]), lambda: both)
    both = tf.image.rot90(both, k=draws[2])
    return both[..., :3], tf.cast(both[..., 3], mask.dtype)


def _crop(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor,
          side: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The same random ``side``×``side`` window of image and mask."""
    import tensorflow as tf

    both = tf.concat([image, tf.cast(mask, image.dtype)[..., None]], axis=-1)
    both = tf.image.stateless_random_crop(both, [side, side, 4], seed=seed)
    return both[..., :3], tf.cast(both[..., 3], mask.dtype)


def make_tf_dataset(
    ds: Dataset,
    ids: Sequence[str],
    size: int = 256,
    batch_size: int = 32,
    augment: bool = False,
    crop: int | None = None,
    shuffle: bool = False,
    seed: int = 0,
    cache: bool = True,
    onehot: bool = True,
    photometric: bool = False,
    texture: bool = False,
    texture_share: float | None = None,
    texture_strength: float = 1.0,
    texture_spots: float = 0.0,
    texture_marks: float = 0.0,
) -> tf.data.Dataset:
    """Batches of (image, mask) for training or evaluation.

    Parameters
    ----------
    ds : Dataset
        The dataset to read from.
    ids : sequence of str
        The image ids, in order (e.g. one split's ids).
    size : int
        Side of the square output; 320 (the native size) means no resizing.
    batch_size : int
        Batch size; the last batch may be smaller.
    augment : bool
        Random horizontal and vertical flips and rotations by multiples of 90°, applied
        identically to image and mask; different each epoch, reproducible from ``seed``.
    crop : int, optional
        Train on random ``crop``×``crop`` windows of each image at ``size`` (another window
        each epoch, reproducible from ``seed``), before any augmentation.
    shuffle : bool
        Shuffle all ids, differently each epoch, reproducibly from ``seed``.
    seed : int
        Seed for shuffling and augmentation.
    cache : bool
        Keep decoded, resized uint8 arrays in memory after the first epoch
        (about ``len(ids) * size² * 4`` bytes).
    onehot : bool
        Masks one-hot (size×size×3 float32) if True, else class ids (size×size×1 int32).
    photometric : bool
        Random brightness, gamma, colour, blur/sharpening and noise per image
        (:func:`heatsink.data.augment.photometric`), reproducible from ``seed``; masks
        unchanged.
    texture : bool
        Multiply each image by a random unlabelled plating texture
        (:func:`heatsink.data.texture.texture`), reproducible from ``seed``, before any
        photometric change; masks unchanged.
    texture_share, texture_strength, texture_spots, texture_marks : float
        The texture's dose: the share of images that get one (None: the module's
        ``SHARES["textured"]``), a factor on its strength, and the shares of textured images
        that also get soft spots and polishing marks (see
        :func:`heatsink.data.texture.texture_field`).

    Returns
    -------
    tf.data.Dataset
        Yields ``(image, mask)`` batches; image float32 in [0, 1], shape
        ``(batch, size, size, 3)``.

    Raises
    ------
    KeyError
        If an id is not in ``ds`` (checked before building the pipeline).
    """
    import tensorflow as tf

    ids = [str(i) for i in ids]
    unknown = [i for i in ids if i not in ds]
    if unknown:
        raise KeyError(f"{len(unknown)} ids are not in {ds.root} (e.g. {unknown[0]!r})")
    n_classes = len(CLASS_NAMES)

    def load(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return load_pair(ds, ids[int(index)], size)

    def decode(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image, mask = tf.numpy_function(load, [index], [tf.uint8, tf.uint8], stateful=False)
        image.set_shape([size, size, 3])
        mask.set_shape([size, size])
        return image, mask

    data = tf.data.Dataset.from_tensor_slices(np.arange(len(ids), dtype=np.int64))
    data = data.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        data = data.cache()
    if shuffle:
        data = data.shuffle(max(len(ids), 1), seed=seed, reshuffle_each_iteration=True)
    if crop is not None:
        if not 0 < crop <= size:
            raise ValueError(f"crop must be between 1 and the image size {size}, not {crop}")
        windows = tf.data.Dataset.random(seed=seed + 2, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip((data, windows)).map(
            lambda pair, s: _crop(*pair, s, crop), num_parallel_calls=tf.data.AUTOTUNE
        )
    if augment:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip((data, seeds)).map(
            lambda pair, s: _augment(*pair, s), num_parallel_calls=tf.data.AUTOTUNE
        )

    def to_model(image: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.cast(image, tf.float32) / 255.0
        if onehot:
            return image, tf.one_hot(tf.cast(mask, tf.int32), n_classes, dtype=tf.float32)
        return image, tf.cast(mask, tf.int32)[..., None]

    data = data.map(to_model, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
    if texture:
        from heatsink.data.texture import texture as retexture

        seeds = tf.data.Dataset.random(seed=seed + 3, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip((data, seeds)).map(
            lambda batch, s: (retexture(batch[0], s, texture_share, texture_strength,
                                        texture_spots, texture_marks),
                              batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if photometric:
        from heatsink.data.augment import photometric as rerender

        seeds = tf.data.Dataset.random(seed=seed + 1, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip((data, seeds)).map(
            lambda batch, s: (rerender(batch[0], s), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return data.prefetch(tf.data.AUTOTUNE)


__all__ = [
    "NATIVE_SIZE",
    "load_pair",
    "make_tf_dataset",
]
