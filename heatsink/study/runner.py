"""Run the study's notebooks through papermill and stamp each with its run record.

Each notebook in ``notebooks/`` is a jupytext percent-format ``.py`` file (the source that
diffs read) paired with an executed ``.ipynb`` (what the book renders). :func:`run_study`
executes the sources in order with the parameters of a *profile* (``notebooks/profiles.yaml``:
``full`` for the book, ``smoke`` for the tests), then writes each executed notebook atomically
with a visible first cell and a ``heatsink`` metadata entry naming the parameters, git sha,
dataset and checksum, hardware and wall time. A notebook already executed for the same source,
package code, data checksum and parameters is skipped.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from heatsink.errors import HeatsinkError
from heatsink.io import atomic_path
from heatsink.provenance import GIT_EXCLUDE_VARIABLE, code_hash, run_record
from heatsink.study import paths
from heatsink.study.paths import STUDY_OUTPUTS, repo_dir, results_dir, runs_dir
from heatsink.study.results import chapter_times

RECORD_TAG = "run-record"
#: Parameters that say where things are, not what is computed: left out of a run's identity.
PATH_PARAMETERS = ("data", "results", "runs", "executed")


@dataclass(frozen=True)
class NotebookRun:
    """What happened to one notebook: ``status`` is ``ran`` or ``skipped``."""

    name: str
    output: Path
    status: str
    wall_time_s: float


def notebook_sources(directory: Path | None = None) -> list[Path]:
    """The study's notebook sources (``NN_name.py``) in chapter order."""
    return sorted(Path(directory or paths.notebook_dir()).glob("[0-9][0-9]_*.py"))


def load_profiles(directory: Path | None = None) -> dict:
    """The parameter profiles in ``profiles.yaml`` beside the notebooks."""
    path = Path(directory or paths.notebook_dir()) / "profiles.yaml"
    try:
        profiles = yaml.safe_load(path.read_text())
    except OSError as err:
        raise HeatsinkError(f"{path}: cannot read the notebook profiles ({err})") from err
    if not isinstance(profiles, dict):
        raise HeatsinkError(f"{path}: expected a mapping of profile names")
    return profiles


def get_profile(profiles: dict, profile: str) -> dict:
    """The settings of one profile, or a clear error naming the profiles there are."""
    if profile not in profiles:
        raise HeatsinkError(f"unknown profile {profile!r}; profiles.yaml has {sorted(profiles)}")
    return profiles[profile] or {}


def profile_parameters(profile: str, name: str, profiles: dict) -> dict:
    """Parameters papermill passes to notebook ``name`` under ``profile``."""
    overrides = (get_profile(profiles, profile).get("notebooks") or {}).get(name) or {}
    return {"profile": profile, **overrides}


def run_key(
    source: Path, parameters: dict, checksum: str, upstream: dict[str, str | None] | None = None
) -> str:
    """Identity of a run: notebook source, package code, data checksum and parameters.

    ``upstream`` maps each earlier chapter to the key of its executed notebook (``None``:
    not executed). Later chapters read what earlier ones wrote (the split, the chosen
    model, result files), so a chapter re-executed with other inputs makes every later
    one stale, as in a makefile, but decided by content, not by file times.
    """
    identity = {
        "source": hashlib.sha256(source.read_bytes()).hexdigest(),
        "code": code_hash(),
        "data": checksum,
        "parameters": parameters,
    }
    if upstream:
        identity["upstream"] = upstream
    payload = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def notebook_defaults(nb) -> dict:
    """The values assigned in a notebook's ``parameters`` cell (literals only).

    Papermill records only the parameters it injects; a run record also needs the ones the
    notebook kept at their defaults, so this reads them from the cell itself.
    """
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            defaults = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target = node.targets[0]
                    if isinstance(target, ast.Name):
                        try:
                            defaults[target.id] = ast.literal_eval(node.value)
                        except ValueError:
                            defaults[target.id] = ast.unparse(node.value)
            return defaults
    return {}


