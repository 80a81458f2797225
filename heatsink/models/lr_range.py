"""The learning-rate range test (Smith 2017), as fastai's ``lr_find``: how fast may a model
of a :class:`~heatsink.models.run.TrainConfig` learn?

A fresh model of the config trains for a few dozen steps on the batches
:func:`heatsink.train.train` would feed it (the same loss, crops, augmentation and precision,
from :mod:`heatsink.models.fitting`), while Adam's learning rate grows exponentially from
``lr_min`` to ``lr_max``, one value per step. The loss, smoothed, first falls and then, once
the step is too large, climbs; the test stops there. :func:`suggest_lr` reads a learning rate
off the curve by one stated rule; :func:`plot_lr_range` shows the curve and the choice.

The test costs ``steps`` training steps (about two epochs of 700 images at batch 16 for the
default 100) and writes nothing: the caller keeps the returned frame.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from heatsink.errors import HeatsinkError
from heatsink.models.run import TrainConfig

if TYPE_CHECKING:
    import matplotlib.axes

    from heatsink.data import Dataset

#: Columns of :func:`lr_range`'s frame.
LR_RANGE_COLUMNS = ("step", "lr", "loss", "smoothed")


def lr_schedule(lr_min: float, lr_max: float, steps: int) -> np.ndarray:
    """The learning rate of each step: ``lr_min`` to ``lr_max``, growing exponentially.

    >>> lr_schedule(1e-4, 1e-2, 3).round(6).tolist()
    [0.0001, 0.001, 0.01]
    """
    if steps < 2:
        raise HeatsinkError(f"a range test needs at least 2 steps, not {steps}")
    if not 0 < lr_min < lr_max or not math.isfinite(lr_max):
        raise HeatsinkError(f"need 0 < lr_min < lr_max, not {lr_min} and {lr_max}")
    return lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))


def smooth(losses: list[float] | np.ndarray, beta: float = 0.98) -> np.ndarray:
    """Exponential moving average of ``losses`` with bias correction (as fastai's).

    The average starts at zero and is divided by ``1 - beta ** (k + 1)``, so its first value
    is the first loss rather than a fiftieth of it.

    >>> smooth([1.0, 1.0, 1.0]).round(12).tolist()
    [1.0, 1.0, 1.0]
    >>> smooth([2.0, 0.0], beta=0.5).round(4).tolist()
    [2.0, 0.6667]
    """
    out, average = [], 0.0
    for k, loss in enumerate(losses):
        average = beta * average + (1 - beta) * float(loss)
        out.append(average / (1 - beta ** (k + 1)))
    return np.asarray(out, dtype=np.float64)


def diverged(smoothed: float, best: float, factor: float = 4.0) -> bool:
    """The stopping rule: a loss that is not finite, or above ``factor`` times the lowest
    smoothed loss so far.

    >>> diverged(1.0, 0.5), diverged(2.5, 0.5), diverged(float("nan"), 0.5)
    (False, True, True)
    """
    return not math.isfinite(smoothed) or smoothed > factor * best


def lr_range(
    config: TrainConfig,
    ds: Dataset,
    train_ids: list[str],
    steps: int = 100,
    lr_min: float = 1e-6,
    lr_max: float = 1.0,
    diverge: float = 4.0,
    beta: float = 0.98,
    progress: bool = False,
) -> pd.DataFrame:
    """Run a learning-rate range test on a fresh model of ``config``.

    Parameters
    ----------
    config : TrainConfig
        The model, loss, batch size, crops, augmentation, precision and seed of the runs the
        test sizes; its ``learning_rate``, ``schedule``, ``epochs`` and ``patience`` are not
        used (the test sets the rate itself, step by step).
    ds : Dataset
        The data.
    train_ids : list of str
        The training images (the batches cycle through them as often as ``steps`` needs).
    steps : int
        Training steps at most, one learning rate each.
    lr_min, lr_max : float
        The first and the last learning rate.
    diverge : float
        Stop once the smoothed loss exceeds ``diverge`` times its lowest value so far, or
        any loss is not finite (:func:`diverged`).
    beta : float
        Smoothing of the loss (:func:`smooth`).
    progress : bool
        Print one line per step.

    Returns
    -------
    DataFrame
        One row per step taken: ``step`` (from 0), ``lr``, ``loss`` (the batch's training
        loss) and ``smoothed``; shorter than ``steps`` when the loss diverged.
    """
    import tensorflow as tf

    from heatsink.models.fitting import (
        compiled_model,
        resolve_precision,
        training_batches,
        training_session,
    )

    rates = lr_schedule(lr_min, lr_max, steps)
    if not train_ids:
        raise HeatsinkError("a range test needs training images")
    rows: list[dict[str, float]] = []
    with training_session(config, resolve_precision(config.precision)):
        model = compiled_model(config, ds, train_ids, float(rates[0]))
        batches = iter(training_batches(config, ds, train_ids).repeat())
        average, best = 0.0, math.inf
        for step, rate in enumerate(rates):
            tf.keras.backend.set_value(model.optimizer.learning_rate, float(rate))
            images, masks = next(batches)
            loss = float(model.train_on_batch(images, masks, return_dict=True)["loss"])
            average = beta * average + (1 - beta) * loss  # smooth(), one step at a time
            smoothed = average / (1 - beta ** (step + 1))
            rows.append({"step": step, "lr": float(rate), "loss": loss, "smoothed": smoothed})
            if progress:
                print(f"step {step + 1}/{steps}: lr {rate:.2e}, loss {loss:.4f}", flush=True)
            if diverged(smoothed, best, diverge):
                break
            best = min(best, smoothed)
    return pd.DataFrame(rows, columns=list(LR_RANGE_COLUMNS))


def suggest_lr(frame: pd.DataFrame) -> float:
    """The learning rate a range test suggests: **a tenth of the rate at the lowest smoothed
    loss** (fastai's ``lr_min`` rule).

    At the minimum the loss has stopped falling because the step has become too large; a
    tenth of it lies on the falling part of the curve, fast but clear of the edge. This rule
    is preferred to the rate of the steepest descent because a short test on small batches
    gives a noisy slope, whose steepest point jumps from one run to the next, while the
    minimum of the smoothed loss moves little. The first :data:`SKIP_START` of the steps are
    not read. A curve whose minimum lies at the largest rates tried says nothing; see
    :func:`conclusive`.

    Parameters
    ----------
    frame : DataFrame
        :func:`lr_range`'s result (columns ``lr`` and ``smoothed``).

    Examples
    --------
    A loss that falls until 10⁻³ and then climbs:

    >>> lr = np.logspace(-6, 0, 61)
    >>> curve = pd.DataFrame({"lr": lr, "smoothed": (np.log10(lr) + 3) ** 2 + 1})
    >>> round(suggest_lr(curve), 10)
    0.0001
    """
    read = _readable(frame)
    if read.empty or not np.isfinite(read["smoothed"]).any():
        raise HeatsinkError("the range test has no finite loss to read a learning rate from")
    best = read["smoothed"].where(np.isfinite(read["smoothed"])).idxmin()
    return float(read.loc[best, "lr"]) / 10


#: Share of a range test's first steps that are not read (fastai skips the first 10 of 100):
#: the smoothed loss starts at the first batch's loss, unaveraged, and a low first batch
#: would otherwise be read as the minimum (the U-Net's test on twin 1.4.4 did exactly that).
SKIP_START = 0.1


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The steps a suggestion is read from: all but the first :data:`SKIP_START`."""
    return frame.iloc[int(np.ceil(SKIP_START * len(frame))):]


def conclusive(frame: pd.DataFrame, edge: float = 0.1) -> bool:
    """Whether a range test located its minimum: False when the lowest smoothed loss falls in
    the last ``edge`` of the steps, i.e. the loss was still falling (or flat) at the largest
    rates tried, so a tenth of that rate says nothing about where training becomes unstable.

    Batch-normalised nets under Adam often never diverge in a short test (the normalisation
    undoes the growth of the weights), and the loss keeps drifting down with training itself;
    :func:`suggest_lr` would then return a tenth of ``lr_max``.

    Examples
    --------
    >>> lr = np.logspace(-6, 0, 61)
    >>> conclusive(pd.DataFrame({"lr": lr, "smoothed": (np.log10(lr) + 3) ** 2 + 1}))
    True
    >>> conclusive(pd.DataFrame({"lr": lr, "smoothed": 2 - 0.01 * np.arange(61)}))
    False
    """
    read = _readable(frame)
    values = read["smoothed"].where(np.isfinite(read["smoothed"]))
    if values.notna().sum() == 0:
        return False
    position = frame.index.get_loc(values.idxmin())
    return position < (1 - edge) * len(frame)


def plot_lr_range(frame: pd.DataFrame, ax: matplotlib.axes.Axes | None = None,
                  title: str | None = None) -> matplotlib.axes.Axes:
    """The range test's loss against the learning rate (log scale): each step's loss faint,
    the smoothed loss, and the suggested rate (:func:`suggest_lr`) as a dashed line."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(frame["lr"], frame["loss"], color="0.75", linewidth=0.8, label="loss per step")
    line, = ax.plot(frame["lr"], frame["smoothed"], label="smoothed")
    suggested = suggest_lr(frame)
    ax.axvline(suggested, color=line.get_color(), linestyle="--", linewidth=1,
               label=f"suggested {suggested:.1e}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    finite = frame["smoothed"][np.isfinite(frame["smoothed"])]
    if len(finite):  # the diverging tail would squash the curve
        low, high = float(finite.min()), float(finite.iloc[0])
        ax.set_ylim(low - 0.1 * (high - low + 1e-9), max(high, low) * 1.5 + 1e-9)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return ax


__all__ = [
    "LR_RANGE_COLUMNS",
    "SKIP_START",
    "conclusive",
    "diverged",
    "lr_range",
    "lr_schedule",
    "plot_lr_range",
    "smooth",
    "suggest_lr",
]
