"""Rank the models of one task from its result records.

Pure module.  Two policies, chosen per task (YAML ``ranking: {policy: ...}``) or for
the whole run (``--llm-rank``):

- ``strict`` (the default): a model qualifies when every case and every repeat is
  correct; qualified models are ordered by latency (the mean unless the task says
  otherwise: ``ranking: {latency: p95}``, ``--llm-rank-latency``, :data:`LATENCIES`);
  the first is the champion, the second the runner-up.
- ``weighted`` (the task optimizer's): a model qualifies when it meets the task's bar
  (``min_correct``, the share of runs it must get right: every run by default, or the
  case file's ``ranking: {min_correct: 0.8}``); qualified models are
  ranked by ``score = quality * mean_score + speed * speed_norm``, where mean_score =
  the mean of the results' scores over the expected runs (a run not made scores 0; with
  binary checks alone it is the share of correct runs) and speed_norm = the fastest
  mean latency among the ranked models / the model's mean latency (1 for the fastest, 0
  without a latency).  Equal scores go to the lower mean latency.  A model that scores
  0 everywhere is not ranked.  A model below the bar is scored too but never champion:
  the best of them, when it scores above the champion (or there is none), has the
  status ``best score, not qualified``.

Every model is held to the task's full set of runs, (case id, repeat) pairs: the runs
the caller says were expected (the plugin: the items collected for the task, every
model) together with every run any model made.  A run a model did not make (``-x``,
``--maxfail``, Ctrl-C, a ``-k`` that left out some of its cases) counts as not
correct: the model is :class:`Incomplete` and does not qualify under the strict policy.

Latency statistics use the warm calls: the first call after a model is loaded (``cold``)
is kept apart; a model with only cold calls is timed by those.

:func:`rank_task` is the whole pipeline the plugin runs at the end of a session:
generic-answer check, ranking, cost, suspect gold, ties and warnings.
"""

from __future__ import annotations

import importlib
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pytest_llmbench.analysis.cost import Cost, cost_per_1k
from pytest_llmbench.analysis.generic import (
    DEFAULT_THRESHOLD,
    GenericAnswer,
    find_generic_answers,
    generic_warning,
)
from pytest_llmbench.analysis.gold import SuspectGold, find_suspect_gold
from pytest_llmbench.analysis.paired import (
    AccuracyDifference,
    Lead,
    accuracy_difference,
    outcomes,
    paired_lead,
    warm_latencies,
)
from pytest_llmbench.analysis.repeats import RepeatStats, repeat_stats
from pytest_llmbench.analysis.stats import LatencyStats, latency_stats, mean, overlap, percentile
from pytest_llmbench.analysis.verdicts import VerdictMetrics, verdict_metrics
from pytest_llmbench.execution.prices import PriceTable
from pytest_llmbench.execution.results import Result

if TYPE_CHECKING:  # record types of features a run may not use: see __getattr__
    from pytest_llmbench.analysis.at_load import TaskLoad
    from pytest_llmbench.analysis.calibration import JudgeSummary
    from pytest_llmbench.analysis.consensus import Combination

__all__ = [
    "BEST_UNQUALIFIED",
    "DEFAULT_WEIGHTS",
    "LATENCIES",
    "LATENCY_LABELS",
    "POLICIES",
    "RACED_OUT",
    "Elimination",
    "Incomplete",
    "Miss",
    "ModelStanding",
    "RaceOut",
    "TaskRanking",
    "Tie",
    "as_candidates",
    "best_versions",
    "mean",
    "model_loads",
    "paired_accuracy",
    "paired_leads",
    "percentile",
    "rank_ms",
    "rank_strict",
    "rank_task",
    "rank_weighted",
    "with_loads",
]

_LAZY_TYPES = {
    "TaskLoad": "pytest_llmbench.analysis.at_load",
    "JudgeSummary": "pytest_llmbench.analysis.calibration",
    "Combination": "pytest_llmbench.analysis.consensus",
}
"""Types of fields of the records here whose modules a run imports only when it uses
their feature (load phase, judge, consensus): the codec, reading a record, resolves
them through :func:`__getattr__`."""


def __getattr__(name: str) -> Any:
    """One of :data:`_LAZY_TYPES`, imported when first asked for (then a global)."""
    if name not in _LAZY_TYPES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY_TYPES[name]), name)
    globals()[name] = value
    return value


