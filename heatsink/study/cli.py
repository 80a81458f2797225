"""``heatsink study run``, ``heatsink study train``, ``heatsink study keep``,
``heatsink study park`` and ``heatsink study readme``, added to the ``heatsink`` command line
through its ``heatsink.commands`` entry point (``pyproject.toml``)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from heatsink.study.runner import run_study

    run_study(profile=args.profile, data=args.data, only=args.only or None,
              output_dir=args.output, force=args.force)
    return 0


def _stages(values: list[str] | None) -> list[int]:
    """The ``--stage`` values as stage numbers (all stages without any)."""
    from heatsink.errors import HeatsinkError
    from heatsink.study.plan import STAGES

    if not values:
        return list(STAGES)
    out = []
    for value in values:
        try:
            stage = int(value)
        except ValueError:
            stage = None
        if stage not in STAGES:
            raise HeatsinkError(f"--stage takes one of {', '.join(map(str, STAGES))}, "
                                f"not {value!r}")
        out.append(stage)
    return sorted(set(out))


def _time_left(items: list) -> str:
    """One paragraph: what an epoch costs per family here, and the hours left at that rate."""
    from heatsink.study import plan

    minutes = plan.epoch_minutes(items)
    hours, unknown = plan.hours_left(items)
    waiting = sum(item.status in ("missing", "partial") for item in items)
    blocked = sum(item.status == "blocked" for item in items)
    rates = ", ".join(f"{model} {value:.1f}" for model, value in sorted(minutes.items()))
    text = (f"{waiting} items to train, {blocked} blocked. Minutes per epoch measured: "
            f"{rates or 'none yet'}. At those rates, at most {hours:.1f} hours for the items "
            "of measured families (every run to its epoch cap)")
    if unknown:
        text += f"; {len(unknown)} of other families not counted"
    return text + "."


def _train(args: argparse.Namespace) -> int:
    import pandas as pd

    from heatsink.data import load_dataset
    from heatsink.resolve import resolve_data
    from heatsink.study import plan
    from heatsink.study.paths import results_dir, runs_dir

    stages = _stages(args.stage)
    ds = load_dataset(resolve_data(args.data))
    runs = Path(args.runs).expanduser() if args.runs else runs_dir(ds.root)
    results = Path(args.results).expanduser() if args.results else results_dir(ds.root)
    if args.list:
        table = plan.plan_table(stages, ds, runs, results)
        if args.only:
            table = table[table["name"].isin(args.only)]
        print(f"{ds.name}: the training plan in {plan.plan_dir(runs)}")
        print(table.to_string(index=False) if len(table) else "(nothing planned)")
        items, seen = [], set()
        for stage in stages:
            for item in plan.planned_runs(stage, ds, runs, results):
                if item.name not in seen and (not args.only or item.name in args.only):
                    seen.add(item.name)
                    items.append(item)
        print(_time_left(items))
        return 0

    def log(line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    final = plan.run_plan(stages, ds, runs, results, only=args.only,
                          verbose=2 if args.verbose else 0, log=log)
    counts = pd.Series([item.status for item in final]).value_counts()
    print(", ".join(f"{counts.get(s, 0)} {s}" for s in plan.STATUSES))
    return 0


def _keep(args: argparse.Namespace) -> int:
    from heatsink.data import load_dataset
    from heatsink.resolve import resolve_data
    from heatsink.study import plan
    from heatsink.study.kept import kept_dir
    from heatsink.study.paths import results_dir, runs_dir

    ds = load_dataset(resolve_data(args.data))
    runs = Path(args.runs).expanduser() if args.runs else runs_dir(ds.root)
    results = Path(args.results).expanduser() if args.results else results_dir(ds.root)
    kept = plan.keep_finished(list(plan.STAGES), ds, runs, results)
    where = kept_dir(results)
    print(f"kept {len(kept)} finished run(s) in {where}" + (f": {', '.join(kept)}"
                                                          if kept else " (none new)"))
    return 0


def _park(args: argparse.Namespace) -> int:
    from heatsink.data import load_dataset
    from heatsink.resolve import resolve_data
    from heatsink.study import plan
    from heatsink.study.parked import parked_dir
    from heatsink.study.paths import results_dir, runs_dir

    ds = load_dataset(resolve_data(args.data))
    runs = Path(args.runs).expanduser() if args.runs else runs_dir(ds.root)
    results = Path(args.results).expanduser() if args.results else results_dir(ds.root)
    table = plan.park_unfinished(list(plan.STAGES), ds, runs, results)
    if not len(table):
        print(f"no unfinished run with a finished epoch in {plan.plan_dir(runs)}")
        return 0
    now = int((table["parked"] == "now").sum())
    print(f"parked {now} unfinished run(s) in {parked_dir(results)}")
    print(table.to_string(index=False))
    return 0


def _data_folders(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="dataset folder, 'kaggle' or 'twin' (default: "
                                       "$HEATSINK_DATA, else the synthetic twin)")
    parser.add_argument("--runs", type=Path, help="runs folder (default: the study's)")
    parser.add_argument("--results", type=Path, help="results folder (default: the study's)")


def _readme(args: argparse.Namespace) -> int:
    from heatsink.study.paths import repo_dir
    from heatsink.study.readme import update_readme

    readme = args.readme or repo_dir() / "README.md"
    results = args.results or repo_dir() / "results" / "twin"
    current = update_readme(readme, results, check=args.check)
    if current:
        print(f"{readme}: the findings and results table match {results}")
        return 0
    if args.check:
        print(f"{readme}: the findings and results table differ from {results}; "
              "run `heatsink study readme`")
        return 1
    print(f"{readme}: findings and results table written from {results}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``heatsink study`` to the command line's sub-commands."""
    study = commands.add_parser("study", help="run the study's notebooks")
    study_cmds = study.add_subparsers(dest="study_command", required=True)
    run = study_cmds.add_parser("run", help="execute notebooks with papermill (make study)")
    run.add_argument("--profile", default="full", help="parameter profile: full or smoke")
    run.add_argument("--data", help="dataset folder, 'kaggle' or 'twin' (default: "
                                    "$HEATSINK_DATA, else the synthetic twin)")
    run.add_argument("--only", action="append", help="notebook name, e.g. 01_exploration")
    run.add_argument("--output", type=Path, help="folder for executed notebooks")
    run.add_argument("--force", action="store_true", help="rerun even if up to date")
    run.set_defaults(func=_run)
    train = study_cmds.add_parser(
        "train", help="train the study's plan of models (resumes; --list shows it)",
        description="Train what the study's training plan (heatsink.study.plan) has not "
                    "trained yet, stage by stage; an interrupted run resumes from its last "
                    "finished epoch when the command is given again.")
    train.add_argument("--stage", action="append",
                       help="stage to work on: 0 range tests and the crop check, 1 every "
                            "encoder, 2 the loss ablation, 3 seeds, 4 fold models, 5 the "
                            "noise doses, 6 the texture check and its seeds (repeatable; "
                            "default all)")
    train.add_argument("--list", action="store_true",
                       help="print the plan with each run's status and epochs; train nothing")
    train.add_argument("--only", action="append", metavar="NAME",
                       help="only this planned run (repeatable)")
    _data_folders(train)
    train.add_argument("--verbose", action="store_true", help="one line per epoch")
    train.set_defaults(func=_train)
    keep = study_cmds.add_parser(
        "keep", help="copy the plan's finished runs into the results (to commit)",
        description="Copy every training run of the plan that finished in the runs folder "
                    "into <results>/plan/<name>: its configuration, provenance, learning "
                    "curve and validation scores, and its best model if small (a few MB). "
                    "The plan counts a kept run as done on any machine; `heatsink study "
                    "train` keeps each run it finishes by itself.")
    _data_folders(keep)
    keep.set_defaults(func=_keep)
    park = study_cmds.add_parser(
        "park", help="copy the plan's unfinished small runs into the results (to commit)",
        description="Copy every training run of the plan that is unfinished in the runs "
                    "folder (with a finished epoch) into <results>/parked/<name>: what a "
                    "resume needs (its record, learning curve, best model so far and Keras's "
                    "resume state), if it weighs at most 24 MB (the GSLU-style and light "
                    "nets). `heatsink study train` on any machine restores a parked run and "
                    "resumes it after its last parked epoch, and removes the copy once the "
                    "run is finished and kept. Park before a session ends.")
    _data_folders(park)
    park.set_defaults(func=_park)
    readme = study_cmds.add_parser(
        "readme", help="write the README's results table from the result files")
    readme.add_argument("--results", type=Path,
                        help="results folder (default: results/twin of this clone)")
    readme.add_argument("--readme", type=Path, help="README (default: this clone's)")
    readme.add_argument("--check", action="store_true",
                        help="only compare; exit 1 if the table differs")
    readme.set_defaults(func=_readme)


__all__ = ["register"]
