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
# # 1. Exploring the data
#
# What do the labelled defects look like, how many are there, how large, and where on the
# part? The seed study {cite}`zhao2022seed` answered the first questions for the real
# dataset with two numbers (stains 1.7 % and scratches 1.3 % of all pixels) and a
# co-occurrence count. Here every figure is computed on the data named in the run record
# above (by default the **synthetic twin**) and put beside the real dataset's published
# statistics {cite}`datasetninja2023heatsink`, computed with the same definitions: an
# *object* is a connected component of one class in a label mask.

# %% tags=["parameters"]
profile = "full"  # "full": the book; "smoke": the tests
data = None  # dataset folder (None: the default twin)
results = None  # result files (None: results/twin or /real)
n_examples = 12  # images in the sample grid
seed = 0  # which images the grid shows

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import heatsink
from heatsink import reference, stats, viz
from heatsink.study import open_chapter

chapter = open_chapter(data, results)
ds, split = chapter.ds, chapter.split
is_twin = ds.has_truth
name = ds.name
try:
    ref_dir = reference.find_dir()
except heatsink.HeatsinkError as err:  # the published statistics are not on every machine
    ref_dir = None
    print(f"No published reference statistics here, comparisons are left out: {err}")
print(f"{name}: {len(ds)} images, checksum {ds.checksum[:16]}")

# %% [markdown]
# ## A first look
#
# Images with their labels drawn over them (cyan: scratch, green: stain), as in DatasetNinja's
# grid of real images. Compare with the real parts: a dark reddish-copper grainy surface,
# uneven lighting, brushing marks that are not labelled, faint scratch lines labelled as bands
# several pixels wider than the line, and small blots labelled as polygons.

# %% tags=["hide-input"]
rng = np.random.default_rng(seed)
picks = sorted(rng.choice(len(ds), size=min(n_examples, len(ds)), replace=False).tolist())
panels = [p for i in picks for p in (ds.image(i), viz.overlay(ds.image(i), ds.mask(i)))]
titles = [t for i in picks for t in (f"{ds.ids[i]}", f"{ds.ids[i]} labelled")]
fig = viz.image_grid(panels, titles, ncols=6, size=2.4)
fig.suptitle(f"{name}: images and labels", y=1.01)
viz.show_photo(fig)

# %% [markdown]
# ## Per-image and per-object tables
#
# One table row per image (objects and pixel share per class), one per object (class,
# bounding box, area). Every later figure in this chapter is read off these two tables.

# %%
masks = dict(ds.masks())  # every label mask, read once (about 100 MB for 1000 images)
images = stats.image_table(masks.items())
objects = stats.objects_table(masks.items())
images.describe().round(2)

# %% [markdown]
# ## Pixel composition
#
# The background is almost everything. Predicting "background" for every pixel would already
# score the background share as pixel accuracy; chapter 2 takes this apart.

# %%
composition = pd.DataFrame({name: stats.pixel_composition(masks.items())})
if ref_dir is not None:
    composition["real (published)"] = reference.pixel_composition()
composition.round(2)

# %% [markdown]
# ## Which defects occur together
#
# The seed reports for the real data: every image has a labelled defect, 28 images have only
# scratches, 300 only stains, 672 both. The twin is calibrated to the same proportions.

# %%
combos = pd.DataFrame({name: stats.cooccurrence(images)})
if ref_dir is not None:
    real = reference.cooccurrence()
    combos["real (published)"] = real
    combos["real scaled to this size"] = (real * len(ds) / real.sum()).round(1)
combos

# %% [markdown]
# ## Objects per image, pixel share per image
#
# Distributions per image. Left two: how many objects of each class an image holds; right
# two: what share of its pixels they cover. Bars are this dataset, the line the published
# real distribution (as densities, so that datasets of different sizes compare).

# %% tags=["hide-input"]
real_images = reference.image_table() if ref_dir is not None else None
fig, axes = plt.subplots(1, 4, figsize=(16, 3.4))
for ax, col in zip(axes, ["scratch_count", "stain_count", "scratch_pct", "stain_pct"],
                   strict=True):
    real = real_images[col] if real_images is not None else None
    viz.compare_hist(ax, images[col], real, discrete=col.endswith("count"), upper=15,
                     labels=(name, "real (published)"))
    ax.set_xlabel(col.replace("_", " ").replace("pct", "% of pixels"))
