"""Prediction galleries (heatsink.gallery): object outcomes, example frames, circles."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from heatsink.classes import OVERLAY_COLOURS, SCRATCH, STAIN
from heatsink.evaluate import object_counts
from heatsink.gallery import (
    OUTCOMES,
    classify_objects,
    outcome_counts,
    outline,
    pick_frames,
    prediction_gallery,
    unique_objects,
)

matplotlib.use("Agg")


def _frame() -> tuple[np.ndarray, np.ndarray]:
    """A 40² truth with one object per outcome, and a prediction that makes each happen."""
    truth = np.zeros((40, 40), np.uint8)
    pred = np.zeros_like(truth)
    truth[2:6, 2:12] = SCRATCH          # correct: half of it predicted
    pred[2:6, 2:7] = SCRATCH
    truth[20:26, 2:8] = STAIN           # missed
    truth[30:36, 30:36] = STAIN         # wrong type: predicted as a scratch
    pred[31:35, 31:35] = SCRATCH
    pred[10:14, 30:34] = STAIN          # false alarm on clean surface
    return truth, pred


def test_each_outcome_on_a_synthetic_frame():
    truth, pred = _frame()
    table = classify_objects(truth, pred)
    ref = table[table["side"] == "reference"].set_index("top")
    assert ref.loc[2, "outcome"] == "correct" and ref.loc[2, "class_name"] == "scratch"
    assert ref.loc[20, "outcome"] == "missed"
    assert ref.loc[30, "outcome"] == "wrong type" and ref.loc[30, "class_name"] == "stain"
    pr = table[table["side"] == "prediction"].set_index("top")
    assert pr.loc[2, "outcome"] == "correct"
    assert pr.loc[31, "outcome"] == "wrong type" and pr.loc[31, "class_name"] == "scratch"
    assert pr.loc[10, "outcome"] == "false alarm"
    assert set(table["outcome"]) == set(OUTCOMES)
    assert ref.loc[20, ["bbox_h", "bbox_w", "area_px"]].tolist() == [6, 6, 36]


def test_outcomes_agree_with_the_evaluations_object_counts():
    """The gallery's *correct* is evaluate's *found*; its wrong-type and false-alarm
    predictions are evaluate's *false*."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        truth = np.zeros((48, 48), np.uint8)
        pred = np.zeros_like(truth)
        for mask in (truth, pred):
            for _ in range(5):
                r, c, h, w = rng.integers(0, 40), rng.integers(0, 40), *rng.integers(1, 8, 2)
                mask[r:r + h, c:c + w] = rng.integers(1, 3)
        counts = object_counts(truth, pred)
        table = classify_objects(truth, pred)
        for class_id, name in ((SCRATCH, "scratch"), (STAIN, "stain")):
            mine = table[table["class_id"] == class_id]
            ref, pr = mine[mine["side"] == "reference"], mine[mine["side"] == "prediction"]
            assert len(ref) == counts[f"{name}_true"] and len(pr) == counts[f"{name}_pred"]
            assert (ref["outcome"] == "correct").sum() == counts[f"{name}_found"]
            assert (pr["outcome"] != "correct").sum() == counts[f"{name}_false"]


def test_sizes_must_agree():
    with pytest.raises(ValueError, match="differ in size"):
        classify_objects(np.zeros((4, 4)), np.zeros((4, 5)))


def test_counts_and_a_seeded_pick_of_frames():
    truth, pred = _frame()
    empty = np.zeros_like(truth)
    references = {"a": truth, "b": truth, "c": empty, "d": truth}
    preds = {"m1": {"a": pred, "b": truth, "c": empty, "d": empty},
             "m2": {"a": truth, "b": truth, "c": pred, "d": pred}}
    counts = outcome_counts(references, preds)
    assert counts.loc[("m1", "a")].tolist() == [2, 1, 2, 1]
    assert counts.loc[("m1", "b")].tolist() == [6, 0, 0, 0]  # 3 objects, both sides
    assert counts.loc[("m1", "d")].tolist() == [0, 3, 0, 0]
    assert counts.loc[("m2", "c")].tolist() == [0, 0, 0, 3]
    picked = pick_frames(counts, per_outcome=1, seed=0)
    assert picked.equals(pick_frames(counts, per_outcome=1, seed=0))  # deterministic
    assert picked["image_id"].is_unique
    for row in picked.itertuples():  # each frame shows its outcome in m1's prediction
        assert counts.loc[("m1", row.image_id), row.outcome] > 0
    assert "false alarm" not in set(picked["outcome"])  # m1 has none
    # frame a is m1's only wrong type: drawn for it unless "missed" took it first
    assert ("a" in set(picked["image_id"])) and len(picked) in (2, 3)
    by_m2 = pick_frames(counts, per_outcome=3, model="m2", outcomes=["false alarm"])
    assert by_m2["image_id"].tolist() == ["c", "d"]
    draws = {tuple(pick_frames(counts, 1, seed=s)["image_id"]) for s in range(20)}
    assert len(draws) > 1  # the seed matters
    with pytest.raises(ValueError, match="unknown outcome"):
        pick_frames(counts, outcomes=["lost"])


