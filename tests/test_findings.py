"""The study's findings: sentences whose numbers are the result files' own."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import fake_run, write_passfail

from heatsink.evaluate import evaluate_masks
from heatsink.findings import findings
from heatsink.results import save_model_results


def _masks(scratch_found: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Three 16² frames: an 11-pixel scratch of which ``scratch_found`` are predicted."""
    truth = np.zeros((16, 16), np.uint8)
    truth[2:6, 2:6] = 2
    truth[10, 1:12] = 1
    pred = truth.copy()
    pred[10, 1 + scratch_found:12] = 0
    return [(str(k), truth, pred) for k in range(3)]


def _save(folder, name, scratch_found, split="val", truth_too=False):
    evaluations = {"labels": evaluate_masks(_masks(scratch_found))}
    if truth_too:  # against the clean truth the same prediction misses nothing
        evaluations["truth"] = evaluate_masks(_masks(11))
    save_model_results(folder, name, fake_run(), evaluations, split=split, n_boot=20)


def test_nothing_run_means_no_findings(tmp_path, n_boot=50):
    assert findings(tmp_path, n_boot=50) == []


def test_the_findings_quote_the_stored_scores(tmp_path):
    _save(tmp_path, "gslu", 2, truth_too=True)
    _save(tmp_path, "gslu-wcce+dice", 8)
    _save(tmp_path, "resnet50", 5)
    _save(tmp_path, "unet", 0)
    _save(tmp_path, "gslu-wcce+dice", 8, split="test")
    found = findings(tmp_path, n_boot=50)
    text = "\n".join(found)
    assert found[0].startswith("**Pixel accuracy")
    recalls = [f"{100 * k / 11:.1f}" for k in (0, 8)]
    assert f"finding {recalls[0]}–{recalls[1]} % of the scratch pixels" in text
    assert "the seed reported 97.8 % for its 3 models" in text
    assert "**Best on validation: gslu-wcce+dice.**" in text
    assert "for the next, resnet50" in text
    assert "Scored once on the test split (3 images), gslu-wcce+dice reaches" in text
    assert "so the lead leans optimistic" in text
    assert f"cross-entropy finds {100 * 2 / 11:.1f} % of the scratch pixels" in text
    # defect mIoU = (scratch IoU k/11 + stain IoU 1) / 2, the same in every frame
    miou = {k: 100 * (k / 11 + 1) / 2 for k in (2, 5, 8)}
    assert (f"with class-weighted cross-entropy + Dice (wcce+dice), {100 * 8 / 11:.1f} % at "
            f"{miou[8]:.1f} %") in text
    ahead = f"+{miou[8] - miou[5]:.1f}"  # every frame alike: a zero-width paired interval
    assert (f"defect mIoU (scratch and stain) is {miou[8]:.1f} % [{miou[8]:.1f}, "
            f"{miou[8]:.1f}], against {miou[5]:.1f} % [{miou[5]:.1f}, {miou[5]:.1f}] for the "
            f"next, resnet50 (difference on the same images {ahead} points, 95 % paired "
            f"bootstrap interval [{ahead}, {ahead}])") in text
    assert f"The best, gslu-wcce+dice, adds {miou[8] - miou[2]:.1f} points" in text
    # unet and resnet50 are the seed's models with published scratch recall: 25 < 40 (the
    # results folder is not named "twin", so the sentence says "this run")
    assert "scratch recall: seed ResNet50 U-Net > U-Net (half width), this run ResNet50" in text
    # only gslu has a truth score; against it gslu finds every scratch pixel (mIoU 100 %)
    assert f"the model's defect mIoU changes by +{100 - miou[2]:.1f} points" in text
    assert "excludes zero for 1 of 1 model." in text


def test_a_loss_that_does_not_help_is_reported_as_such(tmp_path):
    _save(tmp_path, "gslu", 8)
    _save(tmp_path, "gslu-focal+dice", 2)
    text = "\n".join(findings(tmp_path, n_boot=50))
    assert "No other loss beat cross-entropy on defect mIoU." in text


