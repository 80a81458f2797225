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
# # 6. Post-analysis: measurements, verdicts and run charts
#
# The seed study ends by turning predicted stain masks into numbers with OpenCV: per image
# the number of stains, the largest stain's area and the radius and centre of its minimum
# enclosing circle, and the stained share of the frame {cite}`zhao2022seed`. A production
# line needs one step more: a rule that passes or fails a part, a measure of how often that
# verdict is wrong, and a chart that shows when the process drifts. This chapter takes the
# model chosen in chapter 4, predicts the test split, and
#
# * tabulates stains as the seed did, and scratches by their length (the long side of each
#   scratch's rotated bounding rectangle, `cv2.minAreaRect`);
# * judges every frame against an example spec (`specs/example.yaml`) and counts escapes
#   (defective frames passed) and overkill (good frames failed) against the verdicts the
#   labels, and on the twin the clean truth, would give under the same spec;
# * shows how escapes trade against overkill as the spec's limits are scaled;
# * judges whole parts (frames stitched back together) instead of single frames, before and
#   after joining scratch fragments, and asks which model an escape-averse rule would pick;
# * draws an individuals chart of the largest stain's pixel area in frame order, with
#   Western Electric rules.
#
# The same measurements, verdicts and identities are what `heatsink inspect` writes for
# each image on a line. Objects smaller than the spec's `min_object_px` are ignored
# everywhere; without a scale, lengths are in pixels and areas in px².

# %% tags=["parameters"]
profile = "full"  # "full": the book; "smoke": the tests
data = None  # dataset folder (None: the default twin)
results = None  # result files (None: results/twin or /real)
runs = None  # trained models (None: ~/.cache/heatsink/runs/twin or /real)
spec_file = None  # inspection spec (None: specs/example.yaml)
split_name = "test"  # the frames analysed
spc_measure = "LargestStainPixels"  # the charted measurement (the spec's stain-area rule)
spc_baseline = 50  # frames that set the control limits
drift_frames = 300  # frames per drifted production sequence (about 2.5 frames a part)
drift_seeds = 4  # sequences per drift size (and without drift)
drift_start = 61  # the part id from which the drift sequences drift
drift_baseline = 30  # parts that set the drift charts' limits
drift_predicted = 2  # of those, how many the chosen model predicts too
n_table = 10  # rows of the stain table shown
merge_gap_px = 10  # scratch fragments in line across gaps up to this are joined (0: never)
selection_split = "val"  # the split the two model-selection rules are compared on
selection_models = None  # models compared (None: every model with results on that split)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from heatsink import stats, viz
from heatsink.line import measurements, spc
from heatsink.line import spec as inspection
from heatsink.models import Run, predict_masks
from heatsink.study import findings, open_chapter, specs
from heatsink.study import results as study_results
from heatsink.study.paths import example_spec

chapter = open_chapter(data, results, runs)
ds, name, results_dir = chapter.ds, chapter.name, chapter.results_dir
ids = chapter.ids[split_name]
spec = inspection.load_spec(spec_file or example_spec())
run = Run.load(study_results.chosen_run(results_dir, chapter.runs_dir), ds)
print(f"{name}: {len(ids)} {split_name} frames; model {run.path.name} "
      f"({run.config.model}, {run.config.image_size} px); spec {spec.name}")
spec

# %% [markdown]
# ## Measuring predicted and labelled masks
#
# One call predicts the masks (at the model's input size, probabilities resized back to
# 320² before the arg-max); one call measures a set of masks.

# %%
predictions = predict_masks(run.model("best"), ds, ids, run.config.image_size)
settings = {"mm_per_px": spec.mm_per_px, "min_area_px": spec.min_object_px}
tables = {"predicted": measurements.defect_table(predictions.items(), **settings),
          "labelled": measurements.defect_table(((i, ds.mask(i)) for i in ids), **settings)}
if ds.has_truth:
    tables["clean truth"] = measurements.defect_table(((i, ds.truth(i)) for i in ids),
                                                     **settings)
pd.DataFrame({k: t.mean(numeric_only=True) for k, t in tables.items()}).round(2)

