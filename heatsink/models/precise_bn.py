"""Precise batch-norm statistics: every batch-norm layer's moving mean and variance
recomputed on whole training frames with the weights held, before a model is validated.

While a net trains, Keras keeps each ``BatchNormalization`` layer's moving statistics as an
exponential average (momentum 0.99: roughly the last hundred batches) of batch statistics
taken while the weights moved, on augmented training batches. At validation the net
normalises with those averages, which can lag the weights: on this study's twin the
ResNet50 U-Net's validation defect IoU jumped between 0.01 and 0.47 from one epoch to the
next while its training IoU climbed smoothly, so early stopping and the best-epoch pick
followed batch-norm noise. Recomputing the statistics on 640 whole training frames (40
flipped and rotated batches) at the weights of its best and last epochs raised their
validation defect mIoU from 47.2 to 55.3 % and from 14.4 to 24.5 % (a session's note of
2026-12-06; the run is gone with its machine, and ``bench/precise_bn.py RUN`` measures it again
on any run).

The statistics are the equally weighted mean, over frames, of the batch means and
variances (the convention of PyTorch's ``torch.optim.swa_utils.update_bn`` and of "precise
BN", Wu & Johnson, *Rethinking "Batch" in BatchNorm*, 2021): the batch statistics the net
was trained to expect, at the weights it has now.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import tensorflow as tf


def batchnorm_layers(model: tf.keras.Model) -> list[tf.keras.layers.BatchNormalization]:
    """The model's batch-norm layers, nested models' included, each once.

    Examples
    --------
    >>> import tensorflow as tf
    >>> inner = tf.keras.Sequential([tf.keras.layers.BatchNormalization()])
    >>> outer = tf.keras.Sequential([inner, tf.keras.layers.BatchNormalization()])
    >>> len(batchnorm_layers(outer))
    2
    """
    found: dict[int, Any] = {}
    for module in [model, *model.submodules]:
        if isinstance(module, tf.keras.layers.BatchNormalization):
            found.setdefault(id(module), module)
    return list(found.values())


class PreciseStatistics:
    """Recomputes a model's batch-norm statistics; one graph for every call.

    Parameters
    ----------
    model : tf.keras.Model
        The net. Its layers' momentum is set to 0 for the passes (so that each pass leaves
        exactly its batch's statistics in the moving variables) and restored afterwards.

    Examples
    --------
    A layer whose moving statistics are still at their start (mean 0, variance 1) takes
    the data's:

    >>> import numpy as np, tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((4, 4, 1)),
    ...                              tf.keras.layers.BatchNormalization()])
    >>> frames = np.random.default_rng(0).normal(5.0, 2.0, (8, 4, 4, 1)).astype("float32")
    >>> PreciseStatistics(model)([frames[:4], frames[4:]])
    8
    >>> layer = model.layers[0]
    >>> bool(np.isclose(layer.moving_mean.numpy()[0], frames.mean(), atol=1e-4))
    True
    """

    def __init__(self, model: tf.keras.Model) -> None:
        self.model = model
        self.layers = batchnorm_layers(model)
        self._forward: Any = None

    def __call__(self, batches: Iterable[Any]) -> int:
        """Run ``batches`` (arrays, or ``(frames, targets)`` pairs as a ``tf.data`` pipeline
        yields them) through the net in training mode, and set every batch-norm layer's
        moving mean and variance to the frame-weighted mean of the batches' own.

        Returns
        -------
        int
            The number of frames used (0 leaves the model unchanged).
        """
        if not self.layers:
            return 0
        if self._forward is None:
            self._forward = tf.function(lambda x: self.model(x, training=True))
        momenta = [layer.momentum for layer in self.layers]
        before = [(layer.moving_mean.numpy(), layer.moving_variance.numpy())
                  for layer in self.layers]
        sums = [[np.zeros_like(m, dtype=np.float64), np.zeros_like(v, dtype=np.float64)]
                for m, v in before]
        frames = 0
        try:
            for layer in self.layers:
                layer.momentum = 0.0  # read when the graph is traced: the first call's value
            for batch in batches:
                x = batch[0] if isinstance(batch, tuple | list) else batch
                n = int(x.shape[0])
                self._forward(x)
                for total, layer in zip(sums, self.layers, strict=True):
                    total[0] += n * layer.moving_mean.numpy()
                    total[1] += n * layer.moving_variance.numpy()
                frames += n
        finally:
            for layer, momentum in zip(self.layers, momenta, strict=True):
                layer.momentum = momentum
        for layer, total, (mean, variance) in zip(self.layers, sums, before, strict=True):
            if frames:
                mean, variance = total[0] / frames, total[1] / frames
            layer.moving_mean.assign(mean.astype(layer.moving_mean.dtype.as_numpy_dtype))
            layer.moving_variance.assign(
                variance.astype(layer.moving_variance.dtype.as_numpy_dtype))
        return frames


class PreciseValidation(tf.keras.callbacks.Callback):
    """Validates after each epoch with precise batch-norm statistics.

    At each epoch's end the statistics are recomputed on ``frames`` (whole training frames,
    :class:`PreciseStatistics`) and the model is evaluated on ``validation``; the scores
    go into the epoch's logs as ``val_<metric>``, as ``fit(validation_data=...)`` would put
    them, so the callbacks after this one (checkpoints, history, early stopping) see them.
    Give ``fit`` no validation data of its own, and put this callback first.

    Parameters
    ----------
    frames : tf.data.Dataset
        Batches of whole training frames (with or without targets).
    validation : tf.data.Dataset
        Validation batches ``(frames, targets)``.
    """

    def __init__(self, frames: tf.data.Dataset, validation: tf.data.Dataset) -> None:
        super().__init__()
        self.frames = frames
        self.validation = validation
        self._statistics: PreciseStatistics | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self._statistics is None or self._statistics.model is not self.model:
            self._statistics = PreciseStatistics(self.model)
        self._statistics(self.frames)
        scores = self.model.evaluate(self.validation, verbose=0, return_dict=True)
        if logs is not None:
            logs.update({f"val_{name}": float(value) for name, value in scores.items()})


def precise_frames(ids: list[str], n_frames: int, seed: int) -> list[str]:
    """The training frames the statistics are computed on: ``n_frames`` of ``ids`` drawn
    without replacement by ``seed``, in their order in ``ids`` (all of them if fewer).

    >>> ids = ["a", "b", "c", "d"]
    >>> precise_frames(ids, 2, seed=0) == precise_frames(ids, 2, seed=0)
    True
    >>> precise_frames(["a", "b"], 5, seed=0)
    ['a', 'b']
    """
    if n_frames >= len(ids):
        return list(ids)
    keep = np.sort(np.random.default_rng(seed).choice(len(ids), n_frames, replace=False))
    return [ids[i] for i in keep]


__all__ = ["PreciseStatistics", "PreciseValidation", "batchnorm_layers", "precise_frames"]