def test_circles_mark_what_only_one_model_found_or_missed():
    truth = np.zeros((60, 60), np.uint8)
    truth[5:9, 5:9] = STAIN      # found by all three: no circle
    truth[5:9, 40:50] = SCRATCH  # found by a only
    truth[40:46, 5:11] = STAIN   # missed by c only
    truth[40:46, 40:46] = STAIN  # found by nobody: no circle
    a = np.zeros_like(truth)
    a[5:9, 5:9] = STAIN
    a[5:9, 40:50] = SCRATCH
    a[40:46, 5:11] = STAIN
    b = a.copy()
    b[5:9, 40:50] = 0
    c = b.copy()
    c[40:46, 5:11] = SCRATCH     # the wrong type is not found either
    marks = unique_objects(truth, {"a": a, "b": b, "c": c}, margin=2)
    assert marks[["model", "kind", "class_name"]].values.tolist() == [
        ["a", "only found", "scratch"], ["c", "only missed", "stain"]]
    first = marks.iloc[0]
    assert (first["cy"], first["cx"]) == (6.5, 44.5)
    assert first["radius"] == pytest.approx(0.5 * np.hypot(4, 10) + 2)
    assert unique_objects(truth, {"a": a}).empty
    assert unique_objects(np.zeros_like(truth), {"a": a, "b": b}).empty


def test_outline_draws_each_class_in_its_colour_around_the_object():
    mask = np.zeros((30, 30), np.uint8)
    mask[3:10, 3:10] = SCRATCH
    mask[15:25, 15:25] = STAIN
    image = np.full((30, 30, 3), 40, np.uint8)
    drawn = outline(image, mask)
    assert tuple(drawn[3, 6]) == OVERLAY_COLOURS[SCRATCH]
    assert tuple(drawn[24, 20]) == OVERLAY_COLOURS[STAIN]
    assert tuple(drawn[20, 20]) == (40, 40, 40)  # inside: the image
    assert (image == 40).all()  # the input is not drawn on
    assert outline(image[..., 0], mask).shape == (30, 30, 3)


def test_gallery_figure_has_a_row_per_frame_and_the_circles_in_the_right_panels():
    import matplotlib.pyplot as plt

    truth, pred = _frame()
    rng = np.random.default_rng(0)
    images = {i: rng.integers(0, 255, (40, 40, 3), dtype=np.uint8) for i in ("a", "b")}
    references = {"a": truth, "b": truth}
    other = truth.copy()
    predictions = {"one": {"a": pred, "b": truth}, "two": {"a": other, "b": truth}}
    fig = prediction_gallery(images, references, predictions, ["a", "b"],
                             row_titles={"a": "a: missed"}, reference_name="clean truth",
                             title="toy")
    axes = np.array(fig.axes).reshape(2, 4)
    assert [ax.get_title() for ax in axes[0]] == ["a: missed", "clean truth", "one", "two"]
    assert axes[1][0].get_title() == "b" and axes[1][1].get_title() == ""
    kinds = [[sorted(p.get_gid() for p in ax.patches) for ax in row] for row in axes]
    # frame a: "two" alone finds the missed stain and the wrong-type stain
    assert kinds[0] == [[], [], ["only missed", "only missed"], ["only found", "only found"]]
    assert kinds[1] == [[], [], [], []]  # both models agree on frame b
    plain = prediction_gallery(images, references, predictions, ["a"], circles=False)
    assert not any(ax.patches for ax in plain.axes)
    with pytest.raises(ValueError, match="no frames"):
        prediction_gallery(images, references, predictions, [])
    plt.close("all")


def test_picked_frames_feed_the_gallery():
    import matplotlib.pyplot as plt

    truth, pred = _frame()
    images = {"a": np.zeros((40, 40, 3), np.uint8)}
    counts = outcome_counts({"a": truth}, {"m": {"a": pred}})
    picked = pick_frames(counts, per_outcome=1)
    titles = dict(zip(picked["image_id"], picked["outcome"], strict=True))
    fig = prediction_gallery(images, {"a": truth}, {"m": {"a": pred}}, picked["image_id"],
                             row_titles=titles)
    assert isinstance(counts, pd.DataFrame) and len(fig.axes) == 3
    plt.close(fig)
