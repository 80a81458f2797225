# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-papermill,-execution,-ExecuteTime,-collapsed,-scrolled
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Results: what the study found
#
# This page gathers what chapters 3–6 measured, from the result files they wrote in this
# run (`results/<twin|real>/`), and sets the seed's and the paper's published figures on
# the real images beside them, quoted with their source.
#
# The two are **not comparable as numbers**. Ours come from the data named in the run
# record, by default a synthetic twin: other images, other labels (and label errors we
# injected ourselves), another split, a 2-core CPU instead of a GPU, and another recipe
# (chapter 4's: augmentation, a cosine schedule and early stopping within the seed's
# 40 epochs).
# What can carry over is the *shape* of the result: which model and which loss rank
# first, how large the effect of the class imbalance is, and how label noise moves a score
# that is measured against labels.

# %% tags=["parameters"]
profile = "full"  # "full": the book; "smoke": the tests
data = None  # dataset folder (None: the default twin)
results = None  # result files (None: results/twin or /real)
runs = None  # trained models (None: ~/.cache/heatsink/runs/twin or /real)
executed = None  # the executed chapters (None: notebooks/)
exclude_fractions = [0.0, 0.05, 0.1, 0.2]  # most suspect test images left out (chapter 5)

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from heatsink import label_quality as lq
from heatsink.models import Run, predict_masks
from heatsink.study import detectability, figures, findings, open_chapter, published, readme
from heatsink.study import results as study_results
from heatsink.study.paths import notebook_dir

chapter = open_chapter(data, results, runs)
ds, name, results_dir = chapter.ds, chapter.name, chapter.results_dir
val = study_results.load_model_results(results_dir, "val")
test = study_results.load_model_results(results_dir, "test")
print(f"{name}: {len(val)} models scored on the validation split; chosen for the test "
      f"split: {', '.join(test) or 'none yet'}")

# %% [markdown]
# ## In short
#
# What the result files of this run say, in sentences `heatsink.study.findings` writes from them
# (the README opens with the same): every number is read from a file a chapter wrote, none
# is typed here. The sections below show where each comes from.

# %% tags=["remove-input"]
display(Markdown(findings.findings_markdown(results_dir)))

# %% [markdown]
# ## Every model, one table
#
# Validation split, against the labels (as the seed and the paper score), the best defect
# mIoU first: percent, with 95 % bootstrap intervals over images; parameters; training
# seconds per image and inference milliseconds per image at batch 1 (at each model's input
# size) on the machine that ran chapter 4. `miou` averages the three classes,
# `miou_defects` only scratch and stain. Each model's best checkpoint was chosen on this
# split, so its scores here lean optimistic; the test split below was looked at once.

# %%
study_results.model_table(val)

# %% [markdown]
# Separate intervals say little about a *difference*: two models scored on the same images
# are better compared image by image. The best model's lead in defect mIoU over each other
# model, with a paired bootstrap interval (each resample of the images scores both models)
# and the share of resamples in which the best stays ahead. The best was picked on these
# same images, so its leads lean optimistic; the test split below is the unbiased check:

# %%
study_results.paired_table(results_dir, val).round(2)

# %% [markdown]
# The chosen model (highest validation defect mIoU, chapter 4), scored once on the test
# split:

# %%
study_results.model_table(test)

# %% [markdown]
# The same in one figure, which is also the README's: each model's pixel accuracy beside
# what predicting background everywhere scores (dashed), and its recall and IoU per defect
# class, with their intervals (validation split, against the labels; the best defect mIoU
# on top).

# %% tags=["hide-input"]
fig = figures.model_scores_figure(val, title=f"{name}: validation split, against the labels")
study_results.save_figure(fig, results_dir / readme.FIGURE)
plt.show()

# %% [markdown]
# ## Beside the published figures on the real images
#
# The seed's figures are on its validation split of the real data; the paper's on its own
# protocol and an RTX 2070 GPU. Quoted, not computed here (`heatsink.study.published`):

# %%
published.published_table()[["model", "measure", "value", "unit", "split", "citation"]]

# %% [markdown]
# The twin's figures for the same models, next to them (twin: this run, validation split,
# against the labels; ms/image on this CPU at batch 1). Each twin row is the run trained
# as the seed trained its models, with cross-entropy: for the GSLU-style net that is
# `gslu`, not its runs with chapter 4's other losses:

# %%
published.side_by_side(val).round(1)

# %% [markdown]
# ## What carries over
#
# **The order of the models.** The numbers above differ; the question that can carry over
# is whether the models rank as the seed found them, measure by measure (the twin's values
# rounded to the seed's precision, so that a tie means the same in both columns). The seed
# gives all three models "~97.8 %" pixel accuracy, adding only that VGG16's was highest "by
# a very small margin", so that row has no order to compare. And our VGG16 trains from
# scratch, the seed's from ImageNet weights: its place in an order is that of a VGG16
# U-Net without pretraining (chapter 4's learning curves show what it learned):

