"""Seam analysis on the default 1000-image twin: time, neighbour recovery, errors caught.

Chapter 5's seam check finds each frame's neighbours from its pixels alone and compares the
labels across every seam it found. This prints how long that takes on this machine, how many
of the twin's true neighbour pairs it recovers (precision and recall against the twin's
``adjacency.csv``) and how many of the injected seam errors it catches. The tests check the
same on a 60-image twin; this is the full scale.

Run: ``.venv/bin/python bench/seam_recovery.py`` (generates the default twin on first use)
"""

from __future__ import annotations

import time

from heatsink import hardware, seams
from heatsink.data import load_dataset
from heatsink.resolve import default_twin
from heatsink.synth.records import read_adjacency, read_manifest


def main() -> None:
    """Find the default twin's neighbours, then score the recovery and the seam check."""
    print(f"machine: {hardware.summary_line()}")
    ds = load_dataset(default_twin(progress=False), verify=False)
    start = time.perf_counter()
    found = seams.find_neighbours(ds)
    seconds = time.perf_counter() - start
    print(f"find_neighbours on {len(ds)} images: {seconds:.1f} s")
    recovery = seams.neighbour_recovery(found, read_adjacency(ds.root))
    print("neighbour recovery:", ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else
                                           f"{k} {v}" for k, v in recovery.items()))
    caught = seams.seam_errors_caught(seams.seam_consistency(ds, found), read_manifest(ds.root))
    print("seam errors:", ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in caught.items()))


if __name__ == "__main__":
    main()
