"""Peak memory of ``heatsink inspect`` on a folder with and without a decompression bomb.

The bomb is a PNG of about 1 MB whose header declares 20000×20000 RGB pixels (1.2 GB once
decoded). ``heatsink inspect`` reads the size from the header and refuses the file before
decoding it (an error row), so the peak resident memory of the command must stay within
10 % of the same folder without the bomb (the issue's acceptance).

The benchmark generates a small twin, trains nothing (an untrained tiny U-Net stands in
for a run: the memory of reading frames does not depend on the weights), and runs
``heatsink inspect`` as a child process twice: on N twin frames, then on the same frames
plus the bomb. It prints, for each, the wall time, the exit code and the child's own peak
RSS (``ru_maxrss`` from ``os.wait4``), then the ratio.

Run it: ``.venv/bin/python bench/inspect_hostile.py`` (``--n 16`` frames by default).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import heatsink  # noqa: F401  (selects legacy Keras; must come before TensorFlow)


def png_bomb(path: Path, side: int = 20000) -> Path:
    """Write a PNG of side×side black RGB pixels: about 1 MB on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * side)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))
    return path


def make_run(folder: Path) -> Path:
    """A run folder holding an untrained tiny U-Net (config.json and best.keras)."""
    from heatsink.models.registry import build_model
    from heatsink.models.run import TrainConfig

    config = TrainConfig(model="unet", image_size=64, precision="float32",
                         model_kwargs={"filters": 4})
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    build_model("unet", filters=4).save(folder / "best.keras")
    return folder


def measure(args: list[str]) -> tuple[float, int, float]:
    """Seconds, exit code and peak RSS (MiB) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    return seconds, os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16, help="twin frames in the folder")
    args = parser.parse_args()

    from heatsink.synth import generate

    with tempfile.TemporaryDirectory(prefix="inspect-hostile-") as tmp:
        base = Path(tmp)
        twin = generate(base / "twin", n=args.n, seed=0, progress=False, workers=1)
        run = make_run(base / "run")
        spec = base / "spec.yaml"
        spec.write_text("name: bench\nmax_defect_percent: 100\n")
        frames = base / "frames"
        frames.mkdir()
        for image in sorted((twin / "images").iterdir()):
            shutil.copy(image, frames)
        command = [sys.executable, "-m", "heatsink.cli", "inspect", str(frames), "--model",
                   str(run), "--spec", str(spec), "-q", "--out"]
        clean = measure([*command, str(base / "clean.csv")])
        bomb = png_bomb(frames / "bomb.png")
        bombed = measure([*command, str(base / "bombed.csv")])
        print(f"inspect, {args.n} frames of 320×320; bomb: {bomb.stat().st_size / 2**20:.2f} MB "
              "PNG declaring 20000×20000 RGB")
        print(f"{'folder':<22}{'seconds':>9}{'exit':>6}{'peak RSS MiB':>15}")
        for name, (seconds, code, rss) in (("without the bomb", clean),
                                            ("with the bomb", bombed)):
            print(f"{name:<22}{seconds:>9.1f}{code:>6}{rss:>15.0f}")
        ratio = bombed[2] / clean[2]
        flag = "" if ratio <= 1.10 else "  <-- above 1.10"
        print(f"peak RSS ratio with/without: {ratio:.3f}{flag}")


if __name__ == "__main__":
    main()
