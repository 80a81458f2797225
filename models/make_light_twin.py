"""Ship the light model: copy the plan's ``light-wcce+dice`` run into ``models/light-twin`` with
its model card.

Run from the repository root, after ``heatsink study train --only light-wcce+dice`` (about
10 minutes on a 2-core CPU): ``.venv/bin/python models/make_light_twin.py``. It

1. copies the run's ``best.keras`` without its optimizer state and its ``config.json``;
2. scores it on the study's test split of the default twin against the clean truth, with
   95 % bootstrap intervals over images (``heatsink.study.carry_over.twin_evaluation``);
3. runs the real-surface check on DatasetNinja's 31 real frames (if the pictures are found);
4. writes ``card.json`` (every number, the weights' SHA-256, the twin's checksum and
   generator) and ``README.md``, the model card, from them.

Nothing in the card is typed by hand: rerun the script and it is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split

import tensorflow as tf

from heatsink.data import load_dataset
from heatsink.data.split import load_split
from heatsink.errors import HeatsinkError
from heatsink.io import write_text_atomic
from heatsink.line.shipped import SHIPPED
from heatsink.models import Run, load_model
from heatsink.real_surface import open_predictor, real_surface_check, summarize
from heatsink.resolve import resolve_data
from heatsink.study import carry_over, paths

RUN = "plan/light-wcce+dice"
OUT = Path(__file__).resolve().parent / SHIPPED


def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    ds = load_dataset(resolve_data(None))
    run_dir = paths.runs_dir(ds.root) / RUN
    if not (run_dir / "metrics.json").exists():
        print(f"{run_dir}: not trained; run `heatsink study train --only light-wcce+dice`",
              file=sys.stderr)
        return 2
    run = Run.load(run_dir, ds)
    OUT.mkdir(exist_ok=True)
    model = load_model(run_dir / "best.keras")
    slim = tf.keras.models.clone_model(model)
    slim.set_weights(model.get_weights())
    partial = OUT / ".best.partial.keras"  # Keras wants the suffix; renamed when complete
    slim.save(partial)
    partial.replace(OUT / "best.keras")
    shutil.copyfile(run_dir / "config.json", OUT / "config.json")
    sha = hashlib.sha256((OUT / "best.keras").read_bytes()).hexdigest()

    predictor = open_predictor(OUT)
    split = load_split(run_dir / "split.csv", ds)  # the study's split, as the run recorded it
    test_ids = split.loc[split["split"] == "test", "image_id"].astype(str).tolist()
    evaluation = carry_over.twin_evaluation(predictor, ds, test_ids)
    boot, summary = evaluation.bootstrap(n_boot=1000), evaluation.summary()
    try:
        real = summarize(real_surface_check(predictor.probabilities)).round(3)
        real_rows = {k: real.loc[k].to_dict() for k in real.index}
    except (HeatsinkError, FileNotFoundError) as exc:
        real_rows = {"unavailable": str(exc)}
    history = run.history
    twin = json.loads((ds.root / "twin.json").read_text())  # what made the data, as recorded
    card = {
        "model": SHIPPED, "sha256": sha, "run": RUN, "commit": _git_commit(),
        "config": json.loads((OUT / "config.json").read_text()),
        "epochs_trained": len(history),
        "data": {"name": "synthetic twin", "generator_version": twin["generator_version"],
                 "checksum": ds.checksum, "test_images": len(test_ids)},
        "test_truth": {k: {"value": float(r.value), "low": float(r.low), "high": float(r.high)}
                       for k, r in boot.iterrows()},
        "test_truth_false_per_frame": {
            name: float(summary[f"{name}_false_alarms_per_image"])
            for name in ("scratch", "stain")},
        "real_surface": real_rows,
        "parameters": int(slim.count_params()),
    }
    write_text_atomic(OUT / "card.json", json.dumps(card, indent=2) + "\n")
    write_text_atomic(OUT / "README.md", _rewrap(render_card(card)))
    print(f"{OUT}: sha256 {sha}")
    return 0


def _windows(config: dict) -> str:
    """What each training batch held: whole frames or random crops."""
    return "whole frames" if config["crop"] is None else f"random {config['crop']}² crops"


def _pct(card: dict, key: str) -> str:
    r = card["test_truth"][key]
    return f"{100 * r['value']:.1f} % [{100 * r['low']:.1f}, {100 * r['high']:.1f}]"


def _rewrap(text: str, width: int = 92) -> str:
    """Refill the card's prose paragraphs (headings and list items are left alone)."""
    out = []
    for block in text.split("\n\n"):
        if block.startswith(("#", "- ")):
            out.append(block)
        else:
            out.append(textwrap.fill(" ".join(block.split()), width, break_on_hyphens=False,
                                     break_long_words=False))
    return "\n\n".join(out)


