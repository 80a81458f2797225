"""The data layer: loading and validating dataset folders, checksums, splits, tf.data.

``import heatsink.data`` does not import TensorFlow (only :func:`make_tf_dataset` does,
when called) nor kagglehub (only :func:`download` does).
"""

from heatsink.data.checksum import dataset_checksum
from heatsink.data.download import download
from heatsink.data.layout import Dataset, find_dataset_root, load_dataset
from heatsink.data.pipeline import make_tf_dataset
from heatsink.data.readers import read_image, read_mask
from heatsink.data.report import CheckReport, check_dataset
from heatsink.data.split import load_split, make_split, save_split

__all__ = [
    "CheckReport",
    "Dataset",
    "check_dataset",
    "dataset_checksum",
    "download",
    "find_dataset_root",
    "load_dataset",
    "load_split",
    "make_split",
    "make_tf_dataset",
    "read_image",
    "read_mask",
    "save_split",
]
