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
# # 5. Label quality: finding the labels that are wrong
#
# The seed study argues that the dataset's labels are arbitrary and often wrong: defects
# left unlabelled, scratches labelled as stains and back, one defect labelled differently
# in two adjacent frames {cite}`zhao2022seed`. It shows examples, which is all it could do:
# nobody knows the true labels of the real data. The synthetic twin knows them. Every
# label error it injected is listed in its noise manifest (chapter 1), so here we can
# measure how well a label-checking method finds them, then run the same method on any
# real copy of the data, where it produces a worklist for a labeller.
#
# The methods need, for every image, class probabilities from a model that never saw that
# image: a model that trained on an image has learnt its label errors too. We train `k`
# models, each on all folds but one, and let each predict the fold it did not see
# (tiles of one part stay in one fold). The fold models are trained by the recipe chapter 4
# chose (stage 4 of the study's training plan, `heatsink.study.plan`). On those
# out-of-sample probabilities:
#
# * **cleanlab** {cite}`northcutt2021confident`: confident learning finds the pixels whose
#   label the model confidently contradicts (`find_label_issues`), and ranks images by a
#   soft minimum of the per-pixel probability of the given label
#   (`get_label_quality_scores`);
# * two **baselines**: the out-of-sample cross-entropy of the label over the defect region,
#   and the number of pixels where the prediction disagrees with the label;
# * a **component view**: unlabelled blobs the model is confident are defects, labelled
#   blobs it calls background, and scratch/stain swaps;
# * **seams**: neighbouring frames found from their pixels alone, and their labels compared
#   across the shared edge.
#
# Last, the twin's label noise is one stated level; a second experiment trains the same
# recipe on twins with more and less noise, to see whether what this chapter finds depends
# on it.

# %% tags=["parameters"]
profile = "full"  # "full": the book; "smoke": the tests
data = None  # dataset folder (None: the default twin)
results = None  # result files (None: results/twin or /real)
runs = None  # trained models (None: ~/.cache/heatsink/runs/twin or /real)
train_plan = False  # True: train the plan's stages 4 and 5 here (the smoke run, toy scale)
encoders = None  # as chapter 4's parameter: the plan's settings must be the same
top_fractions = [0.05, 0.1, 0.2, 0.3]  # precision at the top k % of each ranking
flag_fraction = 0.2  # each method flags its most suspect 20 % of images
top_components = [25, 50, 100, 200]  # precision of the most confident suspect components
exclude_fractions = [0.0, 0.05, 0.1, 0.2]  # most suspect images left out of the scores
n_grid = 6  # top issues shown

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from myst_nb import glue

from heatsink import crossval, seams
from heatsink import label_quality as lq
from heatsink.errors import HeatsinkError
from heatsink.study import dose, findings, open_chapter, plan
from heatsink.study import results as study_results
from heatsink.synth import records

chapter = open_chapter(data, results, runs)
ds, name, results_dir, runs_dir = chapter.ds, chapter.name, chapter.results_dir, chapter.runs_dir
ids = list(ds.ids)
manifest = records.read_manifest(ds.root) if ds.has_truth else None
settings = plan.PlanSettings.smoke() if profile == "smoke" else plan.PlanSettings.default()
if encoders:
    settings = dataclasses.replace(settings, encoders=tuple(encoders))
if train_plan:
    plan.run_plan([4, 5], ds, runs_dir, results_dir, settings=settings,
                  log=lambda line: None)
missing = plan.missing_runs([4, 5], ds, runs_dir, results_dir, settings)
if missing:
    raise HeatsinkError(missing)
config = plan.chosen_recipe(runs_dir, results_dir, ds, settings)
k = settings.folds
noise = (f"noise manifest: {len(manifest)} errors" if manifest is not None
         else "no noise manifest (real data)")
print(f"{name}: {len(ids)} images; {noise}; fold models: {k} of "
      f"{plan.plan_name(config, settings)} (chapter 4's chosen recipe)")

# %% [markdown]
# ## The errors to find
#
# On the twin, the injected label errors by type (chapter 1 describes them). On real data
# this table does not exist, and the chapter's measurements against it are skipped.

# %%
records.noise_summary(ds.root) if manifest is not None else None

