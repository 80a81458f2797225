"""Throughput and peak memory of ``heatsink inspect`` on this CPU, for a light and a chosen model.

For each model and each count N (``--n``, default 100 and 1000, as the acceptance of the
fast-line issue) the benchmark runs ``heatsink inspect`` as a child process over a folder of
N twin images (symbolic links cycling through a generated twin of up to 1000 images, so the
inputs look like N files)
and prints:

* ``seconds``: wall time of the whole command (Python and TensorFlow start-up, model load,
  reading, inference, measuring, writing the CSV report); ``img/s`` = N / seconds;
* ``peak RSS MiB``: the child's own peak resident memory (``ru_maxrss`` from ``os.wait4``,
  so each child is measured alone);
* per model, ``steady img/s`` = (N_max − N_min) / (t_max − t_min), which leaves start-up
  out, and the ratio of peak RSS at the largest N to that at the smallest, flagged when
  above 1.15 (the issue's acceptance: memory stays flat however many images are given).

Models: the light model (default the one shipped in ``models/light-twin``, the model
``heatsink inspect`` uses by default; an untrained ``build_model("light")`` if there is none)
and the chosen model (default a ResNet50 U-Net, ``build_model("resnet50")``, untrained;
``--chosen none`` leaves it out), built in float32 at ``--size`` unless run folders are given
(``--run``, ``--chosen-run``). Untrained weights cost the same time and memory as trained
ones; their verdicts mean nothing.

Run it on an otherwise idle machine: ``.venv/bin/python bench/inspect_speed.py``
(``--n 100 1000``, ``--batch 16``, ``--data DIR`` for other images, ``--keep DIR`` to keep
the reports, ``--min-peak P`` to time a spec that keeps only the objects the model is sure of:
the probabilities then leave the graph and objects are filtered in numpy; ``--flips`` to
time test-time flips, four model calls per frame).
This file is not named ``inspect.py``: a script's folder comes first on ``sys.path``, so a
``bench/inspect.py`` would shadow the standard library's ``inspect`` for every script in
``bench/``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import pandas as pd

from heatsink import hardware

RSS_TOLERANCE = 1.15


def save_untrained_run(name: str, run_dir: Path, size: int) -> Path:
    """Build model ``name`` untrained and save it as a run folder ``heatsink inspect`` opens."""
    from heatsink.models import build_model
    from heatsink.train import TrainConfig

    run_dir.mkdir(parents=True)
    config = TrainConfig(model=name, image_size=size, precision="float32")
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    build_model(name).save(run_dir / "best.keras")
    return run_dir


def source_images(data: Path | None, n: int, tmp: Path) -> list[Path]:
    """Images to cycle through: those of ``data`` (or ``data/images``), else a new twin."""
    if data is None:
        from heatsink.synth import generate

        start = time.perf_counter()
        data = generate(tmp / "twin", n=min(n, 1000), seed=0, progress=False)
        print(f"twin: {min(n, 1000)} images generated in {time.perf_counter() - start:.0f} s")
    folder = data / "images" if (data / "images").is_dir() else data
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SystemExit(f"{folder}: no images")
    return files


def input_folder(files: list[Path], n: int, folder: Path) -> Path:
    """A folder of ``n`` symbolic links cycling through ``files``."""
    folder.mkdir()
    for k, source in zip(range(n), itertools.cycle(files), strict=False):
        (folder / f"{k:06d}_{source.name}").symlink_to(source.resolve())
    return folder


def run_inspect(inputs: Path, run: Path, spec: Path, out: Path, batch: int,
                log: Path, flips: bool = False) -> tuple[float, float]:
    """Run ``heatsink inspect`` in a child process; return (seconds, peak RSS in MiB)."""
    command = [sys.executable, "-m", "heatsink.cli", "inspect", str(inputs), "--model", str(run),
               "--spec", str(spec), "--out", str(out), "--batch", str(batch), "-q",
               *(["--flips"] if flips else [])]
    with open(log, "wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise SystemExit(f"heatsink inspect exited {child.returncode}:\n" + "\n".join(tail))
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100, 1000],
                        help="image counts (default 100 1000)")
    parser.add_argument("--batch", type=int, default=16, help="heatsink inspect --batch")
    parser.add_argument("--size", type=int, default=256, help="input size of built models")
    parser.add_argument("--chosen", default="resnet50",
                        help="architecture of the chosen model, or 'none' to time only the "
                             "light one")
    parser.add_argument("--run", type=Path,
                        help="a run folder to use as the light model (default: the shipped "
                             "models/light-twin, else an untrained light net)")
    parser.add_argument("--chosen-run", type=Path, help="a run folder to use as chosen model")
    parser.add_argument("--data", type=Path, help="images to cycle through (default: a twin)")
    parser.add_argument("--keep", type=Path, help="keep the reports in this folder")
    parser.add_argument("--flips", action="store_true", help="heatsink inspect --flips")
    parser.add_argument("--min-peak", type=float, default=0.0,
                        help="the spec's min_peak (default 0: the plain argmax)")
    args = parser.parse_args()
    counts = sorted(set(args.n))

    print(f"machine: {hardware.summary_line()}")
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp_name:
        tmp = Path(tmp_name)
        reports = args.keep or tmp / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        spec = tmp / "spec.yaml"
        # inspect refuses a spec that sets no limit: one no frame reaches
        spec.write_text(f"name: permissive\nmax_stain_count: 1000\nmin_peak: {args.min_peak}\n")
        print(f"spec: min_peak {args.min_peak}; flips: {args.flips}")
        models: dict[str, Path] = {}
        light = args.run
        if light is None:
            from heatsink.errors import HeatsinkError
            from heatsink.line.shipped import shipped_model

            try:
                light = shipped_model()
            except HeatsinkError:
                light = None
        for label, given, name in (("light", light, "light"),
                                   ("chosen", args.chosen_run, args.chosen)):
            if not given and name == "none":
                continue
            if given:
                models[f"{label}: {given.name}"] = given
            else:
                key = f"{label}: {name} (untrained, float32, {args.size} px)"
                models[key] = save_untrained_run(name, tmp / "runs" / name, args.size)
        files = source_images(args.data, max(counts), tmp)
        folders = {n: input_folder(files, n, tmp / f"inputs-{n}") for n in counts}

        rows = []
        for label, run in models.items():
            for n in counts:
                out = reports / f"{run.name}-{n}.csv"
                seconds, rss = run_inspect(folders[n], run, spec, out, args.batch,
                                           tmp / "stderr.log", args.flips)
                rows.append({"model": label, "N": n, "seconds": round(seconds, 1),
                             "img/s": round(n / seconds, 2), "peak RSS MiB": round(rss)})
                print(f"{label}, N={n}: {seconds:.1f} s, {rss:.0f} MiB", flush=True)

    table = pd.DataFrame(rows)
    print(f"\nheatsink inspect, batch {args.batch}, CSV report, {len(files)} distinct images")
    print(table.to_string(index=False))
    if len(counts) > 1:
        print()
        lo, hi = counts[0], counts[-1]
        for label, group in table.groupby("model", sort=False):
            first = group.set_index("N").loc[lo]
            last = group.set_index("N").loc[hi]
            steady = (hi - lo) / max(last["seconds"] - first["seconds"], 1e-9)
            ratio = last["peak RSS MiB"] / first["peak RSS MiB"]
            verdict = "ok" if ratio <= RSS_TOLERANCE else "ABOVE"
            print(f"{label}: steady {steady:.2f} img/s; peak RSS {hi}/{lo} = {ratio:.3f} "
                  f"({verdict}: limit {RSS_TOLERANCE})")


if __name__ == "__main__":
    main()