# %%
published.rank_orders(val)

# %% [markdown]
# **The imbalance.** Predicting background everywhere is right for about 97 % of the real
# pixels (seed) and for a similar share of the twin's (chapter 2), so pixel accuracy near
# 97–98 % says almost nothing. Chapter 4 compared losses on one model; their recall and IoU
# per class show the size of the imbalance effect on the twin:

# %%
study_results.model_table(study_results.loss_sweep(val))

# %% [markdown]
# Runs that differ from another only in input size and augmentation, beside the run they
# differ from (none, where every model was trained by chapter 4's one recipe):

# %%
variants = study_results.input_variants(val)
study_results.model_table({n: val[n] for pair in variants.items() for n in reversed(pair)})

# %% [markdown]
# **Label noise.** On the twin each prediction is scored twice: against the labels (with
# their injected errors) and against the clean truth. The gap (points of percent of defect
# mIoU) is what the twin's injected errors do to a measured score, at the rate the twin
# injects them; the real labels' error rate is unknown (chapter 5), so this measures the
# effect of a stated noise level, not the real data's ceiling:

# %%
study_results.label_noise_cap(val).round(2)

# %% [markdown]
# **Label errors in the test split.** Chapter 5 ranked every image by cleanlab's label
# quality score, from models that never saw it. The chosen model's test scores with the
# most suspect test images left out, against the labels and (twin) the clean truth:

# %%
ranked = pd.read_csv(study_results.label_quality_file(results_dir, "ranked_issues"),
                     dtype={"image_id": str}).set_index("image_id")
chosen = Run.load(study_results.chosen_run(results_dir, chapter.runs_dir), ds)
test_ids = chapter.ids["test"]
predicted = predict_masks(chosen.model("best"), ds, test_ids, chosen.config.image_size)
references = {"labels": {i: ds.mask(i) for i in test_ids}}
if ds.has_truth:
    references["truth"] = {i: ds.truth(i) for i in test_ids}
excluded = lq.scores_with_exclusion(predicted, references, ranked.loc[test_ids, "score"],
                                    exclude_fractions)
excluded[["images", "pixel_accuracy", "scratch_iou", "stain_iou", "miou_defects"]].round(4)

# %% [markdown]
# ## Which defects the chosen model finds
#
# Object recall is one number per class. On the twin every true defect can be measured:
# its contrast against the plating around it (`heatsink.synth.noise.object_contrast`: how far
# the most marked fifth of its pixels stands out beyond the plating's own texture, relative
# to the plating's brightness; the measure the twin's annotators judge faint defects by) and
# whether the chosen model's test prediction touches it with its class.

# %% tags=["remove-input"]
if ds.has_truth:
    found = detectability.findings(ds, predicted, test_ids)
    fig = detectability.recall_figure(detectability.recall_by(found))
    study_results.save_figure(fig, results_dir / "figures" / "recall_by_contrast.png")
    glue("fig-recall-contrast", fig, display=False)
    plt.close(fig)
    display(Markdown("\n".join(f"* {line}" for line in detectability.summary(found))))
else:
    print("real data: no clean truth to measure each defect's contrast against")

# %% [markdown]
# ```{glue:figure} fig-recall-contrast
# :name: fig-recall-contrast
#
# The chosen model's object recall on the twin's test split against the clean truth, by the
# defect's contrast against the plating around it (bins of
# `heatsink.study.detectability.CONTRAST_BINS`), with Wilson 95 % intervals; the small
# numbers count the defects in each bin.
# ```
#
# A shortfall in recall among the faintest defects is the image's as much as the model's:
# what {numref}`fig-recall-contrast` calls faint stands out from the plating less than the
# plating's own grain does in places. An object-recall target for a class is reachable only
# as far as that class's defects are visible; the list above says how many are not.

# %% [markdown]
# How well the label checks found the twin's injected errors (chapter 5): precision of each
# ranking's most suspect images, with 95 % intervals.

# %%
at_k = study_results.label_quality_file(results_dir, "precision_at_k")
if at_k.exists():  # written with a row number as its second index column
    display(pd.read_csv(at_k, index_col=[0, 1]).droplevel(1)
            .set_index("fraction", append=True).round(3))