# %% [markdown]
# ## The stain table, as the seed made it
#
# Predicted stains per frame, sorted by the largest stain's contour area; the enclosing
# circle's centre is in pixels from the top left corner. The labelled values of the same
# frames sit beside them.

# %%
stain_columns = ["NumberOfStains", "LargestStainArea", "LargestStainRadius",
                 "EnclosingCircleX", "EnclosingCircleY", "TotalStain%"]
labelled_stains = tables["labelled"][["NumberOfStains", "LargestStainArea"]]
(tables["predicted"][stain_columns]
 .join(labelled_stains.add_suffix(" (label)"))
 .sort_values("LargestStainArea", ascending=False).head(n_table).round(1))

# %% [markdown]
# Scratches the same way: predicted scratches per frame, sorted by the longest (the long
# side of its rotated bounding rectangle), the labelled values beside them.

# %%
scratch_columns = ["NumberOfScratches", "LongestScratchLength", "TotalScratchLength",
                   "TotalScratch%"]
labelled_scratches = tables["labelled"][["NumberOfScratches", "LongestScratchLength"]]
(tables["predicted"][scratch_columns]
 .join(labelled_scratches.add_suffix(" (label)"))
 .sort_values("LongestScratchLength", ascending=False).head(n_table).round(1))

# %% [markdown]
# ## Two examples
#
# The frames with the largest predicted stain and the longest predicted scratch (where the
# model predicts any). Each object is outlined; stains get their minimum enclosing circle,
# scratches their rotated bounding rectangle (whose long side is the scratch length). Left
# the prediction, right the label.

# %% tags=["hide-input"]
examples = list(dict.fromkeys(
    tables["predicted"][column].idxmax()
    for column in ("LargestStainPixels", "LongestScratchLength")
    if tables["predicted"][column].max() > 0))
panels, titles = [], []
for i in examples:
    image = ds.image(i)
    panels += [measurements.draw_overlay(image, predictions[i], spec.min_object_px),
               measurements.draw_overlay(image, ds.mask(i), spec.min_object_px)]
    titles += [f"{i}: prediction", f"{i}: label"]
if panels:
    fig = viz.image_grid(panels, titles, ncols=2, size=4.0)
    fig.suptitle(f"{name}, {split_name} split: predicted and labelled objects", fontsize=10)
    viz.show_photo(fig)
else:
    print("the model predicts no stain and no scratch on these frames")

# %% [markdown]
# ## Scratch lengths and stain areas
#
# Per frame, the longest scratch and the largest stain as predicted against as labelled
# (frames where either mask has one). Points on the diagonal are measured right, points
# below it measured short; points on the horizontal axis are defects the model missed.
# Stain areas span orders of magnitude, so their axes are logarithmic above 100 pixels
# (linear below, to keep the zeros).

# %% tags=["hide-input"]
pred, lab = tables["predicted"], tables["labelled"]
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
length_unit = "mm" if spec.mm_per_px else "px"
for ax, column, unit in ((axes[0], "LongestScratchLength", length_unit),
                         (axes[1], "LargestStainPixels", "pixels")):
    both = (pred[column] > 0) | (lab[column] > 0)
    ax.scatter(lab.loc[both, column], pred.loc[both, column], s=12, alpha=0.6)
    top = max(float(lab[column].max()), float(pred[column].max()), 1.0)
    diagonal = np.linspace(0, top, 2000)  # many points: straight also on the log axes
    ax.plot(diagonal, diagonal, color="0.5", linewidth=1)
    if column == "LargestStainPixels":
        ax.set_xscale("symlog", linthresh=100)
        ax.set_yscale("symlog", linthresh=100)
    ax.set_xlabel(f"labelled ({unit})")
    ax.set_ylabel(f"predicted ({unit})")
    ax.set_title(f"{column} ({both.sum()} frames)", fontsize=10)
