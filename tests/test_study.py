"""The study runner: every notebook runs in smoke mode on a small twin and is stamped.

These tests execute the real notebooks through papermill, so they also prove that every
chapter's cells run on fresh data.
"""

import json
import os
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from heatsink.data import load_dataset
from heatsink.errors import HeatsinkError
from heatsink.study import paths
from heatsink.study import runner as study
from heatsink.synth import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_twin(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("twin") / "twin", n=40, seed=1, progress=False)


@pytest.fixture(scope="module")
def smoke_run(small_twin, tmp_path_factory):
    out = tmp_path_factory.mktemp("executed")
    runs = study.run_study(profile="smoke", data=small_twin, output_dir=out, progress=False)
    return out, runs


def test_every_notebook_ran_and_is_stamped(small_twin, smoke_run):
    out, runs = smoke_run
    names = [s.stem for s in study.notebook_sources()]
    assert [r.name for r in runs] == names and all(r.status == "ran" for r in runs)
    checksum = load_dataset(small_twin).checksum
    for name in names:
        nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
        record = nb.metadata["heatsink"]
        assert record["dataset"]["checksum"] == checksum
        assert "synthetic twin" in record["dataset"]["name"]
        assert record["parameters"]["profile"] == "smoke"
        assert "data" not in record["parameters"]  # where the data is, not what ran
        if name == "01_exploration":  # the smoke override, and a default kept as it was
            assert record["parameters"]["n_examples"] == 4 and record["parameters"]["seed"] == 0
        assert record["git_sha"] and record["hardware"]["cores"] >= 1
        assert record["wall_time_s"] > 0
        first = nb.cells[0]
        assert study.RECORD_TAG in first.metadata["tags"]
        assert checksum[:16] in first.source and "synthetic twin" in first.source
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert errors == []
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert injected and "smoke" in injected[0].source
    times = pd.read_csv(out / "results" / "twin" / "chapters.csv", index_col="notebook")
    assert times.index.tolist() == names  # the results folder says how long each chapter took
    assert (times["wall_time_s"] > 0).all() and times["hardware"].str.contains("cores").all()


def test_split_manifest_written_under_the_output_not_the_repo(smoke_run):
    out, _ = smoke_run
    split = (out / "results" / "twin" / "split.csv").read_text().splitlines()
    assert split[0].startswith("image_id") and len(split) == 41


def test_same_run_is_skipped(small_twin, smoke_run):
    out, _ = smoke_run
    before = {p: p.stat().st_mtime_ns for p in out.glob("*.ipynb")}
    runs = study.run_study(profile="smoke", data=small_twin, output_dir=out, progress=False)
    assert all(r.status == "skipped" for r in runs)
    assert {p: p.stat().st_mtime_ns for p in out.glob("*.ipynb")} == before


def test_a_second_baseline_run_with_the_same_seed_reproduces_the_first(small_twin, smoke_run,
                                                                     tmp_path):
    """Reproducibility: chapter 3 executed again from scratch (fresh runs folder, so the
    model is retrained) gives the same training curve and the same validation scores, to
    within 1e-6 (the tolerance the book states; deterministic TensorFlow ops make it 0 on
    one machine)."""
    import pandas as pd

    out, _ = smoke_run
    again = tmp_path / "again"
    (run,) = study.run_study(profile="smoke", data=small_twin, only=["03_baseline"],
                             output_dir=again, progress=False)
    assert run.status == "ran"
    first, second = (json.loads((d / "results" / "twin" / "models" / "unet-val.json")
                                .read_text()) for d in (out, again))
    for ref in first["scores"]:
        a, b = pd.Series(first["scores"][ref]), pd.Series(second["scores"][ref])
        pd.testing.assert_series_equal(a, b, check_exact=False, atol=1e-6, rtol=0)
    curves = [pd.read_csv(d / "results" / "twin" / "models" / "unet-history.csv")
              for d in (out, again)]
    for column in ("loss", "val_loss", "accuracy", "val_accuracy"):
        pd.testing.assert_series_equal(curves[0][column], curves[1][column],
                                       check_exact=False, atol=1e-6, rtol=0)


def test_an_earlier_chapter_executed_again_makes_the_later_ones_stale(small_twin, smoke_run):
    out, _ = smoke_run
    first = out / "01_exploration.ipynb"
    nb = nbformat.read(first, as_version=4)
    nb.metadata["heatsink"]["key"] = "executed with other inputs"  # as after a re-execution
    nbformat.write(nb, first)
    again = ["02_imbalance", "03_baseline"]
    runs = study.run_study(profile="smoke", data=small_twin, output_dir=out, progress=False,
                           only=again[:1])
    assert [r.status for r in runs] == ["ran"]  # chapter 1 changed under it
    runs = study.run_study(profile="smoke", data=small_twin, output_dir=out, progress=False,
                           only=again[:1])
    assert [r.status for r in runs] == ["skipped"]
    # chapter 1 executed again: chapter 2 (last run against the changed chapter 1) is stale;
    # chapter 3 sees the same chapters 1 and 2 it last ran after, and is skipped
    runs = study.run_study(profile="smoke", data=small_twin, output_dir=out, progress=False,
                           only=["01_exploration", *again])
    assert [r.status for r in runs] == ["ran", "ran", "skipped"]