def portable_path(path: Path, start: Path, home: bool = True) -> str:
    """``path`` as the executed notebook should show it: relative inside the repository,
    ``~/...`` inside the home folder, else absolute (no user's absolute paths in the book).

    With ``home=False`` a path outside the repository stays absolute: for parameters the
    notebook uses as plain ``Path`` values, where ``~`` would be a folder named ``~``.
    Only ``data`` (read through :func:`heatsink.resolve.resolve_data`, which expands
    it) may be given in the ``~/...`` form.
    """
    path = Path(path).resolve()
    repo = repo_dir()
    if path.is_relative_to(repo) and Path(start).resolve().is_relative_to(repo):
        return os.path.relpath(path, Path(start).resolve())
    user_home = Path.home().resolve()
    if home and path.is_relative_to(user_home):
        return "~/" + path.relative_to(user_home).as_posix()
    return str(path)


def _existing_key(output: Path) -> str | None:
    import nbformat

    if not output.exists():
        return None
    try:
        nb = nbformat.read(output, as_version=4)
    except Exception:  # an unreadable old output is simply rerun
        return None
    return nb.metadata.get("heatsink", {}).get("key")


def record_markdown(record: dict) -> str:
    """The visible run-record cell that opens every executed notebook."""
    data = record["dataset"]
    hw = record["hardware"]
    params = ", ".join(f"`{k}={v!r}`" for k, v in record["parameters"].items())
    bf16 = ", ".join(hw["bf16"]) or "none"
    return (
        "```{admonition} Run record\n"
        f"- **Data:** {data['name']}, checksum `{data['checksum'][:16]}`\n"
        f"- **Parameters:** {params}\n"
        f"- **Code:** git `{record['git_sha'][:12]}`\n"
        f"- **Hardware:** {hw['cpu']}, {hw['cores']} cores, {hw['memory_gib']} GiB, "
        f"bf16: {bf16}, {', '.join(hw.get('gpu') or []) or 'no GPU'}\n"
        f"- **Run:** {record['started']}, wall time {record['wall_time_s']:.0f} s\n"
        "```"
    )


#: TensorFlow's start-up chatter on stderr (absl logging before it is initialised, which no
#: environment variable silences): oneDNN notices, "no CUDA driver", cuInit failures.
TF_LOG_LINE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called.*"
    r"|[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] .*)$"
)