POLICIES = ("strict", "weighted")
BEST_UNQUALIFIED = "best score, not qualified"
"""The status of the best weighted score below the task's bar."""
RACED_OUT = "raced out"
"""The status of a model racing stopped timing (below the other qualified models)."""
LATENCIES = ("mean", "p50", "p95", "ttft_p50", "ttft_p95")
"""The latency a task is ranked by (``ranking: {latency: ...}``, ``--llm-rank-latency``):
the mean, median or 95th percentile of the end-to-end time, or the median or 95th
percentile of the time to first token (streamed answers)."""
LATENCY_LABELS = {
    "mean": "mean",
    "p50": "p50",
    "p95": "p95",
    "ttft_p50": "ttft p50",
    "ttft_p95": "ttft p95",
}
"""How each ranking latency is named in a table's header."""
DEFAULT_WEIGHTS = (0.7, 0.3)
"""(quality, speed) of the weighted policy when the task does not say."""

Direction = Callable[[Result], str]
"""How a wrong result was wrong (``too lenient``, ``generic answer``, ...)."""

Run = tuple[str, int]
"""One run of a task: (case id, repeat)."""


@dataclass(frozen=True)
class Miss:
    """A case a model got wrong, with how (``too lenient``, ``too strict``, ``wrong``, ...)."""

    case_id: str
    direction: str
    wrong: int
    runs: int
    expected: str
    got: str
    reason: str

    def describe(self) -> str:
        times = f" ({self.wrong} of {self.runs} runs)" if self.runs > 1 else ""
        return f"{self.direction} on {self.case_id}{times}"


@dataclass(frozen=True)
class Incomplete:
    """The runs of the task a model did not make (a stopped or partly deselected run)."""

    missing: tuple[Run, ...]
    """(case id, repeat) of every run not made, in the task's order."""
    expected: int
    """Runs the task expects of every model."""
    per_case: int = 1
    """Runs per case (with 1, the counts are of cases)."""

    def describe(self) -> str:
        """``incomplete: 3 of 10 cases not run`` (``runs`` with repeats)."""
        unit = "cases" if self.per_case == 1 else "runs"
        return f"incomplete: {len(self.missing)} of {self.expected} {unit} not run"


@dataclass(frozen=True)
class Elimination:
    """A model the strict policy ruled out early: its first wrong run ended its sweep.

    The rest of its runs of the task were skipped (``--llm-eliminate``): it is
    disqualified by ``case_id``, not incomplete.
    """

    case_id: str
    """The case of the first wrong run."""
    made: int
    """Runs the model made before it was eliminated (the wrong one included)."""
    runs: int
    """Runs the task expects of every model."""

    def describe(self) -> str:
        """``eliminated after GRADE_FAIL_003, 3 of 10 runs made``."""
        return f"eliminated after {self.case_id}, {self.made} of {self.runs} runs made"


@dataclass(frozen=True)
class RaceOut:
    """A model racing stopped timing (``--llm-race``, :mod:`~pytest_llmbench.analysis.racing`):
    over its paired warm calls it was slower, beyond the noise, than both the champion and
    the runner-up of the models that had made all their runs right at the time.  Its
    repeats were skipped; every case it had not run yet still ran once."""

    leads: tuple[Lead, ...]
    """The champion's lead over it, then the runner-up's (``model``: the faster one)."""
    after: int
    """Runs the model had made when it was raced out."""
    made: int = 0
    """Runs it made in all (each case at least once); 0 until the run ends."""
    runs: int = 0
    """Runs the task expects of every model."""

    @property
    def pairs(self) -> int:
        return min((lead.pairs for lead in self.leads), default=0)

    def evidence(self) -> str:
        """``1.52x the latency of p/a [1.41, 1.63], 1.21x of p/b [1.10, 1.30], 6 paired calls``."""
        parts = []
        for index, lead in enumerate(self.leads):
            low, high = lead.low or 0.0, lead.high or 0.0
            of = "the latency of " if index == 0 else ""
            parts.append(f"{lead.ratio or 0.0:.2f}x {of}{lead.model} [{low:.2f}, {high:.2f}]")
        return f"{', '.join(parts)}, {self.pairs} paired calls"

    def describe(self) -> str:
        """``raced out after 7 runs (1.52x the latency of p/a [1.41, 1.63], ...); each case
        run once, 20 of 60 runs made``."""
        made = f"; each case run once, {self.made} of {self.runs} runs made" if self.runs else ""
        return f"raced out after {self.after} runs ({self.evidence()}){made}"


