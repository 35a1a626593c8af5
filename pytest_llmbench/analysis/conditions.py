"""The conditions a run ran under: the machine's load and cores, at its start and end.

A run timed on a busy machine measures the machine as much as the models: its latencies
are inflated, its timeouts are the machine's.  Each run records (``conditions`` in the
run record, so in the ``--llm-json`` document's ``run`` and in the history)::

    {"start": {"load_1m": 0.4, "cores": 2}, "end": {"load_1m": 3.1, "cores": 2},
     "embedded_threads": 2, "loaded": true}

``load_1m`` is the 1-minute load average (``os.getloadavg``: the runnable processes,
averaged; ``None`` where the system has none, Windows); ``cores`` is ``os.cpu_count()``;
``embedded_threads`` the CPU threads each embedded llama.cpp model used (``None``
without embedded models).  A run is **loaded** when the load average exceeded the cores
at its start or its end: more work wanted the CPUs than there were CPUs.

Pure apart from :func:`measure`, which reads the two figures.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

__all__ = ["describe_loaded", "is_loaded", "measure", "run_conditions"]


def measure() -> dict[str, Any]:
    """The machine now: ``{"load_1m": float | None, "cores": int | None}``."""
    try:
        load: float | None = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # Windows: no load average
        load = None
    return {"load_1m": load, "cores": os.cpu_count()}


def _over(point: Mapping[str, Any] | None) -> bool:
    if not point:
        return False
    load, cores = point.get("load_1m"), point.get("cores")
    return isinstance(load, int | float) and isinstance(cores, int) and load > cores


def run_conditions(
    start: Mapping[str, Any], end: Mapping[str, Any], embedded_threads: int | None = None
) -> dict[str, Any]:
    """The run record's ``conditions`` (see the module)."""
    return {
        "start": dict(start),
        "end": dict(end),
        "embedded_threads": embedded_threads,
        "loaded": _over(start) or _over(end),
    }


def is_loaded(run: Mapping[str, Any] | None) -> bool:
    """Whether the run record (or its ``conditions``) says the machine was loaded."""
    if not run:
        return False
    conditions = run.get("conditions", run)
    if not isinstance(conditions, Mapping):
        return False
    return (
        bool(conditions.get("loaded"))
        or _over(conditions.get("start"))
        or _over(conditions.get("end"))
    )


def describe_loaded(run: Mapping[str, Any] | None) -> str | None:
    """``load average 3.1 on 2 cores at the end`` for a loaded run; ``None`` otherwise."""
    if not is_loaded(run):
        return None
    assert run is not None
    conditions = run.get("conditions", run)
    parts = []
    for when in ("start", "end"):
        point = conditions.get(when)
        if _over(point):
            parts.append(
                f"load average {point['load_1m']:g} on {point['cores']} cores at the {when}"
            )
    return "; ".join(parts) or "marked loaded"
