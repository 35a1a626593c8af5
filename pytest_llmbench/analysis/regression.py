"""The CI gate's verdicts: did a run regress from its baseline, does every task have a champion.

Pure module (no git, no files: the baseline comes from
:mod:`pytest_llmbench.storage.json_report` or the history, the changed tasks from
:mod:`pytest_llmbench.storage.git`).

- :func:`compare`: the reasons a run fails against a baseline run: a task lost its
  champion, the champion lost correctness, or the champion's latency grew more than
  the allowed slowdown.  With prompt versions the candidates are (model, version)
  pairs (``provider/name@v2``): a pair is compared with the same pair of the baseline,
  and a version whose text changed since (another hash) is named in ``notes``.
- :func:`without_champion`: the reasons for ``--llm-fail-on champion``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.formatting import ms

__all__ = ["GateReport", "compare", "without_champion"]


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class GateReport:
    """The outcome of comparing a run with its baseline."""

    baseline: str
    reasons: tuple[str, ...] = ()
    compared: tuple[str, ...] = ()
    not_compared: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = ()
    """Facts about the comparison that fail nothing (a prompt version edited since)."""

    @property
    def failed(self) -> bool:
        return bool(self.reasons)


MIN_SLOWDOWN_MS = 1.0
"""A champion's latency growth under this is timer noise, never a regression (an instant
model going from 0.01 to 0.02 ms has not doubled in any way a user can see)."""


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
    notes: list[str] = []
    for now in current:
        old = before.get(now.task)
        if old is None:
            not_compared.append(now.task)
            continue
        compared.append(now.task)
        notes.extend(_edited_versions(old, now))
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
            if growth > max_slowdown and champion.mean_ms - was.mean_ms >= MIN_SLOWDOWN_MS:
                who = (
                    champion.model
                    if champion.model == was.model
                    else f"{was.model} -> {champion.model}"
                )
                reasons.append(
                    f"{now.task}: champion latency grew {growth:.0%} "
                    f"({ms(was.mean_ms, ' ms')} -> {ms(champion.mean_ms, ' ms')}, {who}; "
                    f"limit {max_slowdown:.0%})"
                )
    return GateReport(
        label, tuple(reasons), tuple(compared), tuple(not_compared), tuple(dict.fromkeys(notes))
    )


def _edited_versions(old: TaskRanking, now: TaskRanking) -> list[str]:
    """``grading: prompt v2 changed since the baseline (hash a -> b)``, once per version."""
    before = {s.prompt_version: s.prompt_version_hash for s in old.standings if s.prompt_version}
    notes = []
    for s in now.standings:
        was = before.get(s.prompt_version)
        if s.prompt_version and was and s.prompt_version_hash and was != s.prompt_version_hash:
            notes.append(
                f"{now.task}: prompt {s.prompt_version} changed since the baseline "
                f"(hash {was} -> {s.prompt_version_hash})"
            )
    return notes


def without_champion(rankings: Sequence[TaskRanking]) -> list[str]:
    """One reason per task where no model qualified (``--llm-fail-on champion``)."""
    reasons: list[str] = []
    for ranking in rankings:
        if ranking.champion is None:
            near = ranking.nearest_miss
            tail = f" (nearest miss {near.model}, {near.score})" if near else ""
            reasons.append(f"{ranking.task}: no model qualified{tail}")
    return reasons