def render_card(card: dict) -> str:
    """The model card (Markdown) from ``card.json``'s numbers."""
    c = card["config"]
    real = card["real_surface"]
    if "defect" in real:
        real_text = (
            f"On the real, unlabelled plating of DatasetNinja's 31 published frames it calls "
            f"**{real['defect']['share_pct']:.1f} %** of the surface defect, with "
            f"**{real['defect']['false_components_per_frame']:.1f}** false defect components "
            f"per frame (scratch {real['scratch']['share_pct']:.1f} % and "
            f"{real['scratch']['false_components_per_frame']:.1f} per frame, stain "
            f"{real['stain']['share_pct']:.1f} % and "
            f"{real['stain']['false_components_per_frame']:.1f} per frame; the study's targets "
            "are 1 % and 2 per frame). The real-surface check is described in the book's "
            "chapter *Does a twin-trained model carry over?*.")
    else:
        real_text = f"The real-surface check did not run: {real['unavailable']}."
    d = card["data"]
    flips = " and flips" if c.get("augment") else ""
    return f"""# {card['model']}: the light CPU model, trained on the synthetic twin only

The model `heatsink inspect` uses when `--model` is not given. Made by
`models/make_light_twin.py` (at commit `{card['commit']}`) from the training plan's run
`{card['run']}`; every number below is in `card.json`, written by the same script.
Weights: `best.keras`, SHA-256 `{card['sha256'][:16]}…`, {card['parameters']:,} parameters.

## What it is

The study's `light` net (`heatsink.models.light`: a stride-2 stem and few full-resolution
channels, made for a 2-core CPU), three classes (background, scratch, stain) at
{c['image_size']}² input (320² frames are resized to it and the masks back).

## How it was trained

On the synthetic twin only (generator {d['generator_version']}, 1000 images, checksum
`{d['checksum'][:12]}`), the study's split (parts kept together), loss `{c['loss']}` with
`{c['class_weighting']}` class weights, Adam at {c['learning_rate']:g} with a `{c['schedule']}`
schedule, batch {c['batch_size']}, {_windows(c)}{flips}, at most {c['epochs']}
epochs with early stopping (patience {c['patience']}) on the validation defect IoU
({card['epochs_trained']} epochs run); photometric augmentation
{'on' if c.get('photometric') else 'off'}, seed {c['seed']}.

## How well it does, on the twin

On the study's test split ({d['test_images']} twin frames it never saw) against the twin's
clean truth, with 95 % bootstrap intervals over images: defect mIoU {_pct(card, 'miou_defects')};
scratch object recall {_pct(card, 'scratch_object_recall')}, stain object recall
{_pct(card, 'stain_object_recall')}; false components per frame: scratch
{card['test_truth_false_per_frame']['scratch']:.1f}, stain
{card['test_truth_false_per_frame']['stain']:.1f}.

## On real plating

{real_text}

## What it is not fit for

- **Judging real parts.** It has never seen a real frame. The twin is calibrated to the real
  dataset's published statistics and appearance, but the check above is the only evidence of
  how it behaves on real plating, and it is 31 frames from three pictures. Retrain on real,
  labelled frames from your line before trusting a verdict.
- Frames unlike the dataset's: another size (resized, aspect not kept, with `--resize`), other
  lighting, optics or plating.
- Anything but scratches and stains: it has no other class, and calls nothing else a defect.

Licence of what it learnt from: the twin is generated by this repository's code; the real
dataset (Yang et al., CC BY-NC-SA 4.0) was not used in training.
"""


if __name__ == "__main__":
    sys.exit(main())
