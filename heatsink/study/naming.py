"""Run names: one function builds the name of a study run from its configuration.

A run's name is its folder under the runs folder and its name in the result files and
tables; nothing parses it back (the result files keep each run's configuration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing heatsink.models imports TensorFlow: not for a name
    from heatsink.models.run import TrainConfig

#: The seed's input side: runs at another size say theirs in their name (a chapter that
#: trains at another protocol size passes its own as ``base_size``).
BASE_SIZE = 256


def run_name(config: TrainConfig, base_size: int = BASE_SIZE) -> str:
    """``<model>[-<loss>][-<size>][-flips]``: what sets the run apart from the seed's protocol.

    The loss is left out for plain cross-entropy (the seed's), the size when it is
    ``base_size``, and ``-flips`` marks flip-and-rotation augmentation.

    Examples
    --------
    >>> from heatsink.models import TrainConfig
    >>> run_name(TrainConfig(model="gslu", loss="wcce+dice", image_size=320, augment=True))
    'gslu-wcce+dice-320-flips'
    >>> run_name(TrainConfig(model="unet"))
    'unet'
    """
    parts = [config.model]
    if config.loss != "cce":
        parts.append(config.loss)
    if config.image_size != base_size:
        parts.append(str(config.image_size))
    if config.augment:
        parts.append("flips")
    return "-".join(parts)


__all__ = ["BASE_SIZE", "run_name"]
