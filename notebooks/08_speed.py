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
# # Speed on a CPU
#
# A line camera does not wait for the model. Yang et al. report their GSLU-Net at 14.1 ms
# per image on an RTX 2070 GPU {cite}`yang2022heatsink`; the machine that runs this study
# has two CPU cores and no GPU. This chapter asks what each trained model costs per 320²
# frame here, run by the engines a line could use, and what that speed costs in quality.
# (It has no number: it sits between chapters 5 and 6, and numbering it would renumber
# them.)
#
# The models are the training plan's first-stage runs with the study's loss, one per
# encoder, all trained with the same recipe and the same number of epochs at most
# (`heatsink.study.plan`): those trained when the chapter ran (the first cell's output
# names any left out). Each is run by:
#
# * Keras, called eagerly (`keras-eager`) and compiled to a graph (`keras-graph`);
# * Keras in bfloat16 (`keras-graph-bf16`), where the CPU has bfloat16 instructions;
# * its ONNX export in ONNX Runtime (`onnx`), and its OpenVINO export in float32
#   (`openvino`) and bfloat16 (`openvino-bf16`);
# * that OpenVINO export quantized to int8 after training (`openvino-int8`: NNCF's
#   post-training quantization, its activation ranges measured on frames of the training
#   split, `heatsink.models.quantize`), the one engine that predicts otherwise than the
#   float32 model, so it is also scored on its own.
#
# Every engine goes through the same prediction path as `heatsink inspect`: a uint8 frame is
# resized to the model's input, predicted, and its probabilities resized back and
# arg-maxed. The times are medians per frame at batch 1 and at the batch size that was
# fastest. Beside them: each model's GFLOP per frame, and the share of this CPU's measured
# matrix-multiply peak that the fastest engine reaches.

# %% tags=["parameters"]
profile = "full"  # "full": the book; "smoke": the tests
data = None  # dataset folder (None: the default twin)
results = None  # result files (None: results/twin or /real)
runs = None  # trained models (None: ~/.cache/heatsink/runs/twin or /real)
models = None  # model name -> run folder under `runs` (None: the plan's stage-1 study-loss runs)
compare = ["light", "gslu"]  # the paired comparison: the first model against the second
engines = ["keras-eager", "keras-graph", "keras-graph-bf16", "onnx", "openvino",
           "openvino-bf16", "openvino-int8"]
frame_size = 320  # the line's frames
batches = [1, 2, 4, 8, 16]  # batch sizes timed
repeats = 20  # timed calls per figure at most
budget_s = 5.0  # seconds of timing per figure at most
frames = 100  # validation frames the engines' masks are compared on
calibration_frames = 300  # training frames the int8 export is calibrated on
n_boot = 1000
target_ms = 14.0  # the paper's GPU figure, per frame
stand_ins = False  # smoke only: untrained tiny models stand in for missing runs

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display
from myst_nb import glue

from heatsink.line.spec import load_spec
from heatsink.models.speed import engine_missing
from heatsink.study import open_chapter, speed
from heatsink.study import results as study_results
from heatsink.study.paths import example_spec

chapter = open_chapter(data, results, runs)
ds, name, results_dir, runs_dir = chapter.ds, chapter.name, chapter.results_dir, chapter.runs_dir
if models:
    wanted = {m: runs_dir / path for m, path in models.items()}
else:  # the plan's stage-1 runs trained so far (all of them, stand-ins aside, at smoke)
    wanted = speed.plan_runs(runs_dir, results_dir=results_dir)  # or their kept copies
    untrained = [m for m, path in wanted.items() if not (path / "metrics.json").exists()]
    if not stand_ins:
        for m in untrained:
            print(f"{m}: left out, its stage-1 run is not trained yet ({wanted[m]})")
        wanted = {m: path for m, path in wanted.items() if m not in untrained}
scratch = tempfile.TemporaryDirectory(prefix="speed-chapter-")  # exports, stand-ins
opened = speed.open_models(wanted, stand_ins=Path(scratch.name) / "stand-ins" if stand_ins
                           else None)
for model, item in opened.items():
    print(f"{model}: {item.identity}" + (" (untrained stand-in)" if item.stand_in else "")
          + ("" if item.weights else " (kept without its weights: timed as its architecture, "
             "scored from its stored scores, left out of the engines' agreement)"))