axes[0].set_ylabel("density")
axes[0].legend(fontsize=8)
fig.suptitle(f"Per-image distributions: {name} vs the real dataset", y=1.03)
plt.show()

# %% [markdown]
# ## Object sizes
#
# Bounding-box height and width and area of every object, per class, on log scales.
# Scratches are long and thin (their boxes reach the full 320 px frame); stains are small.

# %% tags=["hide-input"]
real_objects = reference.objects_table() if ref_dir is not None else None
fig, axes = plt.subplots(2, 3, figsize=(14, 6.4))
for row, cls in enumerate(["scratch", "stain"]):
    ours = objects[objects["class_name"] == cls]
    for ax, col in zip(axes[row], ["bbox_h", "bbox_w", "area_pct"], strict=True):
        real = None
        if real_objects is not None:
            real = real_objects.loc[real_objects["class_name"] == cls, col]
        viz.compare_hist(ax, ours[col], real, log=True, labels=(name, "real (published)"))
        ax.set_title(f"{cls}: {col.replace('_', ' ').replace('pct', '% of image')}", fontsize=10)
axes[0, 0].legend(fontsize=8)
fig.suptitle(f"Object sizes: {name} vs the real dataset", y=1.0)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## How close is the twin? The calibration table
#
# For each distribution above, the two-sample Kolmogorov–Smirnov statistic
# {cite}`massey1951ks` between this dataset and the published real one: the largest gap
# between the two cumulative distributions, 0 when they coincide. The twin's acceptance
# target is KS ≤ 0.2 for every row and co-occurrence within ±5 % of the real proportions.
# This table only makes sense for the twin; on a copy of the real data it would compare the
# data with itself.

# %%
if is_twin and ref_dir is not None:
    from heatsink.synth import calibration_report

    calibration = calibration_report(ds.root)
    distributions = calibration[calibration["level"].isin(["image", "object"])]
    display(distributions[["statistic", "twin_mean", "real_mean", "twin_median",
                           "real_median", "ks", "ok"]].round(3).set_index("statistic"))
    cooc_check = calibration[calibration["level"] == "cooccurrence"]
    display(cooc_check[["statistic", "twin_count", "real_count_scaled", "rel_diff", "ok"]]
            .round(3).set_index("statistic"))
else:
    print("Not the synthetic twin, or no reference here: no calibration table.")

# %% [markdown]
# ## How close is the twin? Its appearance
#
# Label statistics say nothing about what a camera sees, and a model trained on the twin
# sees only that. Here the twin's plating is measured beside the real plating, the pixels of
# the 31 real frames in DatasetNinja's three published pictures that lie at least 4 px from
# anything drawn on them ({doc}`../book/dataset` says how they are cut; no real pixel is
# shown or stored here). The same code measures both, and twin frames are first taken through
# the resampling the published tiles went through. Rows: per-frame colour; the surface's
# energy per octave band of wavelength (relative difference of the medians, target ±20 %);
# local contrast at three scales, brightness spread (10th to 90th percentile over the median),
# vignetting, the spectrum's log-log slope and the texture's anisotropy (KS, target ≤ 0.2;
# the last three are reported, not targets); and the *shape* rows, how far from Gaussian the
# plating is (skewness and excess kurtosis band-passed at 0.7–6 px, the 3–6 px tails),
# reported, not targets: the twin's grain is Gaussian and the real plating's is not, and a
# twin fitted to them too did not make a model quieter on real plating
# ({doc}`09_carry_over`).

# %%
if is_twin:
    from heatsink.synth import appearance_report

    try:
        look = appearance_report(ds.root)
    except (heatsink.HeatsinkError, FileNotFoundError) as err:
        look = None
        print(f"No published pictures here, no appearance table: {err}")
    if look is not None:
        display(look[["statistic", "family", "twin_median", "real_median", "measure",
                      "distance", "acceptance", "ok"]].round(3).set_index("statistic"))
else:
    print("Not the synthetic twin: no appearance table.")

# %% [markdown]
# ## Where the defects sit
#
# The fraction of images in which each pixel carries the class. Left: this dataset; right:
# DatasetNinja's published heatmaps of the real data (an image, quoted as published).

