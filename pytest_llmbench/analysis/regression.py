"""The CI gate: which tasks changed against a git ref, and did a run regress from a baseline.

- :func:`changed_files` / :func:`changed_tasks`: a task changed when its case file,
  its prompt file or any ``{file:}`` it references differs from the ref (committed,
  staged or not, or new and untracked).
- :func:`compare`: the reasons a run fails against a baseline run: a task lost its
  champion, the champion lost correctness, or the champion's latency grew more than
  the allowed slowdown.
- :func:`without_champion`: the reasons for ``--llm-fail-on champion``.

Pure apart from running ``git``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmbench.analysis.ranking import Incomplete, Miss, ModelStanding, TaskRanking

__all__ = [
    "GateError",
    "GateReport",
    "changed_files",
    "changed_tasks",
    "compare",
    "load_json_rankings",
    "rankings_from_json",
    "without_champion",
]


class GateError(Exception):
    """git or a baseline could not answer; ``str()`` is the one-line message."""


# --------------------------------------------------------------------------- changed tasks


def _git(args: Sequence[str], cwd: Path) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except FileNotFoundError:
        raise GateError("--llm-changed-since needs git, which is not installed") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise GateError(f"git {' '.join(args)} failed: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()
        raise GateError(f"git {' '.join(args)}: {message[-1] if message else 'failed'}")
    return done.stdout


def changed_files(directory: Path, ref: str) -> set[Path]:
    """Files that differ from ``ref`` in the repository holding ``directory`` (resolved)."""
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], directory).strip())
    except GateError:
        raise GateError(f"--llm-changed-since: {directory} is not in a git repository") from None
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    except GateError:
        raise GateError(f"--llm-changed-since: unknown git revision {ref!r}") from None
    # -z: names as they are, without git's quoting of unusual characters
    names = _git(["diff", "--name-only", "-z", "--no-renames", ref, "--"], top).split("\0")
    names += _git(["ls-files", "-z", "--others", "--exclude-standard"], top).split("\0")
    return {(top / name).resolve() for name in names if name}


def changed_tasks(sources: Mapping[str, Iterable[Path]], changed: set[Path]) -> list[str]:
    """The tasks (in the given order) with at least one source file in ``changed``."""
    return [task for task, paths in sources.items() if any(p.resolve() in changed for p in paths)]


# --------------------------------------------------------------------------- baseline


def _standing_from_json(data: Mapping[str, Any]) -> ModelStanding:
    misses = tuple(
        Miss(
            case_id=str(m.get("case_id", "")),
            direction=str(m.get("direction", "")),
            wrong=int(m.get("wrong", 1)),
            runs=int(m.get("runs", 1)),
            expected=str(m.get("expected", "")),
            got=str(m.get("got", "")),
            reason=str(m.get("reason", "")),
        )
        for m in data.get("failed_cases", ())
    )
    missing = tuple(
        (str(r.get("case_id", "")), int(r.get("repeat", 1))) for r in data.get("missing_runs", ())
    )
    incomplete = None
    if missing:  # runs per case are not in the document: the largest repeat missing
        per_case = max(repeat for _, repeat in missing)
        incomplete = Incomplete(missing, int(data.get("total", 0)), per_case)
    return ModelStanding(
        model=str(data["model"]),
        total=int(data.get("total", 0)),
        correct=int(data.get("correct", 0)),
        errors=int(data.get("errors", 0)),
        mean_ms=data.get("mean_ms"),
        p95_ms=data.get("p95_ms"),
        tokens_per_s=data.get("tokens_per_s"),
        qualified=bool(data.get("qualified", False)),
        misses=misses,
        status=str(data.get("status", "")),
        incomplete=incomplete,
    )


def rankings_from_json(document: Mapping[str, Any]) -> list[TaskRanking]:
    """The rankings of a ``--llm-json`` document."""
    tasks = document.get("tasks")
    if not isinstance(tasks, Mapping):
        raise GateError("not a --llm-json document (no 'tasks')")
    rankings: list[TaskRanking] = []
    try:
        for name, task in tasks.items():
            standings = [_standing_from_json(s) for s in [*task["ranking"], *task["disqualified"]]]
            rankings.append(
                TaskRanking(
                    task=str(name),
                    standings=tuple(standings),
                    policy=str(task.get("policy", "strict")),
                    notes=tuple(task.get("notes", ())),
                )
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise GateError(f"not a --llm-json document ({exc})") from None
    return rankings


def load_json_rankings(path: Path) -> list[TaskRanking]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GateError(f"--llm-baseline {path}: cannot read it: {exc}") from None
    try:
        return rankings_from_json(document)
    except GateError as exc:
        raise GateError(f"--llm-baseline {path}: {exc}") from None


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class GateReport:
    """The outcome of comparing a run with its baseline."""

    baseline: str
    reasons: tuple[str, ...] = ()
    compared: tuple[str, ...] = ()
    not_compared: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        return bool(self.reasons)


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def compare(
    baseline: Sequence[TaskRanking],
    current: Sequence[TaskRanking],
    max_slowdown: float,
    label: str = "baseline",
) -> GateReport:
    """Why ``current`` regressed from ``baseline``, task by task.

    :param max_slowdown: the allowed growth of the champion's mean latency (0.2 = 20%).
    """
    before = {r.task: r for r in baseline}
    reasons: list[str] = []
    compared: list[str] = []
    not_compared: list[str] = []
    for now in current:
        old = before.get(now.task)
        if old is None:
            not_compared.append(now.task)
            continue
        compared.append(now.task)
        was = old.champion
        if was is None:
            continue
        champion = now.champion
        if champion is None:
            near = now.nearest_miss
            tail = f"; nearest miss {near.model}, {near.score}" if near else ""
            reasons.append(
                f"{now.task}: lost its champion (was {was.model}; no model qualified{tail})"
            )
        same = next((s for s in now.standings if s.model == was.model), None)
        if same is not None and not same.qualified:
            misses = same.miss_summary()
            reasons.append(
                f"{now.task}: champion {was.model} lost correctness: {same.score}"
                + (f" ({misses})" if misses else "")
            )
        if champion is not None and was.mean_ms and champion.mean_ms is not None:
            growth = champion.mean_ms / was.mean_ms - 1.0
            if growth > max_slowdown:
                who = (
                    champion.model
                    if champion.model == was.model
                    else f"{was.model} -> {champion.model}"
                )
                reasons.append(
                    f"{now.task}: champion latency grew {growth:.0%} "
                    f"({_ms(was.mean_ms)} -> {_ms(champion.mean_ms)}, {who}; "
                    f"limit {max_slowdown:.0%})"
                )
    return GateReport(label, tuple(reasons), tuple(compared), tuple(not_compared))


def without_champion(rankings: Sequence[TaskRanking]) -> list[str]:
    """One reason per task where no model qualified (``--llm-fail-on champion``)."""
    reasons: list[str] = []
    for ranking in rankings:
        if ranking.champion is None:
            near = ranking.nearest_miss
            tail = f" (nearest miss {near.model}, {near.score})" if near else ""
            reasons.append(f"{ranking.task}: no model qualified{tail}")
    return reasons