fig.suptitle(f"{name}, {split_name} split", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Where the defects are
#
# The share of frames in which each pixel is a scratch or a stain, labelled and predicted
# (one colour scale per class, so the two panels of a class compare by eye).

# %% tags=["hide-input"]
heat = {"labelled": stats.spatial_heatmaps((i, ds.mask(i)) for i in ids),
        "predicted": stats.spatial_heatmaps(predictions.items())}
fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
for ax, (source, cls) in zip(axes, [(s, c) for c in ("scratch", "stain")
                                    for s in ("labelled", "predicted")], strict=True):
    top = max(float(heat[name_][cls].max()) for name_ in heat) or 1.0
    im = ax.imshow(heat[source][cls], cmap="viridis", vmin=0, vmax=top)
    ax.set_title(f"{cls}, {source}", fontsize=10)
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046)
fig.suptitle(f"{name}, {split_name} split", fontsize=10)
fig.tight_layout()  # room for the title above the panels' titles
plt.show()

# %% [markdown]
# ## Pass or fail
#
# Every frame is judged under the spec from its predicted masks, and again from its labels
# (and, on the twin, from the clean truth). Counting a FAIL as the positive class, an
# **escape** is a frame the reference fails and the model passes; **overkill** is a frame
# the reference passes and the model fails. The seed argues that overkill, a good part
# re-inspected by hand, is cheaper than an escape, a defective part shipped.

# %%
verdicts = {k: inspection.judge_table(t, spec) for k, t in tables.items()}
confusion = pd.DataFrame({
    f"against {ref}": inspection.pass_fail_confusion(verdicts["predicted"]["verdict"],
                                                     verdicts[ref]["verdict"])
    for ref in verdicts if ref != "predicted"
}).T
confusion

# %% [markdown]
# The spec in context: each limit beside the percentiles of what it measures over the
# labelled frames, and the share of those frames it fails (the example spec's limits were
# set by hand; this table is how to judge them):

# %%
inspection.limits_in_context(tables["labelled"], spec).round(2)

# %% [markdown]
# Which rules fail, per source, and which rules the model's escapes break in each
# reference: a rule that the reference breaks far more often than the model's masks do
# is one whose measurement the model gets short (a frame can fail several rules):

# %%
failed_rules = pd.DataFrame({k: specs.failed_rule_counts(v) for k, v in verdicts.items()})
escapes = pd.DataFrame({
    f"against {ref}": specs.escape_causes(verdicts["predicted"]["verdict"], verdicts[ref])
    for ref in verdicts if ref != "predicted"
})
failed_rules.join(escapes.add_prefix("escapes "))

# %% [markdown]
# ## Trading escapes for overkill
#
# The model's verdicts with the limits of the spec multiplied by a factor (the reference
# verdicts keep the spec as written). Tighter limits (factors below 1) fail more frames:
# fewer escapes, more overkill. Scaling every limit at once is the blunt way; the second
# curve scales only the limit of the rule the escapes break most often (in the table
# above), keeping the others as written. Where it runs below the first curve, tightening
# that one limit buys the same escape rate for less overkill.

# %% tags=["hide-input"]
reference = "clean truth" if "clean truth" in tables else "labelled"
escape_rule = escapes[f"against {reference}"].idxmax()
curves = {
    "every limit": specs.spec_tradeoff(tables["predicted"], tables[reference], spec),
    f"{escape_rule} only": specs.spec_tradeoff(
        tables["predicted"], tables[reference], spec, rules=[escape_rule]),
}
tradeoff = curves["every limit"]
fig, ax = plt.subplots(figsize=(5.5, 4))
for label, curve in curves.items():
    ax.plot(curve["overkill_rate"], curve["escape_rate"], "o-", markersize=4,
            label=f"{label} scaled")
    for _, row in curve.iloc[[0, -1]].iterrows():
        ax.annotate(f"×{row['scale']:.2f}", (row["overkill_rate"], row["escape_rate"]),
                    fontsize=8, xytext=(4, 4), textcoords="offset points")
at_one = tradeoff.loc[(tradeoff["scale"] - 1).abs().idxmin()]
ax.plot(at_one["overkill_rate"], at_one["escape_rate"], "o", color="tab:red",
        label=f"spec as written (×{at_one['scale']:.2f})")
ax.set_xlabel("overkill rate (good frames failed)")
ax.set_ylabel("escape rate (defective frames passed)")
ax.set_title(f"{name}: model vs {reference}, {split_name} split", fontsize=10)
ax.legend(fontsize=8)
plt.show()
pd.concat({label: curve.set_index("scale")[["escape_rate", "overkill_rate"]]
           for label, curve in curves.items()}, axis=1).round(3)

