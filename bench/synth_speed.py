"""Time the synthetic twin and the data layer on this machine; print the figures.

Targets (the foundation issue): a 1000-image twin in at most 60 s on 2 cores. Also printed,
for reference: a full validation of the twin (``load_dataset(verify=True)``), its checksum,
and one pass of the tf.data pipeline at the seed's 256 px.

Run: ``.venv/bin/python bench/synth_speed.py [N]``
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from heatsink import hardware
from heatsink.data import dataset_checksum, load_dataset, make_tf_dataset
from heatsink.synth import generate


def _timed(label: str, func, n: int):
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    print(f"{label:<34} {seconds:7.1f} s  ({n / seconds:7.0f} img/s)")
    return result


def main(n: int = 1000) -> None:
    """Generate ``n`` images into a temporary folder and time what the study does with them."""
    print(f"machine: {hardware.summary_line()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = _timed(f"synth: generate {n} images", lambda: generate(
            Path(tmp) / "twin", n=n, seed=0, progress=False), n)
        ds = _timed("data: load_dataset(verify=True)", lambda: load_dataset(root), n)
        _timed("data: dataset_checksum", lambda: dataset_checksum(root), n)
        pipeline = make_tf_dataset(ds, ds.ids, size=256, batch_size=32, cache=False)
        _timed("data: tf.data pass at 256 px", lambda: sum(1 for _ in pipeline), n)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
