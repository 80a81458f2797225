"""The package's shape: a toolkit that never reaches into the study layer, and no import
cycles between its parts (each sub-package or top-level module is one part)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "heatsink"
STUDY = PACKAGE / "study"


def _modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, module: str) -> set[str]:
    """Every ``heatsink`` module ``path`` imports, at the top or inside a function."""
    found = set()
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "heatsink" or name.startswith("heatsink.")}


def _part(module: str) -> str:
    """``heatsink.line.spec`` -> ``line``; ``heatsink.evaluate`` -> ``evaluate``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "heatsink"


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for module, path in modules.items():
        for target in _imports(path, module):
            while target not in modules and "." in target:  # `from pkg import name`
                target = target.rsplit(".", 1)[0]
            a, b = _part(module), _part(target)
            if a != b and b != "heatsink":
                graph.add_edge(a, b)
    return graph


def test_the_toolkit_never_imports_the_study_layer():
    offenders = []
    for module, path in _modules().items():
        if path.is_relative_to(STUDY):
            continue
        bad = [name for name in _imports(path, module) if name.startswith("heatsink.study")]
        offenders += [f"{module} imports {name}" for name in bad]
    assert not offenders, offenders


def test_only_the_study_layer_knows_the_repository_and_the_chapters():
    pattern = re.compile(r"REPO_DIR|NOTEBOOK_DIR|[Cc]hapters? \d|\bch(apter)?\.? ?\d\b")
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{k}: {line.strip()}"
                 for path in sorted(PACKAGE.rglob("*.py")) if not path.is_relative_to(STUDY)
                 for k, line in enumerate(path.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert not offenders, offenders


def test_no_import_cycle_between_the_packages_parts():
    cycles = list(nx.simple_cycles(_graph()))
    assert not cycles, cycles


def test_every_public_module_says_what_it_exports():
    """``__all__`` in every module but the private ones, naming only what the module has."""
    import importlib

    missing, wrong = [], []
    for module, path in _modules().items():
        if path.name.startswith("_") and path.name != "__init__.py":
            continue
        if module == "heatsink":
            continue
        imported = importlib.import_module(module)
        if not hasattr(imported, "__all__"):
            missing.append(module)
            continue
        wrong += [f"{module}.{name}" for name in imported.__all__ if not hasattr(imported, name)]
    assert not missing, missing
    assert not wrong, wrong


def test_the_cycle_check_sees_function_level_imports(tmp_path):
    """The checker is not blind: an import inside a function counts."""
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from heatsink.study import paths\n")
    assert "heatsink.study" in _imports(source, "heatsink.mod")