# %% [markdown]
# ## Judging whole parts
#
# A heat sink larger than the camera's field is imaged as a grid of frames, and a scratch
# that crosses a seam is cut in two when each frame is judged on its own. Worse, the model
# predicts long scratches in pieces: it finds more scratches per frame than the labels hold,
# and its longest is shorter. A long scratch split into short pieces passes a
# scratch-length rule, which is where most escapes above come from.
#
# Two changes to the line, tried here on the same frames:
#
# * **by part:** the frames of a part are stitched back into one mask (the twin records
#   where each frame sits in `adjacency.csv`; on data without it the layout comes from
#   the neighbours found from the pixels, `heatsink.seams.find_neighbours`), measured and
#   judged once;
# * **joining fragments:** before measuring, scratch pieces lying in line are joined when
#   the gap between their ends is at most `merge_gap_px` pixels and the bridge is within
#   20° of both pieces' directions (`heatsink.line.fragments`). Parallel scratches side by
#   side stay apart. The joined scratch is measured as before (long side of its rotated
#   rectangle).
#
# The reference verdicts come from the reference masks measured as the line measures them
# today; only the predictions are joined.

# %%
from heatsink import seams
from heatsink.line import parts
from heatsink.study import parts as part_study
from heatsink.synth import records


def layout_of(frame_ids):
    """Where each frame sits in its part: the twin's record, or found from the pixels."""
    if ds.parts is not None:
        return parts.part_layout(records.read_adjacency(ds.root), ids=frame_ids)
    return parts.part_layout(seams.find_neighbours(ds, frame_ids), ids=frame_ids)


def with_interval(rate, low, high, k, n):
    if n == 0:
        return "n/a"
    return f"{100 * rate:.1f} [{100 * low:.1f}, {100 * high:.1f}] ({k}/{n})"


def rate_table(rates):
    return pd.DataFrame({
        "escape rate (%)": [with_interval(r.escape_rate, r.escape_low, r.escape_high,
                                          r.escapes, r.defective) for r in rates.itertuples()],
        "overkill rate (%)": [with_interval(r.overkill_rate, r.overkill_low, r.overkill_high,
                                            r.overkill, r.good) for r in rates.itertuples()],
    }, index=rates.index)


layout = layout_of(ids)
part_reference = ds.truth if ds.has_truth else ds.mask
part_rates = part_study.part_passfail(predictions, part_reference, layout, spec,
                                      merge_gaps=(0, merge_gap_px))
sizes = layout.groupby("part_id").size()
print(f"{name}, {split_name} split: {len(ids)} frames in {len(sizes)} parts "
      f"({', '.join(f'{n} of {k} frames' for k, n in sizes.value_counts().sort_index().items())}); "
      f"reference: {reference}; 95 % Wilson intervals")
rate_table(part_rates)

# %% [markdown]
# Per part, the stitched measurements and verdicts, the parts the model escapes first
# (joined at `merge_gap_px`):

# %%
judged_parts = {
    "reference": parts.judge_parts(part_reference, layout, spec),
    "predicted": parts.judge_parts(predictions, layout, spec),
    "predicted, joined": parts.judge_parts(predictions, layout, spec,
                                           merge_gap_px=merge_gap_px),
}
part_view = judged_parts["reference"][["frames", "NumberOfScratches", "LongestScratchLength",
                                       "verdict"]].add_suffix(" (ref)")
for label in ("predicted", "predicted, joined"):
    part_view = part_view.join(judged_parts[label][
        ["NumberOfScratches", "LongestScratchLength", "verdict"]].add_suffix(f" ({label})"))
escaped = ((part_view["verdict (ref)"] == "FAIL")
           & (part_view["verdict (predicted)"] == "PASS"))
order = part_view.assign(escaped=escaped).sort_values(
    ["escaped", "LongestScratchLength (ref)"], ascending=False).index
part_view.loc[order].head(n_table).round(1)

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
shown = [("frame", 0.0), ("frame", float(merge_gap_px)), ("part", 0.0),
         ("part", float(merge_gap_px))]