# %% [markdown]
# ## What changed since the 8-epoch comparison
#
# Before the training plan, chapter 4 trained every model for 8 epochs at Adam's default
# rate of 10⁻³ on whole frames (chapter 3's U-Net: 40 epochs at 10⁻⁴), and compared losses
# on one encoder only. Every one of those runs kept its last epoch or the one before, so none
# had shown that it stopped improving, and the VGG16 U-Net had not learned the defects
# (issue 28; the table's first columns). Those result files are kept in
# `previous/8-epoch/` of the results folder. Each model's validation defect mIoU then and
# now (percent), its epochs (trained, and the one kept), and every training setting that
# changed for it:

# %%
earlier = study_results.previous_dir(results_dir, "8-epoch")
has_earlier = (earlier / "models").exists()
if has_earlier:
    then = study_results.load_model_results(earlier, "val")
    display(study_results.protocol_changes(then, val).round(1))
else:
    print(f"no earlier comparison is kept beside these results ({earlier})")

# %% [markdown]
# What each finding concluded then and now, without its numbers (for the losses, the best
# loss of the loss comparison; for the ranking, the order of the seed's models per measure):

# %% tags=["remove-input"]
if has_earlier:
    conclusions = study_results.changed_findings(earlier, results_dir)
    display(conclusions[["then", "now", "changed"]])
    lines = []
    for topic, row in conclusions.iterrows():
        said = {when: row[when].rstrip(".") for when in ("then", "now")}
        if not said["then"] and not said["now"]:
            continue
        if not row["changed"]:
            lines.append(f"- *{topic.replace('_', ' ')}*, unchanged: {said['now']}.")
        elif not said["now"]:
            lines.append(f"- *{topic.replace('_', ' ')}*, no longer a finding of this run; "
                         f"then: {said['then']}.")
        else:
            lines.append(f"- *{topic.replace('_', ' ')}*, then: {said['then']}; now: "
                         f"{said['now']}.")
    changes = study_results.protocol_changes(then, val)
    other_data = changes["changed"].str.startswith("data:").any()
    why = ("Why a conclusion changed is in the last column of the table above: every model "
           "now trains by one recipe at its family's learning rate until it stops improving, "
           "so a change is the recipe's doing or chance between two trainings, whose size "
           "chapter 4's seeds measure. Which of the settings a change owes most to, these "
           "runs do not separate, except where chapter 4's recipe checks measure one (crops, "
           "photometric augmentation).") if conclusions["changed"].any() else (
           "No conclusion changed; the numbers behind them did (the table above).")
    if other_data:
        why += (" The data changed too (the data checksums in the table's last column): the "
                "earlier comparison ran on another version of the twin, so each change may owe "
                "to the data as much as to the training.")
    display(Markdown("Conclusions then and now:\n\n" + "\n".join(lines) + "\n\n" + why))

# %% [markdown]
# ## On the line
#
# The chosen model's test frames judged against the example spec (chapter 6): escapes
# (defective frames passed) and overkill (good frames failed), against the verdicts the
# labels, and on the twin the clean truth, give under the same spec.

# %%
study_results.passfail_summary(results_dir)

# %% [markdown]
# Frames that break each rule of the spec, per source of masks, and the rules the escapes
# break in each reference (test split):

# %%
study_results.passfail_rules(results_dir)

# %% [markdown]
# ## Compute
#
# Each chapter's last execution (the one the book shows; this page's own is in its run
# record at the top, since it is still running when this table is read) and the training
# time of each model. A chapter's wall time does not include training it resumed from
# checkpoints of an earlier, interrupted execution; the models' own hours do.

# %%
study_results.chapter_times(
    Path(executed).expanduser() if executed else notebook_dir()
).drop(index="07_results", errors="ignore")

# %% [markdown]
# The trained weights are not part of the repository; regenerating them is `make study`
# (or `heatsink study run`) on the same data, and costs this much CPU training on the
# machine named:

# %%
study_results.training_time(results_dir).round(2)

# %% [markdown]
# And how each model was trained: its loss, encoder, input, learning rate, precision and
# epochs, and the machine (training seconds per image compare only between rows trained
# on the same machine at the same precision):

# %%
study_results.training_table(val)

# %% [markdown]
# ## Reproducibility
#
# Every executed chapter records its parameters, git commit, data checksum and hardware
# (the first cell of each chapter). Training is seeded and uses TensorFlow's deterministic
# ops: `tests/test_study.py::test_a_second_baseline_run_with_the_same_seed_reproduces_the_first`
# re-executes chapter 3 (smoke profile) from scratch and requires the same training curve
# and validation scores to within 10⁻⁶; `make test`, and so the CI of every change, runs
# it. At full scale, `bench/reproduce_training.py` retrains chapter 3's first epochs from
# scratch and compares them with the recorded ones. Determinism holds on one machine at
# one precision; the checks made so far, with their machines, are recorded in *How to
# reproduce*.
