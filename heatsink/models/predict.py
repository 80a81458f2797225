"""The one prediction path: frames in, class probabilities or masks out, in graph mode.

Training's validation scoring, evaluation, label quality and the line's inspection all
predict through :class:`Predictor`, so a mask means the same thing everywhere:

1. each uint8 RGB frame is resized to the model's input size with OpenCV's bilinear
   ``INTER_LINEAR`` (as the training pipeline resizes, :func:`heatsink.data.pipeline.load_pair`),
   only if its size differs;
2. scaled to float32 in [0, 1], run through the model in inference mode, cast to float32;
3. the softmax probabilities are resized bilinearly back to the frame's size and, for masks,
   arg-maxed.

Steps 2 and 3 run inside one ``tf.function``, compiled once per batch shape and frame size:
calling a Keras model eagerly costs about three times as much per frame on a 2-core CPU.

With ``flips=True`` step 2 is test-time augmentation: the model sees each frame and its
horizontal, vertical and double flips in one call, and the four softmax outputs, flipped
back, are averaged. It costs four times the model's time; a pixel called defect must then
look like one from every side, which quietens the net where it is unsure.

A model exported to ONNX or OpenVINO (:mod:`heatsink.models.export`) goes through the same
steps: the same resize in, its own engine for step 2, and the same bilinear resize of the
probabilities back (TensorFlow's, so that masks agree with the Keras model's).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

    from heatsink.data import Dataset

#: Frames per model call unless told otherwise.
DEFAULT_BATCH = 8
#: Batch sizes :meth:`Predictor.fastest_batch` tries.
BATCH_CANDIDATES = (1, 2, 4, 8, 16)


def model_input(frames: Iterable[np.ndarray], image_size: int) -> np.ndarray:
    """Stack uint8 RGB frames at the model's input size (bilinear resize only if needed).

    Examples
    --------
    >>> import numpy as np
    >>> model_input([np.zeros((320, 320, 3), np.uint8)], 256).shape
    (1, 256, 256, 3)
    """
    size = (image_size, image_size)
    return np.stack([
        f if f.shape[:2] == size else cv2.resize(f, size, interpolation=cv2.INTER_LINEAR)
        for f in frames
    ])


def flip_views(images: tf.Tensor | np.ndarray) -> tf.Tensor:
    """A batch (N, H, W, C) and its horizontal, vertical and double flips, as one batch of 4N.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(4.0).reshape(1, 2, 2, 1)
    >>> flip_views(x)[:, 0, :, 0].numpy().tolist()  # each view's first row
    [[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [3.0, 2.0]]
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images)
    return tf.concat([images, tf.reverse(images, [2]), tf.reverse(images, [1]),
                      tf.reverse(images, [1, 2])], axis=0)


def unflip_mean(outputs: tf.Tensor) -> tf.Tensor:
    """The mean of a :func:`flip_views` batch's outputs, each flipped back (N of 4N).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(4.0).reshape(1, 2, 2, 1)
    >>> bool(np.array_equal(unflip_mean(flip_views(x)).numpy(), x))
    True
    """
    import tensorflow as tf

    plain, horizontal, vertical, both = tf.split(outputs, 4, axis=0)
    return (plain + tf.reverse(horizontal, [2]) + tf.reverse(vertical, [1])
            + tf.reverse(both, [1, 2])) / 4.0


