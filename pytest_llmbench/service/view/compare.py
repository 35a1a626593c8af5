"""What changed between two stored runs, for the compare page.  Pure: runs in, rows out.

- champions per task (changed or not);
- flips: per task and model, the cases correct in one run and wrong in the other (a case
  is correct when every one of its runs is);
- latency per task and model: the means, and the paired difference over the (case,
  repeat) runs both made, with its 95% interval (:func:`~pytest_llmbench.analysis.stats.
  confidence_interval` of the differences);
- prompt versions and hashes per task.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_llmbench.analysis.stats import confidence_interval, mean
from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage.history import StoredRun

__all__ = ["ChampionChange", "Flip", "LatencyChange", "PromptVersions", "flips"]


@dataclass(frozen=True)
class ChampionChange:
    task: str
    before: str | None
    after: str | None
    before_ms: float | None
    after_ms: float | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Flip:
    task: str
    model: str
    case_id: str
    before: Result
    after: Result

    @property
    def fixed(self) -> bool:
        """Wrong before, right after (else: right before, wrong after)."""
        return self.after.correct


@dataclass(frozen=True)
class LatencyChange:
    task: str
    model: str
    before_ms: float | None
    after_ms: float | None
    paired: int
    """(case, repeat) runs both made, with a latency in both."""
    diff_ms: float | None
    """Mean of after - before over the paired runs."""
    interval: tuple[float, float] | None


@dataclass(frozen=True)
class PromptVersions:
    task: str
    before: tuple[tuple[str, str], ...]
    """(version, hash of its template) seen in the first run (``""`` for one ``prompt:``)."""
    after: tuple[tuple[str, str], ...]
    cases: int
    """Cases both runs ran."""
    changed: tuple[str, ...]
    """Of those, the cases whose prompt hash (the prompt as sent) differs."""


def champions(a: StoredRun, b: StoredRun) -> list[ChampionChange]:
    before = {r.task: r.champion for r in a.rankings}
    after = {r.task: r.champion for r in b.rankings}
    rows = []
    for task in [*before, *(t for t in after if t not in before)]:
        x, y = before.get(task), after.get(task)
        rows.append(
            ChampionChange(
                task,
                x.model if x else None,
                y.model if y else None,
                x.mean_ms if x else None,
                y.mean_ms if y else None,
            )
        )
    return rows


Key = tuple[str, str, str]


def _cases(results: Iterable[Result]) -> dict[Key, list[Result]]:
    found: dict[Key, list[Result]] = {}
    for r in results:
        found.setdefault((r.task, r.candidate, r.case_id), []).append(r)
    return found


def _outcome(runs: Sequence[Result]) -> Result:
    """The case's run to show: the first wrong one, else the first."""
    return next((r for r in runs if not r.correct), runs[0])


def flips(a: StoredRun, b: StoredRun) -> list[Flip]:
    """Every (task, model, case) whose outcome differs, in the second run's order."""
    before = _cases(a.results)
    found = []
    for key, runs in _cases(b.results).items():
        old = before.get(key)
        if old is None:
            continue
        x, y = _outcome(old), _outcome(runs)
        if all(r.correct for r in old) != all(r.correct for r in runs):
            found.append(Flip(key[0], key[1], key[2], x, y))
    return found


def latency_changes(a: StoredRun, b: StoredRun) -> list[LatencyChange]:
    def timed(results: Iterable[Result]) -> dict[tuple[str, str], dict[tuple[str, int], float]]:
        by: dict[tuple[str, str], dict[tuple[str, int], float]] = {}
        for r in results:
            if r.latency_ms is not None and not r.cold and not r.cached:
                by.setdefault((r.task, r.candidate), {})[(r.case_id, r.repeat)] = r.latency_ms
        return by

    before, after = timed(a.results), timed(b.results)
    rows = []
    for key in [*after, *(k for k in before if k not in after)]:
        x, y = before.get(key, {}), after.get(key, {})
        diffs = [y[run] - x[run] for run in y if run in x]
        rows.append(
            LatencyChange(
                key[0],
                key[1],
                mean(list(x.values())),
                mean(list(y.values())),
                len(diffs),
                mean(diffs),
                confidence_interval(diffs),
            )
        )
    return rows


def prompt_versions(a: StoredRun, b: StoredRun) -> list[PromptVersions]:
    def seen(results: Iterable[Result]) -> dict[str, dict[str, set[str]]]:
        """task -> ``version hash`` key and ``case:ID`` key -> hashes."""
        by: dict[str, dict[str, set[str]]] = {}
        for r in results:
            task = by.setdefault(r.task, {})
            task.setdefault("\0versions", set()).add(f"{r.prompt_version}\0{r.prompt_version_hash}")
            task.setdefault(r.case_id, set()).add(r.prompt_hash)
        return by

    before, after = seen(a.results), seen(b.results)
    rows = []
    for task in [*before, *(t for t in after if t not in before)]:
        x, y = before.get(task, {}), after.get(task, {})
        cases = [c for c in y if c in x and c != "\0versions"]

        def versions(found: dict[str, set[str]]) -> tuple[tuple[str, str], ...]:
            pairs = (v.partition("\0") for v in found.get("\0versions", ()))
            return tuple(sorted((name, digest) for name, _, digest in pairs))

        rows.append(
            PromptVersions(
                task,
                versions(x),
                versions(y),
                len(cases),
                tuple(c for c in cases if x[c] != y[c]),
            )
        )
    return rows
