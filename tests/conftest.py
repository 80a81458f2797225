"""Shared pytest fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest

from heatsink.classes import VOC_COLOURS


def write_dataset(
    root: Path,
    n: int = 4,
    size: int = 320,
    *,
    with_jsons: bool = False,
    with_truth: bool = False,
    parts: int | None = None,
    seed: int = 0,
) -> Path:
    """Write a small valid dataset of random images and masks into ``root``.

    Ids are ``0001``…; images are ``images/<id>.bmp`` (RGB), masks ``labels/<id>.png``
    with a scratch stripe and a stain blob. ``with_jsons`` adds VOC-colour
    ``jsons/<id>_json/{img,label}.png``; ``with_truth`` adds ``truth/`` (the label plus a
    3×3 stain in the bottom-right corner, which the label missed) and ``twin.json`` (a
    twin); ``parts`` adds ``adjacency.csv`` assigning consecutive images to that many parts.
    """
    rng = np.random.default_rng(seed)
    for folder in ("images", "labels"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n):
        image_id = f"{k + 1:04d}"
        image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), np.uint8)
        r, c = rng.integers(0, size // 2, 2)
        mask[r : r + max(1, size // 8), c : c + 1] = 1
        mask[size // 2 + r // 2 : size // 2 + r // 2 + 3, c : c + 4] = 2
        assert cv2.imwrite(str(root / "images" / f"{image_id}.bmp"), image[..., ::-1])
        assert cv2.imwrite(str(root / "labels" / f"{image_id}.png"), mask)
        if with_truth:  # the clean truth has one more stain, which the label missed
            truth = mask.copy()
            truth[size - 4 : size - 1, size - 4 : size - 1] = 2
            (root / "truth").mkdir(exist_ok=True)
            assert cv2.imwrite(str(root / "truth" / f"{image_id}.png"), truth)
        if with_jsons:
            folder = root / "jsons" / f"{image_id}_json"
            folder.mkdir(parents=True, exist_ok=True)
            colours = np.array([VOC_COLOURS[c] for c in sorted(VOC_COLOURS)], np.uint8)
            assert cv2.imwrite(str(folder / "img.png"), image[..., ::-1])
            assert cv2.imwrite(str(folder / "label.png"), colours[mask][..., ::-1])
        if parts:
            rows.append(f"{image_id},{k * parts // n},{k},0,1,1")
    if parts:
        header = "image_id,part_id,row,col,part_rows,part_cols\n"
        (root / "adjacency.csv").write_text(header + "\n".join(rows) + "\n")
    if with_truth:
        (root / "twin.json").write_text(json.dumps({"n": n, "seed": seed}))
    return root


def unlistable_folder(tmp_path: Path) -> Path:
    """A folder that cannot be listed: mode 0, or for root (who lists any folder whatever its
    mode) a link to one the kernel refuses to list (another process's map_files)."""
    import os

    folder = tmp_path / "unlistable"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0)
        return folder
    try:
        os.listdir("/proc/1/map_files")
    except PermissionError:
        folder.symlink_to("/proc/1/map_files")
        return folder
    pytest.skip("no folder that root cannot list on this system")


