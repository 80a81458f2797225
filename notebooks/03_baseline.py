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
# # 3. The U-Net baseline, on the seed's protocol
#
# The seed study trains a U-Net {cite}`ronneberger2015unet` with every filter count halved
# (32-64-128-256-512, skip concatenations, no batch normalisation, no dropout) on images
# resized from 320² to 256² and divided by 255, with batch size 32 for 40 epochs on a
# 70/15/15 split {cite}`zhao2022seed`. It does not name its loss or optimiser; we use
# categorical cross-entropy and Adam with a learning rate of 10⁻⁴ and He initialisation, as
# the widely used Keras U-Net implementations do. (With Adam's default 10⁻³ our first full
# run died in its second epoch: from then on its output no longer depended on its input,
# training and validation loss constant to seven digits, the classic dying-ReLU failure of
# a network without batch normalisation.) This chapter repeats that protocol on the data
# named in the run record and reports what the seed did not: per-class recall and IoU with
# 95 % bootstrap intervals over images, object-level detection, and, on the synthetic twin,
# the same predictions scored against the clean truth behind the labels.
#
# Training runs on the CPU (bfloat16 mixed precision where the CPU has the instructions, see
# the run record), checkpoints every epoch and resumes where it stopped; the model with the
# best validation defect IoU is kept. Predictions are made at 256² and their class
# probabilities resized back to 320² before the arg-max, so every score is at the
# resolution of the masks.

# %% tags=["parameters"]
profile = "full"  # "full": the book; "smoke": the tests
data = None  # dataset folder (None: the default twin)
results = None  # result files (None: results/twin or /real)
runs = None  # trained models (None: ~/.cache/heatsink/runs/twin or /real)
epochs = 40
batch_size = 32
image_size = 256
learning_rate = 1e-4  # Adam's step (10⁻³ killed this network, see above)
filters = 32  # the U-Net's first-level filters (the seed: 32, half of Ronneberger's 64)
precision = "auto"  # "auto": bfloat16 where the CPU has it
n_boot = 1000  # bootstrap resamples
n_examples = 4  # validation examples shown

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from heatsink import viz
from heatsink.classes import CLASS_NAMES
from heatsink.models import predict_masks
from heatsink.study import findings, open_chapter, run_name
from heatsink.study import results as study_results
from heatsink.train import TrainConfig, train

chapter = open_chapter(data, results, runs)
ds, results_dir, name = chapter.ds, chapter.results_dir, chapter.name
val_ids = chapter.ids["val"]
config = TrainConfig(model="unet", image_size=image_size, batch_size=batch_size,
                     epochs=epochs, learning_rate=learning_rate, loss="cce", precision=precision,
                     model_kwargs={"filters": filters})
model_name = run_name(config, base_size=image_size)  # "unet": the seed's protocol
config

# %% [markdown]
# ## Training
#
# One call trains (or resumes, or reuses a finished run in the same folder) and scores the
# best checkpoint on the validation split, once: the scores below are read from the run.

# %%
run = train(config, ds, chapter.runs_dir / model_name, split=chapter.split, verbose=0,
            n_boot=n_boot)
facts = run.metrics
print(f"{facts['parameters']:,} parameters; {len(run.history)} epochs in "
      f"{run.history['seconds'].sum() / 3600:.2f} h ({facts['train_s_per_image']:.3f} s per "
      f"training image, {facts['precision']}); best validation defect IoU at epoch "
      f"{facts['best_epoch']}")

# %% [markdown]
# ## Learning curves
#
# Loss, pixel accuracy and the IoU of the two defect classes (averaged), on the training
# and validation splits, per epoch.

# %% tags=["hide-input"]
viz.learning_curves(run.history, title=f"{name}: half-width U-Net, seed protocol")
plt.show()

# %% [markdown]
# ## Validation scores
#
# The best checkpoint's predictions on the validation split, scored against the labels
# and, on the twin, against the clean truth. Scores are percent, with 95 % bootstrap
# intervals over images in brackets.

# %%
evaluations = run.evaluations()
study_results.scores_with_ci(evaluations, n_boot=n_boot)

# %% [markdown]
# Pixel accuracy is to be read against the accuracy of predicting background everywhere:

# %%
floor = evaluations["labels"].scores.background_share
print(f"pixel accuracy {100 * evaluations['labels'].scores.pixel_accuracy:.2f} % vs "
      f"{100 * floor:.2f} % for all background")
evaluations["labels"].scores.per_class.round(3)

# %% [markdown]
# ## The confusion matrix, row-normalised as in the seed
#
# Each row is a labelled class; the diagonal is its recall. The seed reports, on the real
# data's validation split, 25 % of scratch pixels and 43 % of stain pixels found by this
# model, most of the rest predicted as background {cite}`zhao2022seed`. Those are figures
# about the real data, quoted; the matrices below are ours, on the data named above.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, len(evaluations), figsize=(4.8 * len(evaluations), 3.9),
                         squeeze=False)
for ax, (ref, ev) in zip(axes.flat, evaluations.items(), strict=True):
    viz.confusion_heatmap(ev.scores.confusion, ax=ax, title=f"{name}, validation, vs {ref}",
                          ylabel="as labelled" if ref == "labels" else "clean truth")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Objects found
#
# A labelled defect (a connected component of one class) counts as found when the model
# gives its class to any of its pixels; a predicted component with no labelled pixel of its
# class under it is a false alarm. For a line that rejects parts, finding each defect at all
# matters more than tracing its outline.

# %%
objects = evaluations["labels"].objects.sum()
pd.DataFrame({
    c: {"labelled": objects[f"{c}_true"], "found": objects[f"{c}_found"],
        "object recall %": 100 * objects[f"{c}_found"] / max(objects[f"{c}_true"], 1),
        "predicted": objects[f"{c}_pred"], "false alarms": objects[f"{c}_false"],
        "false alarms / image": objects[f"{c}_false"] / len(val_ids)}
    for c in CLASS_NAMES[1:]
}).T.round(2)

# %% [markdown]
# ## Validation examples
#
# The validation images with the most labelled defect pixels: image, label and prediction
# (scratches cyan, stains green).

# %% tags=["hide-input"]
examples = evaluations["labels"].per_image().join(
    pd.Series({i: (ds.mask(i) > 0).sum() for i in val_ids}, name="defect_px")
).sort_values("defect_px", ascending=False).head(n_examples).index
predictions = predict_masks(run.model("best"), ds, list(examples), image_size)
panels, titles = [], []
for i in examples:
    image = ds.image(i)
    panels += [image, viz.overlay(image, ds.mask(i)), viz.overlay(image, predictions[i])]
    titles += [f"{i}", "label", "prediction"]
fig = viz.image_grid(panels, titles, ncols=3, size=2.8)
viz.show_photo(fig)

# %% [markdown]
# ## Saved results
#
# The scores above, the confusion matrices and the learning curve are written to the
# study's results folder, from which the results page reads them.

# %%
study_results.save_model_results(results_dir, model_name, run)

# %% [markdown]
# ## What this run shows
#
# Read from the result files just written (`heatsink.study.findings.model_findings`), so these
# sentences follow the run above, on whatever data it ran on. The seed's figures are quoted
# from its post, on the real images; chapter 7 says what can be compared with them.

# %% tags=["remove-input"]
display(Markdown(f"On **{name}**:\n\n"
                 + findings.model_findings_markdown(results_dir, model_name, n_boot=n_boot)))

# %% [markdown]
# Chapter 4 trains other encoders on the same split, and, on one of them, losses that do
# not let the background dominate, the imbalance chapter 2 measured.
