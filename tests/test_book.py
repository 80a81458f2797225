"""The book builds from the executed notebooks in the repo, with warnings as errors."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _toc_files() -> list[str]:
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def test_every_notebook_in_the_toc_is_executed_and_says_what_data_it_ran_on():
    notebooks = [f for f in _toc_files() if f.startswith("notebooks/")]
    assert notebooks, "the book has no notebook chapters"
    for name in notebooks:
        nb = nbformat.read(REPO / f"{name}.ipynb", as_version=4)
        record = nb.metadata.get("heatsink")
        assert record, f"{name}.ipynb was not executed by the study runner"
        assert record["parameters"]["profile"] == "full", f"{name}.ipynb is not a full run"
        assert record["dataset"]["checksum"] and record["dataset"]["name"]
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.get("execution_count") for c in code), f"{name}.ipynb has unexecuted cells"


def test_executed_notebooks_are_paired_with_the_sources_that_ran():
    """Each executed .ipynb in the book, less the two cells the runner adds (the run record and
    papermill's injected parameters), converts back to exactly its jupytext .py source as it
    was at the commit its run record names: the book shows the code that produced it, even
    when the source has moved on since (`heatsink study run` re-executes stale chapters)."""
    import jupytext

    from heatsink.study.runner import RECORD_TAG

    added = {RECORD_TAG, "injected-parameters"}
    sources = [REPO / f"{name}.py" for name in _toc_files() if name.startswith("notebooks/")]
    for source in sources:
        executed = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
        sha = executed.metadata["heatsink"]["git_sha"]
        assert not sha.endswith("-dirty"), f"{source.name} ran on uncommitted code ({sha})"
        shown = subprocess.run(
            ["git", "show", f"{sha}:{source.relative_to(REPO).as_posix()}"], cwd=REPO,
            capture_output=True, text=True)
        assert shown.returncode == 0, (f"{source.name}: its run's commit {sha[:12]} is not in "
                                       f"this clone: {shown.stderr.strip()}")
        executed.cells = [c for c in executed.cells
                          if not added & set(c.metadata.get("tags", []))]
        assert jupytext.writes(executed, fmt="py:percent") == shown.stdout, (
            f"{source.name} at {sha[:12]} and its executed notebook differ: run `make study`"
        )


def test_book_builds_without_warnings(tmp_path):
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jb), "build", str(REPO), "--path-output", str(tmp_path), "--warningiserror",
         "--keep-going"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = tmp_path / "_build" / "html"
    assert (html / "index.html").exists()
    for name in _toc_files():
        assert (html / f"{name}.html").exists(), f"{name} was not rendered"