# %% [markdown]
# ## Out-of-sample probabilities
#
# `k` fold models of chapter 4's chosen recipe (the same encoder, loss, learning rate,
# augmentation, schedule and early stopping), read from the training plan's folder.
# Each model picks its best epoch on a validation slice of its own training folds. Below,
# each fold model's validation scores, against the labels, and its training time.

# %%
oos = crossval.out_of_sample(ds, config, plan.crossval_dir(runs_dir, config, settings), k=k,
                             verbose=0)
oos.fold_metrics()[["best_epoch", "pixel_accuracy", "scratch_recall", "scratch_iou",
                    "stain_recall", "stain_iou", "train_hours"]].round(3)

# %%
labels = np.stack([ds.mask(i) for i in ids])
probs = oos.probabilities()
preds = probs.argmax(axis=-1).astype(np.uint8)

# %% [markdown]
# ## Three rankings of the same probabilities
#
# Each method gives every image a score; lower is more suspect.

# %%
scores = {
    "cleanlab": lq.cleanlab_scores(labels, probs, ids)[0],
    "loss": lq.loss_scores(labels, probs, ids),
    "disagreement": lq.disagreement_scores(labels, probs, ids),
}
pixel_issues = lq.cleanlab_pixel_issues(labels, probs)
components = lq.component_issues(labels, probs, ids)
print(f"cleanlab marks {int(pixel_issues.sum()):,} pixels in "
      f"{int((pixel_issues.reshape(len(ids), -1).sum(axis=1) > 0).sum())} images; "
      f"{len(components)} suspect components")
components["kind"].value_counts()

# %% [markdown]
# ## Measured against the injected errors
#
# **Precision at the top k %**: of the k % most suspect images of each ranking, the share
# that holds at least one injected error (and the share of all erroneous images caught),
# with 95 % intervals (Wilson): 5 % of 1000 images is only 50 images. About one image in
# five holds an error, so a random ranking scores about 0.2 (dashed line).

# %%
if manifest is not None:
    positives = set(manifest["image_id"].astype(str))
    at_k = pd.concat({m: lq.precision_at_k(s, positives, top_fractions)
                      for m, s in scores.items()}, names=["method"])
    display(at_k.round(3))
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for method, table in at_k.groupby(level="method"):
        ax.errorbar(100 * table["fraction"], table["precision"],
                    yerr=[table["precision"] - table["ci_low"],
                          table["ci_high"] - table["precision"]],
                    fmt="o-", capsize=3, label=method)
    ax.axhline(len(positives) / len(ids), color="0.5", linestyle="--", label="random")
    ax.set_xlabel("top k % of the ranking")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1)
    ax.set_title(f"{name}: images with an injected error among the most suspect", fontsize=10)
    ax.legend(fontsize=8)
    plt.show()

# %% [markdown]
# **Detection by error type.** Confident learning has its own rule for which pixels are
# issues, but with fold models this far from perfect it marks some pixels in all or
# nearly all images (counted below), so "images with an issue" is no decision at all. Every
# method therefore flags the same budget, its most suspect `flag_fraction` of the images:
# the comparison is at equal cost to the labeller. Recall is per error type; `precision_any`
# is the share of flagged images holding any injected error, and `share_of_flagged` the
# share holding an error of that type.

# %%
if manifest is not None:
    n_own = int((pixel_issues.reshape(len(ids), -1).any(axis=1)).sum())
    n_flag = max(1, round(flag_fraction * len(ids)))
    print(f"cleanlab's own pixel rule marks issues in {n_own} of {len(ids)} images; "
          f"each method flags its {n_flag} most suspect")
    flagged = {m: set(lq.flag_top(s, n_flag)) for m, s in scores.items()}
    image_table = lq.image_detection_table(flagged, manifest, ids)
    display(image_table.round(3))

# %% [markdown]
# **Components.** A suspect component matches an injected error when both are in the same
# image and their boxes overlap (the error's box grown by 2 px). Recall is the share of
# injected errors matched by a component; precision the share of components that match
# one. The match is lenient: it credits any suspect component on or beside a mislabelled
# object, whatever the component marks. That flatters the sloppy boundaries most. A shift
# of 1–2 px is by design never a component itself (a band of 2 px around each labelled
# defect is ignored), yet a boundary error counts as found whenever the model disagrees
# with any part of that object. The second table shows which kinds of component make the
# matches: read the recall as where a labeller would be sent, not as errors recognised for
# what they are.