@dataclass(frozen=True)
class ModelStanding:
    model: str
    total: int
    """Runs the task expects (made or not): ``correct / total`` is the accuracy."""
    correct: int
    errors: int
    mean_ms: float | None
    p95_ms: float | None
    tokens_per_s: float | None
    qualified: bool
    misses: tuple[Miss, ...] = ()
    status: str = ""
    latency: LatencyStats | None = None
    """Warm latency statistics (the cold calls only when there is nothing else)."""
    cold: LatencyStats | None = None
    """The cold calls (the first call after a load), apart."""
    load_ms: float | None = None
    """Loading the model before its first case (the results' ``cold_start_ms``), the mean
    when several processes loaded it; ``None`` when no load was measured (the model was
    loaded already, its provider has no load step, the answers came from the cache)."""
    repeats: RepeatStats | None = None
    metrics: VerdictMetrics | None = None
    """Verdict tasks only: accuracy, precision, recall, F1, confusion matrix."""
    cost: Cost | None = None
    weighted_score: float | None = None
    """The weighted policy's score (``None`` under the strict policy)."""
    incomplete: Incomplete | None = None
    """The runs the model did not make; ``None`` when it made them all."""
    prompt_version: str = ""
    """With prompt versions, what is ranked is a (model, version) pair: ``model`` is then
    ``provider/name@v2`` and this is ``v2``."""
    prompt_version_hash: str = ""
    """The hash of that version's template text."""
    eliminated: Elimination | None = None
    """Set when the model's remaining runs were skipped after a wrong one (strict policy,
    ``--llm-eliminate``); ``incomplete`` is ``None`` then."""
    raced: RaceOut | None = None
    """Set when racing stopped timing the model (``--llm-race``): it was right on every
    run it made, each case at least once; ``incomplete`` is ``None`` then."""

    @property
    def model_id(self) -> str:
        """The model without its prompt version (``provider/name``)."""
        if self.prompt_version and self.model.endswith("@" + self.prompt_version):
            return self.model[: -len(self.prompt_version) - 1]
        return self.model

    mean_score: float = 0.0
    """The mean of the results' scores (0-1) over the expected runs (a run not made: 0)."""

    @property
    def graded(self) -> bool:
        """Whether the mean score says more than the share of correct runs."""
        return not math.isclose(self.mean_score, self.accuracy, abs_tol=1e-9)

    combination: Combination | None = None
    """A consensus combination (``consensus(A+B|C)``), not a single model: how it came
    to its answers (see :mod:`pytest_llmbench.analysis.consensus`)."""
    ttft: LatencyStats | None = None
    """Time to first token of the warm streamed answers (``Result.ttft_ms``); ``None``:
    none was streamed."""
    itl_ms: float | None = None
    """The mean inter-token latency of the warm streamed answers."""
    prefill_ms: float | None = None
    """The mean prefill (prompt evaluation) time the server reported."""
    generation_ms: float | None = None
    """The mean generation time the server reported."""

    @property
    def ttft_p50_ms(self) -> float | None:
        return self.ttft.p50 if self.ttft is not None else None

    @property
    def ttft_p95_ms(self) -> float | None:
        return self.ttft.p95 if self.ttft is not None else None

    @property
    def score(self) -> str:
        return f"{self.correct}/{self.total}"

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def miss_summary(self) -> str:
        """``incomplete: 1 of 10 cases not run; too lenient on GRADE_FAIL_001, GRADE_FAIL_002;
        too strict on GRADE_PASS_003``."""
        groups: dict[str, list[str]] = {}
        for miss in self.misses:
            times = f" ({miss.wrong}/{miss.runs})" if miss.runs > 1 else ""
            groups.setdefault(miss.direction, []).append(miss.case_id + times)
        parts = [self.incomplete.describe()] if self.incomplete else []
        parts += [self.eliminated.describe()] if self.eliminated else []
        parts += [self.raced.describe()] if self.raced else []
        parts += [f"{direction} on {', '.join(ids)}" for direction, ids in groups.items()]
        return "; ".join(parts)