ticks = [f"{level}\n{'joined' if gap else 'as predicted'}" for level, gap in shown]
for ax, (measure, title) in zip(axes, [("escape", "escape rate (defective passed)"),
                                       ("overkill", "overkill rate (good failed)")],
                                strict=True):
    rows = part_rates.loc[shown]
    rate = 100 * rows[f"{measure}_rate"].to_numpy()
    err = np.abs(100 * rows[[f"{measure}_low", f"{measure}_high"]].to_numpy().T - rate)
    ax.errorbar(range(len(shown)), rate, yerr=err, fmt="o", capsize=4)
    ax.set_xticks(range(len(shown)), ticks, fontsize=9)
    ax.set_xlim(-0.5, len(shown) - 0.5)
    ax.set_title(title, fontsize=10)
axes[0].set_ylabel("percent")
fig.suptitle(f"{name}, {split_name} split: model vs {reference}, spec {spec.name}",
             fontsize=10)
fig.tight_layout()
plt.show()
display(Markdown(
    f"*Escape and overkill rates of the chosen model ({run.path.name}) under spec "
    f"{spec.name}, judged frame by frame and by whole part, with the predicted scratch "
    f"fragments as predicted and joined across gaps up to {merge_gap_px} px; bars are 95 % "
    f"Wilson intervals ({len(ids)} frames, {len(sizes)} parts).*"))

# %% [markdown]
# ## Choosing a model by its escapes
#
# The study chose its model by the highest defect mIoU. The seed chose by another rule: the
# model that found the largest share of defect pixels and mislabelled the fewest defects as
# background, because "it is much better to overkill in terms of failures than to let
# defective parts slip through to the customer" {cite}`zhao2022seed`. Put on parts, that
# rule ranks the models by their part escape rate (ties: the lower overkill rate). Both
# rules side by side, on the split the models were chosen on, against the labels (all a
# line has), with fragments joined as above:

# %%
saved_results = study_results.load_model_results(results_dir, selection_split)
names = [m for m in (saved_results if selection_models is None else selection_models)
         if m in saved_results]
selection_ids = chapter.ids[selection_split]
selection_layout = layout_of(selection_ids)
label_verdicts = parts.judge_parts(ds.mask, selection_layout, spec)["verdict"]
model_rates = {}
for model_name in names:
    folder = chapter.runs_dir / model_name
    if not (folder / "best.keras").exists():
        print(f"{model_name}: no trained model in {folder}; left out")
        continue
    model_run = Run.load(folder, ds)
    predicted = predict_masks(model_run.model("best"), ds, selection_ids,
                              model_run.config.image_size)
    judged = parts.judge_parts(predicted, selection_layout, spec, merge_gap_px=merge_gap_px)
    model_rates[model_name] = part_study.passfail_rates(judged["verdict"], label_verdicts)
if model_rates:
    ranked, picks = part_study.selection_rules(
        part_study.selection_table({m: saved_results[m] for m in model_rates}, model_rates))
    print(f"{selection_split} split, {selection_layout['part_id'].nunique()} parts: the mIoU "
          f"rule picks {picks['mIoU']}, the escape-averse rule {picks['escape-averse']}"
          f"{' (the same model)' if picks['same'] else ''}")
    display(ranked.assign(**{"defect mIoU (%)": 100 * ranked["miou_defects"],
                             "defect recall (%)": 100 * ranked["defect_recall"]})
            .join(rate_table(ranked))
            [["rank (mIoU)", "rank (escape-averse)", "defect mIoU (%)", "defect recall (%)",
              "escape rate (%)", "overkill rate (%)"]].round(1))
else:
    print(f"no trained model with results on the {selection_split} split: nothing to rank")

# %% [markdown]
# ## A run chart
#
# The frames of the test split in id order stand in for a production sequence. The
# individuals chart takes its centre line and limits (centre ± 2.66 × the mean moving
# range; the lower limit no lower than 0, the smallest area there is) from the first
# frames, then flags the Western Electric rules: one point beyond 3σ (rule 1), two of
# three beyond 2σ on one side (2), four of five beyond 1σ (3), eight in a row on one
# side (4).
#
# Two cautions. An individuals chart assumes roughly normal, independent values, and the
# largest stain's area is not normal: it is skewed, most frames' largest stains small and
# a few large, so the upper limit is crossed more often than its nominal rate. And the
# synthetic twin has no process to drift: its parts are drawn independently of one
# another and its image ids are shuffled, so every point flagged here is a false alarm by
# construction. The chart shows how often these rules cry wolf on this measurement, not a
# process change.

