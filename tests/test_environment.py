"""The conda environment (Binder) and pyproject.toml name the same packages."""

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_covers_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    wanted |= {_name(r) for r in project["optional-dependencies"]["study"]}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    have = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            have |= {_name(r) for r in dep["pip"]}
        else:
            have.add(_name(dep))
    assert wanted - have == set(), f"missing from environment.yml: {sorted(wanted - have)}"


def test_jupyter_book_is_pinned_below_2_everywhere():
    assert "jupyter-book>=1.0.4,<2" in (REPO / "pyproject.toml").read_text()
    assert "jupyter-book>=1.0.4,<2" in (REPO / "environment.yml").read_text()