@dataclass(frozen=True)
class Tie:
    """Two neighbours in the strict order whose 95% latency intervals overlap."""

    first: str
    second: str
    first_p50: float
    second_p50: float

    @property
    def faster_on_median(self) -> str | None:
        """The model with the lower median latency; ``None`` when the medians are equal."""
        if self.first_p50 == self.second_p50:
            return None
        return self.second if self.second_p50 < self.first_p50 else self.first

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """One sentence; ``names`` may replace model names (``{"p/a": "the champion"}``)."""

        def name(model: str) -> str:
            return (names or {}).get(model, model)

        head = (
            f"{name(self.first)} and {name(self.second)} are statistically tied "
            "(their 95% confidence intervals of the mean latency overlap)"
        )
        faster = self.faster_on_median
        if faster is None:
            return f"{head}; their medians are equal ({self.first_p50:,.0f} ms)"
        low, high = sorted((self.first_p50, self.second_p50))
        digits = 0  # as many decimals as it takes to show two different numbers
        while digits < 3 and f"{low:,.{digits}f}" == f"{high:,.{digits}f}":
            digits += 1
        return (
            f"{head}; {name(faster)} is faster on the median "
            f"({low:,.{digits}f} vs {high:,.{digits}f} ms)"
        )


@dataclass(frozen=True)
class TaskRanking:
    task: str
    standings: tuple[ModelStanding, ...]
    policy: str = "strict"
    notes: tuple[str, ...] = field(default=())
    weights: tuple[float, float] | None = None
    """(quality, speed) under the weighted policy."""
    repeats: int = 1
    """Runs per case (the most any model made)."""
    ties: tuple[Tie, ...] = ()
    generic: tuple[GenericAnswer, ...] = ()
    suspect_gold: tuple[SuspectGold, ...] = ()
    warnings: tuple[str, ...] = ()
    judge: JudgeSummary | None = None
    """The task's judge checks and the judge's agreement with gold (``None``: no judge)."""
    leads: tuple[Lead, ...] = ()
    """Paired latency leads (:mod:`~pytest_llmbench.analysis.paired`): the champion's over
    the runner-up first, then the champion's over each other qualified model
    (:func:`rank_task` only)."""
    accuracy: tuple[AccuracyDifference, ...] = ()
    """Weighted policy: the first model's paired accuracy against each other model with
    results, with the exact McNemar p-value (:func:`rank_task` only)."""
    min_correct: float | None = None
    """The weighted policy's bar: the share of runs a model must get right to qualify
    (``None`` under the strict policy, where it is every run)."""
    min_lead: float = 0.0
    """``--llm-min-lead`` as a fraction: a smaller latency lead is a tie (the leads, the
    gate, the registry succession)."""
    at_load: TaskLoad | None = None
    """The load phase's figures (``load:`` or ``--llm-load``); ``None``: no load phase."""
    latency: str = "mean"
    """The latency the models were ordered by (one of :data:`LATENCIES`)."""

    @property
    def lead(self) -> Lead | None:
        """The champion's paired lead over the runner-up, when both were compared."""
        champion, runner_up = self.champion, self.runner_up
        if champion is None or runner_up is None:
            return None
        return next(
            (x for x in self.leads if x.model == champion.model and x.other == runner_up.model),
            None,
        )

    @property
    def qualified(self) -> tuple[ModelStanding, ...]:
        return tuple(s for s in self.standings if s.qualified)

    @property
    def disqualified(self) -> tuple[ModelStanding, ...]:
        return tuple(s for s in self.standings if not s.qualified)

    @property
    def champion(self) -> ModelStanding | None:
        return self.qualified[0] if self.qualified else None

    @property
    def runner_up(self) -> ModelStanding | None:
        return self.qualified[1] if len(self.qualified) > 1 else None

    @property
    def versioned(self) -> bool:
        """Whether (model, prompt version) pairs were ranked."""
        return any(s.prompt_version for s in self.standings)

    @property
    def best_unqualified(self) -> ModelStanding | None:
        """Under the weighted policy, the model below the bar that scored best, when it
        scored above the champion (or there is none)."""
        return next((s for s in self.standings if s.status == BEST_UNQUALIFIED), None)

    @property
    def nearest_miss(self) -> ModelStanding | None:
        """The best model that did not qualify (most correct, then fastest)."""
        return self.disqualified[0] if self.disqualified else None