# %% tags=["hide-input"]
series = tables["predicted"][spc_measure].sort_index()
chart = spc.individuals_chart(series, baseline=min(spc_baseline, len(series)), floor=0)
fig, ax = plt.subplots(figsize=(10, 3.4))
spc.plot_run_chart(chart, ax=ax, title=f"{name}: predicted {spc_measure}, frames in id order")
ax.set_xlabel("frame (test split, id order)")
ax.set_ylabel(spc_measure)
plt.show()
chart[[f"rule{k}" for k in range(1, 5)]].sum().rename("frames flagged").to_frame().T

# %% [markdown]
# ## Saved results
#
# The per-frame table with verdicts and the pass/fail counts go to the results folder.

# %%
saved = study_results.save_postprocess_results(
    results_dir, split_name, run.path.name, spec, verdicts["predicted"], confusion, tradeoff,
    failed_rules=failed_rules, escapes=escapes)
print(saved)

# %% [markdown]
# ## A drift the chart should catch
#
# The run chart above has nothing to find. To see what its rules detect, the twin's
# generator makes production sequences with a known drift (`heatsink.synth.drift`): from a
# stated part on, every stain is drawn larger (its area times a factor) and every scratch
# longer, the rest of each part as it would have been. Each sequence is measured frame by
# frame in production order and charted as above, with limits from its first parts. For
# each Western Electric rule, `heatsink.study.drift` counts its **false alarms** on the
# frames after that baseline and before the drift, and its **detection delay**: the parts
# from the drift's first part to the part of the rule's first flag (0: the first drifted
# part). Two drift sizes and, as a control, the same sequences without drift, several of
# each, measured on the clean truth masks (what the chart would see with a perfect model)
# and, on some of the same sequences, on the chosen model's predictions.
#
# First, what the drift does, measured on the truth: the median stain area and scratch
# length on fully drifted parts against the parts before, per sequence (mean, lowest and
# highest over the sequences). Stains grow by about the factor asked; scratches fall short
# of it, because a scratch cannot outgrow the 320-pixel frame and one that no longer fits
# where it was to go is redrawn smaller.

# %%
import tempfile

from myst_nb import glue

from heatsink.data import load_dataset
from heatsink.study import drift as drift_study
from heatsink.synth.drift import Drift

drift_sizes = {"no drift": Drift(drift_start),
               "stains ×2, scratches ×1.5": Drift(drift_start, 2.0, 1.5),
               "stains ×4, scratches ×2": Drift(drift_start, 4.0, 2.0)}
drift_folder = tempfile.TemporaryDirectory(prefix="drift-twins-")  # ~0.4 MB a frame
drift_twins = drift_study.drift_twins(drift_folder.name, drift_sizes, range(drift_seeds),
                                      drift_frames)
size_change = drift_study.size_change(drift_twins)
(size_change.groupby(["drift", "class"], sort=False)
 .agg(asked=("asked", "first"), measured=("measured", "mean"),
      lowest=("measured", "min"), highest=("measured", "max")).round(2))

# %% [markdown]
# The experiment, on the truth masks of every sequence and on the model's masks of the
# first sequences of each size. A seed's parts before the drift are the same whatever its
# size, so the false alarms repeat across the sizes; `detected` counts the sequences in
# which the rule flagged at or after the drift's start. Without drift, that flag is a
# false alarm, and its delay is how long the rule takes to cry wolf after the same part:
# a rule detects a drift only where it flags clearly sooner than that.

# %%
drift_options = {"baseline_parts": drift_baseline,
                 "measures": [spc_measure, "LongestScratchLength"],
                 "by": "frame", "min_area_px": spec.min_object_px}
drift_model = run.model("best")


def drift_predictions(path):
    """The chosen model's masks of every frame of one drifted twin."""
    twin = load_dataset(path, verify=False)
    return predict_masks(drift_model, twin, twin.ids, run.config.image_size)


