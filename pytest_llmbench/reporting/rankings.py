"""The lines of ``llmbench rankings``: the champion registry, per task its champion,
runner-up and fallbacks with their evidence and its age.  Pure: entries in, lines out."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping

from pytest_llmbench.formatting import ms
from pytest_llmbench.reporting.cells import table
from pytest_llmbench.storage.champions import Evidence, RegistryEntry

__all__ = ["rankings_lines"]

HEADERS = ("task", "place", "model", "correct", "mean ms", "p95 ms", "run", "date", "age")


def _age(date: str | None, today: _dt.date) -> str:
    if not date:
        return "-"
    try:
        days = (today - _dt.date.fromisoformat(date)).days
    except ValueError:
        return "-"
    return f"{days} day" if days == 1 else f"{days} days"


def _places(entry: RegistryEntry) -> list[tuple[str, str, Evidence | None]]:
    """(place, model, evidence): champion, runner-up, then fallbacks without evidence."""
    places: list[tuple[str, str, Evidence | None]] = [
        ("champion", entry.champion.model, entry.champion)
    ]
    if entry.runner_up is not None:
        places.append(("runner-up", entry.runner_up.model, entry.runner_up))
    places += [("fallback", m, None) for m in entry.fallbacks if m not in entry.models]
    return places


def _evidence_cells(ev: Evidence | None, today: _dt.date) -> list[str]:
    if ev is None:
        return ["-"] * 6
    return [
        f"{ev.correct}/{ev.total}",
        ms(ev.mean_ms),
        ms(ev.p95_ms),
        ev.run or "-",
        ev.date or "-",
        _age(ev.date, today),
    ]


def _weights(ev: Evidence | None, installed: Mapping[str, str | None] | None) -> str:
    """``same``, ``stale`` (other weights under the name), ``gone`` (not installed), ``?``
    (not known: the host did not answer) or ``-`` (no identity recorded)."""
    if ev is None or ev.identity is None:
        return "-"
    if installed is None:
        return "?"
    if ev.model not in installed:
        return "gone"
    now = installed[ev.model]
    if now is None:
        return "?"
    return "same" if now == ev.identity else "stale"


def rankings_lines(
    entries: Mapping[str, RegistryEntry],
    today: _dt.date,
    task: str | None = None,
    installed: Mapping[str, str | None] | None = None,
) -> list[str]:
    """``llmbench rankings``: per task its champion, runner-up and fallbacks, each with
    the evidence (correct/total, mean and p95 latency, the run and its date) and its age.

    When the registry records the identity of a model (Ollama's digest), a ``weights``
    column compares it with ``installed`` (``{model id: identity now}``, ``None`` when it
    could not be asked), and a line below the table names each stale model."""
    places = [
        (name, place, model, ev)
        for name in sorted(entries)
        if task is None or name == task
        for place, model, ev in _places(entries[name])
    ]
    rows = [[name, place, model, *_evidence_cells(ev, today)] for name, place, model, ev in places]
    if not rows:
        return [f"task {task} is not in the registry" if task else "the registry has no task"]
    if not any(ev is not None and ev.identity for *_, ev in places):
        return table(rows, HEADERS)
    marks = [_weights(ev, installed) for *_, ev in places]
    lines = table(
        [[*row, mark] for row, mark in zip(rows, marks, strict=True)], [*HEADERS, "weights"]
    )
    for (name, place, model, ev), mark in zip(places, marks, strict=True):
        if mark == "stale" and ev is not None and installed is not None:
            lines.append(
                f"stale: {name} {place} {model}: the installed weights "
                f"({_short(installed[model])}) are not the benchmarked ones "
                f"({_short(ev.identity)}); re-benchmark it "
                "(pytest --llm-models=new)"
            )
    return lines


def _short(identity: str | None) -> str:
    text = (identity or "-").removeprefix("sha256:")
    return text[:12]
