"""Which saved runs belong together: the loss comparison and its input-size variants.

Read from each result's stored training configuration, never from its name.
"""

from __future__ import annotations

#: Configuration fields that say what a run's *input* is, not what it learns with.
INPUT_FIELDS = ("image_size", "augment")
#: Fields a loss comparison lets differ.
LOSS_FIELDS = ("loss", "class_weighting")


def _config(payload: dict, ignore: tuple[str, ...]) -> dict:
    return {k: v for k, v in payload.get("config", {}).items() if k not in ignore}


def loss_sweep(results: dict[str, dict]) -> dict[str, dict]:
    """The runs of the loss comparison: the largest group differing only in their loss.

    Returns the results of the largest group of runs (two at least) whose configurations
    differ in nothing but the loss, its plain cross-entropy run first, then the others in
    their saved order; empty if there is no such group. Runs at another input size or with
    augmentation differ in more and belong to :func:`input_variants`.
    """
    groups: dict[str, list[str]] = {}
    for name, payload in results.items():
        if "config" in payload:
            groups.setdefault(repr(sorted(_config(payload, LOSS_FIELDS).items())),
                              []).append(name)
    sweeps = [names for names in groups.values() if len(names) > 1]
    if not sweeps:
        return {}
    names = max(sweeps, key=len)
    names.sort(key=lambda n: results[n]["config"]["loss"] != "cce")  # stable: cce first
    return {name: results[name] for name in names}


def input_variants(results: dict[str, dict]) -> dict[str, str]:
    """Runs that differ from another run only in input size or augmentation.

    Returns
    -------
    dict
        Variant name -> the run with the same configuration at the smallest input size
        without augmentation, for each such pair whose results both exist.
    """
    base: dict[str, str] = {}
    for name, payload in results.items():
        config = payload.get("config", {})
        if "config" in payload and not config.get("augment"):
            key = repr(sorted(_config(payload, INPUT_FIELDS).items()))
            if key not in base or config["image_size"] < results[base[key]]["config"][
                    "image_size"]:
                base[key] = name
    pairs = {}
    for name, payload in results.items():
        if "config" not in payload:
            continue
        key = repr(sorted(_config(payload, INPUT_FIELDS).items()))
        if key in base and base[key] != name:
            pairs[name] = base[key]
    return pairs


__all__ = ["INPUT_FIELDS", "LOSS_FIELDS", "input_variants", "loss_sweep"]