def test_label_issue_detection_is_set_against_a_random_draw(tmp_path):
    folder = tmp_path / "label_quality"
    folder.mkdir()
    pd.DataFrame({"image_id": [f"{k:04d}" for k in range(50)]}).to_csv(
        folder / "ranked_issues.csv", index=False)
    pd.DataFrame({
        "method": ["cleanlab", "cleanlab", "cleanlab", "loss"],
        "error": ["class_swap", "missed_stain", "any", "any"],
        "images": [4, 6, 10, 10], "flagged": [10, 10, 10, 10], "caught": [3, 1, 4, 9],
        "recall": [0.75, 1 / 6, 0.4, 0.9], "share_of_flagged": [0.3, 0.1, 0.4, 0.9],
        "precision_any": [0.4, 0.4, 0.4, 0.9],
    }).to_csv(folder / "image_detection.csv")
    (text,) = findings(tmp_path, n_boot=50)
    from scipy.stats import hypergeom

    # 10 of 50 images carry an error; each ranking flags 10
    assert "Of the 10 images (of 50) with injected label errors, the 10 each ranking" in text
    assert (f"cleanlab 4 (40.0 %, p = {hypergeom.sf(3, 50, 10, 10):.2g}), "
            f"loss 9 (90.0 %, p = {hypergeom.sf(8, 50, 10, 10):.2g})") in text
    assert "a random draw of 10 would hold 2.0 on average (20.0 %" in text
    assert "cleanlab by kind: class swap 3 of 4, missed stain 1 of 6." in text


def test_a_larger_input_is_set_against_the_same_loss_at_the_default_size(tmp_path):
    _save(tmp_path, "gslu", 2)
    _save(tmp_path, "gslu-wcce+dice", 5)
    _save(tmp_path, "gslu-wcce+dice-320-flips", 8)
    text = "\n".join(findings(tmp_path, n_boot=50))
    assert "The best, gslu-wcce+dice, adds" in text  # the loss sweep leaves the variant out
    assert "**Native resolution and augmentation.** Defect mIoU: gslu-wcce+dice-320-flips" in text
    gain = 100 * (8 / 11 + 1) / 2 - 100 * (5 / 11 + 1) / 2
    assert f"for gslu-wcce+dice (difference on the same images +{gain:.1f} points" in text
    # results saved before per-image files existed: the difference, and whether the
    # models' own intervals overlap
    for path in (tmp_path / "models").glob("*-per-image-*.csv"):
        path.unlink()
    text = "\n".join(findings(tmp_path, n_boot=50))
    assert f"for gslu-wcce+dice (+{gain:.1f} points; 95 % intervals do not overlap)" in text


def test_results_from_different_data_are_flagged_first(tmp_path):
    import json

    _save(tmp_path, "unet", 2)
    _save(tmp_path, "gslu", 5)
    path = tmp_path / "models" / "unet-val.json"
    payload = json.loads(path.read_text())
    path.write_text(json.dumps({**payload, "dataset_checksum": "0123456789abcdef"}))
    found = findings(tmp_path, n_boot=50)
    assert found[0].startswith("**Caution: these results come from 2 different datasets**")
    assert "0123456789ab: unet" in found[0] and "abc: gslu" in found[0]


def test_the_pass_fail_finding_reads_chapter_6s_verdicts_against_the_labels(tmp_path):
    write_passfail(tmp_path, model="gslu-wcce+dice")
    (text,) = findings(tmp_path, n_boot=50)
    assert text == ("**On the line,** the chosen model (gslu-wcce+dice) under the example spec "
                    "passes 1 defective test frame (escape rate 25.0 %) and fails 2 good "
                    "ones (overkill 33.3 %), against the verdicts the labels give under the "
                    "same spec.")


def test_undefined_rates_and_zero_changes_read_plainly():
    from heatsink.findings import _rate, _signed

    assert _signed(-0.04) == "+0.0" and _signed(-0.06) == "-0.1" and _signed(1.25) == "+1.2"
    assert _rate("escape rate", float("nan"), "no frame is defective") == (
        " (no frame is defective)")
    assert _rate("overkill", 0.125, "no frame is good") == " (overkill 12.5 %)"
