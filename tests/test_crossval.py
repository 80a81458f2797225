"""k-fold out-of-sample probabilities: folds keep parts together, every image is predicted
by a model that never trained on it, results are cached and refused for another setting."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from heatsink import crossval
from heatsink.data import load_dataset
from heatsink.errors import HeatsinkError
from heatsink.synth import NoiseConfig, generate
from heatsink.train import TrainConfig

TINY = TrainConfig(model="unet", image_size=64, batch_size=4, epochs=1, precision="float32",
                   model_kwargs={"filters": 4})
SMALL_FOREST = crossval.ForestConfig(size=64, sigma_max=4.0, n_sigma=2, n_estimators=5,
                                     max_depth=6, pixels_per_class_per_image=50)


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    root = tmp_path_factory.mktemp("cv") / "twin"
    generate(root, n=15, seed=3, noise=NoiseConfig(), progress=False, workers=1)
    return load_dataset(root)


def test_folds_are_balanced_and_keep_parts_together(twin):
    folds = crossval.make_folds(twin, k=3, seed=0)
    assert folds["image_id"].tolist() == twin.ids
    sizes = folds["fold"].value_counts()
    assert set(sizes.index) == {0, 1, 2}
    parts = twin.parts
    per_part = folds.assign(part=folds["image_id"].map(parts)).groupby("part")["fold"].nunique()
    assert (per_part == 1).all()
    assert crossval.make_folds(twin, k=3, seed=0).equals(folds)
    with pytest.raises(HeatsinkError, match="k-fold"):
        crossval.make_folds(twin, k=1)


def test_fold_split_holds_out_the_fold_and_validates_on_the_rest(twin):
    folds = crossval.make_folds(twin, k=3, seed=0)
    for f in range(3):
        split = crossval.fold_split(twin, folds, f)
        held = set(folds.loc[folds["fold"] == f, "image_id"])
        assert set(split.loc[split["split"] == "test", "image_id"]) == held
        assert (split["split"] == "val").sum() >= 1
        assert not held & set(split.loc[split["split"] != "test", "image_id"])


def test_out_of_sample_predicts_each_image_once_and_is_reused(twin, tmp_path):
    path = tmp_path / "cv"
    oos = crossval.out_of_sample(twin, TINY, path, k=3, verbose=0, n_boot=10)
    probs = oos.probabilities()
    assert probs.shape == (len(twin), 320, 320, 3)
    assert np.allclose(probs.sum(axis=-1), 1, atol=1e-2)
    assert oos.predictions().shape == (len(twin), 320, 320)
    folds = oos.fold_metrics()
    assert len(folds) == 3 and (folds["epochs_trained"] == TINY.epochs).all()
    assert (folds["train_hours"] > 0).all()
    # each fold model's split never contains the images it predicted
    for f in range(3):
        split = pd.read_csv(path / f"fold-{f}" / "split.csv", dtype={"image_id": str})
        trained_on = set(split.loc[split["split"] != "test", "image_id"])
        held = set(oos.folds.loc[oos.folds["fold"] == f, "image_id"])
        assert not trained_on & held
    # the held-out probabilities are those of the fold's own model
    from heatsink.models import Run
    from heatsink.models.predict import predict_probabilities

    f0 = oos.folds.loc[oos.folds["fold"] == 0, "image_id"].tolist()
    model = Run.load(path / "fold-0").model("best")
    first = next(predict_probabilities(model, twin, f0[:1], TINY.image_size))[1]
    assert np.allclose(probs[twin.ids.index(f0[0])], first, atol=2e-3)
    # reuse: a second call trains nothing and returns the same numbers
    stamp = (path / "fold-1" / "oos_probs.npy").stat().st_mtime_ns
    again = crossval.out_of_sample(twin, TINY, path, k=3, verbose=0)
    assert (path / "fold-1" / "oos_probs.npy").stat().st_mtime_ns == stamp
    assert np.array_equal(again.probabilities(), probs)
    # another setting in the same folder is refused
    with pytest.raises(HeatsinkError, match="another setting"):
        crossval.out_of_sample(twin, TINY, path, k=4, verbose=0)
    assert json.loads((path / "crossval.json").read_text())["k"] == 3


def test_forest_gives_out_of_sample_probabilities(twin, tmp_path):
    oos = crossval.forest_out_of_sample(twin, tmp_path / "forest", SMALL_FOREST, k=3)
    probs = oos.probabilities()
    assert probs.shape == (len(twin), 320, 320, 3)
    assert np.allclose(probs.sum(axis=-1), 1, atol=1e-2)
    assert oos.fold_metrics().empty
    assert oos.config["model"] == "pixel_forest"
    # every image is predicted by exactly one fold's forest, one trained without its fold
    assert sorted(oos.folds["image_id"]) == sorted(twin.ids)
    assert sorted(p.name for p in (tmp_path / "forest").glob("fold-*")) == [
        "fold-0", "fold-1", "fold-2"]
    # and the probabilities carry signal: stain is more probable on the pixels labelled
    # stain than on background pixels (this tiny forest, 64² and 5 shallow trees, finds no
    # signal in the twin's faint scratches, so they are not required here)
    labels = np.stack([twin.mask(i) for i in twin.ids])
    on_stain = probs[..., 2][labels == 2].astype(float).mean()
    on_background = probs[..., 2][labels == 0].astype(float).mean()
    assert on_stain > 1.5 * on_background, (on_stain, on_background)
