"""Evaluation: object detection counts, pooled scores, bootstrap intervals, references."""

from __future__ import annotations

import numpy as np
import pytest

from heatsink.data import load_dataset
from heatsink.evaluate import evaluate_masks, evaluate_predictions, object_counts
from heatsink.metrics import score_masks


def _masks():
    truth = np.zeros((40, 40), np.uint8)
    truth[2:4, 2:20] = 1  # scratch A: found
    truth[30:32, 5:25] = 1  # scratch B: missed
    truth[10:16, 30:36] = 2  # stain: found, as scratch partly
    pred = np.zeros_like(truth)
    pred[3, 10:12] = 1  # touches scratch A
    pred[12:14, 31:33] = 2  # inside the stain
    pred[20:22, 20:22] = 2  # false alarm stain
    pred[10, 34] = 1  # scratch prediction on the stain: a scratch false alarm
    return truth, pred


def test_object_counts_found_missed_and_false_alarms():
    truth, pred = _masks()
    counts = object_counts(truth, pred)
    assert counts == {
        "scratch_true": 2, "scratch_found": 1, "scratch_pred": 2, "scratch_false": 1,
        "stain_true": 1, "stain_found": 1, "stain_pred": 2, "stain_false": 1,
    }


def test_diagonal_touch_joins_components_eight_connected():
    truth = np.zeros((6, 6), np.uint8)
    truth[1, 1] = truth[2, 2] = 1
    assert object_counts(truth, truth)["scratch_true"] == 1


def test_summary_matches_pixel_metrics_and_object_rates():
    truth, pred = _masks()
    ev = evaluate_masks([("a", truth, pred), ("b", truth, truth)])
    expected = score_masks([(truth, pred), (truth, truth)]).summary()
    summary = ev.summary()
    for key, value in expected.items():
        assert summary[key] == pytest.approx(value, nan_ok=True)
    assert summary["scratch_object_recall"] == pytest.approx(3 / 4)
    assert summary["stain_false_alarms_per_image"] == pytest.approx(1 / 2)
    per_image = ev.per_image()
    assert per_image.loc["b", "scratch_recall"] == 1.0
    assert per_image.loc["a", "scratch_recall"] == pytest.approx(2 / (36 + 40))


def test_bootstrap_brackets_the_value_and_is_reproducible():
    rng = np.random.default_rng(1)
    triples = []
    for k in range(30):
        truth = np.zeros((32, 32), np.uint8)
        truth[rng.integers(0, 28):, :4] = rng.integers(1, 3)
        pred = truth.copy()
        pred[: rng.integers(0, 32)] = 0  # erase a random top part
        triples.append((str(k), truth, pred))
    ev = evaluate_masks(triples)
    a = ev.bootstrap(n_boot=200, seed=3)
    b = ev.bootstrap(n_boot=200, seed=3)
    assert a.equals(b)
    ok = a.dropna()
    assert ((ok["low"] <= ok["value"] + 1e-12) & (ok["value"] <= ok["high"] + 1e-12)).all()
    assert (a.loc["scratch_recall", "high"] - a.loc["scratch_recall", "low"]) > 0


def test_bootstrap_of_identical_images_has_zero_width():
    truth, pred = _masks()
    ev = evaluate_masks([(str(k), truth, pred) for k in range(5)])
    ci = ev.bootstrap(n_boot=50)
    assert np.allclose(ci["low"], ci["value"], equal_nan=True)
    assert np.allclose(ci["high"], ci["value"], equal_nan=True)


def test_predictions_are_scored_against_labels_and_truth(make_dataset):
    ds = load_dataset(make_dataset(n=4, with_truth=True))
    predictions = {i: ds.truth(i) for i in ds.ids}  # finds the stain the labels missed
    evaluations = evaluate_predictions(predictions, ds)
    assert set(evaluations) == {"labels", "truth"}
    assert evaluations["truth"].summary()["pixel_accuracy"] == 1.0
    against_labels = evaluations["labels"].summary()
    assert against_labels["pixel_accuracy"] == 1 - 4 * 9 / (4 * 320 * 320)
    assert against_labels["stain_recall"] == 1.0 and against_labels["stain_precision"] < 1.0
    labels = evaluate_predictions({i: ds.mask(i) for i in ds.ids}, ds, references=["labels"])
    assert labels["labels"].summary()["miou"] == 1.0


def test_predictions_come_back_at_the_mask_resolution(make_dataset):
    from heatsink.models import Predictor, predict_masks, unet

    ds = load_dataset(make_dataset(n=3))
    model = unet(filters=2)
    masks = predict_masks(model, ds, ds.ids, image_size=64, batch_size=2)
    assert list(masks) == ds.ids
    assert all(m.shape == (320, 320) and m.dtype == np.uint8 and m.max() <= 2
               for m in masks.values())
    assert Predictor(model, 64).latency_ms(batch_size=2, repeats=2) > 0