def as_candidates(results: Iterable[Result]) -> list[Result]:
    """The results as the ranking sees them: a versioned prompt's ``model`` is the pair
    ``provider/name@v2``, so each (model, prompt version) is ranked as its own candidate."""
    return [replace(r, model=r.candidate) if r.prompt_version else r for r in results]


def _versioned(standing: ModelStanding, results: Sequence[Result]) -> ModelStanding:
    first = results[0] if results else None
    if first is None or not first.prompt_version:
        return standing
    return replace(
        standing,
        prompt_version=first.prompt_version,
        prompt_version_hash=first.prompt_version_hash,
    )


def _tokens_per_s(results: Iterable[Result]) -> float | None:
    tokens = 0
    seconds = 0.0
    for r in results:
        if r.completion_tokens and r.eval_ms and not r.cached:
            tokens += r.completion_tokens
            seconds += r.eval_ms / 1000.0
    return tokens / seconds if seconds > 0 else None


def _direction(result: Result) -> str:
    return result.direction


def _misses(results: Sequence[Result], direction_of: Direction = _direction) -> tuple[Miss, ...]:
    by_case: dict[str, list[Result]] = {}
    for r in results:
        by_case.setdefault(r.case_id, []).append(r)
    misses: list[Miss] = []
    for case_id, runs in by_case.items():
        wrong = [r for r in runs if not r.correct]
        if not wrong:
            continue
        first = wrong[0]
        directions = {direction_of(r) for r in wrong}
        direction = direction_of(first) if len(directions) == 1 else "inconsistent"
        misses.append(
            Miss(
                case_id,
                direction,
                len(wrong),
                len(runs),
                first.expected,
                first.got,
                first.error or first.reason,
            )
        )
    return tuple(misses)


def _full_set(results: Iterable[Result], expected: Iterable[Run] = ()) -> tuple[Run, ...]:
    """The task's runs: ``expected``, then any other run a model made, each once, in order."""
    runs = dict.fromkeys(expected)
    runs.update(dict.fromkeys((r.case_id, r.repeat) for r in results))
    return tuple(runs)


def _incomplete(results: Iterable[Result], full: Sequence[Run]) -> Incomplete | None:
    made = {(r.case_id, r.repeat) for r in results}
    missing = tuple(run for run in full if run not in made)
    if not missing:
        return None
    per_case = Counter(case_id for case_id, _ in full)
    return Incomplete(missing, len(full), max(per_case.values()))


def _standing(
    model: str,
    results: Sequence[Result],
    direction_of: Direction = _direction,
    full: Sequence[Run] = (),
) -> ModelStanding:
    # A cached answer was not timed now: its latency never enters the ranking.
    timed = [r for r in results if r.error is None and not r.cached]
    warm = [r.latency_ms for r in timed if r.latency_ms is not None and not r.cold]
    cold = [r.latency_ms for r in timed if r.latency_ms is not None and r.cold]
    latencies = warm or cold
    streamed = [r for r in timed if r.ttft_ms is not None]
    ttfts = [r.ttft_ms for r in streamed if not r.cold and r.ttft_ms is not None] or [
        r.ttft_ms for r in streamed if r.ttft_ms is not None
    ]
    correct = sum(1 for r in results if r.correct)
    incomplete = _incomplete(results, full)
    total = len(results) + (len(incomplete.missing) if incomplete else 0)
    standing = ModelStanding(
        model=model,
        total=total,
        correct=correct,
        errors=sum(1 for r in results if r.error),
        mean_ms=mean(latencies),
        p95_ms=percentile(latencies, 95),
        tokens_per_s=_tokens_per_s(results),
        qualified=bool(results) and correct == total,
        misses=_misses(results, direction_of),
        latency=latency_stats(latencies),
        cold=latency_stats(cold),
        load_ms=mean([r.cold_start_ms for r in results if r.cold_start_ms is not None]),
        repeats=repeat_stats(results),
        metrics=verdict_metrics(results),
        incomplete=incomplete,
        mean_score=sum(r.score or 0.0 for r in results) / total if total else 0.0,
        ttft=latency_stats(ttfts),
        itl_ms=mean([r.itl_ms for r in timed if r.itl_ms is not None and not r.cold]),
        prefill_ms=mean([r.prompt_eval_ms for r in timed if r.prompt_eval_ms is not None]),
        generation_ms=mean([r.eval_ms for r in timed if r.eval_ms is not None]),
    )
    return _versioned(standing, results)