# %%
if manifest is not None:
    component_table = lq.component_detection_table({"components": components}, manifest,
                                                   ids)
    display(component_table.round(3))
    matched = lq.match_components(components, manifest)
    display(pd.crosstab(matched["kind"], matched["matched_errors"].replace("", "none")))

# %% [markdown]
# A labeller reads a worklist from the top, so the precision that matters is that of the
# most confident components, per kind: `top_n` is the share of the `n` most confident that
# match an injected error, and `precision_all` the share of all of them, the bar to beat.

# %%
if manifest is not None:
    component_top = lq.component_precision_at_n(matched, top_components)
    display(component_top.round(3))

# %% [markdown]
# ## Seams between neighbouring frames
#
# The real dataset cuts each heat sink into frames and says nothing about which frames
# touch. We find neighbours from their pixels alone (a frame's edge continues smoothly into
# its neighbour's, see `heatsink.seams`), then compare the labels on both sides of each
# seam: a defect that crosses the seam should be labelled, and labelled the same, on both
# sides.

# %%
pairs = seams.find_neighbours(ds)
consistency = seams.seam_consistency(ds, pairs)
seam_facts = {"seams found": len(pairs),
              "seams with inconsistent labels": int((~consistency["consistent"]).sum())}
if manifest is not None:
    seam_facts.update({f"neighbours: {k}": v for k, v in seams.neighbour_recovery(
        pairs, records.read_adjacency(ds.root)).items()})
    seam_facts.update({f"seam errors: {k}": v for k, v in seams.seam_errors_caught(
        consistency, manifest).items()})
pd.Series(seam_facts).to_frame("value")

# %% [markdown]
# ## What it means for the scores
#
# Two analyses, not new headline figures. First, the out-of-sample predictions scored on
# all images and with the most suspect images (by cleanlab) left out: if the ranking finds
# real errors, leaving them out should raise the score against the labels and change little
# against the clean truth. Second, the gap between scoring against the labels and against
# the clean truth estimates how much label noise caps the score a model can be credited
# with. (Every image here is predicted by a model that never saw it; the chosen model of
# chapter 4 trained on 70 % of them.)

# %%
pred_masks = dict(zip(ids, preds, strict=True))
references = {"labels": dict(zip(ids, labels, strict=True))}
if ds.has_truth:
    references["truth"] = {i: ds.truth(i) for i in ids}
excluded = lq.scores_with_exclusion(pred_masks, references, scores["cleanlab"],
                                    exclude_fractions)
excluded[["images", "pixel_accuracy", "scratch_iou", "stain_iou", "miou_defects",
          "scratch_object_recall", "stain_object_recall"]].round(4)

# %% [markdown]
# ## A worklist for a labeller
#
# Every image in cleanlab's order with what to check, saved as CSV with the tables below. On
# real data this is the chapter's product: the first rows are where relabelling pays most.

# %%
ranked = lq.ranked_issues(scores["cleanlab"], components, pixel_issues, ids)
ranked.head(10)

# %% [markdown]
# The most suspect images: image, label, out-of-sample prediction, and the pixels cleanlab
# marks (red). On a twin, each title also says what the generator injected into that
# label, so the figure shows which suspicions are right.

# %% tags=["hide-input"]
top = lq.flag_top(scores["cleanlab"], n_grid)
rows = [ids.index(i) for i in top]
notes = lq.injected_errors(manifest, top) if manifest is not None else None
fig = lq.issue_grid([ds.image(i) for i in top], labels[rows], preds[rows], top,
                    scores["cleanlab"], pixel_issues[rows], n=n_grid, notes=notes)
fig.suptitle(f"{name}: the {len(top)} most suspect labels (cleanlab)", fontsize=10, y=1.01)
plt.show()

# %% [markdown]
# ## Saved results
#
# The detection tables (twin only), the exclusion table and the fold models' scores and
# training hours go to the results folder.

# %%
saved = study_results.save_label_quality(results_dir, {
    "excluded": excluded, "folds": oos.fold_metrics(), "ranked_issues": ranked,
    **({"precision_at_k": at_k, "image_detection": image_table,
        "component_detection": component_table, "component_precision_at_n": component_top}
       if manifest is not None else {}),
    "seams": pd.Series(seam_facts).to_frame("value")})
