"""What machine a run happened on: CPU model, cores, memory, bf16 support."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

#: CPU flags (as Linux names them in /proc/cpuinfo) that give fast bfloat16 matrix maths.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_flags() -> set[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo cannot be read)."""
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def has_bf16() -> bool:
    """Whether the CPU has bfloat16 instructions (AVX512-BF16 or AMX-BF16)."""
    return bool(cpu_flags() & set(BF16_FLAGS))


def cpu_model() -> str:
    """The CPU's model name, or ``platform.processor()`` where /proc/cpuinfo is absent."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    """Total memory in GiB, or None where it cannot be read."""
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * size / 2**30, 1)


def gpus() -> list[str]:
    """The GPUs TensorFlow sees (their device names), empty where it sees none.

    TensorFlow is imported here, once, if it is not already.
    """
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices("GPU")]


def device() -> str:
    """``"GPU"`` where TensorFlow sees one (it then runs the models there), else ``"CPU"``."""
    return "GPU" if gpus() else "CPU"


def describe() -> dict[str, object]:
    """A JSON-ready description of this machine (``gpu``: the GPUs TensorFlow sees, or None)."""
    flags = cpu_flags()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "bf16": sorted(flags & set(BF16_FLAGS)),
        "gpu": gpus() or None,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def summary_line() -> str:
    """The hardware in one line, for tables and benchmark output."""
    d = describe()
    gpu = ", ".join(d["gpu"]) if d["gpu"] else "no GPU"
    return f"{short_line(d)}, {d['memory_gib']} GiB, {gpu}"


def short_line(described: dict[str, Any]) -> str:
    """``"AMD EPYC, 2 cores, avx512_bf16"``: a recorded :func:`describe` dict, for tables.

    An empty dict (a record that predates hardware) gives an empty string.
    """
    if not described:
        return ""
    bf16 = ", ".join(described.get("bf16") or []) or "no bf16"
    return f"{described.get('cpu')}, {described.get('cores')} cores, {bf16}"


def busy_seconds() -> tuple[float, float] | None:
    """``(all processes, this process)``: CPU seconds spent busy since boot by the whole
    machine (``/proc/stat``: all but idle and iowait) and by this process and its waited-for
    children (``os.times``); None where ``/proc/stat`` cannot be read.

    The difference of two readings, divided by the wall time between them, is how many
    cores other processes kept busy meanwhile (:func:`other_cores`).

    >>> reading = busy_seconds()
    >>> reading is None or reading[0] >= 0
    True
    """
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        values = [int(v) for v in first[1:9]]
    except (OSError, ValueError):
        return None
    busy = (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system


def other_cores(start: tuple[float, float] | None, end: tuple[float, float] | None,
                seconds: float) -> float | None:
    """Cores' worth of CPU that other processes used between two :func:`busy_seconds`
    readings ``seconds`` apart (None if either reading is).

    >>> other_cores((100.0, 10.0), (130.0, 30.0), 10.0)  # 30 s busy, 20 of them ours
    1.0
    """
    if start is None or end is None or seconds <= 0:
        return None
    return max(0.0, (end[0] - start[0]) - (end[1] - start[1])) / seconds


__all__ = [
    "BF16_FLAGS",
    "busy_seconds",
    "cpu_flags",
    "cpu_model",
    "describe",
    "device",
    "gpus",
    "has_bf16",
    "memory_gib",
    "other_cores",
    "short_line",
    "summary_line",
]