def model_loads(results: Iterable[Result]) -> dict[str, float]:
    """Per model, its load before its first case (``cold_start_ms``); the mean when it was
    loaded more than once (by several xdist workers).  A model is loaded once per process
    whatever the task, so the plugin gives every task's standings the loads of the whole
    run (:func:`with_loads`)."""
    loads: dict[str, list[float]] = {}
    for r in results:
        if r.cold_start_ms is not None:
            loads.setdefault(r.model, []).append(r.cold_start_ms)
    return {model: sum(ms) / len(ms) for model, ms in loads.items()}


def with_loads(ranking: TaskRanking, loads: Mapping[str, float]) -> TaskRanking:
    """``ranking`` with each standing's ``load_ms`` from ``loads`` (by model; a model
    not in it keeps its own)."""
    standings = tuple(
        replace(s, load_ms=loads.get(s.model_id, s.load_ms)) for s in ranking.standings
    )
    return replace(ranking, standings=standings)


def _standings(
    task: str,
    results: Iterable[Result],
    direction_of: Direction,
    expected: Iterable[Run],
    models: Iterable[str] = (),
) -> list[ModelStanding]:
    """One standing per model (``models`` too, with no result), each held to the task's
    full set of runs."""
    by_model = _by_model(task, results)
    full = _full_set((r for rs in by_model.values() for r in rs), expected)
    for model in models:
        by_model.setdefault(model, [])
    return [_standing(m, rs, direction_of, full) for m, rs in by_model.items()]


def rank_ms(standing: ModelStanding, latency: str = "mean") -> float | None:
    """The figure ``standing`` is ranked by under ``latency`` (ms; ``None``: not measured,
    e.g. a ``ttft_*`` latency for a model whose answers were not streamed)."""
    if latency == "mean":
        return standing.mean_ms
    if latency == "p95":
        return standing.p95_ms
    if latency == "p50":
        return standing.latency.p50 if standing.latency is not None else None
    if latency == "ttft_p50":
        return standing.ttft_p50_ms
    if latency == "ttft_p95":
        return standing.ttft_p95_ms
    raise ValueError(f"unknown ranking latency {latency!r}; expected one of {LATENCIES}")


def _speed_key(s: ModelStanding, latency: str = "mean") -> tuple[float, str]:
    """Fastest first by ``latency``; a model without that figure after those with one."""
    value = rank_ms(s, latency)
    return (value if value is not None else math.inf, s.model)


def _speed(latency: str) -> Callable[[ModelStanding], tuple[float, str]]:
    return lambda s: _speed_key(s, latency)


def _by_model(task: str, results: Iterable[Result]) -> dict[str, list[Result]]:
    by_model: dict[str, list[Result]] = {}
    for r in results:
        if r.task == task:
            by_model.setdefault(r.model, []).append(r)
    return by_model


def _others(standings: Iterable[ModelStanding]) -> list[ModelStanding]:
    """Models that did not qualify: most correct first, then fastest, then by name."""
    return sorted(standings, key=lambda s: (-s.accuracy, *_speed_key(s)))


def _labelled(
    ranked: Sequence[ModelStanding], others: Iterable[ModelStanding]
) -> tuple[ModelStanding, ...]:
    labelled: list[ModelStanding] = []
    for index, s in enumerate(ranked):
        status = ("champion", "runner-up")[index] if index < 2 else "qualified"
        labelled.append(_with_status(s, status))
    labelled.extend(_with_status(s, "disqualified") for s in others)
    return tuple(labelled)


def _ties(ranked: Sequence[ModelStanding]) -> tuple[Tie, ...]:
    """Neighbours in the order whose latency intervals overlap."""
    ties: list[Tie] = []
    for a, b in itertools.pairwise(ranked):
        if a.latency is not None and b.latency is not None and overlap(a.latency, b.latency):
            ties.append(Tie(a.model, b.model, a.latency.p50, b.latency.p50))
    return tuple(ties)


def _repeats(standings: Iterable[ModelStanding]) -> int:
    return max((s.repeats.k for s in standings if s.repeats is not None), default=0) or 1