# %% tags=["hide-input"]
heat = stats.spatial_heatmaps(masks.items())
fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1, 1, 2]})
for ax, (cls, grid) in zip(axes[:2], heat.items(), strict=True):
    im = ax.imshow(grid, cmap="viridis")
    ax.set_title(f"{name}: {cls}", fontsize=10)
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046)
if ref_dir is not None:
    axes[2].imshow(plt.imread(reference.heatmap_png()))
    axes[2].set_title("real dataset (DatasetNinja, published)", fontsize=10)
axes[2].axis("off")
plt.show()

# %% [markdown]
# ## What the twin knows that the real data cannot tell us
#
# The real labels are known to contain errors: the seed study shows unlabelled stains,
# scratches labelled as stains, and one defect labelled differently in four neighbouring
# images. The twin reproduces such errors on purpose, and keeps the clean truth behind every
# label, so later chapters can measure how much label noise costs and how well it can be
# found. Below: how many label errors of each kind the twin carries, and a few images where
# label and truth disagree.

# %%
if is_twin:
    from heatsink.synth import records

    display(records.noise_summary(ds.root))
else:
    print("Not the synthetic twin: no clean truth to compare with.")

# %% tags=["hide-input"]
if is_twin:
    manifest = records.read_manifest(ds.root).drop_duplicates("error").head(4)
    panels, titles = [], []
    for row in manifest.itertuples():
        image = ds.image(row.image_id)
        panels += [image, viz.overlay(image, ds.truth(row.image_id)),
                   viz.overlay(image, ds.mask(row.image_id))]
        titles += [row.image_id, "clean truth", f"as labelled ({row.error})"]
    fig = viz.image_grid(panels, titles, ncols=3, size=3.0)
    for k, row in enumerate(manifest.itertuples()):  # where the error is, from the manifest
        for ax in fig.axes[3 * k + 1: 3 * k + 3]:
            ax.add_patch(plt.Rectangle((row.left - 3, row.top - 3), row.bbox_w + 6,
                                       row.bbox_h + 6, fill=False, ec="red", lw=1.2))
    fig.suptitle(f"{name}: injected label errors (red: where, from the noise manifest)", y=1.01)
    viz.show_photo(fig)

# %% [markdown]
# ## Parts larger than one frame
#
# On the line, a part larger than the camera's field is imaged as several adjacent frames;
# the seed shows one defect crossing four of them. The twin does the same, and records which
# tiles are neighbours (`adjacency.csv`); the image ids are shuffled, so the neighbours cannot
# be read off the ids. One multi-tile part, reassembled:

# %% tags=["hide-input"]
if is_twin:
    tiles = records.part_tiles(ds.root)
    rows, cols = tiles["part_rows"].iloc[0], tiles["part_cols"].iloc[0]
    fig, ax = plt.subplots(figsize=(3.2 * cols, 3.2 * rows))
    ax.imshow(viz.part_mosaic(ds, tiles))
    for k in range(1, cols):
        ax.axvline(k * 320 - 0.5, color="w", lw=0.8, ls="--")
    for k in range(1, rows):
        ax.axhline(k * 320 - 0.5, color="w", lw=0.8, ls="--")
    part = tiles["part_id"].iloc[0]
    ax.set_title(f"{name}: part {part}, tiles " + ", ".join(tiles["image_id"]), fontsize=9)
    ax.axis("off")
    viz.show_photo(fig)
else:
    print("No adjacency information in this dataset.")

# %%
if is_twin:
    display(records.read_adjacency(ds.root).groupby("part_id").size().value_counts()
            .sort_index().rename_axis("tiles per part").rename("parts").to_frame())

# %% [markdown]
# ## The split
#
# Every later chapter trains and scores on the same seeded 70/15/15 split, saved as a manifest
# (image id, split, file hashes) in the results folder. On the twin, the tiles of one part go
# to the same split: tiles that share a seam share the defects crossing it, and a split that
# separated them would leak. The composition per split:

# %%
by_split = images.merge(split[["image_id", "split"]], on="image_id")
by_split.groupby("split").agg(
    images=("image_id", "size"),
    scratch_objects=("scratch_count", "sum"),
    stain_objects=("stain_count", "sum"),
    scratch_pct=("scratch_pct", "mean"),
    stain_pct=("stain_pct", "mean"),
).reindex(["train", "val", "test"]).round(2)
