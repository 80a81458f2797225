"""The README's results table: written from the result files, and checked against them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fake_run

from heatsink.cli import main
from heatsink.errors import HeatsinkError
from heatsink.evaluate import evaluate_masks
from heatsink.study.paths import repo_dir
from heatsink.study.readme import END, START, results_table, update_readme
from heatsink.study.results import save_model_results

REPO_DIR = repo_dir()


def test_the_readme_table_is_the_one_the_committed_result_files_give():
    assert update_readme(REPO_DIR / "README.md", REPO_DIR / "results" / "twin", check=True), (
        "README.md's results table differs from results/twin: run `heatsink study readme`")


def _scored(folder, name="toy", split="val", half_scratch=True):
    mask = np.zeros((16, 16), np.uint8)
    mask[2:6, 2:6] = 2
    mask[10, 1:12] = 1
    pred = mask.copy()
    if half_scratch:
        pred[10, 6:12] = 0  # 5 of the 11 scratch pixels found
    evaluations = {"labels": evaluate_masks([(str(k), mask, pred) for k in range(3)])}
    save_model_results(folder, name, fake_run(), evaluations, split=split, n_boot=20,
                       extra={"cpu_ms_per_image": 12.5})


def test_the_table_reports_each_models_stored_scores_and_the_chosen_model(tmp_path):
    results = tmp_path / "twin"
    assert results_table(results) == ""
    _scored(results)
    _scored(results, split="test", half_scratch=False)
    table = results_table(results)
    row = next(line for line in table.splitlines() if line.startswith("| toy |"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[2] == f"{100 * 5 / 11:.1f}"  # scratch recall
    assert cells[3] == "100.0"  # stain recall
    assert cells[5:] == ["0.00 M", "12"]  # 1234 parameters, 12.5 ms
    assert "Synthetic twin (data checksum abc)" in table
    assert "test split (3 images): toy, defect mIoU 100.0 [100.0, 100.0] %" in table


def test_update_writes_between_the_markers_and_check_sees_a_stale_table(tmp_path, capsys):
    results = tmp_path / "twin"
    _scored(results)
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START}\nold numbers\n{END}\n\nMore.\n")
    assert not update_readme(readme, results, check=True)
    assert "old numbers" in readme.read_text()  # --check writes nothing
    assert main(["study", "readme", "--readme", str(readme), "--results", str(results),
                 "--check"]) == 1
    assert main(["study", "readme", "--readme", str(readme), "--results", str(results)]) == 0
    text = readme.read_text()
    assert text.startswith(f"# Title\n\n{START}\n- **Pixel accuracy")
    assert "\n| toy |" in text and text.endswith(f"{END}\n\nMore.\n")
    assert update_readme(readme, results, check=True)
    _scored(results, half_scratch=False)  # a new run of the same model
    assert not update_readme(readme, results, check=True)


def test_a_readme_without_markers_is_refused_by_name(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    with pytest.raises(HeatsinkError, match=r"README.md: no results markers"):
        update_readme(readme, tmp_path)
    with pytest.raises(HeatsinkError, match=r"missing.md: cannot read"):
        update_readme(tmp_path / "missing.md", tmp_path)