class Predictor:
    """A model ready to predict frames, compiled once per input shape.

    Parameters
    ----------
    model : tf.keras.Model or callable
        Takes float32 RGB in [0, 1], returns softmax probabilities: a Keras model (compiled
        here), or a callable on numpy batches such as an
        :class:`~heatsink.models.export.ExportedModel`, which then needs ``classes``.
    image_size : int
        Side of the square input the model was trained at.
    batch_size : int
        Frames per model call (:meth:`fastest_batch` measures the best one here).
    classes : int, optional
        Number of classes of a model that is not a Keras model.
    flips : bool
        Average the probabilities over each frame and its three flips (:func:`flip_views`).

    Examples
    --------
    >>> import numpy as np, tensorflow as tf
    >>> inputs = tf.keras.Input((None, None, 3))
    >>> model = tf.keras.Model(inputs, tf.keras.layers.Softmax()(
    ...     tf.keras.layers.Conv2D(3, 1)(inputs)))
    >>> predictor = Predictor(model, image_size=32)
    >>> predictor.masks(np.zeros((2, 40, 40, 3), np.uint8)).shape
    (2, 40, 40)
    >>> Predictor(model, image_size=32, flips=True).probabilities(
    ...     np.zeros((1, 40, 40, 3), np.uint8)).shape
    (1, 40, 40, 3)
    """

    def __init__(self, model: tf.keras.Model | Callable[[np.ndarray], np.ndarray],
                 image_size: int, batch_size: int = DEFAULT_BATCH,
                 classes: int | None = None, flips: bool = False) -> None:
        import tensorflow as tf

        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.model = model
        self.image_size = int(image_size)
        self.batch_size = int(batch_size)
        self.flips = flips = bool(flips)  # fixed here: the compiled graphs depend on it
        keras = isinstance(model, tf.keras.Model)
        self.classes = int(model.output_shape[-1]) if keras else int(classes or 0)
        if not self.classes:
            raise ValueError("a model that is not a Keras model needs its number of classes")

        def finish(probs: tf.Tensor, height: int, width: int, argmax: bool) -> tf.Tensor:
            probs = tf.cast(probs, tf.float32)
            if probs.shape[1] != height or probs.shape[2] != width:
                probs = tf.image.resize(probs, (height, width), method="bilinear")
            return tf.cast(tf.argmax(probs, axis=-1), tf.uint8) if argmax else probs

        def forward(images: tf.Tensor, height: int, width: int, argmax: bool) -> tf.Tensor:
            images = tf.cast(images, tf.float32) / 255.0
            if not flips:
                return finish(model(images, training=False), height, width, argmax)
            probs = tf.cast(model(flip_views(images), training=False), tf.float32)
            return finish(unflip_mean(probs), height, width, argmax)

        if keras:
            # python arguments (frame size, argmax) are part of the trace key: one graph each
            self._forward = tf.function(forward)
        else:
            self._finish = tf.function(finish)

            def run_export(images: np.ndarray, height: int, width: int, argmax: bool):
                images = images.astype(np.float32) / np.float32(255.0)
                if not flips:
                    return self._finish(model(images), height, width, argmax)
                probs = np.asarray(model(flip_views(images).numpy()), np.float32)
                return self._finish(unflip_mean(tf.constant(probs)), height, width, argmax)

            self._forward = run_export

    def _run(self, frames: Sequence[np.ndarray] | np.ndarray, argmax: bool) -> np.ndarray:
        frames = list(frames) if not isinstance(frames, np.ndarray) else frames
        if len(frames) == 0:
            shape = (0, 0, 0) if argmax else (0, 0, 0, self.classes)
            return np.zeros(shape, np.uint8 if argmax else np.float32)
        height, width = frames[0].shape[:2]
        if any(f.shape[:2] != (height, width) for f in frames):
            raise ValueError("all frames of one call must have the same size")
        out = []
        for start in range(0, len(frames), self.batch_size):
            batch = model_input(frames[start : start + self.batch_size], self.image_size)
            out.append(self._forward(batch, height, width, argmax).numpy())
        return np.concatenate(out)

    def probabilities(self, frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Class probabilities (N, H, W, classes) float32, at the frames' size."""
        return self._run(frames, argmax=False)

    def masks(self, frames: Sequence[np.ndarray] | np.ndarray, min_peak: float = 0.0,
              defect_bias: float | Mapping[str, float] = 0.0,
              min_area: int | Mapping[str, int] = 0) -> np.ndarray:
        """Predicted class masks (N, H, W) uint8, at the frames' size.

        At the plain argmax (no knob set) the masks are made in the graph. Otherwise the
        probabilities leave it and :func:`heatsink.decision.decide` applies ``min_peak``,
        ``defect_bias`` and ``min_area`` frame by frame in numpy.
        """
        from heatsink.decision import at_argmax, decide

        if at_argmax(defect_bias, min_peak, min_area):
            return self._run(frames, argmax=True)
        return decide(self._run(frames, argmax=False), defect_bias, min_peak, min_area)

    def latency_ms(self, batch_size: int = 1, frame_size: int | None = None,
                   repeats: int = 20) -> float:
        """Median milliseconds per frame of one compiled call at ``batch_size``.

        Random frames of ``frame_size``² (default: the model's input size, so no resize)
        after two warm-up calls (the first compiles); the median over ``repeats`` calls
        divided by the batch size.
        """
        side = frame_size or self.image_size
        rng = np.random.default_rng(0)
        frames = rng.integers(0, 256, (batch_size, side, side, 3), dtype=np.uint8)
        batch = model_input(frames, self.image_size)
        for _ in range(2):
            self._forward(batch, side, side, True).numpy()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self._forward(batch, side, side, True).numpy()
            times.append(time.perf_counter() - start)
        return float(1000 * np.median(times) / batch_size)

    def fastest_batch(self, candidates: Sequence[int] = BATCH_CANDIDATES,
                      frame_size: int | None = None, repeats: int = 5) -> int:
        """Measure :meth:`latency_ms` at each candidate batch size; keep and return the best.

        On a 2-core CPU a large batch can be slower per frame than a small one (its
        full-resolution activations leave the cache), so the batch is measured, not assumed.
        """
        times = {b: self.latency_ms(b, frame_size, repeats) for b in candidates}
        self.batch_size = min(times, key=times.get)
        return self.batch_size


def predict_probabilities(
    model: tf.keras.Model | Predictor,
    ds: Dataset,
    ids: Sequence[str],
    image_size: int | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> Iterator[tuple[str, np.ndarray]]:
    """Class probabilities of each image of ``ds`` at its mask's resolution, one at a time.

    Parameters
    ----------
    model : tf.keras.Model or Predictor
        A Keras model (then ``image_size`` is required) or a ready :class:`Predictor`.
    ds : Dataset
    ids : sequence of str
    image_size : int, optional
        The model's input size (as in training).
    batch_size : int
        Images read and predicted at once.

    Yields
    ------
    (image_id, probabilities)
        ``probabilities`` is float32 of shape (H, W, classes) at the mask's resolution.
    """
    predictor = _predictor(model, image_size, batch_size)
    ids = [str(i) for i in ids]
    for start in range(0, len(ids), predictor.batch_size):
        chunk = ids[start : start + predictor.batch_size]
        frames = [ds.image(i) for i in chunk]
        sizes = {f.shape[:2] for f in frames}
        if len(sizes) == 1 and all(ds.mask(i).shape == f.shape[:2]
                                   for i, f in zip(chunk, frames, strict=True)):
            yield from zip(chunk, predictor.probabilities(frames), strict=True)
        else:  # frames of mixed sizes, or masks at another size: one at a time
            for image_id, frame in zip(chunk, frames, strict=True):
                probs = predictor.probabilities([frame])[0]
                size = ds.mask(image_id).shape
                if probs.shape[:2] != size:
                    probs = cv2.resize(probs, size[::-1], interpolation=cv2.INTER_LINEAR)
                yield image_id, probs


def predict_masks(
    model: tf.keras.Model | Predictor,
    ds: Dataset,
    ids: Sequence[str],
    image_size: int | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> dict[str, np.ndarray]:
    """Predicted class masks (uint8, at the mask resolution) of ``ids``, by image id."""
    return {image_id: probs.argmax(axis=-1).astype(np.uint8)
            for image_id, probs in predict_probabilities(model, ds, ids, image_size,
                                                         batch_size)}


def _predictor(model: tf.keras.Model | Predictor, image_size: int | None,
               batch_size: int) -> Predictor:
    if isinstance(model, Predictor):
        return model
    if image_size is None:
        raise ValueError("image_size is required with a Keras model")
    return Predictor(model, image_size, batch_size)


__all__ = [
    "BATCH_CANDIDATES",
    "DEFAULT_BATCH",
    "Predictor",
    "flip_views",
    "model_input",
    "predict_masks",
    "predict_probabilities",
    "unflip_mean",
]
