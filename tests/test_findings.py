"""The study's findings: sentences whose numbers are the result files' own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import fake_run, write_passfail

from heatsink.evaluate import evaluate_masks
from heatsink.study import run_name
from heatsink.study.findings import findings, label_quality_findings, model_findings
from heatsink.study.results import save_model_results


def _masks(scratch_found: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Three 16² frames: an 11-pixel scratch of which ``scratch_found`` are predicted."""
    truth = np.zeros((16, 16), np.uint8)
    truth[2:6, 2:6] = 2
    truth[10, 1:12] = 1
    pred = truth.copy()
    pred[10, 1 + scratch_found:12] = 0
    return [(str(k), truth, pred) for k in range(3)]


def _config(name: str) -> dict:
    """The training configuration the study names ``name`` (``heatsink.study.run_name``)."""
    model, *rest = name.split("-")
    config = {"model": model}
    for part in rest:
        if part.isdigit():
            config["image_size"] = int(part)
        elif part == "flips":
            config["augment"] = True
        else:
            config["loss"] = part
    assert run_name(fake_run(**config).config) == name
    return config


def _save(folder, name, scratch_found, split="val", truth_too=False):
    evaluations = {"labels": evaluate_masks(_masks(scratch_found))}
    if truth_too:  # against the clean truth the same prediction misses nothing
        evaluations["truth"] = evaluate_masks(_masks(11))
    save_model_results(folder, name, fake_run(**_config(name)), evaluations, split=split,
                       n_boot=20)


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
    # 1 of 4 and 2 of 6, with their Wilson intervals (scipy's binomtest)
    assert text == ("**On the line,** the chosen model (gslu-wcce+dice) under the example spec "
                    "passes 1 of 4 defective test frames (escape rate 25.0 % [4.6, 69.9]) and "
                    "fails 2 of 6 good ones (overkill 33.3 % [9.7, 70.0]), against the "
                    "verdicts the labels give under the same spec (95 % Wilson intervals). "
                    "Most escapes (1 of 1) break the labels' scratch-length rule: "
                    "the model's masks break it on 3 test frames, the labels on 2.")
    write_passfail(tmp_path, model="gslu-wcce+dice", rules=False)  # a file without them
    assert findings(tmp_path, n_boot=50)[0].endswith("(95 % Wilson intervals).")


def test_without_a_majority_the_finding_names_the_rule_broken_most_often(tmp_path):
    # all four defective frames pass: two break the scratch-length rule, one each of two others
    write_passfail(tmp_path, model="gslu-wcce+dice", n_escapes=4, escape_rules=(1, 0, 2, 1))
    (text,) = findings(tmp_path, n_boot=50)
    assert "passes 4 of 4 defective test frames (escape rate 100.0 % [51.0, 100.0])" in text
    assert text.endswith(" The rule the escapes break most often (2 of 4) is the labels' "
                         "scratch-length rule: the model's masks break it on 3 test frames, "
                         "the labels on 2.")



def test_undefined_rates_and_zero_changes_read_plainly():
    from heatsink.study.findings.text import rate as _rate
    from heatsink.study.findings.text import signed as _signed

    assert _signed(-0.04) == "+0.0" and _signed(-0.06) == "-0.1" and _signed(1.25) == "+1.2"
    assert _rate("escape rate", float("nan"), "no frame is defective") == (
        " (no frame is defective)")
    assert _rate("overkill", 0.125, "no frame is good") == " (overkill 12.5 %)"
    assert _rate("overkill", 0.125, "-", 0.05, 0.3) == " (overkill 12.5 % [5.0, 30.0])"


def _save_run(folder, name, curve, best_epoch, scratch_found=0, truth_too=False):
    """A run whose validation defect IoU per epoch is ``curve``, scored on three frames."""
    run = fake_run()
    run.history = pd.DataFrame({"loss": 0.1, "seconds": 60.0, "val_defect_iou": curve},
                               index=pd.RangeIndex(len(curve), name="epoch"))
    run.metrics["best_epoch"] = best_epoch
    evaluations = {"labels": evaluate_masks(_masks(scratch_found))}
    if truth_too:  # against the clean truth the same prediction misses nothing
        evaluations["truth"] = evaluate_masks(_masks(11))
    save_model_results(folder, name, run, evaluations, n_boot=20)


