"""Which saved runs belong together: chapter 4's loss sweep and its input-size variants.

Runs are named ``<model>`` (cross-entropy), ``<model>-<loss>`` and
``<model>-<loss>-<size>[-flips]`` (another input size, with flips).
"""

from __future__ import annotations


def _name_parts(name: str) -> list[str]:
    """``"gslu-wcce+dice-320-flips"`` -> ``["gslu", "wcce+dice", "320", "flips"]``."""
    return name.split("-")


def loss_sweep(results: dict[str, dict]) -> dict[str, dict]:
    """The runs of chapter 4's loss comparison: the model with the most loss variants.

    Runs are named ``<model>`` (cross-entropy) and ``<model>-<loss>``; a run at another
    input size or with augmentation (``<model>-<loss>-<size>[-flips]``) differs in more than
    its loss and is left out (see :func:`input_variants`). Returns the results of the model
    with the most loss variants beside its cross-entropy run, that run first, then the
    others in their saved order; empty if no model has both.
    """
    variants: dict[str, list[str]] = {}
    for name in results:
        parts = _name_parts(name)
        if len(parts) == 2:
            variants.setdefault(parts[0], []).append(name)
    candidates = {model: names for model, names in variants.items() if model in results}
    if not candidates:
        return {}
    model = max(candidates, key=lambda m: len(candidates[m]))
    return {name: results[name] for name in [model, *candidates[model]]}


def input_variants(results: dict[str, dict]) -> dict[str, str]:
    """Runs that differ from another run only in input size or augmentation.

    Returns
    -------
    dict
        ``<model>-<loss>-<size>[-flips]`` -> the run of the same model and loss at the
        default size without augmentation (``<model>`` for cross-entropy,
        ``<model>-<loss>`` otherwise), for each such pair both of whose results exist.
    """
    pairs = {}
    for name in results:
        parts = _name_parts(name)
        if len(parts) <= 2:
            continue
        model, loss = parts[0], parts[1]
        base = model if loss == "cce" else f"{model}-{loss}"
        if base in results and _same_but_input(results[name], results[base]):
            pairs[name] = base
    return pairs


def _same_but_input(a: dict, b: dict) -> bool:
    """Whether two runs' configurations differ in nothing but input size and augmentation."""
    if "config" not in a or "config" not in b:
        return True  # results without their configuration: trust the names
    ignore = {"image_size", "augment"}
    first = {k: v for k, v in a["config"].items() if k not in ignore}
    second = {k: v for k, v in b["config"].items() if k not in ignore}
    return first == second