sorted(path.name for path in saved)

# %% [markdown]
# ## What this run found
#
# Read from the tables just saved (`heatsink.study.findings.label_quality_findings`), so these
# sentences follow the run above; on real data, without a noise manifest, only those about
# the fold models and the scores remain.

# %% tags=["remove-input"]
display(Markdown(f"On **{name}**:\n\n" + findings.label_quality_markdown(results_dir)))

# %% [markdown]
# Two things these figures do not show. Gross errors are another matter than the twin's
# realistic ones (faint missed stains, 1–2 px boundary shifts, seam mismatches, small next
# to the fold models' own mistakes): where a test corrupts 10 % of a fresh twin's labels by
# whole class swaps and erased blobs, cleanlab's top 20 % must hold at least 6 of the 10,
# and does (`tests/test_label_quality_acceptance.py`). And the twin's noise rate is a stated
# assumption; the real labels' rate is unknown, so how much noise caps a score on the real
# data is for a labeller's worklist to tell; the next section asks how much the findings
# depend on it.
#
# ## More noise, less noise
#
# The twin's label noise is a stated assumption (chapter 1). To see what the findings above
# owe to it, stage 5 of the training plan generates one twin per *dose* of label noise
# (`heatsink.study.dose.DOSES`: none, the twin's stated level, twice its rates, and twice its
# rates with annotators who leave faint defects unlabelled), trains the chosen recipe on
# each, and measures per dose how much of the data the errors touch, the validation defect
# mIoU against the labels and against the clean truth, and cleanlab's precision among its
# most suspect fifth of the images from `k` fold models of the same recipe
# ({numref}`fig-dose`).

# %%
doses = plan.dose_table(results_dir, config, settings)
wide = doses.pivot_table(index=["position", "dose"], columns="measure", values="value",
                         aggfunc="first").droplevel("position")
(100 * wide).round(1)

# %% tags=["hide-input"]
fig = dose.dose_curve(doses, title=f"{plan.plan_name(config, settings)} on twins of "
                                   f"{settings.dose_twin['n']} images, by label-noise dose")
glue("fig-dose", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig-dose
# :name: fig-dose
#
# The noise-dose experiment. Left: the share of images holding an injected label error and
# the share of defect pixels the errors change, per dose. Middle: the recipe's validation
# defect mIoU against the labels and against the clean truth (95 % bootstrap intervals).
# Right: cleanlab's precision among its most suspect fifth of the images (95 % Wilson
# interval), beside a random ranking's (dashed).
# ```

# %% tags=["remove-input"]
value = doses.set_index(["dose", "measure"])
sentences = []
for dose_name in doses["dose"].unique():
    rows = value.loc[dose_name]
    pixels = 100 * rows.loc["error_share_pixels", "value"]
    change = rows.loc["miou_defects_truth_minus_labels"]
    moved = ("an interval that holds zero" if change["low"] <= 0 <= change["high"]
             else "an interval clear of zero")
    errors = (f"errors on {pixels:.1f} % of the defect pixels" if pixels > 0
              else "no injected errors")
    text = (f"*{dose_name}* ({errors}): scored against "
            f"the clean truth instead of the labels, the defect mIoU changes by "
            f"{100 * change['value']:+.1f} points [{100 * change['low']:+.1f}, "
            f"{100 * change['high']:+.1f}], {moved}")
    top = [m for m in rows.index if m.startswith("cleanlab_precision_top")]
    if top and np.isfinite(rows.loc[top[0], "value"]):
        text += (f"; {100 * rows.loc[top[0], 'value']:.0f} % of cleanlab's most suspect "
                 f"images hold an error [{100 * rows.loc[top[0], 'low']:.0f}, "
                 f"{100 * rows.loc[top[0], 'high']:.0f}], against "
                 f"{100 * rows.loc['cleanlab_random', 'value']:.0f} % of all images, what a "
                 "random draw would hold")
    sentences.append(text + ".")
display(Markdown(f"Per dose, {plan.plan_name(config, settings)} trained on each twin:\n\n"
                 + "\n".join(f"- {s}" for s in sentences)))
