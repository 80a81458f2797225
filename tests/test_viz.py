"""Figures drawn by heatsink.viz that the chapters share."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")


def test_confusion_heatmap_shows_each_true_class_row_normalised_with_horizontal_names():
    import matplotlib.pyplot as plt

    from heatsink.viz import confusion_heatmap

    confusion = np.array([[90, 5, 5], [6, 3, 1], [0, 0, 0]])  # no stain pixel labelled
    fig, (left, right) = plt.subplots(1, 2)
    confusion_heatmap(confusion, ax=left, title="toy", ylabel="clean truth")
    confusion_heatmap(confusion, ax=right, ylabel=None)
    shown = [t.get_text() for t in left.texts]
    assert shown[:6] == ["0.90", "0.05", "0.05", "0.60", "0.30", "0.10"]
    assert len(shown) == 6  # the empty stain row has no share to write
    names = left.get_yticklabels()
    assert [t.get_text() for t in names] == ["background", "scratch", "stain"]
    assert all(t.get_rotation() == pytest.approx(0) for t in names)
    assert left.get_ylabel() == "clean truth" and left.get_title() == "toy"
    assert right.get_yticklabels() == [] and right.get_ylabel() == ""
    plt.close(fig)


def test_log_histogram_of_tiny_or_equal_values_without_a_reference():
    """Object sizes of a small dataset may all be below 1e-3 % or all equal: the log bins
    must still increase (a plain-Kaggle-layout chapter run without the reference failed)."""
    import matplotlib.pyplot as plt
    import numpy as np

    from heatsink.viz import compare_hist

    for values in ([1e-4, 2e-4, 5e-4], [0.5, 0.5], [0.0, 0.0]):
        fig, ax = plt.subplots()
        compare_hist(ax, np.array(values), None, log=True)
        plt.close(fig)
