"""Finished runs kept with the results: what is copied, what is left, and that the source
run folder is only read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from heatsink.errors import HeatsinkError
from heatsink.models.run import Run, TrainConfig
from heatsink.study.kept import NOTE_FILE, has_model, keep_run, kept_dir

TINY = {"model": "light", "image_size": 64, "batch_size": 4, "epochs": 1,
        "precision": "float32"}


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from conftest import write_dataset

    from heatsink.data import load_dataset
    from heatsink.train import train

    root = tmp_path_factory.mktemp("kept")
    ds = load_dataset(write_dataset(root / "data", n=20, size=64, parts=10))
    run = train(TrainConfig.from_dict(TINY), ds, root / "runs" / "plan" / "light",
                verbose=0, n_boot=5)
    return ds, run


def test_a_kept_run_reads_as_the_run_and_the_source_is_untouched(finished, tmp_path):
    ds, run = finished
    before = _digest(run.path)
    dest = keep_run(run.path, tmp_path / "results" / "plan" / "light")
    assert _digest(run.path) == before
    kept = Run.load(dest, ds)
    assert kept.config == run.config and kept.finished
    assert kept.evaluation("labels").summary().equals(run.evaluation("labels").summary())
    assert kept.history.equals(run.history)
    assert not (dest / "last.keras").exists() and not (dest / "backup").exists()
    note = json.loads((dest / NOTE_FILE).read_text())
    assert note["model"] == "best.keras" and has_model(dest)
    # the kept model is the best one without the optimiser's state: same predictions
    import numpy as np

    x = np.random.default_rng(0).random((1, 64, 64, 3), dtype=np.float32)
    assert np.allclose(kept.model("best")(x), run.model("best")(x), atol=1e-6)
    assert (dest / "best.keras").stat().st_size < (run.path / "best.keras").stat().st_size
    assert kept_dir(tmp_path / "results") == dest.parent


def test_a_large_model_is_left_out_and_a_copy_is_replaced_whole(finished, tmp_path,
                                                                monkeypatch):
    ds, run = finished
    dest = tmp_path / "plan" / "light"
    keep_run(run.path, dest)
    (dest / "stale.txt").write_text("from an earlier copy")

    def no_loading(self, which="best"):
        raise AssertionError("a model over the limit by its parameter count was loaded")

    # the parameter count in metrics.json already says the model is too large
    monkeypatch.setattr(Run, "model", no_loading)
    keep_run(run.path, dest, model_limit_mb=0.0)
    assert not has_model(dest) and not (dest / "stale.txt").exists()
    assert json.loads((dest / NOTE_FILE).read_text())["model"] is None
    assert Run.load(dest, ds).finished
    assert [p.name for p in dest.parent.iterdir()] == ["light"]  # no staging left


def test_an_unfinished_run_is_not_kept(finished, tmp_path):
    _, run = finished
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("config.json", "record.json", "history.csv"):
        (partial / name).write_bytes((run.path / name).read_bytes())
    with pytest.raises(HeatsinkError, match="not a finished run"):
        keep_run(partial, tmp_path / "plan" / "partial")
    assert not (tmp_path / "plan").exists() or not any((tmp_path / "plan").iterdir())


def test_the_study_split_is_named_not_copied_again(finished, tmp_path):
    _, run = finished
    shared = tmp_path / "split.csv"
    shared.write_bytes((run.path / "split.csv").read_bytes())
    dest = keep_run(run.path, tmp_path / "plan" / "a", study_split=shared)
    assert not (dest / "split.csv").exists()
    note = json.loads((dest / NOTE_FILE).read_text())
    assert note["split"] == "../../split.csv" and (dest / note["split"]).resolve() == shared
    assert note["source"] == "plan/light"  # no machine's folders in a committed file
    assert oct(dest.stat().st_mode & 0o777) == oct(0o755)
    other = tmp_path / "other.csv"
    other.write_text("image_id,split\n")
    dest = keep_run(run.path, tmp_path / "plan" / "b", study_split=other)
    assert (dest / "split.csv").read_bytes() == (run.path / "split.csv").read_bytes()
    assert json.loads((dest / NOTE_FILE).read_text())["split"] == "split.csv"
