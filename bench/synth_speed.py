"""Time the generation of a 1000-image synthetic twin; print seconds and the machine line."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

from heatsink.synth import generate


def main(n: int = 1000) -> None:
    """Generate ``n`` images into a temporary folder and print the wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate(Path(tmp) / "twin", n=n, seed=0, progress=False)
        seconds = time.perf_counter() - start
    print(f"synth: {n} images in {seconds:.1f} s ({n / seconds:.0f} img/s)")
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
        f"python={platform.python_version()} {platform.system()} {platform.release()}"
    )


if __name__ == "__main__":
    main()
