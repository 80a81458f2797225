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
# # 2. Class imbalance: what pixel accuracy hides
#
# The seed study reports about 97.8 % pixel accuracy for all three of its models, and notes
# itself that predicting background everywhere would already reach about 97 % on the real data
# {cite}`zhao2022seed`. This chapter makes that precise on the data named in the run record:
# how much accuracy the background gives away for free, what the per-class scores the rest of
# the study reports (precision, recall, IoU, Dice per class, mIoU) say instead, and which class
# weights counter the imbalance in training. No model is trained here: every "predictor" below
# is a simple transformation of the labels, so that each score can be read against a known
# cause.

# %% tags=["parameters"]
profile = "full"  # "full": the book; "smoke": the tests
data = None  # dataset folder (None: the default twin)
results = None  # result files (None: results/twin or /real)
grow_px = 2  # the "too fat" predictor grows defects by this
shift_px = 3  # the "misplaced" predictor shifts by this

# %%
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from heatsink import baselines, imbalance, metrics, stats, viz
from heatsink.study import open_chapter

chapter = open_chapter(data, results)
ds, ids, name = chapter.ds, chapter.ids, chapter.name
print(f"{name}: {len(ds)} images, checksum {ds.checksum[:16]}; "
      + ", ".join(f"{k} {len(v)}" for k, v in ids.items()))

# %% [markdown]
# ## How much of each split is background
#
# Pixel counts per class in each split, as a share of the split's pixels.

# %%
counts = pd.DataFrame({part: stats.pixel_counts((i, ds.mask(i)) for i in members)
                       for part, members in ids.items()}).T
(100 * counts.div(counts.sum(axis=1), axis=0)).round(3).rename(columns=lambda c: f"{c} %")

# %% [markdown]
# ## Predictors that involve no learning
#
# Each is scored on the validation split against the labels, pooled over all its pixels:
#
# - **all background**: the floor. Its pixel accuracy is the background share.
# - **labels grown by `grow_px` px**: every defect found, but drawn too fat, as a model that
#   over-segments would.
# - **labels shifted by `shift_px` px**: every defect found and sized right, but misplaced
#   by a few pixels.
# - **labels** themselves: the perfect predictor.

# %%
val_masks = {i: ds.mask(i) for i in ids["val"]}
predictors = {
    "all background": baselines.all_background,
    f"labels grown {grow_px} px": partial(baselines.grown, pixels=grow_px),
    f"labels shifted {shift_px} px": partial(baselines.shifted, dy=shift_px, dx=shift_px),
    "labels (perfect)": np.copy,
}
table = baselines.score_predictors(val_masks, predictors)
columns = ["pixel_accuracy", "scratch_recall", "scratch_iou", "stain_recall", "stain_iou",
           "miou", "miou_defects"]
(100 * table[columns]).round(1)

# %% [markdown]
# Pixel accuracy barely separates the floor from a predictor that finds every defect: the
# "all background" row already scores the background share, and a few pixels of misplacement
# on objects this thin cost more IoU than a whole missing class costs accuracy. The per-class
# recall and IoU tell the predictors apart; these, not pixel accuracy, are the study's
# headline figures, with mIoU over all classes and over the defect classes only.
#
# ## The confusion matrix, row-normalised
#
# The seed shows its results as confusion matrices normalised per true class (each row sums
# to 1, the diagonal is the per-class recall). Here for the shifted predictor: most of what it
# misses of each defect class goes to background, as for the seed's U-Net.

# %%
shifted = metrics.score_masks(
    (m, baselines.shifted(m, shift_px, shift_px)) for m in val_masks.values()
)
shifted.per_class.round(3)

# %% tags=["hide-input"]
viz.confusion_heatmap(shifted.confusion, ylabel="labelled",
                      title=f"{name}, validation: labels shifted {shift_px} px")
plt.show()

# %% [markdown]
# ## How noisy labels cap the measurable score
#
# On the twin we also know the clean truth behind each label. Treating the labels as a
# prediction of the truth measures the label noise itself: even a model that reproduced the
# labels perfectly could not score higher than this against the truth, and a model that
# predicted the truth perfectly would score this against the labels. The seed could only
# argue this; here it is a number. (On real data, without truth, this cell reports nothing.)

# %%
if ds.has_truth:
    cap = metrics.score_masks((ds.truth(i), ds.mask(i)) for i in ids["val"])
    display((100 * cap.summary()[columns]).round(1).to_frame("labels vs clean truth").T)
else:
    print("No clean truth for this data.")

# %% [markdown]
# ## Class weights for training
#
# Three standard ways to weight the loss per class from the training split's pixel counts:
# scikit-learn's `balanced` (n / (classes × count)), median-frequency balancing
# {cite}`eigen2015multiscale` and the milder inverse square root of the frequency, both
# scaled so that background has weight 1. The model chapters compare losses built on these
# weights with focal and Dice losses.

# %%
weights = pd.DataFrame({method: imbalance.class_weights(counts.loc["train"], method)
                        for method in ("balanced", "median_frequency", "inverse_sqrt")})
weights.round(2)

# %% [markdown]
# ## Per-image scores
#
# Pooled scores weigh every pixel equally, so images with large defects dominate them. The
# model chapters also report per-image scores with bootstrap intervals over images; here, the
# spread of per-image defect IoU for the shifted predictor shows how much a pooled number
# hides.

# %%
per_image = metrics.per_image_scores(
    {i: (m, baselines.shifted(m, shift_px, shift_px)) for i, m in val_masks.items()}
)
per_image[["scratch_iou", "stain_iou"]].describe().round(3)

# %% tags=["hide-input"]
iou = per_image[["scratch_iou", "stain_iou"]].rename(columns=lambda c: c.split("_")[0])
fig, ax = plt.subplots(figsize=(6, 3.2))
sns.histplot(iou.melt(var_name="class", value_name="IoU").dropna(),
             x="IoU", hue="class", bins=20, ax=ax, element="step")
ax.set_title(f"{name}, validation: per-image IoU, labels shifted {shift_px} px", fontsize=10)
plt.show()
