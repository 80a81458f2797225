"""Recall by contrast and size: every true defect of a twin measured and judged found or not."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from heatsink.data import load_dataset
from heatsink.study.detectability import CONTRAST_BINS, findings, recall_by, recall_figure, summary
from heatsink.synth import generate


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return load_dataset(generate(tmp_path_factory.mktemp("twin") / "t", n=8, seed=3,
                                 progress=False))


def test_the_truth_finds_every_defect_and_nothing_finds_none(twin):
    ids = [str(i) for i in twin.ids]
    perfect = findings(twin, {i: twin.truth(i) for i in ids})
    blind = findings(twin, {i: np.zeros_like(twin.truth(i)) for i in ids})
    assert len(perfect) == len(blind) > 0 and perfect["found"].all() and not blind["found"].any()
    assert set(perfect["class"]) == {"scratch", "stain"}
    assert (perfect["area"] > 0).all() and (perfect["contrast"] >= 0).all()
    # the other class in the right place is not a find
    swapped = findings(twin, {i: np.where(twin.truth(i) > 0, 3 - twin.truth(i), 0)
                              .astype(np.uint8) for i in ids})
    assert not swapped["found"].any()


def test_recall_by_bins_every_object_once(twin):
    ids = [str(i) for i in twin.ids]
    half = {i: np.where(np.arange(twin.truth(i).shape[1]) < 160, twin.truth(i), 0)
            .astype(np.uint8) for i in ids}  # finds what touches the left half
    table = findings(twin, half)
    by = recall_by(table)
    assert by.groupby("class")["objects"].sum().to_dict() == table["class"].value_counts().to_dict()
    assert np.allclose(by.groupby("class")["share"].sum(), 1.0)
    assert (by["low"] <= by["recall"]).all() and (by["recall"] <= by["high"]).all()
    assert set(by["bin"]) <= {f"[{a:g}, {b:g})" for a, b in pairwise(CONTRAST_BINS)}
    assert 0 < table["found"].mean() < 1


def test_the_figure_draws_each_class_over_the_same_bins(twin):
    import matplotlib

    matplotlib.use("Agg")
    ids = [str(i) for i in twin.ids]
    table = findings(twin, {i: twin.truth(i) for i in ids})
    by = recall_by(table)
    fig = recall_figure(by)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(dict.fromkeys(by["class"]))
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == sorted(set(by["bin"]), key=list(by["bin"].cat.categories).index)
    assert [line for line in summary(table) if "100 % of" in line]  # the truth finds all
