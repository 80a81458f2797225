"""The synthetic twin of the heat sink surface defect dataset.

The real images cannot be downloaded everywhere, so the study runs on a twin generated
here: grainy reddish-copper surfaces of parts cut into adjacent 320×320 tiles, faint
scratches and stains, label masks calibrated to the real dataset's published statistics
(:mod:`heatsink.synth.targets`), a clean truth, and documented label noise.

Examples
--------
>>> from heatsink.synth import generate, calibration_report, NoiseConfig
>>> path = generate("data/twin", n=1000, seed=0)            # doctest: +SKIP
>>> calibration_report(path)                                 # doctest: +SKIP
>>> calibration_report(path, appearance=True)                # doctest: +SKIP
"""

from heatsink.synth.calibration import appearance_report, calibration_report
from heatsink.synth.generate import GENERATOR_VERSION, generate
from heatsink.synth.noise import NoiseConfig

__all__ = [
    "GENERATOR_VERSION", "NoiseConfig", "appearance_report", "calibration_report", "generate",
]
