"""How marked a dataset's labelled defects are: each labelled object's contrast against the
plating around it, by the twin annotators' measure
(:func:`heatsink.synth.noise.object_contrast`).

Run on the real dataset (``heatsink data contrast PATH``), it gives the number the twin's
defect contrast is an assumption about: whether real labelled stains are as faint as the
twin draws them, or as marked as the blots a twin-trained net still calls defect on real,
unlabelled plating (:func:`heatsink.real_surface.false_objects` measures those the same
way). Run on the twin, the same command gives the twin's side of that comparison, against
its labels or (``--reference truth``) its clean truth.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd

from heatsink.classes import CLASS_NAMES

if TYPE_CHECKING:
    from heatsink.data.layout import Dataset

#: Columns of :func:`frame_contrast` and :func:`dataset_contrast`.
CONTRAST_COLUMNS = ["image_id", "class", "area", "contrast"]


def labelled_objects(mask: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """``(class index, pixels)`` of each defect of ``mask``: each 8-connected component of
    one class, scratches (1) first, then stains (2), each class in OpenCV's label order.

    >>> mask = np.zeros((5, 5), np.uint8); mask[0, 0] = 2; mask[4, 4] = 2; mask[2, 1:4] = 1
    >>> [(k, int(obj.sum())) for k, obj in labelled_objects(mask)]
    [(1, 3), (2, 1), (2, 1)]
    """
    for k in (1, 2):
        n, labels = cv2.connectedComponents((mask == k).astype(np.uint8), connectivity=8)
        for j in range(1, n):
            yield k, labels == j


def frame_contrast(image: np.ndarray, mask: np.ndarray, image_id: str = "") -> pd.DataFrame:
    """One row per labelled defect of a frame (an 8-connected component of one class):
    its class, area in pixels and contrast.

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8
        The frame, RGB (as :meth:`heatsink.data.Dataset.image` gives it).
    mask : ndarray (H, W)
        Its label mask (0 background, 1 scratch, 2 stain); every labelled pixel is kept
        out of the plating an object is compared with.
    image_id : str
        Written in the ``image_id`` column.

    Examples
    --------
    A stain labelled over a dark blot stands out; one labelled over plain plating does not:

    >>> image = np.full((60, 60, 3), 120, np.uint8)
    >>> image[10:20, 10:20] = 80
    >>> mask = np.zeros((60, 60), np.uint8)
    >>> mask[10:20, 10:20] = 2; mask[40:50, 40:50] = 2
    >>> frame_contrast(image, mask, "a").round(2).values.tolist()
    [['a', 'stain', 100, 0.33], ['a', 'stain', 100, 0.0]]
    """
    from heatsink.synth.noise import object_contrast

    bgr = np.ascontiguousarray(image[..., ::-1])
    rows = [(image_id, CLASS_NAMES[k], int(obj.sum()), float(object_contrast(bgr, mask, obj)))
            for k, obj in labelled_objects(mask)]
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


def dataset_contrast(ds: Dataset, ids: Iterable[str] | None = None,
                     reference: str = "labels") -> pd.DataFrame:
    """:func:`frame_contrast` over the frames ``ids`` of ``ds`` (default: all), with the
    label masks or, on a twin, the clean truth (``reference="truth"``)."""
    if reference not in ("labels", "truth"):
        raise ValueError(f"reference must be 'labels' or 'truth', not {reference!r}")
    read = ds.mask if reference == "labels" else ds.truth
    frames = [frame_contrast(ds.image(i), read(i), str(i))
              for i in (ds.ids if ids is None else ids)]
    return (pd.concat(frames, ignore_index=True) if frames
            else pd.DataFrame(columns=CONTRAST_COLUMNS))


def quartiles_by_class(table: pd.DataFrame) -> pd.DataFrame:
    """Objects, quartiles of contrast and median area per class of a contrast table.

    >>> t = pd.DataFrame({"class": ["stain"] * 4, "area": [10, 20, 30, 40],
    ...                   "contrast": [0.1, 0.2, 0.3, 0.4]})
    >>> quartiles_by_class(t).round(3).to_dict("index")["stain"]
    {'objects': 4, 'p25': 0.175, 'median': 0.25, 'p75': 0.325, 'median area': 25.0}
    """
    grouped = table.groupby("class")
    return pd.DataFrame({"objects": grouped.size(),
                         "p25": grouped["contrast"].quantile(0.25),
                         "median": grouped["contrast"].median(),
                         "p75": grouped["contrast"].quantile(0.75),
                         "median area": grouped["area"].median().astype(float)})


__all__ = ["CONTRAST_COLUMNS", "dataset_contrast", "frame_contrast", "labelled_objects",
           "quartiles_by_class"]
