"""The registry after a run of newcomers (``--llm-models=new --llm-update-registry``).

Such a run benchmarks, per task, only the models no earlier run has benchmarked on the
task's current prompt, so its ranking cannot replace the registry's entry wholesale
(the champion was not in it).  Instead each task's entry takes in the newcomers:

- the candidates are the registered champion and runner-up, with their evidence, and
  every newcomer that was correct on every case and every run (``correct == total``),
  whatever the task's policy;
- they are ordered by mean latency (a candidate without one last; equal means keep the
  registered model first): the first is the champion, the second the runner-up;
- but a newcomer goes ahead of a registered model only when it is faster beyond the
  noise and by at least ``--llm-min-lead`` (the ranking's ``min_lead``): when the two ran
  together, their paired lead (:mod:`~pytest_llmbench.analysis.paired`) must not be a
  tie; otherwise (the registered model's figures come from an earlier run) the share of
  time saved on the means, ``1 - new mean / registered mean``, must reach the min lead.
  A newcomer held back that way is named in the entry's ``why`` (``p/new was 3% faster
  than p/champ on the means (not paired), below the min lead of 5%: p/champ stays
  champion``); one that took the champion's place has its lead recorded in its evidence.

A registered model that ran again (a changed prompt, or weights that changed since the
registry recorded them: ``--llm-models=new`` runs both again) is judged on this run: right on
every case and run, its evidence is renewed (with the weights' identity); wrong on any, it
leaves the entry (``why`` says so).

So a newcomer that beats the champion replaces it, and the old champion becomes the
runner-up when it is faster than the old runner-up (else the old runner-up stays); a
newcomer faster than the runner-up only takes the runner-up's place.  The entry's
``why`` records each change with both figures and the run; an entry nothing changed
keeps its ``why``.  A task without an entry gets the newcomers' champion and runner-up.

Pure apart from reading and writing the registry file (:mod:`.champions`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbench.formatting import ms
from pytest_llmbench.storage.champions import (
    Evidence,
    RegistryEntry,
    load_registry,
    registry_lock,
    relative_case_file,
    write_registry,
)

if TYPE_CHECKING:
    from pytest_llmbench.analysis.paired import Lead
    from pytest_llmbench.analysis.ranking import TaskRanking
    from pytest_llmbench.providers.base import ModelInfo

__all__ = ["admit_newcomers", "benchmarked_in", "changed_since", "succeed"]


def _speed(e: Evidence) -> float:
    """The figure the task is ranked by: its ``latency_ms`` when it was ranked by another
    latency than the mean, else the mean."""
    figure = e.latency_ms if e.latency is not None else e.mean_ms
    return math.inf if figure is None else figure


def _mean(value: float | None) -> str:
    return ms(value, " ms mean", missing="no latency")


def _change(role: str, new: Evidence, old: Evidence | None, run: str) -> str:
    if old is None:
        return f"{new.model} became {role} in run {run} ({_mean(new.mean_ms)})"
    return (
        f"{new.model} replaced {old.model} as {role} in run {run} "
        f"({_mean(new.mean_ms)} against {_mean(old.mean_ms)}, {new.correct}/{new.total} correct)"
    )


def _paired(ranking: TaskRanking, new: str, old: str) -> Lead | None:
    """``new``'s paired lead over ``old`` in ``ranking`` when both ran in it (the ranking
    holds the champion's leads: one over ``new`` is turned round)."""
    for lead in ranking.leads:
        if not lead.pairs or lead.ratio is None or {lead.model, lead.other} != {new, old}:
            continue
        if lead.model == new:
            return lead
        low = None if lead.high is None else 1.0 / lead.high
        high = None if lead.low is None else 1.0 / lead.low
        return replace(lead, model=new, other=old, ratio=1.0 / lead.ratio, low=low, high=high)
    return None


@dataclass(frozen=True)
class _Challenge:
    """A newcomer against a registered model: does it take its place, and why."""

    beats: bool
    lead: float | None
    """The share of the registered model's time the newcomer saves."""
    evidence: str
    """``20% faster [14%, 26%] over 30 paired calls`` or ``3% faster on the means``."""
    paired: Lead | None = None


