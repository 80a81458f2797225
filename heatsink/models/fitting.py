"""What training feeds a model, in one place: precision, seeding, the compiled model (loss,
optimiser, metrics) and the training and validation batches of a :class:`TrainConfig`.

:func:`heatsink.train.train` fits with these, and :func:`heatsink.models.lr_range.lr_range`
runs its learning-rate range test with the very same pieces, so a range test sees the batches
(crops, augmentation), loss and precision the run it sizes will see.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from heatsink.errors import HeatsinkError
from heatsink.models.run import TrainConfig

if TYPE_CHECKING:
    import tensorflow as tf

    from heatsink.data import Dataset


def resolve_precision(precision: str = "auto") -> str:
    """The Keras dtype policy to train with: ``auto`` picks bf16 only where the CPU has it."""
    from heatsink.hardware import has_bf16

    if precision == "auto":
        return "mixed_bfloat16" if has_bf16() else "float32"
    return precision


def train_class_weights(ds: Dataset, ids: list[str], method: str) -> np.ndarray:
    """Class weights from the pixel counts of the training labels."""
    from heatsink.imbalance import class_weights
    from heatsink.objects import class_pixel_counts

    counts = sum(class_pixel_counts(ds.mask(i)) for i in ids)
    return np.asarray(class_weights(counts, method=method), dtype=np.float64)


@contextlib.contextmanager
def training_session(config: TrainConfig, precision: str) -> Iterator[None]:
    """Seed everything from ``config.seed``, enable op determinism if asked, and train under
    the dtype policy ``precision`` (a resolved one, :func:`resolve_precision`) until the block
    ends; the global policy is float32 again afterwards."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    tf.keras.mixed_precision.set_global_policy(precision)
    try:
        yield
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


def compiled_model(config: TrainConfig, ds: Dataset, train_ids: list[str],
                   learning_rate: Any) -> tf.keras.Model:
    """A fresh model of ``config``, compiled with Adam at ``learning_rate`` (a number or a
    schedule), the loss of ``config`` (class weights from ``train_ids``' labels where it has
    a ``wcce`` term) and the training metrics (pixel accuracy, defect IoU)."""
    import tensorflow as tf

    from heatsink.classes import CLASS_NAMES
    from heatsink.models.losses import make_loss
    from heatsink.models.registry import build_model

    weights = None
    if "wcce" in config.loss.split("+"):
        weights = train_class_weights(ds, train_ids, config.class_weighting)
    model = build_model(config.model, encoder_weights=config.encoder_weights,
                        **config.model_kwargs)
    if config.prior_bias:
        from heatsink.objects import class_pixel_counts

        counts = sum(class_pixel_counts(ds.mask(i)) for i in train_ids)
        start_at_priors(model, np.asarray(counts, dtype=np.float64) / np.sum(counts))
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate),
        loss=make_loss(config.loss, weights),
        metrics=[
            tf.keras.metrics.CategoricalAccuracy(name="accuracy"),
            tf.keras.metrics.OneHotIoU(num_classes=len(CLASS_NAMES),
                                       target_class_ids=[1, 2], name="defect_iou"),
        ],
    )
    return model


def logits_layer(model: tf.keras.Model) -> tf.keras.layers.Layer:
    """The convolution that gives a model's logits: its layer named ``logits`` (the study's
    own nets), or the last convolution of a nested model (a segmentation-models U-Net)."""
    import tensorflow as tf

    try:
        return model.get_layer("logits")
    except ValueError:
        pass
    for layer in reversed(model.layers):
        if isinstance(layer, tf.keras.Model):
            convs = [c for c in layer.layers if isinstance(c, tf.keras.layers.Conv2D)]
            if convs:
                return convs[-1]
    raise HeatsinkError(f"{model.name}: no logits convolution found")


def start_at_priors(model: tf.keras.Model, frequencies: np.ndarray,
                    kernel_scale: float = 0.01) -> None:
    """Make ``model`` start by predicting about ``frequencies`` (one per class, summing to 1)
    everywhere: its logits' bias set to their logarithms, its kernel scaled by
    ``kernel_scale`` (RetinaNet's prior initialisation, Lin et al. 2017).

    >>> import numpy as np
    >>> from heatsink.models import build_model
    >>> model = build_model("unet", filters=4)
    >>> start_at_priors(model, np.array([0.97, 0.01, 0.02]))
    >>> x = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    >>> np.asarray(model(x)).mean(axis=(0, 1, 2)).round(2)
    array([0.97, 0.01, 0.02], dtype=float32)
    """
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if frequencies.ndim != 1 or np.any(frequencies <= 0):
        raise HeatsinkError(f"class frequencies must be positive, not {frequencies!r}")
    layer = logits_layer(model)
    kernel, bias = layer.get_weights()
    if bias.shape != frequencies.shape:
        raise HeatsinkError(f"{model.name}: {bias.shape[0]} logits for "
                            f"{frequencies.shape[0]} class frequencies")
    layer.set_weights([kernel * kernel_scale,
                       np.log(frequencies / frequencies.sum()).astype(bias.dtype)])


def steps_per_epoch(config: TrainConfig, n_train: int) -> int:
    """Training batches per epoch (the last one may be smaller).

    >>> steps_per_epoch(TrainConfig(batch_size=16), 700)
    44
    """
    return -(-n_train // config.batch_size)


def training_batches(config: TrainConfig, ds: Dataset, train_ids: list[str]) -> tf.data.Dataset:
    """The shuffled training batches of ``config``: its crops, flips, textures and
    photometric changes."""
    from heatsink.data.pipeline import make_tf_dataset

    return make_tf_dataset(ds, train_ids, size=config.image_size,
                           batch_size=config.batch_size, augment=config.augment,
                           crop=config.crop, shuffle=True, seed=config.seed,
                           photometric=config.photometric, texture=config.texture,
                           texture_share=config.texture_share,
                           texture_strength=config.texture_strength,
                           texture_spots=config.texture_spots,
                           texture_marks=config.texture_marks)


def validation_batches(config: TrainConfig, ds: Dataset, val_ids: list[str]) -> tf.data.Dataset:
    """Whole validation frames at ``config.image_size``, in order, unchanged."""
    from heatsink.data.pipeline import make_tf_dataset

    return make_tf_dataset(ds, val_ids, size=config.image_size, batch_size=config.batch_size)


__all__ = [
    "compiled_model",
    "logits_layer",
    "resolve_precision",
    "start_at_priors",
    "steps_per_epoch",
    "train_class_weights",
    "training_batches",
    "training_session",
    "validation_batches",
]