drift_records = {
    "clean truth": drift_study.drift_experiment(drift_twins, **drift_options),
    "predicted": drift_study.drift_experiment(
        drift_twins.groupby("drift", sort=False).head(drift_predicted),
        masks=drift_predictions, **drift_options),
}
example = drift_twins.iloc[-1]  # a sequence of the larger drift, for the figure
drift_example = drift_study.production_series(
    drift_study.truth_masks(example["path"]),
    pd.read_csv(example["path"] / "adjacency.csv", dtype={"image_id": str}),
    spc_measure, by="frame", min_area_px=spec.min_object_px)
drift_folder.cleanup()
drift_table = pd.concat({k: drift_study.summarise_detection(r)
                         for k, r in drift_records.items()}, names=["masks"])
print(f"{len(drift_twins)} sequences of {drift_frames} frames; drift from part "
      f"{drift_start}, limits from parts 1–{drift_baseline}; delays in parts, false alarms "
      "per in-control frame")
drift_table[["sequences", "detected", "mean_delay_parts", "max_delay_parts",
             "false_alarms", "false_alarm_rate"]].round(3)

# %% tags=["hide-input"]
truth_summary = drift_table.xs("clean truth", level="masks")
fig = plt.figure(figsize=(11, 7.2))
grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.1])
drift_study.plot_drift_chart(drift_example, drift_start, drift_baseline,
                             ax=fig.add_subplot(grid[0, :]),
                             title=f"clean truth, {example['drift']}, seed {example['seed']}")
fig.axes[0].set_ylabel(f"{spc_measure} (log above 100)")
fig.axes[0].set_yscale("symlog", linthresh=100)
fig.axes[0].set_ylim(bottom=0)
drift_study.plot_detection(truth_summary,
                           axes=[fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])])
fig.tight_layout()
glue("fig-drift", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig-drift
# :name: fig-drift
#
# Detecting a drift on the clean truth masks. Top: one sequence's run chart of the
# largest stain per frame in production order (a logarithmic axis above 100 pixels, linear
# below, to keep the zeros); the drift starts at the orange line, the
# shaded frames set the limits, circled points are flagged by some rule. Bottom: for each
# measure, each rule's mean detection delay (parts) against its false alarms per
# in-control frame, over the sequences; a hollow marker at the top of a panel is a rule
# that never detected that drift.
# ```
#
# {numref}`fig-drift` and the table above are the trade a line makes when it picks the
# rules it acts on: how soon each rule flags a drift, against how often it flags when
# nothing has changed. In numbers, for the larger drift:

# %% tags=["remove-input"]
largest = list(drift_sizes)[-1]
sentences = []
for measure in drift_options["measures"]:
    rows = truth_summary.xs(measure, level="measure")
    drifted, control = rows.loc[largest], rows.loc["no drift"]
    found = drifted[drifted["detected"] == drifted["sequences"]]
    if found.empty:
        sentences.append(f"* {measure}: no rule flags the drift in every sequence.")
        continue
    rule = found["mean_delay_parts"].idxmin()
    quiet = control.loc[rule]
    seen, of = int(quiet["detected"]), int(quiet["sequences"])
    wait = ("without drift it never flags after that part" if seen == 0 else
            f"without drift its first flag after that part comes {quiet['mean_delay_parts']:.1f}"
            f" parts later on average (in {seen} of {of} sequences)")
    sentences.append(
        f"* {measure} (clean truth): {rule} flags the drift soonest, "
        f"{found.loc[rule, 'mean_delay_parts']:.1f} parts after its start on average (at most "
        f"{found.loc[rule, 'max_delay_parts']:.0f}); {wait}; it false-alarms on "
        f"{100 * quiet['false_alarm_rate']:.1f} % of in-control frames.")
display(Markdown("\n".join(sentences)))

# %% [markdown]
# ## What this chapter shows
#
# The line's verdict in one sentence, read from the results just saved (the same sentence
# chapter 7 and the README give):

# %% tags=["remove-input"]
display(Markdown(findings.findings_markdown(results_dir, topics=["pass_fail"])
                 or f"(No pass/fail finding: it is written for the test split, this run "
                    f"judged the {split_name} split.)"))