def _challenge(new: Evidence, old: Evidence, ranking: TaskRanking) -> _Challenge:
    """Whether ``new`` is faster than ``old`` beyond the noise (when they ran together:
    their paired lead) and by at least the ranking's min lead (see the module)."""
    paired = _paired(ranking, new.model, old.model)
    if paired is not None and paired.lead is not None:
        interval = paired.interval
        span = f" [{interval[0]:.0%}, {interval[1]:.0%}]" if interval else ""
        evidence = f"{paired.lead:.0%} faster{span} over {paired.pairs} paired calls"
        return _Challenge(paired.faster == new.model, paired.lead, evidence, paired)
    if new.mean_ms is None or old.mean_ms is None or old.mean_ms <= 0:
        return _Challenge(_speed(new) < _speed(old), None, "")
    lead = 1.0 - new.mean_ms / old.mean_ms
    beats = lead > 0 and lead >= ranking.min_lead
    return _Challenge(beats, lead, f"{lead:.0%} faster on the means (not paired)")


def _held(new: Evidence, old: Evidence, role: str, why: _Challenge, min_lead: float) -> str:
    """``p/new was 3% faster than p/old on the means (not paired), below the min lead of
    5%: p/old stays champion``."""
    noisy = why.paired is not None and not why.paired.beyond_noise
    reason = f"below the min lead of {min_lead:.0%}"
    if noisy or not min_lead:
        reason = "within the noise"
    evidence = why.evidence.replace(" faster", f" faster than {old.model}", 1)
    return f"{new.model} was {evidence}, {reason}: {old.model} stays {role}"


def _order(
    registered: list[Evidence], newcomers: list[Evidence], ranking: TaskRanking
) -> tuple[list[Evidence], dict[str, _Challenge], list[str]]:
    """The pool in order: each newcomer (fastest first) goes ahead of the first registered
    model it beats (:func:`_challenge`) or of a slower newcomer; with the reasons of each
    newcomer that took a place and the sentences of those held back."""
    order = sorted(registered, key=_speed)  # stable: the champion first on a tie
    won: dict[str, _Challenge] = {}
    held: list[str] = []
    roles = ("champion", "runner-up")
    for new in sorted(newcomers, key=_speed):
        position = len(order)
        for index, placed in enumerate(order):
            role = next((r for r, e in zip(roles, registered, strict=False) if e is placed), None)
            if role is not None:
                challenge = _challenge(new, placed, ranking)
                if challenge.beats:
                    won[new.model] = challenge
                    position = index
                    break
                if _speed(new) < _speed(placed) and challenge.evidence:
                    held.append(_held(new, placed, role, challenge, ranking.min_lead))
            elif _speed(new) < _speed(placed):
                position = index
                break
        order.insert(position, new)
    return order, won, held


def succeed(
    before: RegistryEntry | None,
    ranking: TaskRanking,
    run: Mapping[str, Any],
    identities: Mapping[str, str] | None = None,
) -> RegistryEntry | None:
    """The task's entry after its newcomers' ``ranking`` (the rules above); ``None``
    when there is no entry and no newcomer was always right.  ``identities``: the
    weights' identity of the models that ran (recorded with their evidence)."""
    found = identities or {}
    label = str(run.get("id") or "?")
    ran = {s.model: s for s in ranking.standings if s.combination is None and s.total > 0}
    newcomers = [
        Evidence.from_standing(s, run, identity=found.get(s.model), latency=ranking.latency)
        for s in ran.values()
        if s.correct == s.total
    ]
    before_list = [] if before is None else [before.champion, *filter(None, [before.runner_up])]
    known = {e.model for e in before_list}
    registered: list[Evidence] = []
    renewed: list[str] = []
    for evidence in before_list:
        again = ran.get(evidence.model)
        if again is None:
            registered.append(evidence)
        elif again.correct == again.total:
            fresh = next(e for e in newcomers if e.model == evidence.model)
            registered.append(fresh)
            if evidence.identity and fresh.identity and evidence.identity != fresh.identity:
                renewed.append(
                    f"{evidence.model} changed ({evidence.identity[:19]} -> "
                    f"{fresh.identity[:19]}) and was benchmarked again in {label}"
                )
        else:
            renewed.append(
                f"{evidence.model} ran again in {label} and was wrong on "
                f"{again.total - again.correct} of {again.total}: it left the entry"
            )
    newcomers = [e for e in newcomers if e.model not in known]
    pool, won, held = _order(registered, newcomers, ranking)
    if not pool:
        return None
    champion, runner_up = pool[0], (pool[1] if len(pool) > 1 else None)
    if before is not None and (champion, runner_up) == (before.champion, before.runner_up):
        if not held:
            return before
        return replace(before, why="; ".join(held))
    changes = list(renewed)
    if before is None or champion.model != before.champion.model:
        old = before.champion if before else None
        change = _change("champion", champion, old, label)
        challenge = won.get(champion.model)
        weighed = challenge is not None and (challenge.paired is not None or ranking.min_lead)
        if challenge is not None and weighed and old is not None:
            champion = _with_lead(champion, old, challenge)
            floor = f", at least the min lead of {ranking.min_lead:.0%}" if ranking.min_lead else ""
            change = f"{change[:-1]}, {challenge.evidence}{floor})"
        changes.append(change)
    old_runner = before.runner_up if before else None
    if runner_up is not None and (old_runner is None or runner_up.model != old_runner.model):
        if before is not None and runner_up.model == before.champion.model:
            changes.append(
                f"{runner_up.model} became runner-up ({_mean(runner_up.mean_ms)}"
                + (f", faster than {old_runner.model}" if old_runner else "")
                + ")"
            )
        else:
            changes.append(_change("runner-up", runner_up, old_runner, label))
    changes.extend(held)
    base = before or RegistryEntry(task=ranking.task, champion=champion)
    why = "; ".join(changes) or (before.why if before is not None else None)
    return replace(base, champion=champion, runner_up=runner_up, why=why)


