"""Label quality: rankings, suspect pixels and components, and their scoring on a manifest."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from heatsink import label_quality as lq

N, SIZE = 30, 64
#: Corrupted images of the synthetic set and what was done to their label.
CORRUPT = {
    "0003": "erase_stain",
    "0007": "stain_to_scratch",
    "0012": "erase_scratch",
    "0018": "scratch_to_stain",
    "0021": "fake_stain",
    "0026": "erase_stain",
}
FAKE_BOX = (44, 2, 8, 8)  # top, left, h, w of the stain labelled over bare background


def _truth(rng: np.random.Generator) -> np.ndarray:
    """A scratch band in the upper half and a stain blob in the lower half of a frame."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    y, x0 = int(rng.integers(10, 22)), int(rng.integers(4, 20))
    x1 = int(rng.integers(x0 + 25, 60))
    cv2.line(mask, (x0, y), (x1, y + int(rng.integers(-4, 5))), 1, thickness=4)
    centre = (int(rng.integers(26, 52)), int(rng.integers(42, 54)))
    axes = (int(rng.integers(4, 8)), int(rng.integers(4, 8)))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 2, -1)
    return mask


def _model(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """'Out-of-sample' probabilities: a blurred, noisy one-hot of the truth, (H, W, 3)."""
    onehot = np.eye(3, dtype=np.float32)[truth]
    soft = np.stack([cv2.GaussianBlur(onehot[..., k], (0, 0), 1.0) for k in range(3)], -1)
    p = 0.85 * soft + 0.05 + rng.uniform(0, 0.05, soft.shape)
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


def _corrupt(label: np.ndarray, how: str) -> np.ndarray:
    out = label.copy()
    if how == "erase_stain":
        out[label == 2] = 0
    elif how == "erase_scratch":
        out[label == 1] = 0
    elif how == "stain_to_scratch":
        out[label == 2] = 1
    elif how == "scratch_to_stain":
        out[label == 1] = 2
    elif how == "fake_stain":
        top, left, h, w = FAKE_BOX
        out[top:top + h, left:left + w] = 2
    return out


@pytest.fixture(scope="module")
def data() -> dict:
    rng = np.random.default_rng(7)
    ids = [f"{i:04d}" for i in range(N)]
    truth = np.stack([_truth(rng) for _ in ids])
    probs = np.stack([_model(t, rng) for t in truth])
    labels = np.stack([_corrupt(t, CORRUPT.get(i, "")) for i, t in zip(ids, truth, strict=True)])
    images = rng.integers(0, 256, (N, SIZE, SIZE, 3), dtype=np.uint8)
    return {"ids": ids, "truth": truth, "labels": labels, "probs": probs, "images": images}


@pytest.fixture(scope="module")
def components(data) -> pd.DataFrame:
    return lq.component_issues(data["labels"], data["probs"], data["ids"])


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    return y, x, h, w


# --------------------------------------------------------------------------------------
# rankings and pixels
# --------------------------------------------------------------------------------------


def test_cleanlab_scores_rank_corrupted_first(data) -> None:
    scores, pixels = lq.cleanlab_scores(data["labels"], data["probs"], data["ids"])
    assert list(scores.index) == data["ids"] and scores.index.name == "image_id"
    assert set(lq.flag_top(scores, len(CORRUPT))) == set(CORRUPT)
    assert scores.between(0, 1).all()
    # pixel scores are the probability of the given label
    expected = np.take_along_axis(data["probs"], data["labels"][..., None].astype(int), -1)
    np.testing.assert_allclose(pixels, expected[..., 0], rtol=1e-6)
    # float16 probabilities give the same ranking
    half, _ = lq.cleanlab_scores(data["labels"], data["probs"].astype(np.float16), data["ids"])
    assert lq.rank_order(half)[: len(CORRUPT)] == lq.rank_order(scores)[: len(CORRUPT)]


def test_num_pixel_issues_method_ranks_corrupted_first(data) -> None:
    scores, _ = lq.cleanlab_scores(data["labels"], data["probs"], data["ids"],
                                   method="num_pixel_issues")
    assert set(lq.flag_top(scores, len(CORRUPT))) == set(CORRUPT)
    assert (scores[[i for i in data["ids"] if i not in CORRUPT]] == 1.0).mean() > 0.8


@pytest.mark.parametrize("score", [
    lambda lab, p, ids: lq.loss_scores(lab, p, ids),
    lambda lab, p, ids: lq.loss_scores(lab, p, ids, focus="all"),
    lambda lab, p, ids: lq.disagreement_scores(lab, p, ids),
    lambda lab, p, ids: lq.disagreement_scores(lab, p, ids, relative=True),
])
def test_baselines_rank_corrupted_first(data, score) -> None:
    scores = score(data["labels"], data["probs"], data["ids"])
    assert list(scores.index) == data["ids"]
    assert set(lq.flag_top(scores, len(CORRUPT))) == set(CORRUPT)
    assert (scores <= 0).all()  # minus a loss or a count: lower = more suspect


def test_loss_focus_counts_small_defects() -> None:
    """A missed 9 px defect outweighs a wide blur of the background only over the defects."""
    labels = np.zeros((2, 32, 32), np.uint8)
    probs = np.zeros((2, 32, 32, 3), np.float32)
    probs[..., 0] = 0.98
    probs[..., 1:] = 0.01
    probs[0, 10:13, 10:13] = (0.1, 0.1, 0.8)  # a small stain the label misses
    probs[1, ..., 0], probs[1, ..., 1:] = 0.9, 0.05  # a less confident but correct image
    focused = lq.loss_scores(labels, probs, ["a", "b"])
    assert lq.rank_order(focused) == ["a", "b"]
    assert lq.rank_order(lq.loss_scores(labels, probs, ["a", "b"], focus="all")) == ["b", "a"]


def test_cleanlab_pixel_issues_mark_corrupted_pixels(data) -> None:
    """Confident learning flags its estimated number of issues, the most confident first:
    part of each corrupted region (not its soft edge) and next to nothing else."""
    issues = lq.cleanlab_pixel_issues(data["labels"], data["probs"])
    assert issues.shape == data["labels"].shape and issues.dtype == bool
    changed = data["labels"] != data["truth"]
    assert issues[~changed].sum() <= 0.02 * issues.sum()
    rows = [data["ids"].index(i) for i in CORRUPT]
    # the thin erased scratch suffers most from the 2×2 pooling (~1/6 flagged, 1/3 at full res)
    assert min(issues[n][changed[n]].mean() for n in rows) >= 0.15
    assert issues[changed].mean() >= 0.4
    # every flagged pixel disagrees with the prediction
    assert not (issues & (data["probs"].argmax(-1) == data["labels"])).any()
    full = lq.cleanlab_pixel_issues(data["labels"], data["probs"], downsample=1)
    assert full[~changed].sum() <= 0.02 * full.sum() and full[changed].mean() >= 0.5
    assert min(full[n][changed[n]].mean() for n in rows) >= 0.25


def test_default_downsample() -> None:
    assert lq.default_downsample(320, 320) == 2
    assert lq.default_downsample(320, 320, largest=16) == 16
    assert lq.default_downsample(63, 64) == 1
    assert lq.default_downsample(60, 90, largest=4) == 3


# --------------------------------------------------------------------------------------
# components
# --------------------------------------------------------------------------------------


def test_component_issues_find_each_corruption(data, components) -> None:
    assert list(components.columns) == lq.COMPONENT_COLUMNS
    assert set(components["image_id"]) == set(CORRUPT)
    expected = {
        "erase_stain": ("unlabelled_defect", "background", "stain"),
        "erase_scratch": ("unlabelled_defect", "background", "scratch"),
        "stain_to_scratch": ("class_swap", "scratch", "stain"),
        "scratch_to_stain": ("class_swap", "stain", "scratch"),
        "fake_stain": ("rejected_label", "stain", "background"),
    }
    for image_id, how in CORRUPT.items():
        rows = components[components["image_id"] == image_id]
        assert len(rows) == 1, (image_id, rows)
        row = rows.iloc[0]
        assert (row["kind"], row["class_labelled"], row["class_predicted"]) == expected[how]
        assert row["confidence"] >= 0.5
        box = (row["top"], row["left"], row["bbox_h"], row["bbox_w"])
        n = data["ids"].index(image_id)
        changed = data["labels"][n] != data["truth"][n]
        if how == "fake_stain":
            assert box == FAKE_BOX and row["pixels"] == 64
        elif how.startswith("erase"):  # the confident region: the truth within ±1 px
            assert np.abs(np.subtract(box[:2], _box(changed)[:2])).max() <= 1
            assert np.abs(np.subtract(box[2:], _box(changed)[2:])).max() <= 2
        else:  # a labelled component: exactly the swapped one
            assert box == _box(changed) and row["pixels"] == changed.sum()


def test_component_boundary_band_and_min_pixels(data) -> None:
    """A stain label shifted by 3 px is boundary imprecision within a 3 px band, not a defect."""
    n = next(n for n, i in enumerate(data["ids"]) if i not in CORRUPT)
    stain = data["truth"][n] == 2
    shifted = data["truth"][n].copy()
    shifted[stain] = 0
    shifted[np.roll(stain, 3, axis=1)] = 2
    labels, probs = shifted[None], data["probs"][n][None]
    loose = lq.component_issues(labels, probs, ["x"], min_pixels=3, boundary=0)
    assert "unlabelled_defect" in set(loose["kind"])
    assert lq.component_issues(labels, probs, ["x"], min_pixels=3, boundary=3).empty
    assert lq.component_issues(labels, probs, ["x"], min_pixels=10_000, boundary=0).empty


# --------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------


@pytest.fixture
def hand_scores() -> pd.Series:
    values = {"0004": 0.3, "0003": 0.3, "0001": 0.5, "0002": 0.1, "0005": 0.9, "0006": 0.2,
              "0007": 0.8, "0008": 0.7, "0009": 0.6, "0010": 0.4}
    return pd.Series(values)


def test_rank_order_and_flag_top_break_ties_by_id(hand_scores) -> None:
    assert lq.rank_order(hand_scores)[:5] == ["0002", "0006", "0003", "0004", "0010"]
    assert lq.flag_top(hand_scores, 3) == ["0002", "0006", "0003"]
    with_nan = pd.concat([pd.Series({"0000": np.nan}), hand_scores])
    assert lq.rank_order(with_nan)[-1] == "0000"


def test_precision_at_k_exact(hand_scores) -> None:
    table = lq.precision_at_k(hand_scores, {"0002", "0004", "0007", "9999"},
                              fractions=(0.1, 0.2, 0.3, 0.35, 1.0))
    assert list(table.columns) == ["fraction", "k", "hits", "precision", "ci_low", "ci_high",
                                   "recall"]
    assert table["k"].tolist() == [1, 2, 3, 4, 10]
    assert table["hits"].tolist() == [1, 1, 1, 2, 3]
    np.testing.assert_allclose(table["precision"], [1, 0.5, 1 / 3, 0.5, 0.3])
    np.testing.assert_allclose(table["recall"], [1 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    # Wilson 95 % for 1 hit in 2, by hand: 0.5 ± 1.96·√(0.125 + 0.2401) / 2.9208
    np.testing.assert_allclose(table.loc[1, ["ci_low", "ci_high"]].astype(float),
                               [0.0945, 0.9055], atol=1e-4)
    assert (table["ci_low"] <= table["precision"]).all()
    assert (table["precision"] <= table["ci_high"]).all()
    assert lq.precision_at_k(hand_scores, set())["recall"].isna().all()
    with pytest.raises(ValueError, match="fractions"):
        lq.precision_at_k(hand_scores, {"0002"}, fractions=(0.0,))


def _manifest(rows: list[tuple]) -> pd.DataFrame:
    columns = ["image_id", "error", "top", "left", "bbox_h", "bbox_w"]
    return pd.DataFrame(rows, columns=columns)


def test_image_detection_table_exact() -> None:
    manifest = _manifest([
        ("0001", "missed_stain", 0, 0, 1, 1), ("0001", "class_swap", 0, 0, 1, 1),
        ("0002", "missed_stain", 0, 0, 1, 1), ("0003", "sloppy_boundary", 0, 0, 1, 1),
        ("0009", "missed_stain", 0, 0, 1, 1),  # not among the ids evaluated
    ])
    ids = [f"{i:04d}" for i in range(1, 9)]
    table = lq.image_detection_table({"m": {"0001", "0003", "0005"}, "none": set()},
                                     manifest, ids).set_index(["method", "error"])
    m = table.loc["m"]
    assert m.index.tolist() == ["missed_stain", "class_swap", "sloppy_boundary",
                                "seam_inconsistency", "any"]
    assert m["images"].tolist() == [2, 1, 1, 0, 3]
    assert m["caught"].tolist() == [1, 1, 1, 0, 2]
    np.testing.assert_allclose(m["recall"], [0.5, 1, 1, np.nan, 2 / 3])
    np.testing.assert_allclose(m["share_of_flagged"], [1 / 3, 1 / 3, 1 / 3, 0, 2 / 3])
    np.testing.assert_allclose(m["precision_any"], 2 / 3)
    assert (m["flagged"] == 3).all()
    none = table.loc["none"]
    assert (none["caught"] == 0).all() and none["precision_any"].isna().all()
    with pytest.raises(ValueError, match="not among ids"):
        lq.image_detection_table({"m": {"0009"}}, manifest, ids)


def test_component_detection_table_exact() -> None:
    manifest = _manifest([
        ("0001", "missed_stain", 10, 10, 5, 5), ("0001", "class_swap", 40, 40, 10, 10),
        ("0002", "sloppy_boundary", 0, 0, 4, 4), ("0003", "missed_stain", 30, 30, 3, 3),
    ])
    comps = pd.DataFrame([
        ("0001", "unlabelled_defect", 12, 12, 3, 3),  # inside the missed stain
        ("0001", "class_swap", 51, 40, 5, 5),  # 2 px below the swap's box
        ("0002", "rejected_label", 20, 20, 3, 3),  # nothing there
        ("0004", "unlabelled_defect", 30, 30, 3, 3),  # right box, wrong image
    ], columns=["image_id", "kind", "top", "left", "bbox_h", "bbox_w"])
    empty = pd.DataFrame(columns=lq.COMPONENT_COLUMNS)
    table = lq.component_detection_table({"a": comps, "b": empty}, manifest)
    a = table.set_index(["method", "error"]).loc["a"]
    assert a["n_errors"].tolist() == [2, 1, 1, 0, 4]
    assert a["found"].tolist() == [1, 1, 0, 0, 2]
    np.testing.assert_allclose(a["recall"], [0.5, 1, 0, np.nan, 0.5])
    assert (a["n_components"] == 4).all()
    np.testing.assert_allclose(a["precision"], 0.5)
    np.testing.assert_allclose(a["precision_unlabelled_defect"], 0.5)
    np.testing.assert_allclose(a["precision_rejected_label"], 0.0)
    np.testing.assert_allclose(a["precision_class_swap"], 1.0)
    b = table[table["method"] == "b"]
    assert (b["found"] == 0).all() and b["precision"].isna().all()
    strict = lq.component_detection_table({"a": comps}, manifest, margin=0)
    assert strict.set_index("error").loc["class_swap", "found"] == 0
    only = lq.component_detection_table({"a": comps}, manifest, ids=["0001"])
    assert only.set_index("error").loc["any", "n_errors"] == 2
    matched = lq.match_components(comps, manifest)
    assert matched["matched_errors"].tolist() == ["missed_stain", "class_swap", "", ""]


def test_component_precision_at_n_orders_by_confidence() -> None:
    matched = pd.DataFrame({
        "kind": ["class_swap", "class_swap", "unlabelled_defect", "unlabelled_defect",
                 "rejected_label"],
        "confidence": [0.6, 0.9, 0.95, 0.7, 0.8],
        "matched_errors": ["", "class_swap", "", "missed_stain", ""],
    })
    table = lq.component_precision_at_n(matched, ns=(1, 2, 10))
    assert table.index.tolist() == ["all", *lq.KINDS]
    assert table.loc["all", "components"] == 5
    assert table.loc["all", "precision_all"] == 0.4
    assert table.loc["all", "top_1"] == 0.0  # 0.95 is a false alarm
    assert table.loc["all", "top_2"] == 0.5  # then 0.9, a real swap
    assert np.isnan(table.loc["all", "top_10"])  # fewer than 10 components
    assert table.loc["class_swap", "top_1"] == 1.0
    assert table.loc["class_swap", "top_2"] == 0.5
    assert table.loc["rejected_label", "top_1"] == 0.0
    with pytest.raises(ValueError, match="matched_errors"):
        lq.component_precision_at_n(matched.drop(columns="matched_errors"))


# --------------------------------------------------------------------------------------
# worklist and figure
# --------------------------------------------------------------------------------------


def test_ranked_issues_order_text_and_csv_round_trip(data, components, tmp_path) -> None:
    scores, _ = lq.cleanlab_scores(data["labels"], data["probs"], data["ids"])
    issues = lq.cleanlab_pixel_issues(data["labels"], data["probs"])
    table = lq.ranked_issues(scores, components, issues, data["ids"])
    assert table["rank"].tolist() == list(range(1, N + 1))
    assert table["image_id"].tolist() == lq.rank_order(scores)
    assert set(table["image_id"][: len(CORRUPT)]) == set(CORRUPT)
    assert table["score"].is_monotonic_increasing
    row = table.set_index("image_id").loc["0021"]
    top, left, h, w = FAKE_BOX
    assert row["n_rejected_label"] == 1 and row["n_unlabelled_defect"] == 0
    assert row["what_to_check"] == (
        f"stain label where the model sees background at x={left + w // 2}, "
        f"y={top + h // 2} ({w} px wide, {h} px high)")
    assert table.set_index("image_id").loc["0003", "what_to_check"].startswith(
        "stain-like region unlabelled at")
    n = data["ids"].index("0003")
    assert table.set_index("image_id").loc["0003", "suspect_pixels"] == issues[n].sum()
    assert len(lq.ranked_issues(scores, components, top=4)) == 4
    with pytest.raises(ValueError, match="ids"):
        lq.ranked_issues(scores, components, issues)

    path = lq.write_ranked_issues(table, tmp_path / "out" / "issues.csv")
    assert [p.name for p in path.parent.iterdir()] == ["issues.csv"]  # no temp file left
    back = pd.read_csv(path, dtype={"image_id": str})
    pd.testing.assert_frame_equal(back, table)


def test_injected_errors_name_each_images_kinds_once_in_the_generators_order() -> None:
    manifest = pd.DataFrame({"image_id": ["0002", "0002", "0002", "0008"],
                             "error": ["class_swap", "missed_stain", "class_swap",
                                       "seam_inconsistency"]})
    notes = lq.injected_errors(manifest, ["0002", "0008", "0009"])
    assert notes == {"0002": "injected: missed stain, class swap",
                     "0008": "injected: seam inconsistency", "0009": "no injected error"}


def test_issue_grid_axes(data) -> None:
    import matplotlib.pyplot as plt

    plt.switch_backend("Agg")
    scores, _ = lq.cleanlab_scores(data["labels"], data["probs"], data["ids"])
    issues = lq.cleanlab_pixel_issues(data["labels"], data["probs"])
    fig = lq.issue_grid(data["images"], data["labels"], data["probs"], data["ids"], scores,
                        issues, n=3)
    assert len(fig.axes) == 12
    assert fig.axes[0].get_title().startswith(lq.rank_order(scores)[0])
    assert fig.axes[3].get_title().startswith("suspect pixels")
    plt.close(fig)
    first = lq.rank_order(scores)[0]
    fig = lq.issue_grid(data["images"], data["labels"], data["probs"], data["ids"], scores,
                        issues, n=3, notes={first: "injected: class swap"})
    assert fig.axes[0].get_title().endswith("\ninjected: class swap")
    assert "\n" not in fig.axes[4].get_title()  # the second image has no note
    plt.close(fig)
    grey = data["images"][..., 0]
    fig = lq.issue_grid(grey, data["labels"], data["probs"].argmax(-1), data["ids"], scores,
                        n=2)
    assert len(fig.axes) == 6
    plt.close(fig)


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "message"), [
    (lambda lab, p: (lab[0], p), r"labels must have shape \(N, H, W\)"),
    (lambda lab, p: (lab, p[..., 0]), r"probs must have shape \(N, H, W, K\)"),
    (lambda lab, p: (lab, np.moveaxis(p, -1, 1)), "channels-last"),
    (lambda lab, p: (lab.astype(float), p), "integer class indices"),
    (lambda lab, p: (np.where(lab == 2, 3, lab).astype(np.uint8), p), r"outside 0\.\.2"),
    (lambda lab, p: (lab, p * 2), "sum to 1"),
    (lambda lab, p: (lab, np.where(p > 0.5, np.nan, p)), "finite"),
    (lambda lab, p: (lab, np.log(p)), "non-negative"),
    (lambda lab, p: (lab, p[..., :1] / p[..., :1]), "at least 2 classes"),
    (lambda lab, p: (lab[:0], p[:0]), "no images"),
])
def test_validation(data, change, message) -> None:
    labels, probs = change(data["labels"][:3], data["probs"][:3])
    for call in (lq.cleanlab_scores, lq.loss_scores, lq.disagreement_scores,
                 lq.cleanlab_pixel_issues, lq.component_issues):
        with pytest.raises(ValueError, match=message):
            call(labels, probs)


def test_argument_errors(data) -> None:
    labels, probs = data["labels"][:3], data["probs"][:3]
    with pytest.raises(ValueError, match="2 ids for 3 images"):
        lq.loss_scores(labels, probs, ["a", "b"])
    with pytest.raises(ValueError, match="not unique"):
        lq.loss_scores(labels, probs, ["a", "a", "b"])
    with pytest.raises(ValueError, match="does not divide"):
        lq.cleanlab_pixel_issues(labels, probs, downsample=3)
    with pytest.raises(ValueError, match="method"):
        lq.cleanlab_scores(labels, probs, method="median")
    with pytest.raises(ValueError, match="focus"):
        lq.loss_scores(labels, probs, focus="edges")
    assert lq.loss_scores(labels, probs).index.tolist() == ["0000", "0001", "0002"]
