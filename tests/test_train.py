"""Training: configuration checks, losses, precision choice, resume after a kill, reuse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heatsink.errors import HeatsinkError
from heatsink.models.losses import make_loss
from heatsink.models.run import Run, TrainConfig
from heatsink.train import resolve_precision

TINY = {"model": "unet", "image_size": 64, "batch_size": 4, "epochs": 1,
        "precision": "float32", "model_kwargs": {"filters": 4}}


def test_config_refuses_typos_and_bad_values():
    with pytest.raises(HeatsinkError, match="unknown training option"):
        TrainConfig.from_dict({"epochz": 3})
    with pytest.raises(HeatsinkError, match="unknown model"):
        TrainConfig(model="unet3")
    with pytest.raises(HeatsinkError, match="unknown loss"):
        TrainConfig(loss="cce+l2")
    with pytest.raises(HeatsinkError, match="multiple of 32"):
        TrainConfig(image_size=300)
    assert TrainConfig.from_dict(TrainConfig(loss="wcce+dice").to_dict()).loss == "wcce+dice"


def test_losses_have_their_worked_values_and_weighted_ce_needs_weights():
    import math

    import numpy as np
    import tensorflow as tf

    # four pixels (background, scratch, stain, background), each predicted 1/3 per class;
    # segmentation-models averages each term over pixels *and* classes
    y = tf.one_hot([[0, 1], [2, 0]], 3)[None]
    p = tf.fill(y.shape, 1 / 3)
    loss = {name: float(make_loss(name)(y, p)) for name in ("cce", "dice", "focal", "cce+dice")}
    assert loss["cce"] == pytest.approx(math.log(3) / 3, rel=1e-6)
    # Dice per class 2·tp / (2·tp + fp + fn): background 0.4, scratch and stain 2/7 each
    assert loss["dice"] == pytest.approx(1 - (0.4 + 2 / 7 + 2 / 7) / 3, rel=1e-5)
    # focal: α (1 − p)^γ · cross-entropy with α = 0.25, γ = 2
    assert loss["focal"] == pytest.approx(0.25 * (2 / 3) ** 2 * math.log(3) / 3, rel=1e-6)
    assert loss["cce+dice"] == pytest.approx(loss["cce"] + loss["dice"], rel=1e-6)
    heavy = float(make_loss("wcce", np.array([1.0, 10.0, 10.0]))(y, p))
    assert heavy == pytest.approx(math.log(3) * (1 + 10 + 10 + 1) / 12, rel=1e-6)
    with pytest.raises(HeatsinkError, match="class weights"):
        make_loss("wcce")


def test_precision_auto_follows_the_cpu(monkeypatch):
    import heatsink.hardware as hw

    monkeypatch.setattr(hw, "has_bf16", lambda: True)
    assert resolve_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(hw, "has_bf16", lambda: False)
    assert resolve_precision("auto") == "float32"
    assert resolve_precision("mixed_bfloat16") == "mixed_bfloat16"


def test_best_checkpoint_keeps_the_best_epoch_and_saves_each_model_once(tmp_path):
    import json

    import numpy as np
    import tensorflow as tf

    from heatsink.models import load_model
    from heatsink.train import BestCheckpoint

    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    checkpoint = BestCheckpoint(tmp_path, "val_defect_iou")
    checkpoint.set_model(model)
    for epoch, value in enumerate([0.5, 0.3, float("nan"), 0.7, 0.6]):
        model.set_weights([np.full((2, 1), epoch, "float32"), np.zeros(1, "float32")])
        checkpoint.on_epoch_end(epoch, {"val_defect_iou": value})
        best, last = tmp_path / "best.keras", tmp_path / "last.keras"
        assert load_model(last).get_weights()[0][0, 0] == epoch
        best_epoch = json.loads((tmp_path / "best.json").read_text())["epoch"] - 1
        assert best_epoch == {0: 0, 1: 0, 2: 0, 3: 3, 4: 3}[epoch]
        assert load_model(best).get_weights()[0][0, 0] == best_epoch
        assert best.samefile(last) == (best_epoch == epoch)  # one copy when best is last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.json", "best.keras",
                                                          "last.keras"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from conftest import write_dataset

    return write_dataset(tmp_path_factory.mktemp("tiny") / "data", n=20, size=64, parts=10)


def test_train_writes_a_complete_run_and_reuses_it(tiny_data, tmp_path):
    from heatsink.data import load_dataset
    from heatsink.train import train

    ds = load_dataset(tiny_data)
    config = TrainConfig.from_dict(TINY)
    run = train(config, ds, tmp_path / "run", verbose=0, n_boot=20)
    for name in ("config.json", "record.json", "split.csv", "history.csv", "best.keras",
                 "last.keras", "metrics.json", "confusion.csv", "val-per-image-labels.csv"):
        assert (run.path / name).exists(), name
    metrics = run.metrics
    assert metrics["precision"] == "float32"
    # the config records the architecture built, defaults included, and still loads
    import json

    from heatsink.models import Run
    from heatsink.models.registry import builder_kwargs

    saved = json.loads((run.path / "config.json").read_text())
    assert saved["architecture"] == builder_kwargs(config.model, **config.model_kwargs)
    assert set(config.model_kwargs) < set(saved["architecture"])
    assert Run.load(run.path).config == config
    assert set(metrics["scores"]) == {"labels"}  # no clean truth in this data
    # the validation split is scored once: its per-image counts give back the stored scores,
    # and they are those of predicting the validation images again
    from heatsink.evaluate import evaluate_predictions
    from heatsink.models import predict_masks

    stored = run.evaluation("labels")
    assert stored.summary().to_dict() == pytest.approx(metrics["scores"]["labels"], nan_ok=True)
    again = evaluate_predictions(predict_masks(run.model("best"), ds, stored.ids,
                                               config.image_size), ds)["labels"]
    assert np.array_equal(again.confusions, stored.confusions)
    with pytest.raises(HeatsinkError, match="no per-image validation scores against the truth"):
        run.evaluation("truth")
    assert metrics["parameters"] > 0
    assert run.record["dataset"]["checksum"] == ds.checksum
    mtime = (run.path / "best.keras").stat().st_mtime
    again = train(config, ds, tmp_path / "run", verbose=0)
    assert (again.path / "best.keras").stat().st_mtime == mtime  # reused, not retrained
    with pytest.raises(HeatsinkError, match="another configuration"):
        train(TrainConfig.from_dict({**TINY, "epochs": 2}), ds, tmp_path / "run")
    assert Run.load(run.path).config == config
    from conftest import write_dataset

    other = load_dataset(write_dataset(tmp_path / "other", n=20, size=64, parts=10, seed=1))
    with pytest.raises(HeatsinkError, match=rf"run.* trained on other data \(checksum "
                                            rf"{ds.checksum[:12]}, this data "
                                            rf"{other.checksum[:12]}\)"):
        train(config, other, tmp_path / "run", verbose=0)  # not silently reused


def test_a_folder_another_process_trains_in_is_refused_until_it_is_free(tiny_data, tmp_path):
    from heatsink.data import load_dataset
    from heatsink.io import exclusive_folder
    from heatsink.train import train

    ds = load_dataset(tiny_data)
    config = TrainConfig.from_dict(TINY)
    with exclusive_folder(tmp_path / "run", "training a model"):  # as another process would
        with pytest.raises(HeatsinkError, match=rf"pid {os.getpid()}\) is training a model"):
            train(config, ds, tmp_path / "run", verbose=0, n_boot=5)
        assert not (tmp_path / "run" / "config.json").exists()  # nothing touched
    assert train(config, ds, tmp_path / "run", verbose=0, n_boot=5).finished


def test_a_run_killed_while_checkpointing_redoes_that_epoch(tiny_data, tmp_path, monkeypatch):
    from heatsink import train as training
    from heatsink.data import load_dataset

    ds = load_dataset(tiny_data)
    config = TrainConfig.from_dict({**TINY, "epochs": 3})
    save = training.BestCheckpoint.on_epoch_end

    def killed_in_epoch_2(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("killed while saving epoch 2's checkpoints")
        save(self, epoch, logs)

    monkeypatch.setattr(training.BestCheckpoint, "on_epoch_end", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        training.train(config, ds, tmp_path / "run", verbose=0, n_boot=5)
    monkeypatch.setattr(training.BestCheckpoint, "on_epoch_end", save)
    run = training.train(config, ds, tmp_path / "run", verbose=0, n_boot=5)
    assert list(run.history.index) == [0, 1, 2]  # epoch 2 redone, not skipped
    assert run.metrics["best_epoch"] in (1, 2, 3)


def test_same_seed_gives_the_same_training(tiny_data, tmp_path):
    from heatsink.data import load_dataset
    from heatsink.train import train

    ds = load_dataset(tiny_data)
    config = TrainConfig.from_dict(TINY)
    a = train(config, ds, tmp_path / "a", verbose=0, n_boot=10).history
    b = train(config, ds, tmp_path / "b", verbose=0, n_boot=10).history
    pd.testing.assert_series_equal(a["loss"], b["loss"])
    pd.testing.assert_series_equal(a["val_loss"], b["val_loss"])


def _train_command(data: Path, run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "heatsink.cli", "train", "--data", str(data),
            "--run-dir", str(run_dir), "--epochs", "3", "--size", "320", "--filters", "8",
            "--batch-size", "2", "--precision", "float32"]


def test_heatsink_train_killed_in_epoch_2_resumes_at_epoch_2(make_dataset, tmp_path):
    data = make_dataset(n=24, parts=12)
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(_train_command(data, run_dir), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env,
                             start_new_session=True)
    history = run_dir / "history.csv"
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(first.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first.poll() is None:
        if any("Epoch 2/3" in line for line in lines):  # epoch 1 is done and logged
            break
        time.sleep(0.02)
    time.sleep(0.5)  # into epoch 2, which takes several seconds here
    assert first.poll() is None, "training finished before it could be killed"
    os.killpg(first.pid, signal.SIGKILL)  # as a session end or an out-of-memory kill would
    first.wait()
    reader.join(timeout=10)
    assert any("Epoch 2/3" in line for line in lines)
    assert not (run_dir / "metrics.json").exists()
    assert len(pd.read_csv(history)) == 1

    second = subprocess.run(_train_command(data, run_dir), capture_output=True, text=True,
                            env=env, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resuming after epoch 1 of 3" in second.stdout
    assert "Epoch 1/3" not in second.stdout and "Epoch 2/3" in second.stdout
    assert Run.load(run_dir).history.index.tolist() == [0, 1, 2]
    assert (run_dir / "metrics.json").exists()


def test_heatsink_train_reports_bad_options_in_one_line(tmp_path, make_dataset):
    data = make_dataset(n=4)
    config = tmp_path / "bad.yaml"
    config.write_text("epochz: 3\n")
    proc = subprocess.run([sys.executable, "-m", "heatsink.cli", "train", "--data", str(data),
                           "--run-dir", str(tmp_path / "r"), "--config", str(config)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown training option(s) ['epochz']" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "heatsink.cli", "train", "--data", str(data),
                           "--run-dir", str(tmp_path / "r"), "--precise-bn", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    said = [line for line in proc.stderr.splitlines() if line.startswith("heatsink:")]
    assert said == ["heatsink: error: precise_bn must be a number of frames >= 1 or null, "
                    "not 0"]
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_loading_a_run_for_other_data_is_refused(tiny_data, tmp_path):
    from conftest import write_dataset

    from heatsink.data import load_dataset
    from heatsink.train import train

    ds = load_dataset(tiny_data)
    run = train(TrainConfig.from_dict(TINY), ds, tmp_path / "run", verbose=0, n_boot=5)
    assert Run.load(run.path, ds).config == run.config
    other = load_dataset(write_dataset(tmp_path / "other", n=20, size=64, parts=10, seed=1))
    with pytest.raises(HeatsinkError, match="trained on other data"):
        Run.load(run.path, other)
    assert Run.load(run.path).path == run.path  # without data, nothing to check


def test_training_options_for_two_cores_are_checked():
    with pytest.raises(HeatsinkError, match="crop must be a multiple of 32"):
        TrainConfig(image_size=256, crop=100)
    with pytest.raises(HeatsinkError, match="crop must be a multiple of 32"):
        TrainConfig(image_size=256, crop=288)
    with pytest.raises(HeatsinkError, match="schedule must be one of"):
        TrainConfig(schedule="step")
    with pytest.raises(HeatsinkError, match="patience must be at least 1"):
        TrainConfig(patience=0)
    assert TrainConfig(crop=128, schedule="cosine", patience=5).crop == 128


def test_crops_cut_the_same_window_from_image_and_mask(tiny_data):
    from heatsink.data import load_dataset
    from heatsink.data.pipeline import make_tf_dataset

    ds = load_dataset(tiny_data)
    ids = ds.ids[:4]
    data = make_tf_dataset(ds, ids, size=64, batch_size=4, crop=32, onehot=False, seed=3)
    images, masks = next(iter(data))
    assert images.shape == (4, 32, 32, 3) and masks.shape == (4, 32, 32, 1)
    for k, image_id in enumerate(ids):  # each crop is a window of the whole image
        whole = ds.image(image_id).astype(np.float32) / 255
        crop = images[k].numpy()
        hits = [(y, x) for y in range(33) for x in range(33)
                if np.allclose(whole[y:y + 32, x:x + 32], crop)]
        assert hits, image_id
        y, x = hits[0]
        assert np.array_equal(ds.mask(image_id)[y:y + 32, x:x + 32], masks[k, ..., 0].numpy())
    again = next(iter(make_tf_dataset(ds, ids, size=64, batch_size=4, crop=32, onehot=False,
                                      seed=3)))[0]
    assert np.array_equal(images.numpy(), again.numpy())  # reproducible from the seed


def test_early_stopping_counts_from_the_best_epoch_on_disk(tmp_path):
    import json
    from types import SimpleNamespace

    from heatsink.train import StopWhenStale

    stop = StopWhenStale(tmp_path, patience=2)
    stop.set_model(SimpleNamespace(stop_training=False))
    stop.on_epoch_end(0)  # no best yet: go on
    assert not stop.model.stop_training
    (tmp_path / "best.json").write_text(json.dumps({"epoch": 3, "value": 0.4}))
    stop.on_epoch_end(3)  # epoch 4, one epoch after the best
    assert not stop.model.stop_training
    # a fresh callback, as after a resume, reads the same count back
    resumed = StopWhenStale(tmp_path, patience=2)
    resumed.set_model(SimpleNamespace(stop_training=False))
    resumed.on_epoch_end(4)  # epoch 5: two epochs without gain
    assert resumed.model.stop_training
    # with min_epochs, not before then, however stale
    early = StopWhenStale(tmp_path, patience=2, min_epochs=8)
    early.set_model(SimpleNamespace(stop_training=False))
    early.on_epoch_end(6)  # epoch 7: four epochs without gain, but under 8
    assert not early.model.stop_training
    early.on_epoch_end(7)  # epoch 8
    assert early.model.stop_training
    with pytest.raises(HeatsinkError, match="min_epochs must be between 1 and epochs"):
        TrainConfig(epochs=10, min_epochs=11)


def test_cosine_schedule_decays_to_one_percent():
    from heatsink.train import learning_rate

    constant = learning_rate(TrainConfig(learning_rate=1e-3), steps_per_epoch=10)
    assert constant == 1e-3
    cosine = learning_rate(TrainConfig(learning_rate=1e-3, schedule="cosine", epochs=4), 10)
    assert float(cosine(0)) == pytest.approx(1e-3)
    assert float(cosine(20)) == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5), rel=1e-4)
    assert float(cosine(40)) == pytest.approx(1e-5, rel=1e-3)


def test_a_run_on_crops_with_a_schedule_and_patience_trains_and_says_when_it_stopped(
        tiny_data, tmp_path):
    from heatsink.data import load_dataset
    from heatsink.train import train

    ds = load_dataset(tiny_data)
    config = TrainConfig.from_dict({**TINY, "epochs": 4, "crop": 32, "schedule": "cosine",
                                    "patience": 1})
    run = train(config, ds, tmp_path / "run", verbose=0, n_boot=10)
    metrics = run.metrics
    best = metrics["best_epoch"]
    assert metrics["epochs_trained"] == len(run.history)
    # it stops one epoch after its best, or runs all 4 epochs
    assert metrics["epochs_trained"] == min(4, (best or 0) + 1)
    assert metrics["stopped_early"] == (metrics["epochs_trained"] < 4)
    assert run.evaluation("labels").confusions.shape[1:] == (3, 3)  # whole frames scored


def test_training_validates_and_checkpoints_with_precise_statistics(tiny_data, tmp_path):
    import tensorflow as tf

    from heatsink.classes import CLASS_NAMES
    from heatsink.data import load_dataset, load_split
    from heatsink.models.fitting import validation_batches
    from heatsink.models.losses import make_loss
    from heatsink.models.precise_bn import PreciseStatistics, batchnorm_layers, precise_frames
    from heatsink.train import train

    ds = load_dataset(tiny_data)
    # the light net (the seed's U-Net has no batch norm)
    config = TrainConfig.from_dict({**TINY, "model": "light", "model_kwargs": {}, "epochs": 2,
                                    "precise_bn": 8})
    run = train(config, ds, tmp_path / "run", verbose=0, n_boot=5)
    history = run.history
    assert len(history) == 2 and history["val_defect_iou"].notna().all()
    split = load_split(run.path / "split.csv", ds)
    ids = {name: split.loc[split["split"] == name, "image_id"].astype(str).tolist()
           for name in ("train", "val")}
    last = run.model("last")
    layers = batchnorm_layers(last)
    saved = [layer.moving_variance.numpy().copy() for layer in layers]
    # the checkpoint holds the precise statistics of its weights on the seeded frames:
    # computing them again changes nothing (without the pass, the checkpoint's moving
    # averages of augmented training batches differ from them by up to 48 % here)
    frames = precise_frames(ids["train"], 8, config.seed)
    assert PreciseStatistics(last)(validation_batches(config, ds, frames)) == 8
    for layer, before in zip(layers, saved, strict=True):
        assert layer.moving_variance.numpy() == pytest.approx(before, rel=1e-4, abs=1e-6)
    assert not all(np.allclose(v, 1.0, atol=0.05) for v in saved)
    # the history's last validation scores are that model's on the validation frames
    last.compile(loss=make_loss("cce"), metrics=[
        tf.keras.metrics.CategoricalAccuracy(name="accuracy"),
        tf.keras.metrics.OneHotIoU(num_classes=len(CLASS_NAMES), target_class_ids=[1, 2],
                                   name="defect_iou")])
    scores = last.evaluate(validation_batches(config, ds, ids["val"]), verbose=0,
                           return_dict=True)
    for name in ("loss", "accuracy", "defect_iou"):
        assert scores[name] == pytest.approx(history[f"val_{name}"].iloc[-1], rel=1e-4,
                                             abs=1e-6), name


def test_a_folder_of_someone_elses_files_is_never_trained_into(tiny_data, tmp_path, capsys):
    from heatsink.cli import main

    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    before = {"best.keras": b"my own model", "last.keras": b"my other model",
              "history.csv": b"epoch,loss\n0,9\n"}
    for name, data in before.items():
        (run_dir / name).write_bytes(data)
    code = main(["train", "--data", str(tiny_data), "--run-dir", str(run_dir), "--size", "64",
                 "--epochs", "1", "--filters", "4", "--precision", "float32", "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"{run_dir}: holds files that are not a recorded training run" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # untouched


@pytest.mark.parametrize(("flags", "words"), [
    (["--lr", "-1"], "learning_rate must be a finite number > 0"),
    (["--lr", "nan"], "learning_rate must be a finite number > 0"),
    (["--size", "0"], "image_size must be a positive multiple of 32"),
    (["--size", "-64"], "image_size must be a positive multiple of 32"),
])
def test_bad_training_values_are_refused_before_anything_is_written(tiny_data, tmp_path, capsys,
                                                                     flags, words):
    from heatsink.cli import main

    run_dir = tmp_path / "run"
    code = main(["train", "--data", str(tiny_data), "--run-dir", str(run_dir), "-q", *flags])
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err
    assert not run_dir.exists()


def test_a_config_alias_bomb_is_refused_at_once(tiny_data, tmp_path, capsys):
    from heatsink.cli import main

    config = tmp_path / "bomb.yaml"
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for key, previous in zip("bcdefghi", "abcdefgh", strict=True):
        text += f"{key}: &{key} [{','.join([f'*{previous}'] * 9)}]\n"
    config.write_text(text)
    started = time.monotonic()
    code = main(["train", "--data", str(tiny_data), "--run-dir", str(tmp_path / "run"),
                 "--config", str(config), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - started < 5
    assert f"{config}: not valid YAML" in err and len(err) < 500


def test_a_dataset_too_small_to_split_leaves_nothing_that_blocks_a_rerun(make_dataset,
                                                                          tmp_path):
    from heatsink.data import load_dataset
    from heatsink.models.run import foreign_files
    from heatsink.train import train

    ds = load_dataset(make_dataset(n=1, size=64))
    run_dir = tmp_path / "run"
    with pytest.raises(HeatsinkError, match="the split needs train and val images"):
        train(TrainConfig.from_dict(TINY), ds, run_dir, verbose=0)
    assert not (run_dir / "split.csv").exists()
    assert foreign_files(run_dir) == []  # an empty folder again: a rerun may use it


@pytest.mark.parametrize("model, kwargs", [("gslu", {}), ("light", {}),
                                           ("light", {"head": "refine"}), ("vgg16", {})])
def test_prior_bias_starts_every_model_at_the_training_class_frequencies(tiny_data, model,
                                                                         kwargs):
    import tensorflow as tf

    from heatsink.data import load_dataset
    from heatsink.models.fitting import compiled_model
    from heatsink.objects import class_pixel_counts

    ds = load_dataset(tiny_data)
    ids = ds.ids[:12]
    counts = np.asarray(sum(class_pixel_counts(ds.mask(i)) for i in ids), dtype=float)
    frequencies = counts / counts.sum()
    x = np.stack([ds.image(i) for i in ids[:4]]).astype(np.float32) / 255  # 64² frames
    means = {}
    for prior in (False, True):
        tf.keras.utils.set_random_seed(0)  # the same start both times, and every run
        config = TrainConfig(model=model, loss="cce", image_size=64, prior_bias=prior,
                             precision="float32", model_kwargs=kwargs)
        net = compiled_model(config, ds, ids, 1e-3)
        means[prior] = np.asarray(net(x)).mean(axis=(0, 1, 2))
    assert np.allclose(means[True], frequencies, atol=0.01)
    assert not np.allclose(means[False], frequencies, atol=0.05)  # the default start


def test_prior_bias_refuses_frequencies_that_do_not_fit_the_logits():
    from heatsink.models import build_model
    from heatsink.models.fitting import start_at_priors

    model = build_model("unet", filters=4)
    with pytest.raises(HeatsinkError, match="positive"):
        start_at_priors(model, np.array([1.0, 0.0, 0.0]))
    with pytest.raises(HeatsinkError, match="3 logits for 2"):
        start_at_priors(model, np.array([0.9, 0.1]))