def drop_tf_log_lines(nb) -> None:
    """Remove TensorFlow's start-up log lines from a notebook's stderr outputs, in place.

    Everything else written to stderr (warnings, errors) is kept.
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = [ln for ln in out["text"].splitlines(keepends=True)
                         if not TF_LOG_LINE.match(ln.rstrip("\n"))]
                if not "".join(lines).strip():
                    continue
                out["text"] = "".join(lines)
            kept.append(out)
        cell["outputs"] = kept


def _stamp(path: Path, record: dict) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    drop_tf_log_lines(nb)
    nb.cells = [c for c in nb.cells if RECORD_TAG not in c.get("metadata", {}).get("tags", [])]
    cell = nbformat.v4.new_markdown_cell(record_markdown(record))
    cell.metadata["tags"] = [RECORD_TAG]
    nb.cells.insert(0, cell)
    nb.metadata["heatsink"] = record
    nbformat.write(nb, path)


def run_notebook(
    source: Path,
    output: Path,
    parameters: dict,
    dataset: tuple[str, str, Path],
    force: bool = False,
    progress: bool = True,
    upstream: dict[str, str | None] | None = None,
) -> NotebookRun:
    """Execute one notebook source with papermill and stamp the result.

    Parameters
    ----------
    source : Path
        The jupytext ``.py`` source.
    output : Path
        Where the executed ``.ipynb`` goes; written only if the run succeeds.
    parameters : dict
        Papermill parameters (the dataset path is added as ``data``).
    dataset : (name, checksum, path)
        The data the notebook runs on.
    force : bool
        Run even if ``output`` records the same run key.
    upstream : dict, optional
        Keys of the earlier chapters' executed notebooks (see :func:`run_key`).
    """
    import jupytext
    import papermill

    name, checksum, _ = dataset
    parameters, identity, key = _keyed(source, parameters, dataset, upstream)
    if not force and _existing_key(output) == key:
        return NotebookRun(source.stem, output, "skipped", 0.0)

    nb = jupytext.read(source)
    defaults = notebook_defaults(nb)
    # pass a path parameter only to notebooks that declare it (papermill warns otherwise)
    parameters = {k: v for k, v in parameters.items()
                  if k not in PATH_PARAMETERS or (k in defaults and v is not None)}
    effective = {k: v for k, v in defaults.items() if k not in PATH_PARAMETERS}
    record = run_record({**effective, **identity}, name, checksum, parameters["data"])
    for stale in output.parent.glob(f".{output.name}.*"):  # left by a run that was killed
        stale.unlink(missing_ok=True)
    start = time.perf_counter()
    with atomic_path(output) as tmp:
        try:
            papermill.execute_notebook(
                nb, str(tmp), parameters=parameters, kernel_name="python3", language="python",
                cwd=str(source.parent), progress_bar=progress,
            )
        except papermill.PapermillExecutionError as err:
            raise HeatsinkError(
                f"{source}: cell {err.exec_count} failed: {err.ename}: {err.evalue}"
            ) from err
        record["wall_time_s"] = round(time.perf_counter() - start, 1)
        record["key"] = key
        _stamp(tmp, record)
    return NotebookRun(source.stem, output, "ran", record["wall_time_s"])


def _keyed(source: Path, parameters: dict, dataset: tuple[str, str, Path],
           upstream: dict[str, str | None] | None) -> tuple[dict, dict, str]:
    """The parameters with the data path, those that identify the run, and its key."""
    _, checksum, data_path = dataset
    parameters = {**parameters, "data": portable_path(data_path, source.parent)}
    identity = {k: v for k, v in parameters.items() if k not in PATH_PARAMETERS}
    return parameters, identity, run_key(source, identity, checksum, upstream)


def _outputs_named_to_git(run: Callable[..., list[NotebookRun]]
                          ) -> Callable[..., list[NotebookRun]]:
    """``run`` with the study's outputs named in ``HEATSINK_GIT_EXCLUDE`` while it runs, and
    the caller's value back when it returns or fails."""

    @functools.wraps(run)
    def wrapper(*args: Any, **kwargs: Any) -> list[NotebookRun]:
        previous = os.environ.get(GIT_EXCLUDE_VARIABLE)
        # what the study writes is not a change to the code it runs (see
        # provenance.git_sha); the variable reaches the notebooks' kernels, which record
        # their training runs
        os.environ[GIT_EXCLUDE_VARIABLE] = ":".join(STUDY_OUTPUTS)
        try:
            return run(*args, **kwargs)
        finally:
            if previous is None:
                os.environ.pop(GIT_EXCLUDE_VARIABLE, None)
            else:
                os.environ[GIT_EXCLUDE_VARIABLE] = previous

    return wrapper


