"""End-to-end inspection speed with a swappable prediction engine: frames/s and peak memory.

:func:`inspect_with` runs the package's own inspection loop
(:func:`heatsink.line.inspect.inspect_images`: read, resize, predict, resize back, arg-max,
measure, judge; rows written to a CSV report with :func:`heatsink.line.inspect.report_writer`)
with any ``predict(batch) -> probabilities`` callable in place of the Keras model, so an
engine (eager Keras, a ``tf.function``, an ONNX or OpenVINO export) can be timed on the
real path before ``inspect`` itself is rewired to it.

Each engine runs in a child process of its own (``--engines``), so its peak RSS
(``ru_maxrss``) is its own. Per engine it prints ``frames/s`` over all frames (model load and
first-call tracing excluded: the clock starts after a warm-up batch), ``peak RSS MiB`` and
the RSS after each quarter of the frames (flat memory: the last quarter's RSS over the first
quarter's). The model is ``--run`` (a run folder; default the light model untrained at
``--size``, saved as a run); inputs ``--n`` frames cycling through ``--data`` (a twin's
folder, default ``~/.cache/heatsink-speed/twin``).

Run ``.venv/bin/python bench/line_inspect.py --n 1000``; the CPU may be shared: the load
average is printed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)

# isort: split
import numpy as np
import pandas as pd

from heatsink import hardware

ENGINES = ("eager", "graph", "onnx", "openvino", "openvino-bf16")
DEFAULT_DATA = Path.home() / ".cache" / "heatsink-speed" / "twin"


class _Predictor:
    """Looks like a Keras model to :func:`heatsink.line.inspect.predict_frames`."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray]) -> None:
        self.predict = predict

    def __call__(self, images, training: bool = False) -> np.ndarray:
        return self.predict(np.asarray(images, dtype=np.float32))


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def inspect_with(predict: Callable[[np.ndarray], np.ndarray], image_size: int,
                 paths: Sequence[Path], spec: str | Path, out: Path,
                 batch_size: int = 16, identity: str = "bench") -> dict[str, float]:
    """Inspect ``paths`` with ``predict``; return frames/s, peak RSS and RSS by quarter.

    ``predict`` takes a float32 ``(N, S, S, 3)`` batch in [0, 1] and returns the softmax
    probabilities ``(N, S, S, 3)``; ``S`` is ``image_size``. The first batch is a warm-up,
    not timed.
    """
    from heatsink.line.inspect import InspectionModel, inspect_images, report_writer

    model = InspectionModel(_Predictor(predict), image_size, identity)
    warm = list(inspect_images(paths[:batch_size], model, spec, batch_size=batch_size))
    assert len(warm) == min(batch_size, len(paths))
    quarters = {len(paths) * q // 4 for q in (1, 2, 3, 4)}
    rss: dict[int, float] = {}
    verdicts: dict[str, int] = {}
    start = time.perf_counter()
    with report_writer(out) as write:
        buffer = []
        for k, row in enumerate(inspect_images(paths, model, spec, batch_size=batch_size), 1):
            buffer.append(row)
            verdicts[row["verdict"] or "error"] = verdicts.get(row["verdict"] or "error", 0) + 1
            if len(buffer) == batch_size:
                write(buffer)
                buffer = []
            if k in quarters:
                rss[k] = _rss_mib()
        write(buffer)
    seconds = time.perf_counter() - start
    first, last = rss[min(rss)], rss[max(rss)]
    return {"frames": len(paths), "seconds": seconds, "frames/s": len(paths) / seconds,
            "peak RSS MiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "RSS last/first quarter": last / first,
            "RSS by quarter MiB": [round(rss[k]) for k in sorted(rss)],
            "verdicts": verdicts}


def engine_predict(engine: str, run: Path, batch_size: int) -> tuple[Callable, int, str]:
    """``(predict, image_size, identity)`` for ``engine`` on the run folder ``run``."""
    from heatsink.line.inspect import load_inspection_model
    from heatsink.models.speed import eager_function, graph_function

    keras = load_inspection_model(run)
    if engine in ("eager", "graph"):
        call = (eager_function if engine == "eager" else graph_function)(keras.model)
        return call, keras.image_size, keras.identity
    from heatsink.models.export import export_model, load_exported

    fmt = "onnx" if engine == "onnx" else "openvino"
    folder = Path(tempfile.mkdtemp(prefix="bench-export-")) / fmt
    export_model(run, fmt, folder)
    exported = load_exported(folder, precision="bfloat16" if engine.endswith("bf16")
                             else "float32")
    assert exported.identity == keras.identity
    return exported, exported.image_size, exported.identity


def _child(args: argparse.Namespace) -> None:
    paths = [Path(p) for p in json.loads(Path(args.paths_file).read_text())]
    predict, size, identity = engine_predict(args.child, args.run, args.batch)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        result = inspect_with(predict, size, paths, args.spec, Path(tmp) / "report.csv",
                              args.batch, identity)
    print(json.dumps(result))


def _untrained_run(size: int, folder: Path) -> Path:
    from heatsink.models import build_model
    from heatsink.models.run import TrainConfig

    folder.mkdir(parents=True)
    config = TrainConfig(model="light", image_size=size, precision="float32")
    (folder / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    build_model("light").save(folder / "best.keras")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="run folder (default: untrained light model)")
    parser.add_argument("--size", type=int, default=320, help="input size of the default model")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--n", type=int, default=1000, help="frames to inspect")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--spec", type=Path,
                        default=Path(__file__).resolve().parents[1] / "specs" / "example.yaml")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--paths-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return

    folder = args.data / "images" if (args.data / "images").is_dir() else args.data
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise SystemExit(f"{folder}: no images (make a twin: heatsink data synth {args.data})")
    paths = [str(p) for _, p in zip(range(args.n), itertools.cycle(files), strict=False)]
    print(f"machine: {hardware.summary_line()}; load average (1 min) before: "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-line-inspect-") as tmp_name:
        tmp = Path(tmp_name)
        run = args.run or _untrained_run(args.size, tmp / f"light-untrained-{args.size}")
        paths_file = tmp / "paths.json"
        paths_file.write_text(json.dumps(paths))
        for engine in args.engines:
            command = [sys.executable, __file__, "--child", engine, "--paths-file",
                       str(paths_file), "--run", str(run), "--batch", str(args.batch),
                       "--spec", str(args.spec)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"{engine}: failed\n{done.stderr[-2000:]}", flush=True)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append({"engine": engine, **{k: v for k, v in result.items()
                                              if k != "verdicts"}})
            print(f"{engine}: {result['frames/s']:.1f} frames/s, peak RSS "
                  f"{result['peak RSS MiB']:.0f} MiB, RSS by quarter "
                  f"{result['RSS by quarter MiB']}, verdicts {result['verdicts']}", flush=True)
    print(f"\nheatsink inspect loop, {args.n} frames ({len(files)} distinct), batch "
          f"{args.batch}, model {run.name if args.run else 'light (untrained)'}; load average "
          f"after {os.getloadavg()[0]:.2f}")
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