def _rank_strict(
    task: str,
    results: Iterable[Result],
    direction_of: Direction,
    expected: Iterable[Run] = (),
    models: Iterable[str] = (),
    latency: str = "mean",
) -> TaskRanking:
    standings = _standings(task, results, direction_of, expected, models)
    qualified = sorted((s for s in standings if s.qualified), key=_speed(latency))
    labelled = _labelled(qualified, _others(s for s in standings if not s.qualified))
    return TaskRanking(
        task=task,
        standings=labelled,
        policy="strict",
        repeats=_repeats(standings),
        # The ties compare the intervals of the mean: they say nothing of another latency.
        ties=_ties(labelled[: len(qualified)]) if latency == "mean" else (),
        latency=latency,
    )


def _rank_weighted(
    task: str,
    results: Iterable[Result],
    weights: tuple[float, float],
    direction_of: Direction,
    expected: Iterable[Run] = (),
    models: Iterable[str] = (),
    min_correct: float = 1.0,
    latency: str = "mean",
) -> TaskRanking:
    quality, speed = weights
    standings = _standings(task, results, direction_of, expected, models)
    ranked = [s for s in standings if s.mean_score > 0]
    fastest = min((v for s in ranked if (v := rank_ms(s, latency))), default=None)

    def score(s: ModelStanding) -> float:
        own = rank_ms(s, latency)
        speed_norm = fastest / own if fastest and own else 0.0
        return quality * s.mean_score + speed * speed_norm

    def by_score(s: ModelStanding) -> tuple[float, float, str]:
        return (-(s.weighted_score or 0.0), *_speed_key(s, latency))

    def meets(s: ModelStanding) -> bool:
        return s.accuracy >= min_correct - 1e-9

    scored = [replace(s, weighted_score=score(s)) for s in ranked]
    qualified = sorted((replace(s, qualified=True) for s in scored if meets(s)), key=by_score)
    below = sorted((replace(s, qualified=False) for s in scored if not meets(s)), key=by_score)
    never_right = _others(replace(s, qualified=False) for s in standings if s.mean_score <= 0)
    labelled = list(_labelled(qualified, [*below, *never_right]))
    top = (qualified[0].weighted_score or 0.0) if qualified else None
    if below and (top is None or (below[0].weighted_score or 0.0) > top):
        labelled[len(qualified)] = _with_status(labelled[len(qualified)], BEST_UNQUALIFIED)
    return TaskRanking(
        task=task,
        standings=tuple(labelled),
        policy="weighted",
        weights=(quality, speed),
        repeats=_repeats(standings),
        min_correct=min_correct,
        latency=latency,
    )


def rank_strict(
    task: str, results: Iterable[Result], *, expected: Iterable[Run] = ()
) -> TaskRanking:
    """Rank by the strict policy: all correct qualifies, then fastest mean latency wins.

    ``expected``: the task's (case id, repeat) runs besides those in ``results``; a model
    that did not make every one of them does not qualify.
    """
    return _rank_strict(task, as_candidates(results), _direction, expected)


def rank_weighted(
    task: str,
    results: Iterable[Result],
    weights: tuple[float, float] = DEFAULT_WEIGHTS,
    *,
    expected: Iterable[Run] = (),
    min_correct: float = 1.0,
) -> TaskRanking:
    """Rank by the weighted policy: ``quality * mean_score + speed * speed_norm``, highest first.

    Only models right on at least ``min_correct`` of the runs (every run by default;
    0: any model with a mean score above 0) qualify.  ``expected`` as for
    :func:`rank_strict`; a run not made counts as not correct.
    """
    return _rank_weighted(
        task, as_candidates(results), weights, _direction, expected, min_correct=min_correct
    )


