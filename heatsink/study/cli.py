"""``heatsink study run`` and ``heatsink study readme``, added to the ``heatsink`` command line
through its ``heatsink.commands`` entry point (``pyproject.toml``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from heatsink.study.runner import run_study

    run_study(profile=args.profile, data=args.data, only=args.only or None,
              output_dir=args.output, force=args.force)
    return 0


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
    readme = study_cmds.add_parser(
        "readme", help="write the README's results table from the result files")
    readme.add_argument("--results", type=Path,
                        help="results folder (default: results/twin of this clone)")
    readme.add_argument("--readme", type=Path, help="README (default: this clone's)")
    readme.add_argument("--check", action="store_true",
                        help="only compare; exit 1 if the table differs")
    readme.set_defaults(func=_readme)


__all__ = ["register"]
