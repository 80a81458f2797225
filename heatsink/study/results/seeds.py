"""How far to trust one run: the spread over seeds, the rule for calling a difference, and
why a run stopped training.

A validation score's bootstrap interval says how much it would move on other images; it
says nothing of how much it moves when the same recipe is trained again with another seed.
Chapter 4 trains its top recipes with several seeds (:mod:`heatsink.study.plan`, stage 3)
and calls "A beats B" only where the difference of their means exceeds the seed spread of
both (:func:`called_difference`), and, where a paired bootstrap interval is given, that
interval excludes zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: Columns of :func:`seed_table`.
SEED_COLUMNS = ["seeds", "mean", "sd", "min", "max", "spread"]
#: What :func:`stopping` says about a run.
STOPS = ("early stop", "cap", "cap, still improving")


def seed_table(scores: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """Mean and spread over seeds of each recipe's score.

    Parameters
    ----------
    scores : mapping
        Recipe name -> its score under each seed (any unit).

    Returns
    -------
    DataFrame
        Indexed by recipe, in the given order: ``seeds`` (how many), ``mean``, ``sd``
        (sample standard deviation; NaN for one seed), ``min``, ``max`` and ``spread``
        (max − min).

    Examples
    --------
    >>> seed_table({"a": [40.0, 42.0, 44.0]}).loc["a", ["mean", "spread"]].tolist()
    [42.0, 4.0]
    """
    rows = {}
    for name, values in scores.items():
        values = np.asarray(values, dtype=float)
        rows[name] = {"seeds": len(values), "mean": values.mean(),
                      "sd": values.std(ddof=1) if len(values) > 1 else np.nan,
                      "min": values.min(), "max": values.max(),
                      "spread": values.max() - values.min()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=SEED_COLUMNS)


def called_difference(a: Sequence[float], b: Sequence[float],
                      interval: tuple[float, float] | None = None) -> int:
    """The study's rule for "A beats B": +1 (A higher), −1 (B higher) or 0 (not called).

    A difference is called only where the difference of the two means over seeds exceeds
    the larger of the two seed spreads (max − min): a second training of the weaker recipe
    could otherwise land above the stronger one. Where ``interval`` (a paired bootstrap
    interval of A − B over images) is given, it must also exclude zero on the same side.
    With one seed each there is no spread to compare against, and nothing is called.

    Examples
    --------
    >>> called_difference([40, 41, 42], [30, 31, 33])
    1
    >>> called_difference([40, 44, 48], [38, 40, 42])  # means 4 apart, spreads 8 and 4
    0
    >>> called_difference([30, 31, 33], [40, 41, 42], interval=(-12.0, -8.0))
    -1
    >>> called_difference([40, 41, 42], [30, 31, 33], interval=(-1.0, 20.0))
    0
    >>> called_difference([40], [30])
    0
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return 0
    gap = a.mean() - b.mean()
    spread = max(np.ptp(a), np.ptp(b))
    if abs(gap) <= spread:
        return 0
    sign = 1 if gap > 0 else -1
    if interval is not None:
        low, high = interval
        if not (low > 0 if sign > 0 else high < 0):
            return 0
    return sign


def stopping(epochs_trained: int, best_epoch: int | None, patience: int | None,
             epochs: int) -> dict:
    """Why a finished run stopped, and whether its best epoch had settled.

    Parameters
    ----------
    epochs_trained : int
        Epochs in its history.
    best_epoch : int or None
        The epoch (1-based) of the kept checkpoint.
    patience : int or None
        Epochs without a better validation score after which training stops.
    epochs : int
        The cap.

    Returns
    -------
    dict
        ``best_epoch``, ``epochs_trained``, ``after_best`` (epochs trained after the best)
        and ``stop``: ``"early stop"`` (``patience`` epochs without gain followed the best),
        ``"cap"`` (the cap reached, with at least ``patience`` epochs after the best) or
        ``"cap, still improving"`` (the cap reached fewer than ``patience`` epochs after the
        best: a longer run might have done better).

    Examples
    --------
    >>> stopping(14, 8, 6, 40)["stop"], stopping(40, 30, 6, 40)["stop"]
    ('early stop', 'cap')
    >>> stopping(40, 38, 6, 40)["stop"]
    'cap, still improving'
    """
    best = epochs_trained if best_epoch is None else int(best_epoch)
    after = epochs_trained - best
    if epochs_trained < epochs:
        stop = "early stop"
    elif patience is not None and after >= patience:
        stop = "cap"
    else:
        stop = "cap, still improving"
    return {"best_epoch": best, "epochs_trained": epochs_trained, "after_best": after,
            "stop": stop}


__all__ = ["SEED_COLUMNS", "STOPS", "called_difference", "seed_table", "stopping"]
