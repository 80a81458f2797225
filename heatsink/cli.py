"""The ``heatsink`` command line: one entry point, one sub-command per task.

``heatsink data check PATH``      validate a dataset, print its figures; exit 1 on problems
``heatsink data split PATH``      write the seeded 70/15/15 split manifest
``heatsink data synth OUT -n N``  generate a synthetic twin
``heatsink data download``        fetch the real dataset through kagglehub
``heatsink train --run-dir DIR``  train a model (an interrupted run resumes)
``heatsink inspect IMAGES... --model RUN --spec SPEC --out REPORT``
                                  judge images against a spec; exit 1 on a FAIL, 2 on errors
``heatsink export RUN --format onnx|openvino OUT [--int8 --calibration IMAGES...]``
                                  export a run's model for ONNX Runtime or OpenVINO (int8:
                                  quantized after training, calibrated on line frames)
``heatsink weights fetch``        fetch the ResNet50 ImageNet weights into the cache

Every failure is one line on stderr, ``heatsink: error: <file>: <problem>``, with exit code
2 (``heatsink --debug ...`` adds the traceback); see :data:`EXIT_CODES`.

Packages add commands through the ``heatsink.commands`` entry points (:func:`_plugins`): the
study layer's ``heatsink study run`` and ``heatsink study readme`` come that way.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from heatsink.errors import HeatsinkError


def _data_check(args: argparse.Namespace) -> int:
    from heatsink.data import check_dataset

    report = check_dataset(args.path, progress=True)
    print(report.to_text())
    return 0 if report.ok else 1


def _data_split(args: argparse.Namespace) -> int:
    from heatsink.data import load_dataset, make_split, save_split

    ds = load_dataset(args.path)
    groups = ds.parts if args.by_part else None
    split = make_split(ds, seed=args.seed, groups=groups)
    out = Path(args.out) if args.out else Path(args.path) / "split.csv"
    save_split(split, out)
    counts = split["split"].value_counts().reindex(["train", "val", "test"]).to_dict()
    print(f"{out}: {counts} (seed {args.seed}{', grouped by part' if groups is not None else ''})")
    return 0


def _data_contrast(args: argparse.Namespace) -> int:
    from heatsink.data import load_dataset
    from heatsink.io import atomic_path
    from heatsink.safety import printable
    from heatsink.synth.contrast import dataset_contrast, quartiles_by_class

    ds = load_dataset(args.path)
    out = Path(args.out) if args.out else None
    if out is not None and out.resolve().is_relative_to(ds.root.resolve()):
        raise HeatsinkError(f"{printable(out)}: inside the dataset folder; the dataset is an "
                            "input and is never written: choose another path")
    if args.reference == "truth" and not ds.has_truth:
        raise HeatsinkError(f"{printable(ds.root)}: has no clean truth (truth/: the synthetic "
                            "twin only); use --reference labels")
    table = dataset_contrast(ds, reference=args.reference)
    print(f"{ds.name}, {len(ds.ids)} frames, {len(table)} objects of the {args.reference}: "
          "contrast against the plating around each (heatsink.synth.noise.object_contrast)")
    print(quartiles_by_class(table).round(3).to_string())
    if out is not None:
        with atomic_path(out) as tmp:
            table.to_csv(tmp, index=False)
        print(f"{out}: one row per object")
    return 0


def _noise(value: str):
    from heatsink.synth import NoiseConfig

    if value == "none":
        return NoiseConfig.none()
    if value == "default":
        return NoiseConfig()
    try:
        level = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--noise takes 'default', 'none' or a level between 0 and 1, not {value!r}"
        ) from None
    if not 0.0 <= level <= 1.0:
        raise argparse.ArgumentTypeError(f"--noise level must be between 0 and 1, not {level}")
    return NoiseConfig(level=level)


def _data_synth(args: argparse.Namespace) -> int:
    from heatsink.synth import generate

    path = generate(args.out, n=args.n, seed=args.seed, noise=args.noise,
                    overwrite=args.overwrite, progress=not args.quiet, workers=args.workers,
                    dark_stains=args.dark_stains)
    dark = "" if args.dark_stains is None else f", {args.dark_stains:g} of stains dark"
    print(f"{path}: synthetic twin, {args.n} images, seed {args.seed}{dark}")
    return 0


def _data_download(args: argparse.Namespace) -> int:
    from heatsink.data import download

    print(download(cache_dir=args.cache, force=args.force))
    return 0


def _train(args: argparse.Namespace) -> int:
    from heatsink.data import load_dataset
    from heatsink.resolve import resolve_data
    from heatsink.safety import load_yaml, read_text_file

    values: dict = {}
    if args.config:
        values = load_yaml(read_text_file(args.config, "training config"), args.config) or {}
        if not isinstance(values, dict):
            raise HeatsinkError(f"{args.config}: expected a mapping of training options")
    flags = {"model": args.model, "encoder_weights": args.encoder_weights,
             "image_size": args.size, "batch_size": args.batch_size, "epochs": args.epochs,
             "learning_rate": args.lr, "loss": args.loss, "augment": args.augment,
             "crop": args.crop, "schedule": args.schedule, "patience": args.patience,
             "min_epochs": args.min_epochs, "photometric": args.photometric,
             "texture": args.texture, "texture_share": args.texture_share,
             "texture_strength": args.texture_strength,
             "texture_spots": args.texture_spots, "texture_marks": args.texture_marks,
             "precise_bn": args.precise_bn, "prior_bias": args.prior_bias,
             "precision": args.precision, "seed": args.seed}
    values.update({k: v for k, v in flags.items() if v is not None})
    if args.filters is not None:
        values.setdefault("model_kwargs", {})["filters"] = args.filters

    from heatsink.models.run import TrainConfig
    from heatsink.train import train

    try:
        config = TrainConfig.from_dict(values)
    except TypeError as exc:  # a value of the wrong kind, e.g. model_kwargs: {1: 2}
        raise HeatsinkError(f"invalid training options ({exc})") from None
    ds = load_dataset(resolve_data(args.data))
    run = train(config, ds, args.run_dir, verbose=0 if args.quiet else 2)
    scores = run.metrics["scores"]["labels"]
    print(f"{run.path}: validation (as labelled) pixel accuracy {scores['pixel_accuracy']:.4f}, "
          f"scratch recall/IoU {scores['scratch_recall']:.3f}/{scores['scratch_iou']:.3f}, "
          f"stain recall/IoU {scores['stain_recall']:.3f}/{scores['stain_iou']:.3f}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from heatsink.line.inspect import report_format, run_inspection
    from heatsink.line.spec import load_spec

    report_format(args.out)
    spec = load_spec(args.spec)
    print(spec.limits_text(), flush=True)
    if args.model is None:
        from heatsink.line.shipped import shipped_model

        args.model = shipped_model()
        print(f"model: {args.model} (shipped; trained on the synthetic twin only, see its "
              "README.md)", flush=True)
    summary = run_inspection(args.inputs, args.model, spec, args.out,
                             overlays=args.overlays, batch_size=args.batch, resize=args.resize,
                             progress=not args.quiet, masks=args.masks, flips=args.flips)
    print(summary.to_text())
    return summary.exit_code


def _batch(value: str) -> int | None:
    return None if value == "auto" else _positive_int(value)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


INSPECT_EPILOG = """\
Each folder contributes every non-hidden file directly in it (whatever its suffix); a
file that cannot be inspected (unreadable, empty, truncated, corrupt, not an image, wrong
size, RGBA or 16-bit, a FIFO or device, over 40 million pixels by its header) becomes a
report row with an 'error' and the run goes on; an argument that does not exist is a
fatal error.
Frames must be 320x320 (the training data's size) unless --resize is given, which
stretches other sizes to 320x320 (aspect ratio not kept). A grayscale (single-channel)
image is converted to RGB by repeating its channel. Conversions are listed in the 'note'
column. The spec must set at least one limit; the limits applied are printed first.
The model must be a zip .keras file (HDF5 and Lambda layers are refused: nothing in a
model file runs). The report is written atomically and locked while written (a second
run writing it is refused); an interrupted run leaves no file. --overlays refuses a
folder that holds an input. Text cells starting with = + - @ get a leading '.
""" + "\n" + """\
Exit code: 0 every image PASS; 1 some FAIL (and no error); 2 some inputs could not be
inspected (error rows) or the run could not start or finish (bad spec, model, path:
one line on stderr, no report written). Never 1 for a crash."""


def _calibration_frames(inputs: Sequence[str | Path], n: int, seed: int = 0) -> list:
    """Up to ``n`` frames drawn at random (seeded) from the images ``inputs`` name."""
    import numpy as np

    from heatsink.line.inspect import expand_inputs, read_frame
    from heatsink.safety import printable

    try:
        paths = expand_inputs(inputs)
    except HeatsinkError as exc:
        if not str(exc).startswith("no files to inspect"):
            raise
        raise HeatsinkError(f"{', '.join(map(printable, inputs))}: no calibration images "
                            "(give image files or folders holding them)") from None
    chosen = sorted(np.random.default_rng(seed).permutation(len(paths))[:n])
    return [read_frame(paths[i], resize=True)[0] for i in chosen]


def _export(args: argparse.Namespace) -> int:
    import tempfile

    from heatsink.models.export import export_model

    if not args.int8:
        if args.calibration:
            raise HeatsinkError("--calibration is for --int8 exports only")
        out = export_model(args.run, args.format, args.out)
        print(f"{out}: {args.format} export of {args.run}")
        return 0
    from heatsink.models.quantize import CALIBRATION_FRAMES, quantize_export

    if args.format != "openvino":
        raise HeatsinkError("--int8 quantizes OpenVINO exports: give --format openvino")
    if not args.calibration:
        raise HeatsinkError("--int8 needs --calibration IMAGES (frames as the line sees "
                            "them, e.g. the training split's; never the frames it is judged on)")
    frames = _calibration_frames(args.calibration, CALIBRATION_FRAMES)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{args.out.name}.float.",
                                     dir=args.out.parent) as tmp:
        export_model(args.run, "openvino", Path(tmp) / "float32")
        out = quantize_export(Path(tmp) / "float32", frames, args.out,
                              description=f"{len(frames)} frames from "
                                          f"{', '.join(map(str, args.calibration))}")
    print(f"{out}: int8 OpenVINO export of {args.run}, calibrated on {len(frames)} frames")
    return 0


def _real_surface(args: argparse.Namespace) -> int:
    import pandas as pd

    from heatsink.io import atomic_path
    from heatsink.real_surface import frame_interval, load_predictor, real_surface_check, summarize
    from heatsink.synth.real_frames import load_real_frames

    if args.out is not None and args.out.suffix.lower() != ".csv":  # never a model's file
        raise HeatsinkError(f"{args.out}: the per-frame table is written as .csv")
    if args.blur < 0:
        raise HeatsinkError(f"--blur must be 0 or more pixels, not {args.blur}")
    try:
        frames = load_real_frames(args.reference)
    except FileNotFoundError as exc:
        raise HeatsinkError(f"{exc}") from None
    if args.blur > 0:  # the texture diagnostic: do false alarms follow the fine grain?
        import dataclasses

        import cv2

        frames = [dataclasses.replace(f, image=cv2.GaussianBlur(f.image, (0, 0), args.blur))
                  for f in frames]
    drawn = "filled" if args.fill_drawn else "shown"
    spec = None
    if args.spec is not None:
        from heatsink.line.spec import load_spec

        spec = load_spec(args.spec)
    how = (f", blurred {args.blur:g} px" if args.blur else "") + (
        ", drawn labels filled" if args.fill_drawn else "") + (
        ", test-time flips" if args.flips else "") + (
        f", at the operating point of spec {spec.name} ({spec.identity})" if spec else "")
    tables = []
    for model in args.models:
        check = real_surface_check(load_predictor(model, flips=args.flips), frames, drawn=drawn,
                                   decision=spec.decision() if spec else None)
        tables.append(check.assign(model=str(model), drawn=drawn, flips=args.flips,
                                   spec=spec.identity if spec else ""))
        print(f"{model}: {len(frames)} real frames{how} (targets: <= 1 % of the surface "
              f"called defect, <= 2 false components per frame)")
        interval = frame_interval(check)
        shown = summarize(check).assign(
            share_95=[f"[{a:.3f}, {b:.3f}]" for a, b in
                      zip(interval["share_low"], interval["share_high"], strict=True)],
            false_95=[f"[{a:.2f}, {b:.2f}]" for a, b in
                      zip(interval["false_low"], interval["false_high"], strict=True)],
            false_median=interval["false_median"])
        print(shown.round(3).to_string())
        print("(95 % intervals: percentile bootstrap over the frames)")
    if args.out is not None:
        with atomic_path(args.out) as tmp:
            pd.concat(tables, ignore_index=True).to_csv(tmp, index=False)
        print(f"{args.out}: per-frame table")
    return 0


def _weights_fetch(args: argparse.Namespace) -> int:
    from heatsink.weights import resnet50_imagenet

    print(resnet50_imagenet(progress=not args.quiet))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the tests and for ``--help`` pages)."""
    parser = argparse.ArgumentParser(
        prog="heatsink", description=__doc__.splitlines()[0],
        epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()) + ".")
    parser.add_argument("--debug", action="store_true",
                        help="after an error's one-line message, show its traceback")
    commands = parser.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="check, split, generate or download a dataset")
    data_cmds = data.add_subparsers(dest="data_command", required=True)

    check = data_cmds.add_parser("check", help="validate a dataset and print its figures")
    check.add_argument("path", help="dataset folder (images/, labels/)")
    check.set_defaults(func=_data_check)

    split = data_cmds.add_parser("split", help="write a seeded 70/15/15 split manifest (CSV)")
    split.add_argument("path", help="dataset folder")
    split.add_argument("--seed", type=int, default=0)
    split.add_argument("--out", help="manifest path (default: PATH/split.csv)")
    split.add_argument("--by-part", action="store_true",
                       help="keep tiles of one part in one split (twin: adjacency.csv)")
    split.set_defaults(func=_data_split)

    synth = data_cmds.add_parser("synth", help="generate a synthetic twin in the Kaggle layout")
    synth.add_argument("out", help="output folder (must not exist or be empty)")
    synth.add_argument("-n", type=int, default=1000, help="number of images (default 1000)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--noise", type=_noise, default="default",
                       help="label noise: 'default', 'none' or a level in [0, 1]")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    synth.add_argument("--dark-stains", type=float, default=None, metavar="SHARE",
                       help="share of stains drawn darker than the plating (default: the "
                            "twin's, heatsink.synth.defects.DARK_BLOT_SHARE)")
    synth.add_argument("--overwrite", action="store_true")
    synth.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=_data_synth)

    contrast = data_cmds.add_parser(
        "contrast", help="how marked each labelled defect is against the plating around it")
    contrast.add_argument("path", help="dataset folder")
    contrast.add_argument("--reference", choices=("labels", "truth"), default="labels",
                          help="the label masks (default) or, on the twin, the clean truth")
    contrast.add_argument("--out", help="CSV with one row per object (outside the dataset)")
    contrast.set_defaults(func=_data_contrast)

    download = data_cmds.add_parser("download", help="fetch the real dataset via kagglehub")
    download.add_argument("--cache", help="cache folder (default: kagglehub's)")
    download.add_argument("--force", action="store_true", help="download again")
    download.set_defaults(func=_data_download)

    tr = commands.add_parser(
        "train", help="train a model into a run folder (resumes an interrupted run)")
    tr.add_argument("--run-dir", required=True, type=Path, help="the run folder")
    tr.add_argument("--data", help="dataset folder, 'kaggle' or 'twin' (default: "
                                   "$HEATSINK_DATA, else the synthetic twin)")
    tr.add_argument("--config", help="YAML file of TrainConfig options (flags override it)")
    tr.add_argument("--model", help="unet, resnet50, vgg16, gslu or light (default unet)")
    tr.add_argument("--encoder-weights", help="'imagenet' (resnet50 only)")
    tr.add_argument("--size", type=int, help="training image size (default 256)")
    tr.add_argument("--batch-size", type=int)
    tr.add_argument("--epochs", type=int)
    tr.add_argument("--lr", type=float, help="Adam learning rate")
    tr.add_argument("--loss", help="cce, wcce, focal, dice or a '+' combination")
    tr.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None)
    tr.add_argument("--crop", type=int, help="train on random crops of this side (validation: "
                                             "whole frames)")
    tr.add_argument("--schedule", help="learning rate: constant (default) or cosine")
    tr.add_argument("--patience", type=int,
                    help="stop after this many epochs without a better validation defect IoU")
    tr.add_argument("--min-epochs", type=int,
                    help="early stopping never stops before this many epochs")
    tr.add_argument("--precise-bn", type=int, metavar="N",
                    help="before each validation, recompute the batch-norm statistics on N "
                         "whole training frames (default: Keras's moving averages)")
    tr.add_argument("--photometric", action=argparse.BooleanOptionalAction, default=None,
                    help="photometric augmentation of training batches (default off)")
    tr.add_argument("--texture", action=argparse.BooleanOptionalAction, default=None,
                    help="random plating texture on training batches (default off)")
    tr.add_argument("--texture-share", type=float, metavar="P",
                    help="with --texture, the share of training images textured (default 0.5)")
    tr.add_argument("--texture-strength", type=float, metavar="A",
                    help="with --texture, a factor on the texture's strength (default 1)")
    tr.add_argument("--texture-spots", type=float, metavar="S",
                    help="with --texture, the share of textured images that also get soft "
                         "stain-sized spots (default 0)")
    tr.add_argument("--texture-marks", type=float, metavar="M",
                    help="with --texture, the share of textured images that also get long "
                         "bright polishing marks (default 0)")
    tr.add_argument("--prior-bias", action=argparse.BooleanOptionalAction, default=None,
                    help="start the logits at the training labels' class frequencies "
                         "(default off; the plan's recipe for plain cross-entropy)")
    tr.add_argument("--precision", help="auto, float32 or mixed_bfloat16")
    tr.add_argument("--seed", type=int)
    tr.add_argument("--filters", type=int, help="U-Net base filters (default 32)")
    tr.add_argument("-q", "--quiet", action="store_true")
    tr.set_defaults(func=_train)

    ins = commands.add_parser(
        "inspect", help="judge images against a spec with a trained model; write a report",
        epilog=INSPECT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ins.add_argument("inputs", nargs="+", metavar="IMAGES_OR_DIR",
                     help="image files and/or folders of images")
    ins.add_argument("--model", metavar="RUN_OR_EXPORT",
                     help="training run folder (its best.keras and config.json), or a folder "
                          "`heatsink export` wrote (ONNX or OpenVINO); default: the model "
                          "shipped in models/light-twin (trained on the synthetic twin only)")
    ins.add_argument("--spec", required=True, help="inspection spec (YAML)")
    ins.add_argument("--out", required=True, type=Path, metavar="REPORT",
                     help="report file: .csv or .parquet (one row per input file)")
    ins.add_argument("--overlays", type=Path, metavar="DIR",
                     help="also write an overlay PNG per image into DIR (<image_id>.png)")
    ins.add_argument("--masks", type=Path, metavar="DIR",
                     help="also write each predicted label mask into DIR (<image_id>.png, "
                          "values 0/1/2: background, scratch, stain, as the dataset's labels)")
    ins.add_argument("--batch", type=_batch, default=None,
                     help="images per model batch, or 'auto' (default): the fastest on this "
                          "machine, measured on the model first")
    ins.add_argument("--resize", action="store_true",
                     help="stretch images of another size to 320x320 instead of refusing them")
    ins.add_argument("--flips", action="store_true",
                     help="average each frame's prediction with its three flips (test-time "
                          "augmentation): four times the model's time; the report's model "
                          "identity ends in +flips")
    ins.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ins.set_defaults(func=_inspect)

    export = commands.add_parser(
        "export", help="export a trained run's model to ONNX or OpenVINO (float32 graph)")
    export.add_argument("run", help="training run folder (its best.keras and config.json)")
    export.add_argument("--format", required=True, choices=("onnx", "openvino"))
    export.add_argument("out", type=Path,
                        help="export folder (created; replaced only if it is an export)")
    export.add_argument("--int8", action="store_true",
                        help="quantize the OpenVINO export to int8 (NNCF, post-training): "
                             "faster on CPUs without bf16; predicts slightly differently")
    export.add_argument("--calibration", nargs="+", metavar="IMAGES",
                        help="with --int8: image files or folders to calibrate on (at most "
                             "300 drawn at random; 320x320 frames, others resized)")
    export.set_defaults(func=_export)

    real = commands.add_parser(
        "real-surface",
        help="how much real, unlabelled plating models call defect (DatasetNinja's pictures)")
    real.add_argument("models", nargs="+", type=Path,
                      help=".keras model files or training run folders")
    real.add_argument("--reference", type=Path, default=None,
                      help="the DatasetNinja reference folder (default: found as the study "
                           "finds it)")
    real.add_argument("--blur", type=float, default=0.0,
                      help="blur the real frames by a Gaussian of this sigma (px) first: a "
                           "diagnostic of how much the false alarms follow the fine grain")
    real.add_argument("--fill-drawn", action="store_true",
                      help="fill the drawn labels, banners and padding with plating before "
                           "the model sees the frames (default: the pictures as published)")
    real.add_argument("--flips", action="store_true",
                      help="average each frame's prediction with its three flips")
    real.add_argument("--spec", type=Path, default=None,
                      help="decide at this inspection spec's operating point (its min_peak, "
                           "class biases and minimum areas; default: the plain argmax)")
    real.add_argument("--out", type=Path, default=None,
                      help="also write the per-frame table to this .csv file")
    real.set_defaults(func=_real_surface)

    weights = commands.add_parser("weights", help="ImageNet weights for the ResNet50 encoder")
    weights_cmds = weights.add_subparsers(dest="weights_command", required=True)
    fetch = weights_cmds.add_parser(
        "fetch", help="fetch and convert them into the cache (once; offline afterwards)")
    fetch.add_argument("-q", "--quiet", action="store_true")
    fetch.set_defaults(func=_weights_fetch)

    for register in _plugins():
        register(commands)
    return parser


#: Entry-point group through which other packages add ``heatsink`` commands.
PLUGIN_GROUP = "heatsink.commands"


def _plugins() -> list:
    """The ``register(subparsers)`` functions installed under :data:`PLUGIN_GROUP`.

    The study layer adds ``heatsink study`` this way (``pyproject.toml``), so the toolkit's
    command line never imports it.
    """
    from importlib.metadata import entry_points

    found = []
    for entry in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            found.append(entry.load())
        except Exception as exc:  # a broken plugin must not take the line's commands down
            print(f"heatsink: warning: the command plugin {entry.name!r} cannot be loaded "
                  f"({type(exc).__name__}: {exc}); its commands are left out", file=sys.stderr)
    return found


class Terminated(BaseException):  # not caught by "except Exception", as KeyboardInterrupt
    """Raised in the main thread when the process receives SIGTERM (see :func:`sigterm_raises`)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into a :class:`Terminated` exception while the block runs.

    A killed job (``kill``, a scheduler's time limit, the end of a session) then unwinds
    like an error: files being written atomically are discarded and nothing already
    written is touched, instead of leaving temporary files behind. Outside the main thread
    (where Python cannot install signal handlers) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: Exit codes of every command (``--help`` and the README state them).
EXIT_CODES = {0: "success (inspect: every image PASS)",
              1: "problems found (inspect: some image FAIL; data check: the dataset has "
                 "problems)",
              2: "an error: some inputs could not be inspected, or the command could not "
                 "start or finish (bad spec, model, path...); never a crash with code 1",
              130: "interrupted (Ctrl-C)", 143: "terminated (SIGTERM)"}


def _one_line(err: BaseException) -> str:
    """An error as one line: the file it names first, then what went wrong."""
    from heatsink.safety import printable, shorten

    if isinstance(err, HeatsinkError):
        return shorten(str(err), 1000)
    if isinstance(err, OSError) and err.filename is not None:
        return shorten(f"{printable(err.filename)}: {err.strerror or err}", 1000)
    return shorten(f"unexpected {type(err).__name__}: {err} (run with --debug for the "
                   "traceback)", 1000)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (:data:`EXIT_CODES`).

    0 ok, 1 problems found (a FAIL verdict, a dataset with problems), 2 any error: every
    failure, expected or not, is one line on stderr naming the file and the problem (with
    ``--debug`` the traceback follows). Interrupted by Ctrl-C it returns 130, terminated
    by SIGTERM 143; either way files being written are discarded and the ones already
    written are kept.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with sigterm_raises():
            return args.func(args)
    except KeyboardInterrupt:
        print("heatsink: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("heatsink: terminated", file=sys.stderr)
        return 143
    except Exception as err:  # every failure, planned or not: one line, exit 2
        print(f"heatsink: error: {_one_line(err)}", file=sys.stderr)
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        return 2


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "EXIT_CODES",
    "INSPECT_EPILOG",
    "PLUGIN_GROUP",
    "Terminated",
    "build_parser",
    "main",
    "sigterm_raises",
]