@_outputs_named_to_git
def run_study(
    profile: str = "full",
    data: str | Path | None = None,
    only: list[str] | None = None,
    output_dir: Path | None = None,
    notebook_dir: Path | None = None,
    force: bool = False,
    progress: bool = True,
) -> list[NotebookRun]:
    """Run every notebook (or those named in ``only``) under ``profile``, in chapter order.

    The dataset is resolved once (:func:`heatsink.resolve.resolve_data`; the default
    twin's size comes from the profile's ``twin_size``), checked, and its checksum recorded
    in each notebook. Executed notebooks go to ``output_dir`` (default: beside their sources,
    where the book reads them) and small result files to :func:`results_dir` (under
    ``output_dir/results`` when ``output_dir`` is given, or beside another ``notebook_dir``,
    so test runs never touch the repo's ``results/``). While it runs, the study's outputs are
    named in ``HEATSINK_GIT_EXCLUDE`` (:data:`heatsink.provenance.GIT_EXCLUDE_VARIABLE`), for
    the kernels' run records; the variable is restored when it returns.
    """
    from heatsink.data import load_dataset
    from heatsink.resolve import resolve_data

    notebook_dir = Path(notebook_dir or paths.notebook_dir())
    profiles = load_profiles(notebook_dir)
    twin_size = int(get_profile(profiles, profile).get("twin_size", 1000))
    data_path = resolve_data(data, n=twin_size, progress=progress)
    ds = load_dataset(data_path)
    dataset = (f"{ds.name}, {len(ds)} images", ds.checksum, data_path)

    sources = notebook_sources(notebook_dir)
    if only:
        unknown = set(only) - {s.stem for s in sources}
        if unknown:
            raise HeatsinkError(f"no such notebook(s) in {notebook_dir}: {sorted(unknown)}")
        sources = [s for s in sources if s.stem in only]
    out_dir = Path(output_dir) if output_dir else notebook_dir
    # result files beside the executed notebooks' folder: the repository's results/ only for
    # the repository's own notebooks
    base = (Path(output_dir) if output_dir
            else None if notebook_dir.resolve() == paths.notebook_dir().resolve()
            else Path(notebook_dir).parent)
    results = results_dir(data_path, base / "results" if base else None)
    models = runs_dir(data_path, Path(output_dir) / "runs" if output_dir else None)
    chapters = [s.stem for s in notebook_sources(notebook_dir)]

    def parameters_of(source: Path) -> dict:
        return {**profile_parameters(profile, source.stem, profiles),
                "results": portable_path(results, source.parent, home=False),
                # the default model folder (paths.runs_dir, outside the clone) is the
                # notebooks' own default: passing None keeps a user's path out of the book
                "runs": portable_path(models, source.parent, home=False)
                if output_dir else None,
                "executed": portable_path(out_dir, source.parent, home=False)}

    def upstream_of(source: Path) -> dict[str, str | None]:
        return {e: _existing_key(out_dir / f"{e}.ipynb") for e in chapters if e < source.stem}

    runs = []
    for source in sources:
        run = run_notebook(source, out_dir / f"{source.stem}.ipynb", parameters_of(source),
                           dataset, force=force, progress=progress,
                           upstream=upstream_of(source))
        print(f"{run.name}: {run.status} ({run.wall_time_s:.0f} s)", flush=True)
        runs.append(run)
        _write_chapter_times(out_dir, results)
    if not ds.has_truth and out_dir == notebook_dir:
        print(f"Note: the notebooks in {out_dir} now show figures made from {data_path}. If that "
              "is the real dataset (CC BY-NC-SA 4.0), do not commit them to a public "
              "repository; `git checkout notebooks/` restores the synthetic-twin run.",
              flush=True)
    return runs


def _write_chapter_times(executed: Path, results: Path) -> None:
    """``results/chapters.csv``: each executed chapter's time, commit, data and hardware.

    ``chapter_times`` is imported with this module, not here: a study runs for hours, and an
    import after a ``git pull`` mid-run could meet a package half old, half new and stop the
    run after the chapter it had just executed (it once did).
    """
    times = chapter_times(executed)
    results.mkdir(parents=True, exist_ok=True)
    with atomic_path(results / "chapters.csv") as tmp:
        times.to_csv(tmp)


__all__ = [
    "PATH_PARAMETERS",
    "RECORD_TAG",
    "TF_LOG_LINE",
    "NotebookRun",
    "drop_tf_log_lines",
    "get_profile",
    "load_profiles",
    "notebook_defaults",
    "notebook_sources",
    "portable_path",
    "profile_parameters",
    "record_markdown",
    "run_key",
    "run_notebook",
    "run_study",
]
