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


#: Marks of class weightings other than the default ``balanced`` (only with a ``wcce`` term).
WEIGHTING_MARKS = {"inverse_sqrt": "isqrt", "median_frequency": "medfreq"}


def run_name(config: TrainConfig, base_size: int = BASE_SIZE, base_crop: int | None = None,
             base_augment: bool = False, base_photometric: bool = False,
             base_texture: bool = False, base_prior_bias: bool = False) -> str:
    """``<model>[-<loss>][-<size>][-c<crop>|-frames][-flips|-noflips][-<weighting>][-photo|-nophoto][-tex|-notex][-p<share>][-a<strength>][-sp<spots>][-mk<marks>][-prior|-noprior][-s<seed>]``:
    what sets the run apart from a protocol.

    The protocol is the seed's unless the caller names another (the training plan,
    :mod:`heatsink.study.plan`, names its recipe's size, crop and flips): the loss is left
    out for plain cross-entropy (the seed's), the size when it is ``base_size``, the crop
    when it is ``base_crop`` (``-c<crop>`` for another crop, ``-frames`` for whole frames
    where the protocol crops), the flips when they are ``base_augment`` (``-flips`` marks
    flip-and-rotation augmentation, ``-noflips`` its absence where the protocol flips),
    a class weighting other than ``balanced`` is marked when the loss weights classes
    (:data:`WEIGHTING_MARKS`), ``-photo`` marks photometric augmentation (``-nophoto`` its
    absence where the protocol has it, ``base_photometric``), ``-tex`` texture randomisation
    (``-notex`` its absence where the protocol has it, ``base_texture``; then ``-p<percent>``
    a share of textured images other than the module's, ``-a<percent>`` a strength other
    than 1, ``-sp<percent>`` the share of them with spots, ``-mk<percent>`` with polishing
    marks), ``-prior`` logits started at the class frequencies (``-noprior`` where the
    protocol does so, ``base_prior_bias``) and ``-s<seed>`` a seed other than 0. With the
    defaults the names of runs trained before crops and seeds had a mark are unchanged.

    Examples
    --------
    >>> from heatsink.models import TrainConfig
    >>> run_name(TrainConfig(model="gslu", loss="wcce+dice", image_size=320, augment=True))
    'gslu-wcce+dice-320-flips'
    >>> run_name(TrainConfig(model="unet"))
    'unet'
    >>> run_name(TrainConfig(model="light", crop=128, seed=2))
    'light-c128-s2'
    >>> recipe = {"base_crop": 160, "base_augment": True}
    >>> run_name(TrainConfig(model="gslu", crop=160, augment=True, seed=1), **recipe)
    'gslu-s1'
    >>> run_name(TrainConfig(model="gslu", augment=True, photometric=True), **recipe)
    'gslu-frames-photo'
    >>> run_name(TrainConfig(model="gslu", crop=160, augment=True), base_crop=160,
    ...          base_augment=True, base_photometric=True)
    'gslu-nophoto'
    >>> run_name(TrainConfig(model="gslu", loss="wcce+dice", class_weighting="inverse_sqrt"))
    'gslu-wcce+dice-isqrt'
    >>> run_name(TrainConfig(model="light", loss="wcce+dice", texture=True, seed=1))
    'light-wcce+dice-tex-s1'
    >>> run_name(TrainConfig(model="light", loss="wcce+dice", texture=True, texture_share=0.25,
    ...                      texture_strength=0.5, texture_spots=0.5))
    'light-wcce+dice-tex-p25-a50-sp50'
    >>> run_name(TrainConfig(model="light", loss="wcce+dice", texture=True, texture_marks=0.5))
    'light-wcce+dice-tex-mk50'
    >>> run_name(TrainConfig(model="gslu", prior_bias=True))
    'gslu-prior'
    """
    parts = [config.model]
    if config.loss != "cce":
        parts.append(config.loss)
    if config.image_size != base_size:
        parts.append(str(config.image_size))
    if config.crop != base_crop:
        parts.append("frames" if config.crop is None else f"c{config.crop}")
    if config.augment != base_augment:
        parts.append("flips" if config.augment else "noflips")
    if "wcce" in config.loss.split("+") and config.class_weighting != "balanced":
        parts.append(WEIGHTING_MARKS.get(config.class_weighting, config.class_weighting))
    if config.photometric != base_photometric:
        parts.append("photo" if config.photometric else "nophoto")
    if config.texture != base_texture:
        parts.append("tex" if config.texture else "notex")
    if config.texture and config.texture_share is not None:
        parts.append(f"p{round(100 * config.texture_share)}")
    if config.texture and config.texture_strength != 1:
        parts.append(f"a{round(100 * config.texture_strength)}")
    if config.texture and config.texture_spots:
        parts.append(f"sp{round(100 * config.texture_spots)}")
    if config.texture and config.texture_marks:
        parts.append(f"mk{round(100 * config.texture_marks)}")
    if config.prior_bias != base_prior_bias:
        parts.append("prior" if config.prior_bias else "noprior")
    if config.seed != 0:
        parts.append(f"s{config.seed}")
    return "-".join(parts)


__all__ = ["BASE_SIZE", "WEIGHTING_MARKS", "run_name"]