def test_failing_notebook_names_the_cell_and_keeps_the_old_output(small_twin, tmp_path):
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    (nb_dir / "profiles.yaml").write_text("smoke:\n  twin_size: 4\n  notebooks: {}\n")
    (nb_dir / "01_broken.py").write_text(
        "# %% tags=[\"parameters\"]\nprofile = 'full'\ndata = None\nresults = None\n\n"
        "# %%\nraise RuntimeError('deliberate failure')\n"
    )
    old = nb_dir / "01_broken.ipynb"
    old.write_text(json.dumps({"old": True}))
    with pytest.raises(HeatsinkError, match=r"01_broken\.py: cell .* deliberate failure"):
        study.run_study(profile="smoke", data=small_twin, notebook_dir=nb_dir, progress=False)
    assert json.loads(old.read_text()) == {"old": True}
    assert sorted(p.name for p in nb_dir.iterdir()) == ["01_broken.ipynb", "01_broken.py",
                                                        "profiles.yaml"]


def test_unknown_profile_and_notebook_are_clear_errors(small_twin):
    with pytest.raises(HeatsinkError, match="unknown profile 'huge'"):
        study.run_study(profile="huge", data=small_twin, progress=False)
    with pytest.raises(HeatsinkError, match="no such notebook"):
        study.run_study(profile="smoke", data=small_twin, only=["99_nothing"], progress=False)


def test_the_study_names_its_outputs_to_git_only_while_it_runs(small_twin, monkeypatch):
    """The variable reaches the kernels; after the run (or its failure) the caller's value is
    back, so a later run record in the same process counts the notebooks as code again."""
    from heatsink.provenance import GIT_EXCLUDE_VARIABLE

    monkeypatch.delenv(GIT_EXCLUDE_VARIABLE, raising=False)
    with pytest.raises(HeatsinkError, match="no such notebook"):
        study.run_study(profile="smoke", data=small_twin, only=["99_nothing"], progress=False)
    assert GIT_EXCLUDE_VARIABLE not in os.environ
    monkeypatch.setenv(GIT_EXCLUDE_VARIABLE, "mine")
    with pytest.raises(HeatsinkError, match="no such notebook"):
        study.run_study(profile="smoke", data=small_twin, only=["99_nothing"], progress=False)
    assert os.environ[GIT_EXCLUDE_VARIABLE] == "mine"


def test_notebook_defaults_reads_the_parameters_cell():
    import jupytext

    nb = jupytext.reads(
        '# %% tags=["parameters"]\nprofile = "full"  # comment\nn = 12\nsizes = (256, 320)\n'
        "path = None\nderived = n * 2\n\n# %%\nx = 1\n",
        fmt="py:percent",
    )
    assert study.notebook_defaults(nb) == {
        "profile": "full", "n": 12, "sizes": (256, 320), "path": None, "derived": "n * 2"
    }


def test_portable_path(tmp_path, monkeypatch):
    inside = paths.repo_dir() / "results" / "twin"
    assert study.portable_path(inside, paths.notebook_dir()) == "../results/twin"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert study.portable_path(tmp_path / "cache" / "twin", tmp_path) == "~/cache/twin"
    assert study.portable_path(Path("/opt/data"), tmp_path) == "/opt/data"


def test_path_parameters_name_the_same_folder_from_the_notebooks_folder(tmp_path, monkeypatch):
    """results/runs/executed reach a notebook as strings it wraps in ``Path``: a ``~/...``
    form would name a folder called ``~`` beside the notebook (it once did, for the runs)."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for target in (tmp_path / "cache" / "runs" / "twin", paths.repo_dir() / "results" / "twin",
                   Path("/opt/models")):
        given = study.portable_path(target, paths.notebook_dir(), home=False)
        assert not given.startswith("~")
        assert (paths.notebook_dir() / given).resolve() == target.resolve()


def test_trained_models_live_outside_the_clone_unless_told(tmp_path, monkeypatch):
    twin, real = tmp_path / "twin-data", tmp_path / "real-data"
    twin.mkdir()
    (twin / "twin.json").write_text("{}")
    monkeypatch.delenv("HEATSINK_RUNS", raising=False)
    monkeypatch.setenv("HEATSINK_CACHE", str(tmp_path / "cache"))
    assert paths.runs_dir(twin) == tmp_path / "cache" / "runs" / "twin"
    assert paths.runs_dir(real) == tmp_path / "cache" / "runs" / "real"
    monkeypatch.setenv("HEATSINK_RUNS", str(tmp_path / "models"))
    assert paths.runs_dir(twin) == tmp_path / "models" / "twin"
    assert paths.runs_dir(twin, tmp_path / "out") == tmp_path / "out" / "twin"


def test_tensorflow_start_up_lines_are_dropped_and_other_stderr_kept():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("import tensorflow")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text=(
            "WARNING: All log messages before absl::InitializeLog() is called are written to "
            "STDERR\nI0000 00:00:1795560415.425896   27896 port.cc:153] oneDNN custom "
            "operations are on.\nE0000 00:00:1795560418.687716   27896 cuda_platform.cc:52] "
            "failed call to cuInit\n")),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: keep me\n"),
        nbformat.v4.new_output("stream", name="stdout", text="I0000 looks like a log\n"),
    ]
    nb.cells = [cell]
    study.drop_tf_log_lines(nb)
    texts = [(o["name"], o["text"]) for o in nb.cells[0].outputs]
    assert texts == [("stderr", "UserWarning: keep me\n"), ("stdout", "I0000 looks like a log\n")]