@pytest.fixture
def make_dataset(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_dataset(n=4, size=320, with_jsons=False, with_truth=False,
    parts=None, seed=0, name="data")`` writes a valid dataset under ``tmp_path/name``."""

    def make(n: int = 4, size: int = 320, *, name: str = "data", **kwargs: object) -> Path:
        return write_dataset(tmp_path / name, n, size, **kwargs)

    return make


def fake_run(**config) -> SimpleNamespace:
    """A stand-in for a finished :class:`heatsink.models.Run` (two half-hour epochs), its
    :class:`~heatsink.models.TrainConfig` changed by ``config``."""
    from heatsink.models import TrainConfig

    history = pd.DataFrame({"loss": [0.5, 0.4], "seconds": [1800.0, 1800.0]},
                           index=pd.Index([0, 1], name="epoch"))
    return SimpleNamespace(
        config=TrainConfig(**{"epochs": 2, **config}),
        metrics={"precision": "float32", "parameters": 1234, "best_epoch": 2,
                 "train_s_per_image": 0.25},
        history=history,
        record={"dataset": {"checksum": "abc"}, "git_sha": "def",
                "hardware": {"cpu": "trained here", "cores": 2}},
    )


class Interrupted(Exception):
    """Stands for a session's end in the middle of an epoch."""


def train_interrupted(config, ds, run_dir: Path, stop_in_epoch: int, **kwargs) -> None:
    """Train ``config`` in ``run_dir`` (:func:`heatsink.train.train`, with ``kwargs``) until
    the end of epoch ``stop_in_epoch`` (1-based), which is interrupted before its checkpoints,
    curve row and resume state are written."""
    from heatsink import train as training

    original = training.EpochTiming.on_epoch_end

    def interrupting(self, epoch, logs=None):
        if epoch + 1 == stop_in_epoch:
            raise Interrupted
        return original(self, epoch, logs)

    training.EpochTiming.on_epoch_end = interrupting
    try:
        with pytest.raises(Interrupted):
            training.train(config, ds, run_dir, **{"verbose": 0, "n_boot": 5, **kwargs})
    finally:
        training.EpochTiming.on_epoch_end = original


def write_passfail(directory: Path, model: str = "m", rules: bool = True, n_escapes: int = 1,
                   escape_rules: tuple[int, int, int, int] = (0, 0, 1, 0)) -> Path:
    """Write chapter 6's pass/fail results for 10 test frames with the chapter's own writer.

    Against the labels: of 4 defective frames, ``n_escapes`` pass (escapes; by default
    one, on the scratch length rule) and the rest fail; 2 good frames fail (overkill), 4
    pass; against the clean truth no frame is defective. ``escape_rules`` counts the
    escapes per rule (stain area, stain count, scratch length, defect percent); an escape
    may break several rules, or none. ``rules=False`` leaves out the rule counts (an older
    file).
    """
    from heatsink.line.spec import Spec
    from heatsink.study.results import save_postprocess_results

    confusion = pd.DataFrame({
        "against labelled": {"tp": 4 - n_escapes, "fn": n_escapes, "fp": 2, "tn": 4,
                             "n": 10, "escape_rate": n_escapes / 4, "overkill_rate": 1 / 3},
        "against clean truth": {"tp": 0, "fn": 0, "fp": 2, "tn": 8, "n": 10,
                                "escape_rate": float("nan"), "overkill_rate": 0.2}}).T
    frames = pd.DataFrame({"verdict": ["FAIL"] * 5 + ["PASS"] * 5},
                          index=[f"{k:04d}" for k in range(10)])
    tradeoff = pd.DataFrame({"scale": [1.0], "escape_rate": [0.25], "overkill_rate": [1 / 3]})
    if not rules:
        return save_postprocess_results(directory, "test", model, Spec("t"), frames,
                                        confusion, tradeoff)
    rule_names = ["stain area", "stain count", "scratch length", "defect percent"]
    failed = pd.DataFrame({"predicted": [2, 1, 3, 0], "labelled": [1, 1, 2, 1],
                           "clean truth": [0, 0, 0, 0]}, index=rule_names)
    escapes = pd.DataFrame({"against labelled": list(escape_rules),
                            "against clean truth": [0, 0, 0, 0]}, index=rule_names)
    return save_postprocess_results(directory, "test", model, Spec("t"), frames, confusion,
                                    tradeoff, failed_rules=failed, escapes=escapes)


#: Test files whose tests share one module-scoped smoke run of the chapters: under
#: pytest-xdist each goes to a single worker whole, so that its run is made once.
SHARED_RUN_FILES = ("tests/test_study.py",)


def _runs_the_chapters(item: pytest.Item) -> bool:
    return (item.nodeid.split("::", 1)[0] in SHARED_RUN_FILES
            or item.get_closest_marker("notebooks") is not None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests that execute the chapters first: ``make test`` runs two workers
    (pytest-xdist, in collection order), and the twin's smoke run (``test_study.py``) and the
    run on Kaggle-layout data (marked ``notebooks``) are its two long poles, one per worker,
    each mostly one core; the short tests fill in around them."""
    long = [_runs_the_chapters(item) for item in items]
    items[:] = ([item for item, first in zip(items, long, strict=True) if first]
                + [item for item, first in zip(items, long, strict=True) if not first])


@pytest.hookimpl(optionalhook=True)  # a plain `pytest` without pytest-xdist runs as before
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """pytest-xdist's scheduler, one unit per test except the files of
    :data:`SHARED_RUN_FILES`, each one unit (xdist's ``loadgroup`` marks are not read by
    pytest 9, whose node ids it can no longer rename)."""
    from xdist.scheduler import LoadScopeScheduling

    class SharedRunsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path in SHARED_RUN_FILES else nodeid

    return SharedRunsTogether(config, log)


@pytest.fixture(scope="session")
def default_twin_root() -> Path:
    """The study's default twin (1000 images, seed 0): the cached one, or generated once.

    It is the twin ``make study`` uses, in the same cache (``~/.cache/heatsink/twins`` or
    ``$HEATSINK_CACHE``), so the tests that need it at full scale share one generation.
    """
    from heatsink.resolve import default_twin

    return default_twin(progress=False)


def _tracked_outputs_digest() -> dict[str, str]:
    """sha256 of every file the study commits as its output (results, executed notebooks,
    README), by path."""
    import hashlib

    from heatsink.study.paths import repo_dir

    REPO_DIR = repo_dir()
    paths = [*sorted((REPO_DIR / "results").rglob("*")),
             *sorted((REPO_DIR / "notebooks").glob("*.ipynb")), REPO_DIR / "README.md"]
    return {str(p.relative_to(REPO_DIR)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in paths if p.is_file()}


@pytest.fixture(scope="session", autouse=True)
def repository_outputs_untouched():
    """Fail the run if any test wrote into the repository's committed outputs."""
    before = _tracked_outputs_digest()
    yield
    after = _tracked_outputs_digest()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"tests changed the repository's committed outputs: {changed}"