def rank_task(
    task: str,
    results: Iterable[Result],
    *,
    policy: str = "strict",
    weights: tuple[float, float] = DEFAULT_WEIGHTS,
    generic_threshold: float | None = DEFAULT_THRESHOLD,
    prices: PriceTable | None = None,
    expected: Iterable[Run] = (),
    models: Iterable[str] = (),
    min_lead: float = 0.0,
    min_correct: float = 1.0,
    latency: str = "mean",
) -> TaskRanking:
    """Everything the plugin decides about one task at the end of a session.

    ``expected`` are the task's (case id, repeat) runs (the plugin: the items collected);
    with every run any model made, they are the set each model is held to.  ``models``
    are the models that owed them: one that made none (a run stopped by ``-x``) is
    ranked too, incomplete, instead of missing from the ranking.

    1. Generic answers (json and text tasks; not checked when ``generic_threshold`` is
       ``None``) that were right become wrong answers, direction ``generic answer``
       (a wrong answer keeps its own reason).
    2. The models are ranked by ``policy`` (``strict`` or ``weighted`` with ``weights``
       and the bar ``min_correct``), their speed by ``latency`` (one of :data:`LATENCIES`,
       default the mean).
    3. Each model gets its cost per 1,000 requests from ``prices``.
    4. Cases whose gold label most models contradict alike are flagged (suspect gold);
       a warning is added when most models answer different inputs alike.
    5. The champion's paired latency lead over the runner-up and over each other
       qualified model (:func:`paired_leads`; a lead below ``min_lead``, a fraction,
       is a tie).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown ranking policy {policy!r}; expected one of {POLICIES}")
    if latency not in LATENCIES:
        raise ValueError(f"unknown ranking latency {latency!r}; expected one of {LATENCIES}")
    mine = as_candidates(r for r in results if r.task == task)
    alike = find_generic_answers(mine, generic_threshold) if generic_threshold else ()
    # Only a right answer is overturned: a wrong one keeps its own reason (a schema miss).
    right = {(r.model, r.case_id, r.repeat) for r in mine if r.correct}
    generic = tuple(g for g in alike if (g.model, g.case_id, g.repeat) in right)
    flagged = {(g.model, g.case_id, g.repeat): g for g in generic}

    def direction_of(r: Result) -> str:
        return "generic answer" if (r.model, r.case_id, r.repeat) in flagged else r.direction

    adjusted = [_fail_generic(r, flagged.get((r.model, r.case_id, r.repeat))) for r in mine]
    if policy == "weighted":
        ranking = _rank_weighted(
            task, adjusted, weights, direction_of, expected, models, min_correct, latency
        )
    else:
        ranking = _rank_strict(task, adjusted, direction_of, expected, models, latency)
    by_model = _by_model(task, adjusted)
    table = prices or PriceTable()
    standings = tuple(
        replace(s, cost=cost_per_1k(s.model_id, by_model.get(s.model, []), table, s.mean_ms))
        for s in ranking.standings
    )
    warning = generic_warning(mine, alike)
    ranked = replace(ranking, standings=standings)
    return replace(
        ranked,
        standings=standings,
        leads=paired_leads(ranked, by_model, min_lead),
        accuracy=paired_accuracy(ranked, by_model) if policy == "weighted" else (),
        min_lead=min_lead,
        generic=generic,
        suspect_gold=find_suspect_gold(mine),
        warnings=(warning,) if warning else (),
    )


def paired_leads(
    ranking: TaskRanking, by_model: Mapping[str, Sequence[Result]], min_lead: float = 0.0
) -> tuple[Lead, ...]:
    """The champion's paired lead over the runner-up, then over each other qualified
    model, from the results of each model (``by_model``, keyed like the standings)."""
    champion = ranking.champion
    if champion is None:
        return ()
    warm = {s.model: warm_latencies(by_model.get(s.model, ())) for s in ranking.qualified}
    return tuple(
        paired_lead(champion.model, s.model, warm[champion.model], warm[s.model], min_lead=min_lead)
        for s in ranking.qualified[1:]
    )


def paired_accuracy(
    ranking: TaskRanking, by_model: Mapping[str, Sequence[Result]]
) -> tuple[AccuracyDifference, ...]:
    """The first model of the ranking against each other model that made runs: paired
    accuracy and the exact McNemar p-value."""
    made = [s for s in ranking.standings if by_model.get(s.model)]
    if len(made) < 2:
        return ()
    first = made[0]
    mine = outcomes(by_model[first.model])
    return tuple(
        accuracy_difference(first.model, s.model, mine, outcomes(by_model[s.model]))
        for s in made[1:]
    )


def _fail_generic(result: Result, generic: GenericAnswer | None) -> Result:
    if generic is None:
        return result
    reason = generic.describe() + (f"; {result.reason}" if result.reason else "")
    return replace(result, correct=False, score=0.0, reason=reason)


def _with_status(s: ModelStanding, status: str) -> ModelStanding:
    return replace(s, status=status)


def best_versions(ranking: TaskRanking) -> dict[str, ModelStanding]:
    """Per model, the standing of its best prompt version (the first in the ranking's order)."""
    best: dict[str, ModelStanding] = {}
    for s in ranking.standings:
        if s.prompt_version:
            best.setdefault(s.model_id, s)
    return best
