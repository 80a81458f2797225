"""The real-surface check of one or more models; print the figures.

For each model (a ``.keras`` file or a training run folder): the share of the real frames'
unlabelled surface it calls scratch, stain or either, and its false components per frame
(:func:`heatsink.real_surface.real_surface_check`, on the 31 real frames of DatasetNinja's
pictures; needs the reference folder). Also the issue's quick diagnostic with ``--blur S``:
the same check on the real frames blurred by a Gaussian of sigma S px.

Targets (issue 26): ≤ 1 % of the real surface called defect, ≤ 2 false components per frame.

Run: ``.venv/bin/python bench/real_surface.py MODEL_OR_RUN [MODEL_OR_RUN ...] [--blur S]``
"""

from __future__ import annotations

import argparse
import dataclasses

import cv2
import pandas as pd

from heatsink.real_surface import load_predictor, real_surface_check, summarize
from heatsink.synth.real_frames import load_real_frames


def main(argv: list[str] | None = None) -> int:
    """Print the summary table of every model given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help=".keras files or run folders")
    parser.add_argument("--blur", type=float, default=0.0, help="blur the real frames (px)")
    parser.add_argument("--per-frame", action="store_true", help="print the per-frame table")
    args = parser.parse_args(argv)
    frames = load_real_frames()
    if args.blur > 0:
        frames = [dataclasses.replace(f, image=cv2.GaussianBlur(f.image, (0, 0), args.blur))
                  for f in frames]
    pd.set_option("display.width", 160)
    for model in args.models:
        check = real_surface_check(load_predictor(model), frames)
        blurred = f", blurred {args.blur} px" if args.blur else ""
        print(f"{model} ({len(frames)} real frames{blurred})")
        print(summarize(check).round(3).to_string())
        if args.per_frame:
            print(check[check["class"] == "defect"].round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