def test_a_models_findings_follow_its_own_run(tmp_path):
    _save_run(tmp_path, "unet", [0.0, 0.0, 0.005, 0.2, 0.3], best_epoch=5)
    found = model_findings(tmp_path, "unet", n_boot=50)
    text = "\n".join(found)
    assert found[0].startswith("**The learning curve.** For its first 3 of 5 epochs")
    assert "came at epoch 5 of 5, near the end: 5 epochs is a budget" in text
    # 16² frames: 4² stain + 11 scratch pixels; the prediction keeps the stain only
    floor = 100 * (256 - 27) / 256
    assert f"{100 * (256 - 11) / 256:.2f} %, where predicting background everywhere scores " \
           f"{floor:.2f} %" in text
    assert "scratch recall 0.0 % [0.0, 0.0] (the seed's on the real data: 25 %)" in text
    assert "stain recall 100.0 % [100.0, 100.0] (the seed's on the real data: 43 %)" in text
    assert "Not one pixel is predicted as scratch" in text
    assert "0 % of the scratches and 100 % of the stains" in text
    assert "Label noise" not in text  # scored against the labels only


def test_a_model_that_peaked_early_or_never_learned_says_so(tmp_path):
    _save_run(tmp_path, "early", [0.1, 0.3, 0.2, 0.2, 0.25], best_epoch=2, scratch_found=5)
    text = "\n".join(model_findings(tmp_path, "early", n_boot=50))
    assert "Its best validation defect IoU, 30.0 %, came at epoch 2 of 5; the last epoch " \
           "scored 25.0 %." in text
    assert "For its first" not in text and "Not one pixel" not in text
    assert "seed" not in text  # no published figure for a model named "early"
    _save_run(tmp_path, "flat", [0.0, 0.001, 0.0], best_epoch=2)
    assert model_findings(tmp_path, "flat", n_boot=50)[0].startswith(
        "**It never left the background.** In all 3 epochs")


def test_a_models_label_noise_change_has_a_paired_interval(tmp_path):
    _save_run(tmp_path, "unet", [0.1, 0.2], best_epoch=2, scratch_found=2, truth_too=True)
    text = "\n".join(model_findings(tmp_path, "unet", n_boot=50))
    # against the truth the scratch is found whole: defect mIoU 100 % instead of (2/11 + 1)/2
    change = 100 - 100 * (2 / 11 + 1) / 2
    assert (f"the defect mIoU changes by +{change:.1f} points (95 % paired bootstrap interval "
            f"[+{change:.1f}, +{change:.1f}]): the twin's injected label errors move") in text


def test_a_model_without_results_is_named_in_the_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results of model 'unet' on the val split"):
        model_findings(tmp_path, "unet")


def _label_quality_tables(directory):
    """The label checks' tables for 20 images, 4 with an injected error, made by their own
    functions, in the results folder ``directory``."""
    from heatsink import label_quality as lq

    folder = directory / "label_quality"
    folder.mkdir(parents=True, exist_ok=True)
    ids = [f"{k:04d}" for k in range(20)]
    manifest = pd.DataFrame({
        "image_id": ids[:4], "error": ["missed_stain", "missed_stain", "class_swap",
                                       "seam_inconsistency"],
        "top": 0, "left": 0, "bbox_h": 10, "bbox_w": 10})
    # cleanlab's scores: low is suspect; images 0000 and 0002 rank first, then 0005
    cleanlab = pd.Series(np.linspace(0.1, 0.9, 20), index=ids)
    cleanlab[["0000", "0002", "0005"]] = [0.01, 0.02, 0.03]
    scores = {"cleanlab": cleanlab, "loss": pd.Series(np.linspace(0.9, 0.1, 20), index=ids)}
    at_k = pd.concat({m: lq.precision_at_k(s, ids[:4], [0.1, 0.5]) for m, s in scores.items()},
                     names=["method"])
    flagged = {m: set(lq.flag_top(s, 4)) for m, s in scores.items()}
    components = pd.DataFrame({  # two hit the class swap, one the seam error, two hit nothing
        "image_id": ["0002", "0002", "0003", "0007", "0008"], "top": [2, 50, 0, 0, 0],
        "left": 0, "bbox_h": 5, "bbox_w": 5, "confidence": [0.9, 0.8, 0.7, 0.95, 0.6],
        "kind": ["class_swap", "class_swap", "unlabelled_defect", "class_swap",
                 "rejected_label"]})
    matched = lq.match_components(components, manifest)
    excluded = pd.DataFrame({"reference": ["labels", "truth"] * 2, "left_out": [0, 0, .1, .1],
                             "miou_defects": [0.40, 0.42, 0.41, 0.425]})
    folds = pd.DataFrame({"miou_defects": [0.3, 0.35], "scratch_recall": [0.5, 0.6],
                          "stain_recall": [0.7, 0.7]})
    seam_facts = pd.Series({"seams found": 12, "seams with inconsistent labels": 3,
                            "neighbours: precision": 1.0, "neighbours: recall": 0.75,
                            "seam errors: seam_errors": 2, "seam errors: caught": 1})
    pd.DataFrame({"image_id": ids}).to_csv(folder / "ranked_issues.csv", index=False)
    lq.save_tables(folder, {
        "precision_at_k": at_k, "image_detection": lq.image_detection_table(flagged, manifest, ids),
        "component_detection": lq.component_detection_table({"components": components},
                                                            manifest, ids),
        "component_precision_at_n": lq.component_precision_at_n(matched, [2, 4]),
        "excluded": excluded.set_index("reference"), "folds": folds,
        "seams": seam_facts.to_frame("value")})


