"""Surface defect segmentation on heat sinks: the study's package and inspection toolkit.

Importing :mod:`heatsink` sets the two environment variables that make TensorFlow 2.21,
``tf-keras`` and ``segmentation-models`` 1.0.1 work together (legacy Keras 2 through
``tf-keras``; Keras 3 does not work with segmentation-models). They must be set before the
first TensorFlow import, so this happens here, and only when the user has not set them.
"""

import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("SM_FRAMEWORK", "tf.keras")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from heatsink.classes import BACKGROUND, CLASS_NAMES, SCRATCH, STAIN
from heatsink.errors import DatasetError, HeatsinkError

__version__ = "0.1.0"

__all__ = [
    "BACKGROUND",
    "CLASS_NAMES",
    "SCRATCH",
    "STAIN",
    "DatasetError",
    "HeatsinkError",
    "__version__",
]
