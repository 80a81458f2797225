"""The chapters on data in the plain Kaggle layout (no truth, no adjacency, no twin.json).

In a file of its own: ``make test`` runs it on one worker while the other makes the twin's smoke
run, which the tests of ``test_study.py`` share (see ``conftest.py``).
"""

import nbformat
import pytest
import yaml

from heatsink.study import runner as study

pytestmark = pytest.mark.slow


@pytest.mark.notebooks
def test_notebooks_run_unchanged_on_data_in_the_plain_kaggle_layout(tmp_path):
    """What `make study DATA=path` does with a copy of the real data: no truth/, no
    adjacency, no twin.json; the chapters must run and say which data they ran on."""
    from conftest import write_dataset

    root = write_dataset(tmp_path / "kaggle", n=24, size=320, with_jsons=True, seed=5)
    # the chapters as they are, with the plan's smoke settings on one encoder (chapters 4
    # and 5 must agree on them): test_every_notebook_ran_and_is_stamped runs two on the twin
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    for source in study.notebook_sources():
        (nb_dir / source.name).write_text(source.read_text())
    profiles = study.load_profiles()
    for chapter in ("04_backbones", "05_label_quality"):
        profiles["smoke"]["notebooks"][chapter].update(encoders=["gslu"])
    (nb_dir / "profiles.yaml").write_text(yaml.safe_dump(profiles))
    out = tmp_path / "executed"
    runs = study.run_study(profile="smoke", data=root, output_dir=out, notebook_dir=nb_dir,
                           progress=False)
    assert all(r.status == "ran" for r in runs)
    for run in runs:
        record = nbformat.read(run.output, as_version=4).metadata["heatsink"]
        assert record["dataset"]["name"] == "heat sink dataset, 24 images"
    assert (out / "results" / "real" / "split.csv").exists()
