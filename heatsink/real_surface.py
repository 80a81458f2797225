"""The real-surface check: does a model keep quiet on real, unlabelled plating?

The real frames of DatasetNinja's pictures (:mod:`heatsink.synth.real_frames`) carry drawn
labels; their pixels at least 4 px from anything drawn are real plating that no annotator
marked. A model that calls them a defect raises a false alarm (up to the annotators' misses,
which are rare against ≈36 % of the surface). :func:`real_surface_check` runs a model on the
31 frames and counts, per frame and class:

- ``share``: the share of real-surface pixels predicted as that class;
- ``false_components``: predicted components (8-connected, of that class; ``defect`` is the
  union of both classes) with at least half of their pixels on real surface (a component
  mostly under or beside a drawn label may be a labelled defect and is not counted).

:func:`summarize` gives, per class, the pooled share (called pixels over surface pixels of
all frames) and the mean false components per frame; :func:`frame_interval` their bootstrap
intervals over the frames (31 frames from three pictures: a mean of a few false components
per frame is known to within about a component). The pictures themselves are never written
anywhere.

The drawn labels are no plating: saturated cyan lines, green polygons, white banners. A
model's answer to them can spill past the 4 px margin (a twin-trained net calls a cyan line a
wide stain), so the check can also run on the frames with their drawn pixels filled with
plating (``drawn="filled"``, :func:`heatsink.synth.real_frames.fill_drawn`): the frames as
a camera would show them, up to the fill, on the same surface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heatsink.classes import CLASS_NAMES
from heatsink.components import components
from heatsink.errors import HeatsinkError
from heatsink.evaluate import resample_counts

if TYPE_CHECKING:
    import tensorflow as tf

    from heatsink.models.predict import Predictor
    from heatsink.synth.real_frames import RealFrame

__all__ = ["DRAWN_VIEWS", "FALSE_OBJECT_COLUMNS", "MOSTLY", "check_masks", "false_objects",
           "frame_interval", "load_predictor", "model_predictor", "open_predictor",
           "real_surface_check", "summarize", "view_images"]

#: A predicted component is a false alarm when at least this share of it is real surface.
MOSTLY = 0.5
#: What a model sees where the pictures have drawn labels (:func:`real_surface_check`).
DRAWN_VIEWS = ("shown", "filled")
#: Columns of :func:`false_objects`.
FALSE_OBJECT_COLUMNS = ["frame", "class", "area", "contrast"]
#: Input size used for models whose input size is not fixed (the study's 256²).
DEFAULT_SIZE = 256

Predict = Callable[[np.ndarray], np.ndarray]


def model_predictor(model: tf.keras.Model, image_size: int | None = None,
                    batch_size: int = 8, flips: bool = False) -> Predictor:
    """The package's one prediction path (:class:`heatsink.models.predict.Predictor`) for a
    Keras segmentation model; its ``probabilities(batch_uint8_NHWC)`` is a :data:`Predict`.

    Images are resized bilinearly to the model's input size (``image_size``, else the model's
    fixed input size, else 256), scaled to [0, 1], the softmax resized bilinearly back to the
    images' size; with ``flips``, averaged over each image and its three flips.
    """
    from heatsink.models.predict import Predictor

    fixed = model.input_shape[1] if model.input_shape else None
    size = int(image_size or fixed or DEFAULT_SIZE)
    return Predictor(model, size, batch_size, flips=flips)


def open_predictor(path: str | Path, image_size: int | None = None,
                   flips: bool = False) -> Predictor:
    """:func:`model_predictor` of a ``.keras`` file or a training run folder (its
    ``best.keras``, at the run's ``image_size``), with test-time ``flips`` if asked."""
    from heatsink.models import Run, load_model

    path = Path(path)
    if path.is_dir():
        run = Run.load(path)  # the run's config.json, read and checked as training wrote it
        image_size = image_size or int(run.config.image_size)
        model_file = path / "best.keras" if (path / "best.keras").exists() else path / "last.keras"
    else:
        model_file = path
    return model_predictor(load_model(model_file), image_size, flips=flips)


def load_predictor(path: str | Path, image_size: int | None = None,
                   flips: bool = False) -> Predict:
    """A :data:`Predict` from a ``.keras`` file or a training run folder
    (:func:`open_predictor`)."""
    return open_predictor(path, image_size, flips).probabilities


def _false_alarms(called: np.ndarray, surface: np.ndarray,
                  mostly: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The components of ``called`` that are false alarms (at least ``mostly`` of their
    pixels on ``surface``): the component labels, their ids and their areas."""
    found = components(called)
    n = found.n + 1
    size = np.bincount(found.labels.ravel(), minlength=n)
    on_surface = np.bincount(found.labels[surface].ravel(), minlength=n)
    ids = np.flatnonzero(on_surface[1:] >= mostly * size[1:]) + 1
    return found.labels, ids, size[ids]


def _false_components(called: np.ndarray, surface: np.ndarray, mostly: float) -> int:
    return len(_false_alarms(called, surface, mostly)[1])


def check_masks(predicted: Sequence[np.ndarray], frames: Sequence[RealFrame],
                mostly: float = MOSTLY) -> pd.DataFrame:
    """The per-frame table of :func:`real_surface_check` from predicted class masks.

    Examples
    --------
    >>> import numpy as np
    >>> from heatsink.synth.real_frames import RealFrame
    >>> surface = np.ones((20, 20), bool); surface[:, :5] = False
    >>> frame = RealFrame("f", np.zeros((20, 20, 3), np.uint8), surface, 320, (0, 0, 20, 20))
    >>> pred = np.zeros((20, 20), np.uint8)
    >>> pred[2:4, 10:12] = 1          # a scratch blob on surface: a false component
    >>> pred[0:10, 0:3] = 2           # a stain under the drawn zone: not counted
    >>> t = check_masks([pred], [frame]).set_index("class")
    >>> t.loc["scratch", ["surface_px", "called_px", "false_components"]].tolist()
    [300, 4, 1]
    >>> int(t.loc["stain", "false_components"])
    0
    """
    rows = []
    for mask, frame in zip(predicted, frames, strict=True):
        surface = frame.surface
        n_surface = int(surface.sum())
        calls = {name: mask == k for k, name in enumerate(CLASS_NAMES) if k}
        calls["defect"] = mask > 0
        for name, called in calls.items():
            px = int((called & surface).sum())
            rows.append({
                "frame": frame.name, "tile_size": frame.tile_size, "class": name,
                "surface_px": n_surface, "called_px": px,
                "share": px / n_surface if n_surface else np.nan,
                "false_components": _false_components(called, surface, mostly),
            })
    return pd.DataFrame(rows)


def false_objects(predicted: Sequence[np.ndarray], frames: Sequence[RealFrame],
                  images: np.ndarray | None = None, mostly: float = MOSTLY) -> pd.DataFrame:
    """One row per false component on the real surface: its frame, class, area and contrast.

    The components are those :func:`check_masks` counts (at least ``mostly`` of their pixels
    on real surface). Their contrast is the twin annotators' measure
    (:func:`heatsink.synth.noise.object_contrast`) on the image the model saw, its ring
    kept away from every predicted defect and every drawn pixel, so that a false component
    can be set beside the twin's true defects of the same class.

    Parameters
    ----------
    predicted : sequence of ndarray (320, 320)
        Predicted class masks, one per frame.
    frames : sequence of RealFrame
    images : ndarray (N, 320, 320, 3) uint8 RGB, optional
        What the model saw (:func:`view_images`); default the frames as shown.
    mostly : float
        As in :func:`check_masks`.

    Returns
    -------
    DataFrame
        :data:`FALSE_OBJECT_COLUMNS`; ``class`` is the class name.

    Examples
    --------
    >>> from heatsink.synth.real_frames import RealFrame
    >>> rng = np.random.default_rng(0)
    >>> image = (100 + rng.integers(0, 6, (40, 40, 3))).astype(np.uint8)
    >>> image[10:16, 10:16] -= 40  # a dark blot nobody labelled
    >>> frame = RealFrame("f", image, np.ones((40, 40), bool), 320, (0, 0, 40, 40))
    >>> pred = np.zeros((40, 40), np.uint8); pred[10:16, 10:16] = 2
    >>> row = false_objects([pred], [frame]).iloc[0]
    >>> row["class"], int(row["area"]), round(float(row["contrast"]), 2)
    ('stain', 36, 0.38)
    """
    from heatsink.synth.noise import object_contrast

    images = np.stack([f.image for f in frames]) if images is None else images
    rows = []
    for mask, frame, image in zip(predicted, frames, images, strict=True):
        bgr = np.ascontiguousarray(image[..., ::-1])
        away = (mask > 0) if frame.drawn is None else (mask > 0) | frame.drawn
        for class_id, name in enumerate(CLASS_NAMES):
            if not class_id:
                continue
            labels, ids, areas = _false_alarms(mask == class_id, frame.surface, mostly)
            for k, area in zip(ids, areas, strict=True):
                rows.append({"frame": frame.name, "class": name, "area": int(area),
                             "contrast": object_contrast(bgr, away.astype(np.uint8),
                                                         labels == k)})
    return pd.DataFrame(rows, columns=FALSE_OBJECT_COLUMNS)


def real_surface_check(
    model_or_predict: tf.keras.Model | Predict | str | Path,
    frames: Sequence[RealFrame] | None = None,
    image_size: int | None = None,
    mostly: float = MOSTLY,
    drawn: str = "shown",
    decision: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Run a model on the real frames and count what it calls a defect on real surface.

    Parameters
    ----------
    model_or_predict : Keras model, callable, or path
        A Keras model, a ``.keras`` file or run folder (:func:`load_predictor`), or a
        callable taking a uint8 batch (N, 320, 320, 3) RGB and returning class
        probabilities (N, 320, 320, 3).
    frames : sequence of RealFrame, optional
        Default: :func:`heatsink.synth.real_frames.load_real_frames` (needs the reference
        folder).
    image_size : int, optional
        Model input size (Keras models only; default: see :func:`model_predictor`).
    mostly : float
        Share of a predicted component on real surface above which it is a false alarm.
    drawn : {"shown", "filled"}
        What the model sees where labels, banners and padding are drawn: the frames as the
        pictures show them, or with the drawn pixels filled with plating
        (:func:`heatsink.synth.real_frames.fill_drawn`); the surface counted is the same.
    decision : mapping, optional
        The operating point: keyword arguments of :func:`heatsink.decision.decide`, such as
        :meth:`heatsink.line.spec.Spec.decision` gives; None is the plain argmax.

    Returns
    -------
    DataFrame
        One row per frame and class (``scratch``, ``stain``, ``defect`` = either):
        ``frame, tile_size, class, surface_px, called_px, share, false_components``.
        :func:`summarize` turns it into the headline figures.
    """
    from heatsink.synth.real_frames import load_real_frames

    frames = load_real_frames() if frames is None else list(frames)
    if isinstance(model_or_predict, (str, Path)):
        predict = load_predictor(model_or_predict, image_size)
    elif hasattr(model_or_predict, "input_shape"):
        predict = model_predictor(model_or_predict, image_size).probabilities
    else:
        predict = model_or_predict
    from heatsink.decision import decide

    probs = np.asarray(predict(view_images(frames, drawn)))
    return check_masks([decide(p, **(decision or {})) for p in probs], frames, mostly)


def view_images(frames: Sequence[RealFrame], drawn: str = "shown") -> np.ndarray:
    """The frames' images as a model sees them in the check's ``drawn`` view (see
    :func:`real_surface_check`), as one uint8 batch."""
    if drawn not in DRAWN_VIEWS:
        raise HeatsinkError(f"drawn must be one of {DRAWN_VIEWS}, not {drawn!r}")
    if drawn == "filled":
        from heatsink.synth.real_frames import fill_drawn

        return np.stack([fill_drawn(f) for f in frames])
    return np.stack([f.image for f in frames])


def summarize(check: pd.DataFrame) -> pd.DataFrame:
    """Per class: pooled share of real surface called that class (%) and false components
    per frame (mean, and max over frames).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"frame": ["a", "b"], "class": ["defect", "defect"],
    ...                   "surface_px": [100, 300], "called_px": [10, 2],
    ...                   "share": [0.1, 2 / 300], "false_components": [3, 1]})
    >>> summarize(t).loc["defect"].round(2).tolist()
    [3.0, 2.0, 2.0, 3.0]
    """
    g = check.groupby("class", sort=False)
    out = pd.DataFrame({
        "frames": g["frame"].nunique(),
        "share_pct": 100 * g["called_px"].sum() / g["surface_px"].sum(),
        "false_components_per_frame": g["false_components"].mean(),
        "false_components_max": g["false_components"].max(),
    })
    return out[["share_pct", "false_components_per_frame", "frames", "false_components_max"]]


def frame_interval(check: pd.DataFrame, n_boot: int = 2000, level: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
    """:func:`summarize`'s headline figures with percentile bootstrap intervals over frames.

    The frames are drawn with replacement (``n_boot`` times, the same draws for every class);
    the share called is pooled over the drawn frames as :func:`summarize` pools it. False
    components are few per frame and heavy-tailed (a few frames hold many of them), so the mean
    comes with its interval and the median beside it. The frames come from three pictures and
    are not independent draws of a production line: the interval says how much the figure rests
    on which frames were published, not how a line would vary.

    Parameters
    ----------
    check : DataFrame
        A per-frame table of :func:`real_surface_check` or :func:`check_masks` (one view).
    n_boot, level, seed : int, float, int
        As in :meth:`heatsink.evaluate.Evaluation.bootstrap`, over frames instead of images.

    Returns
    -------
    DataFrame
        Per class: ``share_pct``, ``share_low``, ``share_high`` (%), ``false_per_frame``,
        ``false_low``, ``false_high`` and ``false_median``.

    Examples
    --------
    >>> t = pd.DataFrame({"frame": list("abcd"), "class": ["defect"] * 4,
    ...                   "surface_px": [100] * 4, "called_px": [0, 0, 2, 6],
    ...                   "share": [0, 0, 0.02, 0.06], "false_components": [0, 1, 1, 10]})
    >>> row = frame_interval(t).loc["defect"]
    >>> float(row["share_pct"]), float(row["false_per_frame"]), float(row["false_median"])
    (2.0, 3.0, 1.0)
    >>> bool(row["false_low"] < 3.0 < row["false_high"]), float(row["false_high"]) <= 10.0
    (True, True)
    """
    if not 0 < level < 1:
        raise HeatsinkError(f"level must be between 0 and 1, not {level!r}")
    # a frame is its name and, should a name repeat, its place among the rows of that name
    check = check.assign(_nth=check.groupby(["class", "frame"]).cumcount())
    frames = pd.MultiIndex.from_frame(check[["frame", "_nth"]]).unique()
    counts = resample_counts(len(frames), n_boot, seed)  # the same draws for every class
    tail = (1 - level) / 2
    rows = {}
    for name, group in check.groupby("class", sort=False):
        group = group.set_index(["frame", "_nth"]).reindex(frames)
        called = group["called_px"].to_numpy(float)
        surface = group["surface_px"].to_numpy(float)
        false = group["false_components"].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = 100 * (counts @ called) / (counts @ surface)
        mean_false = counts @ false / len(frames)
        rows[name] = {
            "share_pct": 100 * called.sum() / surface.sum(),
            "share_low": np.nanquantile(share, tail),
            "share_high": np.nanquantile(share, 1 - tail),
            "false_per_frame": false.mean(),
            "false_low": np.quantile(mean_false, tail),
            "false_high": np.quantile(mean_false, 1 - tail),
            "false_median": float(np.median(false)),
        }
    return pd.DataFrame.from_dict(rows, orient="index")