def test_a_paired_comparison_scores_both_models_on_each_resample():
    import pytest

    from heatsink.evaluate import paired_difference

    truth = np.zeros((16, 16), np.uint8)
    truth[10, 1:12] = 1
    truth[2:6, 2:6] = 2

    def model(found: list[int]):  # scratch pixels found in each of the frames
        pairs = []
        for k, n in enumerate(found):
            pred = truth.copy()
            pred[10, 1 + n:12] = 0
            pairs.append((f"{k:02d}", truth, pred))
        return evaluate_masks(pairs)

    a, b = model([9, 9, 9, 2, 9, 9]), model([4, 4, 4, 4, 4, 4])
    paired = paired_difference(a, b, "scratch_recall", n_boot=200)
    expected = a.summary()["scratch_recall"] - b.summary()["scratch_recall"]
    assert paired["difference"] == pytest.approx(expected)
    assert 0 < paired["low"] <= expected <= paired["high"]
    assert paired["share_a_higher"] > 0.9
    # the same images in another order pair up by id
    shuffled = evaluate_masks([(f"{k:02d}", truth, truth) for k in (5, 3, 1, 0, 2, 4)])
    assert paired_difference(shuffled, b, "scratch_recall")["difference"] == pytest.approx(
        1 - b.summary()["scratch_recall"])
    with pytest.raises(ValueError, match="same images"):
        paired_difference(a, model([4, 4]), "scratch_recall")
    # a recipe trained with seeds scores as the mean of its models, on the same draws
    c = model([2, 9, 9, 9, 9, 2])
    seeds = paired_difference([a, c], b, "scratch_recall", n_boot=200)
    mean = (a.summary()["scratch_recall"] + c.summary()["scratch_recall"]) / 2
    assert seeds["difference"] == pytest.approx(mean - b.summary()["scratch_recall"])
    assert seeds["low"] <= seeds["difference"] <= seeds["high"]
    one = paired_difference([a], [b], "scratch_recall", n_boot=200)
    assert one == paired_difference(a, b, "scratch_recall", n_boot=200)
    with pytest.raises(ValueError, match="same images"):
        paired_difference([a, model([4, 4])], b, "scratch_recall")
    with pytest.raises(ValueError, match="at least one"):
        paired_difference([], b, "scratch_recall")


def test_an_evaluation_survives_its_table():
    from heatsink.evaluate import Evaluation

    truth = np.zeros((16, 16), np.uint8)
    truth[10, 1:12], truth[2:6, 2:6] = 1, 2
    pred = truth.copy()
    pred[10, 6:12] = 0
    ev = evaluate_masks([("a", truth, pred), ("b", truth, truth)], reference="truth")
    back = Evaluation.from_table(ev.to_table(), "truth")
    assert back.ids == ev.ids and np.array_equal(back.confusions, ev.confusions)
    assert back.summary().equals(ev.summary())
    assert back.bootstrap(n_boot=20).equals(ev.bootstrap(n_boot=20))


def test_flips_average_the_model_over_each_frame_and_its_three_flips():
    """``Predictor(flips=True)`` equals the mean of the model run on each flipped frame, flipped
    back, for a Keras model and for a callable (the exported models' path); a model that is
    not symmetric gives another answer than without flips."""
    import pytest
    import tensorflow as tf

    from heatsink.models.predict import Predictor

    tf.keras.utils.set_random_seed(0)
    inputs = tf.keras.Input((None, None, 3))
    model = tf.keras.Model(inputs, tf.keras.layers.Softmax()(
        tf.keras.layers.Conv2D(3, 3, padding="same")(inputs)))
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    plain = Predictor(model, 32).probabilities

    def flip(x, axes):
        return np.ascontiguousarray(np.flip(x, axes)) if axes else x

    views = [(), (2,), (1,), (1, 2)]
    expected = np.mean([flip(plain(flip(frames, a)), a) for a in views], axis=0)
    flipped = Predictor(model, 32, flips=True).probabilities(frames)
    np.testing.assert_allclose(flipped, expected, atol=1e-6)
    assert np.abs(flipped - plain(frames)).max() > 1e-3
    exported = Predictor(lambda x: model(x, training=False).numpy(), 32, classes=3, flips=True)
    np.testing.assert_allclose(exported.probabilities(frames), expected, atol=1e-6)
    assert Predictor(model, 32, flips=True).masks(frames).shape == (3, 32, 32)
    with pytest.raises(ValueError):
        Predictor(model, 32, batch_size=0, flips=True)