for engine in engines:
    if engine_missing(engine):
        print(f"{engine}: left out ({engine_missing(engine)})")
# the int8 export's calibration frames: drawn from the training split, never the validation
# frames it is then compared and scored on
draw = np.random.default_rng(0).permutation(len(chapter.ids["train"]))[:calibration_frames]
calibration = [ds.image(chapter.ids["train"][k]) for k in sorted(draw)]

# %% [markdown]
# ## Timing
#
# First the machine's own peak: a 2048² matrix multiply in float32 and, where the CPU has
# the instructions, bfloat16. Then every model with every engine. The load average is
# recorded before and after: if another job shared the CPU, the record says so.

# %%
machine = speed.machine_line()
tables, machine = speed.measure_speed(opened, engines, frame_size, batches, repeats,
                                      budget_s, machine=machine,
                                      workdir=Path(scratch.name) / "exports", log=print,
                                      calibration=calibration)
print(speed.hardware_text(machine))
tables["models"][["model", "parameters", "input_size", "gflop_per_frame"]].round(3)

# %%
timing = tables["speed"].copy()
timing["peak_share_best"] = 100 * timing["peak_share_best"]
timing.round(1).set_index(["model", "engine"])

# %% [markdown]
# ## Do the engines agree?
#
# A faster engine is no use if it draws other masks. Each engine's masks of validation
# frames against the float32 Keras model's: the share of pixels of the same class, the
# worst frame's share, the share of the defect pixels (by Keras) that agree, and the frames
# whose verdict under the example spec differs.

# %%
val_frames = [ds.image(i) for i in chapter.ids["val"][:frames]]
agreement = speed.engine_agreement(opened, val_frames, engines,
                                   spec=load_spec(example_spec()),
                                   workdir=Path(scratch.name) / "exports",
                                   calibration=calibration)
agreement.round(4).set_index(["model", "engine"])

# %% [markdown]
# The float engines agree with Keras up to rounding. The int8 export does not have to: its
# weights and activations are rounded to 256 levels. What that costs is measured where it
# matters, on the whole validation split: each model's defect mIoU through the int8 export
# and through the float32 Keras model, and the paired difference with its 95 % bootstrap
# interval over images.

# %%
int8_quality = speed.engine_quality(opened, ds, chapter.ids["val"], "openvino-int8",
                                    calibration, n_boot=n_boot,
                                    workdir=Path(scratch.name) / "exports")
shown = int8_quality.set_index("model")[["value_engine", "value_float32", "difference",
                                         "low", "high"]]
(100 * shown).round(1)

# %% [markdown]
# ## Quality
#
# Each model's validation defect mIoU, as training scored it, with its 95 % bootstrap
# interval over images. The two models compared are each a recipe, and a recipe trained
# again with another seed scores differently: the plan trains both again with seeds 1 and 2
# (stage 3). Each is scored by its mean over the seeds trained so far, and the paired
# difference is that of the two means, image by image on the same validation images, beside
# how far each recipe's seeds spread.

# %%
evaluations = speed.run_evaluations(opened, ds, chapter.ids["val"])
quality = speed.quality_table(evaluations, n_boot=n_boot)
others = speed.seed_evaluations({m: opened[m].run.path for m in compare}, runs_dir,
                                results_dir)
by_seed = {m: {opened[m].run.config.seed: evaluations[m],
               **{k: ev for k, ev in others[m].items() if k != opened[m].run.config.seed}}
           for m in compare}
seed_scores = speed.seed_scores(by_seed)
paired = speed.paired_quality({m: list(by_seed[m].values()) for m in compare}, *compare,
                              n_boot=n_boot)
study_results.save_speed_results(results_dir, {**tables, "agreement": agreement,
                                               "quality": quality, "paired": paired,
                                               "seeds": seed_scores,
                                               "engine_quality": int8_quality}, machine)
scratch.cleanup()
(100 * quality.set_index("model")[["value", "low", "high"]]).round(1)

# %%
(100 * seed_scores.pivot(index="model", columns="seed", values="value")).round(1)

# %% tags=["hide-input"]
fig = speed.speed_quality_figure(tables["speed"], quality, machine, target_ms=target_ms,
                                 engine_quality=int8_quality)