def _with_lead(new: Evidence, old: Evidence, challenge: _Challenge) -> Evidence:
    """``new``'s evidence with its lead over the champion it replaced."""
    paired = challenge.paired
    interval = paired.interval if paired is not None else None
    return replace(
        new,
        lead_over=old.model,
        lead=None if challenge.lead is None else round(challenge.lead, 4),
        lead_low=round(interval[0], 4) if interval else None,
        lead_high=round(interval[1], 4) if interval else None,
        paired_calls=paired.pairs if paired is not None else None,
    )


def admit_newcomers(
    path: Path,
    rankings: Sequence[TaskRanking],
    run: Mapping[str, Any],
    case_files: Mapping[str, Path] | None = None,
    identities: Mapping[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Take each task's newcomers into the registry at ``path`` (see :func:`succeed`).

    :return: (tasks whose entry changed, tasks whose entry stayed as it was).
    """
    with registry_lock(path):  # read, change, write: no other writer in between
        return _admit(path, rankings, run, case_files, identities)


def _admit(
    path: Path,
    rankings: Sequence[TaskRanking],
    run: Mapping[str, Any],
    case_files: Mapping[str, Path] | None,
    identities: Mapping[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    entries = load_registry(path)
    updated: list[str] = []
    kept: list[str] = []
    for ranking in rankings:
        before = entries.get(ranking.task)
        after = succeed(before, ranking, run, identities)
        if after is None or after == before:
            kept.append(ranking.task)
            continue
        case_file = (case_files or {}).get(ranking.task)
        if case_file is not None:
            after = replace(after, case_file=relative_case_file(path, case_file))
        entries[ranking.task] = after
        updated.append(ranking.task)
    if updated:
        write_registry(path, entries)
    return updated, kept


def changed_since(path: Path) -> Callable[[str, Sequence[ModelInfo]], dict[str, str]]:
    """For ``--llm-models=new``: per task, of its models, those whose weights changed
    since the registry at ``path`` recorded them (model id -> ``old -> new``).

    The registry is read once, on the first task; a missing or unreadable one changes
    nothing (the run's own registry check says what is wrong with it).  A model whose
    identity cannot be had now (a server that lists no digest) is not called changed.
    """
    from pytest_llmbench.providers.identity import model_identity
    from pytest_llmbench.storage.champions import RegistryError

    entries: dict[str, RegistryEntry] | None = None

    def changed(task: str, models: Sequence[ModelInfo]) -> dict[str, str]:
        nonlocal entries
        if entries is None:
            try:
                entries = load_registry(path)
            except (RegistryError, OSError):
                entries = {}
        entry = entries.get(task)
        if entry is None:
            return {}
        recorded = {e.model: e.identity for e in (entry.champion, entry.runner_up) if e}
        found: dict[str, str] = {}
        for info in models:
            old = recorded.get(info.id)
            now = model_identity(info) if old else None
            if old and now and now != old:
                found[info.id] = f"{old[:19]} -> {now[:19]}"
        return found

    return changed


def benchmarked_in(history: Path | None) -> Callable[[str], dict[str, set[str]]]:
    """For ``--llm-models=new``: per task, the prompt hashes the history at ``history``
    has each model benchmarked on (``{}`` without a history); a history that cannot be
    read is a :class:`~pytest_llmbench.selection.spec.SelectionError`."""

    def benchmarked(task: str) -> dict[str, set[str]]:
        from pytest_llmbench.selection.spec import SelectionError
        from pytest_llmbench.storage.history import HistoryError, benchmarked

        try:
            return benchmarked(history, [task]).get(task, {}) if history else {}
        except HistoryError as exc:
            raise SelectionError(str(exc)) from None

    return benchmarked
