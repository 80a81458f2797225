"""Training losses of the study, from ``segmentation_models.losses`` by name.

A loss is named by its terms joined with ``+`` (``"cce"``, ``"wcce+dice"``, ``"focal+dice"``).
"""

from __future__ import annotations

import numpy as np

from heatsink.errors import HeatsinkError

#: Loss terms ``TrainConfig.loss`` may combine with "+", e.g. ``"wcce+dice"``.
LOSS_TERMS = ("cce", "wcce", "focal", "dice")


def make_loss(name: str, weights: np.ndarray | None = None):
    """A ``segmentation_models.losses`` loss from a ``"+"``-joined name.

    Parameters
    ----------
    name : str
        E.g. ``"cce"``, ``"wcce+dice"``, ``"focal+dice"``.
    weights : ndarray, optional
        Class weights for the ``wcce`` term.
    """
    import segmentation_models as sm

    loss = None
    for term in name.split("+"):
        if term == "cce":
            part = sm.losses.CategoricalCELoss()
        elif term == "wcce":
            if weights is None:
                raise HeatsinkError("the 'wcce' loss needs class weights")
            part = sm.losses.CategoricalCELoss(class_weights=np.asarray(weights, np.float32))
        elif term == "focal":
            part = sm.losses.CategoricalFocalLoss()
        elif term == "dice":
            part = sm.losses.DiceLoss()
        else:
            raise HeatsinkError(f"unknown loss term {term!r}")
        loss = part if loss is None else loss + part
    return loss


__all__ = ["LOSS_TERMS", "make_loss"]