def test_label_quality_findings_quote_chapter_5s_tables(tmp_path):
    _label_quality_tables(tmp_path)
    found = label_quality_findings(tmp_path)
    text = "\n".join(found)
    assert found[0].startswith("**The judges.** Each image is judged by one of 2 fold models")
    assert "defect mIoU of 30.0–35.0 % (scratch recall 50.0–60.0 %, stain recall 70.0 %)" in text
    # cleanlab's top 4 (0000, 0002, 0005, 0001) hold 3 of the 4 erroneous images; the chance
    # that 4 random images hold 3 or more of them is (C(4,3)·16 + 1) / C(20,4) = 65 / 4845
    assert "Of the 4 images (of 20) with injected label errors" in text
    assert "cleanlab 3 (75.0 %, p = 0.013), loss 0 (0.0 %, p = 1)" in text
    assert ("cleanlab by kind: missed stain 2 of 2, class swap 1 of 1, seam inconsistency 0 of "
            "1.") in text  # kinds the manifest does not hold are left out
    # its top 10 % (2 images) are both errors: the best slice, against 4 of 20 = 20 %
    assert ("the cleanlab ranking's top 10 % (2 images): 100 % of them hold an injected "
            "error" in text)
    assert "against 20.0 % of all images" in text and "It is the best of 4 slices" in text
    assert ("5 suspect components overlap 2 of the 4 injected errors (missed stain 0 of 2, "
            "class swap 1 of 1, seam inconsistency 1 of 1), a lenient match") in text
    assert "and only 40.0 % of them are injected errors" in text
    assert "sloppy boundary" not in text
    # class swaps: 1 of 3 hit an error; by confidence 0007 (0.95, none) then 0002 (0.9, hit)
    assert "class swaps are errors 33 % of the time, 50 % among the 2 most confident" in text
    assert ("12 neighbouring pairs" in text and "on 3 of their seams" in text
            and "precision 1.00 and recall 0.75" in text and "hold 1 of the 2 injected" in text)
    assert ("most suspect 10 % of the images moves the out-of-sample defect mIoU by +1.0 points "
            "against the labels and +0.5 points against the clean truth") in text
    assert "clean truth instead of the labels moves it by +2.0 points" in text


def test_label_quality_findings_on_real_data_say_only_what_it_has(tmp_path):
    _label_quality_tables(tmp_path)
    for twin_only in ("precision_at_k", "image_detection", "component_detection",
                      "component_precision_at_n"):
        (tmp_path / "label_quality" / f"{twin_only}.csv").unlink()
    excluded = pd.read_csv(tmp_path / "label_quality" / "excluded.csv").query(
        "reference == 'labels'")
    excluded.to_csv(tmp_path / "label_quality" / "excluded.csv", index=False)
    found = label_quality_findings(tmp_path)
    assert [text.split("**")[1] for text in found] == [
        "The judges.", "Seams.", "What it means for the scores."]
    assert "clean truth" not in found[-1]
    assert label_quality_findings(tmp_path / "nothing") == []


def test_no_suspect_component_is_said_plainly(tmp_path):
    from heatsink import label_quality as lq

    manifest = pd.DataFrame({"image_id": ["0000"], "error": ["class_swap"], "top": 0, "left": 0,
                             "bbox_h": 4, "bbox_w": 4})
    none = pd.DataFrame(columns=["image_id", "top", "left", "bbox_h", "bbox_w", "kind"])
    lq.save_tables(tmp_path / "label_quality", {"component_detection": lq.component_detection_table(
        {"components": none}, manifest)})
    assert label_quality_findings(tmp_path) == [
        "**Suspect components.** cleanlab marks no suspect component, so none of the 1 "
        "injected errors is found this way."]


def test_findings_can_be_limited_to_a_chapters_topics(tmp_path):
    _save(tmp_path, "gslu", 2, truth_too=True)
    _save(tmp_path, "gslu-wcce+dice", 8)
    everything = findings(tmp_path, n_boot=50)
    chosen = findings(tmp_path, n_boot=50, topics=["losses", "best_model"])
    assert [text.split("**")[1] for text in chosen] == [
        "Best on validation: gslu-wcce+dice.", "Losses for the imbalance."]
    assert all(text in everything for text in chosen)  # same sentences, in reading order
    with pytest.raises(ValueError, match=r"unknown findings topic\(s\) \['loss'\]"):
        findings(tmp_path, topics=["loss"])
