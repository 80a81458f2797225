"""Unfinished runs parked with the results: what is copied, that the source is only read,
and that a run restored on another machine resumes after its parked epoch."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import train_interrupted

from heatsink.errors import HeatsinkError
from heatsink.models.run import Run, TrainConfig
from heatsink.study.parked import (
    NOTE_FILE,
    PART_MB,
    drop_parked,
    epochs_done,
    park_run,
    parked_dir,
    restore_run,
)

TINY = {"model": "light", "image_size": 64, "batch_size": 4, "epochs": 3,
        "precision": "float32"}


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def unfinished(tmp_path_factory):
    from conftest import write_dataset

    from heatsink.data import load_dataset

    root = tmp_path_factory.mktemp("parked")
    ds = load_dataset(write_dataset(root / "data", n=20, size=64, parts=10))
    config = TrainConfig.from_dict(TINY)
    run_dir = root / "runs" / "plan" / "light"
    train_interrupted(config, ds, run_dir, stop_in_epoch=2)
    return ds, config, run_dir


def test_a_parked_run_resumes_after_its_parked_epoch_on_another_machine(unfinished, tmp_path,
                                                                       capsys, monkeypatch):
    from heatsink.train import train

    ds, config, run_dir = unfinished
    assert epochs_done(run_dir) == 1 and not Run(path=run_dir, config=config).finished
    before = _digest(run_dir)
    dest = parked_dir(tmp_path / "results") / "light"
    mb = park_run(run_dir, dest)
    assert _digest(run_dir) == before  # only read
    assert mb is not None and 0 < mb < 24
    note = json.loads((dest / NOTE_FILE).read_text())
    assert note["epochs"] == 1 and note["split"] == "split.csv" and note["mb"] == round(mb, 2)
    assert not (dest / "last.keras").exists() and any((dest / "backup").rglob("*.index"))
    # no parked file over the repository's 5 MiB limit: the light net's resume state (one
    # file of about 13.5 MB with Adam's moments) is parked in parts
    assert max(p.stat().st_size for p in dest.rglob("*") if p.is_file()) <= PART_MB * 2**20
    assert any(name.startswith("backup/") and n >= 3 for name, n in note["parts"].items())

    # a new machine: no runs folder, only the parked copy
    elsewhere = tmp_path / "elsewhere" / "plan" / "light"
    parked_before = _digest(dest)
    assert restore_run(dest, elsewhere) == elsewhere
    assert _digest(dest) == parked_before
    # the resume state comes back byte for byte, with no part left over
    assert ({k: v for k, v in _digest(elsewhere).items() if k.startswith("backup/")}
            == {k: v for k, v in before.items() if k.startswith("backup/")})
    assert not any(".part" in name for name in _digest(elsewhere))
    # the best model so far, without the optimiser's state: the same predictions
    x = np.random.default_rng(0).random((1, 64, 64, 3), dtype=np.float32)
    restored_best = Run(path=elsewhere, config=config).model("best")
    assert np.allclose(restored_best(x), Run(path=run_dir, config=config).model("best")(x),
                       atol=1e-6)
    assert (elsewhere / "best.keras").stat().st_size < (run_dir / "best.keras").stat().st_size
    capsys.readouterr()
    from heatsink import train as training

    trained, original = [], training.EpochTiming.on_epoch_begin

    def counting(self, epoch, logs=None):
        trained.append(epoch)
        return original(self, epoch, logs)

    monkeypatch.setattr(training.EpochTiming, "on_epoch_begin", counting)
    run = train(config, ds, elsewhere, verbose=0, n_boot=5)
    assert "resuming after epoch 1 of 3" in capsys.readouterr().out
    assert trained == [1, 2]  # Keras took the parked state: epoch 1 is not trained again
    assert run.finished and run.history.index.tolist() == [0, 1, 2]
    # a finished run is never replaced, nor parked
    with pytest.raises(HeatsinkError, match="finished run"):
        restore_run(dest, elsewhere)
    with pytest.raises(HeatsinkError, match="not an unfinished run"):
        park_run(elsewhere, tmp_path / "again")
    assert drop_parked(tmp_path / "results", "light") and not dest.exists()
    assert not drop_parked(tmp_path / "results", "light")


def test_restore_moves_a_shorter_run_aside_and_refuses_one_as_far(unfinished, tmp_path):
    run_dir = unfinished[2]
    dest = tmp_path / "parked" / "light"
    park_run(run_dir, dest)
    target = tmp_path / "runs" / "light"
    shutil.copytree(run_dir, target)
    with pytest.raises(HeatsinkError, match="as far as"):
        restore_run(dest, target)
    # a run that started again elsewhere, with no epoch finished: kept aside, not deleted
    (target / "history.csv").unlink()
    restore_run(dest, target)
    aside = [p for p in target.parent.iterdir() if p.name.startswith("light.superseded-")]
    assert len(aside) == 1 and (aside[0] / "record.json").exists()
    assert epochs_done(target) == 1 and (target / "split.csv").exists()


def test_a_copy_over_the_limit_is_not_parked_and_nothing_is_left(unfinished, tmp_path):
    _, _, run_dir = unfinished
    dest = tmp_path / "parked" / "light"
    assert park_run(run_dir, dest, limit_mb=0.01) is None
    assert not dest.exists() and not any(dest.parent.iterdir())


def test_the_study_split_is_named_not_copied_and_comes_back_on_restore(unfinished, tmp_path):
    _, _, run_dir = unfinished
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy2(run_dir / "split.csv", results / "split.csv")
    dest = parked_dir(results) / "light"
    park_run(run_dir, dest, study_split=results / "split.csv")
    assert not (dest / "split.csv").exists()
    assert json.loads((dest / NOTE_FILE).read_text())["split"] == "../../split.csv"
    restored = restore_run(dest, tmp_path / "runs" / "light")
    assert (restored / "split.csv").read_bytes() == (run_dir / "split.csv").read_bytes()


def test_a_broken_parked_note_is_one_line_not_a_traceback(unfinished, tmp_path):
    dest = tmp_path / "parked" / "light"
    park_run(unfinished[2], dest)
    (dest / NOTE_FILE).write_text("{not json")
    with pytest.raises(HeatsinkError, match="not a parked run's note"):
        restore_run(dest, tmp_path / "runs" / "light")
    assert not (tmp_path / "runs" / "light").exists()


def test_a_missing_part_is_one_line_and_nothing_is_restored(unfinished, tmp_path):
    dest = tmp_path / "parked" / "light"
    park_run(unfinished[2], dest)
    name, n = next(iter(json.loads((dest / NOTE_FILE).read_text())["parts"].items()))
    (dest / f"{name}.part{n - 1:03d}").unlink()
    with pytest.raises(HeatsinkError, match=rf"parked in {n} parts, .*part{n - 1:03d} missing"):
        restore_run(dest, tmp_path / "runs" / "light")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