study_results.save_figure(fig, results_dir / "figures" / "speed.png")
glue("fig-speed", fig, display=False)
plt.close(fig)

# %% [markdown]
# ```{glue:figure} fig-speed
# :name: fig-speed
#
# Validation defect mIoU (95 % bootstrap interval) against milliseconds per 320² frame at
# batch 1, on a logarithmic axis: one marker shape per model, one colour per engine (hollow:
# bfloat16 or eager). The int8 export is drawn at its own score; every other engine at the
# float32 model's. The dashed line is 14 ms, the paper's GPU figure. The hardware and the
# load average while measuring are in the title.
# ```
#
# {numref}`fig-speed` puts every model and engine on one plane: right is slower, up is
# better. In numbers:

# %% tags=["remove-input"]
best = tables["speed"].loc[tables["speed"].groupby("model")["ms_batch1"].idxmin()]
lines = []
for row in best.itertuples():
    share = ("" if np.isnan(row.peak_share_best) else  # no int8 peak is measured
             f", {100 * row.peak_share_best:.0f} % of the {row.precision} peak")
    lines.append(f"* {row.model}: fastest at batch 1 with {row.engine}, {row.ms_batch1:.1f} ms "
                 f"per frame ({'under' if row.ms_batch1 <= target_ms else 'over'} the "
                 f"{target_ms:g} ms target); at batch {row.best_batch}, {row.ms_best:.1f} ms"
                 f"{share}.")
margin = speed.MARGIN
for row in int8_quality.itertuples():
    verdict = (f"the interval stays above −{100 * margin:g} point: int8 costs less than that"
               if row.low > -margin else
               f"the interval reaches below −{100 * margin:g} point: this model is not to be "
               "run in int8 as quantized here")
    lines.append(f"* {row.model} quantized to int8: defect mIoU {100 * row.value_engine:.1f} % "
                 f"against {100 * row.value_float32:.1f} % in float32, "
                 f"{100 * row.difference:+.1f} points [{100 * row.low:+.1f}, "
                 f"{100 * row.high:+.1f}] on the {row.n_images} validation images; {verdict}.")
pair = paired.iloc[0]
over = ("" if pair.seeds_a == pair.seeds_b == 1 else
        f", each by its mean over its seeds ({pair.seeds_a} and {pair.seeds_b})")
spread = ("" if np.isnan(pair.seed_spread) else
          f" The seeds of one recipe spread by up to {100 * pair.seed_spread:.1f} points.")
lines.append(
    f"* {pair.a} against {pair.b}{over}, on the same {pair.n_images} validation images: "
    f"defect mIoU {100 * pair.difference:+.1f} points (95 % paired bootstrap interval "
    f"[{100 * pair.low:+.1f}, {100 * pair.high:+.1f}]).{spread} "
    + (f"The interval stays above −{100 * pair.margin:g} point: {pair.a} trails {pair.b} by "
       "less than that." if pair.within_margin else
       f"The interval reaches below −{100 * pair.margin:g} point: that {pair.a} trails "
       f"{pair.b} by less is not shown."))
if (tables["speed"]["peak_share_best"] > 1).any():
    lines.append("* A share above 100 % means the matrix-multiply peak was measured low: "
                 "under load, or because TensorFlow's matmul runs slower than the "
                 "convolution kernels the engines use.")
if study_results.was_loaded(machine):
    lines.append(f"* Other processes used {machine.get('other_cores', float('nan')):.2f} of "
                 f"the {machine['cores']} cores while the models were timed (load average "
                 f"{machine['load_before']:.1f} before): another job shared the CPU, and these "
                 "times are slower than the machine is.")
if any(opened[m].stand_in for m in opened):
    lines.append("* Some models are untrained stand-ins (no trained run was found): their "
                 "scores mean nothing.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# The tables are in `results/<data>/speed/` (`models`, `timing`, `speed`, `agreement`,
# `quality`, `paired`, `seeds`, `engine_quality`), with `machine.json`: the CPU, its flags,
# its measured peaks and the load average while measuring. `python bench/line_speed.py`
# times untrained models the same way, and `python bench/line_inspect.py` the whole of
# `heatsink inspect`: frames per second and peak memory. `heatsink export RUN --format
# openvino OUT --int8 --calibration FRAMES` writes the int8 export a line would run.
