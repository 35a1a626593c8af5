"""Paired latency leads: how much faster one model is than another on the same calls.

Pure module (no pytest, no numpy).  Two models of one task answer the same cases, so
their latencies are compared call by call, not through two separate means:

- the **pairs** are the (case, repeat) runs both models answered *warm*: timed now (not
  from the cache), without an error, not the first call after a load (``cold``), with a
  latency above 0;
- per pair, the latency ratio ``r = latency(other) / latency(model)``; the case's length
  is in both latencies and cancels out, which is what makes the paired comparison far
  tighter than comparing the two models' means;
- the **ratio** is the geometric mean of the pairs' ratios, ``exp(mean(log r))``; the
  **lead** is the share of time the model saves against the other, ``1 - 1 / ratio``
  (ratio 1.30: "23% faster");
- the **95% interval** is a seeded bootstrap of ``mean(log r)``: :data:`RESAMPLES`
  (2,000) resamples drawn with ``random.Random(SEED)`` (:data:`SEED` = 24, so one run's
  figures are the same every time they are computed).  The resampled unit is the *case*
  with all its repeats (a case one model finds hard is hard in every repeat, so its
  repeats are not independent evidence); with a single case, the pairs themselves.
  The bounds are the "expanded percentile" interval (Hesterberg 2015): instead of the
  2.5th and 97.5th percentiles of the resampled means, the percentiles
  ``Phi(-/+ sqrt(n / (n - 1)) * t(n - 1))`` for n units, which corrects the plain
  percentile interval's known narrowness on few cases (with 10 cases, the 0.9th and
  99.1st percentiles);
- two models are **tied** on speed when that interval of the ratio contains 1 (the
  difference is within the noise), when there are fewer than :data:`MIN_UNITS` cases
  (a bootstrap of a handful of cases cannot be wider than their range, so it would
  claim too much), or when the faster one's lead is below ``min_lead``
  (``--llm-min-lead``);
- **how many more repeats would likely settle a tie**: the interval's half-width h (in
  log) shrinks as ``1 / sqrt(pairs)``; to separate an observed difference d = |log
  ratio| with 80% power the half-width must fall to ``d * 1.96 / (1.96 + 0.84)``, so the
  pairs needed are ``pairs * (h * (1.96 + 0.84) / (1.96 * d))^2``, and the repeats are
  the missing pairs over the number of paired cases, rounded up.  No estimate (``None``)
  when the ratio is exactly 1 or the interval is missing.

**Paired accuracy** (:func:`accuracy_difference`): over the (case, repeat) runs both
models made, the runs only one got right are the discordant pairs; the exact McNemar
test (:func:`~pytest_llmbench.analysis.stats.mcnemar_exact`, as ``llmbench ab``) gives the
two-sided p-value of "the two are equally accurate": with n discordant runs and k the
smaller side, ``p = min(1, 2 * sum_{i=0..k} C(n, i) / 2^n)``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pytest_llmbench.analysis.stats import mcnemar_exact, percentile, t_critical
from pytest_llmbench.execution.results import Result

__all__ = [
    "MIN_UNITS",
    "RESAMPLES",
    "SEED",
    "AccuracyDifference",
    "Lead",
    "accuracy_difference",
    "outcomes",
    "paired_lead",
    "paired_ratios",
    "warm_latencies",
]

RESAMPLES = 2000
"""Bootstrap resamples per interval."""
SEED = 24
"""The bootstrap's seed (``random.Random(SEED)``): the same data give the same interval."""
MIN_UNITS = 6
"""Fewest paired cases (or pairs, with a single case) whose interval can separate two
models: below it the two are tied whatever the figures."""
_Z = 1.96
_Z_POWER = 0.84  # the 80th percentile of the normal: 80% power
MAX_REPEATS = 100
"""Above this many more repeats, the estimate says ``more than 100``."""

Run = tuple[str, int]


def warm_latencies(results: Iterable[Result]) -> dict[Run, float]:
    """(case id, repeat) -> latency of the warm, timed, error-free answers in ``results``."""
    found: dict[Run, float] = {}
    for r in results:
        if r.error is None and not r.cached and not r.cold and r.latency_ms and r.latency_ms > 0:
            found[(r.case_id, r.repeat)] = r.latency_ms
    return found


def paired_ratios(
    model: Mapping[Run, float], other: Mapping[Run, float]
) -> list[tuple[str, float]]:
    """(case id, ``other / model``) of every run both have, in ``model``'s order."""
    return [(run[0], other[run] / ms) for run, ms in model.items() if run in other]


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _bootstrap(
    units: Sequence[tuple[float, int]], resamples: int, seed: int
) -> tuple[float, float] | None:
    """The expanded percentile 95% interval of sum(log r) / count over resampled units."""
    n = len(units)
    if n < 2:
        return None
    rng = random.Random(seed)
    means = []
    for _ in range(resamples):
        total = 0.0
        count = 0
        for _ in range(n):
            logs, pairs = units[rng.randrange(n)]
            total += logs
            count += pairs
        means.append(total / count)
    q = _normal_cdf(-math.sqrt(n / (n - 1)) * t_critical(n - 1)) * 100.0
    low, high = percentile(means, q), percentile(means, 100.0 - q)
    assert low is not None
    assert high is not None
    return low, high


@dataclass(frozen=True)
class Lead:
    """``model`` against ``other`` over their paired warm calls (see the module)."""

    model: str
    other: str
    pairs: int
    cases: int
    ratio: float | None
    """Geometric mean of ``other / model`` latency (above 1: ``model`` is faster)."""
    low: float | None = None
    """The ratio's 95% interval (``None`` below two units)."""
    high: float | None = None
    min_lead: float = 0.0
    """``--llm-min-lead`` as a fraction: a smaller lead is a tie."""

    @property
    def units(self) -> int:
        return self.cases if self.cases > 1 else self.pairs

    @property
    def lead(self) -> float | None:
        """Share of time ``model`` saves against ``other`` (negative: it is slower)."""
        return None if self.ratio is None else 1.0 - 1.0 / self.ratio

    @property
    def interval(self) -> tuple[float, float] | None:
        """The lead's 95% interval."""
        if self.low is None or self.high is None:
            return None
        return 1.0 - 1.0 / self.low, 1.0 - 1.0 / self.high

    @property
    def beyond_noise(self) -> bool:
        """The ratio's interval excludes 1, on enough cases."""
        if self.low is None or self.high is None or self.units < MIN_UNITS:
            return False
        return self.low > 1.0 or self.high < 1.0

    @property
    def below_min_lead(self) -> bool:
        """The faster model saves less than ``min_lead`` of the time."""
        if self.ratio is None:
            return True
        saving = 1.0 - min(self.ratio, 1.0 / self.ratio)
        return saving < self.min_lead

    @property
    def tied(self) -> bool:
        return not self.beyond_noise or self.below_min_lead

    @property
    def faster(self) -> str | None:
        """The model that is faster beyond the noise and the min lead; ``None`` when tied."""
        if self.tied or self.ratio is None:
            return None
        return self.model if self.ratio > 1.0 else self.other

    def more_repeats(self) -> int | None:
        """Repeats of the paired cases likely to separate the two (see the module);
        ``None`` when no number would (equal figures, no interval, a lead below the
        minimum already measured beyond the noise)."""
        if self.ratio is None or self.low is None or self.high is None or not self.cases:
            return None
        if self.beyond_noise and self.below_min_lead:
            return None
        d = abs(math.log(self.ratio))
        if d == 0.0:
            return None
        half = (math.log(self.high) - math.log(self.low)) / 2.0
        needed = self.pairs * (half * (_Z + _Z_POWER) / (_Z * d)) ** 2
        per_repeat = self.cases
        more = math.ceil(max(0.0, needed - self.pairs) / per_repeat)
        return max(more, 1)

    def describe(self) -> str:
        """``A, 23% faster than B [15%, 31%], 60 paired calls`` or ``A and B are tied on
        speed: B/A = 0.97 [0.91, 1.04]; 4 more repeats would likely settle it``."""
        calls = f"{self.pairs} paired call{'s' if self.pairs != 1 else ''}"
        if self.ratio is None:
            return f"{self.model} and {self.other} have no paired warm calls to compare"
        interval = self.interval
        if not self.tied and interval is not None and self.lead is not None:
            low, high = interval
            if self.ratio > 1.0:
                return (
                    f"{self.model}, {self.lead:.0%} faster than {self.other} "
                    f"[{low:.0%}, {high:.0%}], {calls}"
                )
            assert self.low is not None
            assert self.high is not None
            return (
                f"{self.model}, {1.0 / self.ratio - 1.0:.0%} slower than {self.other} "
                f"[{1.0 / self.high - 1.0:.0%}, {1.0 / self.low - 1.0:.0%}], {calls}"
            )
        head = f"{self.model} and {self.other} are tied on speed: {self.other} / {self.model} = "
        head += f"{self.ratio:.2f}"
        if self.low is not None and self.high is not None:
            head += f" [{self.low:.2f}, {self.high:.2f}]"
        head += f", {calls}"
        if self.beyond_noise and self.below_min_lead:
            return head + f"; the lead is below the minimum of {self.min_lead:.0%}"
        if self.units < MIN_UNITS and self.ratio != 1.0:
            tail = f"; too few paired cases to tell (at least {MIN_UNITS})"
        else:
            more = self.more_repeats()
            tail = ""
            if more is not None:
                if more > MAX_REPEATS:
                    tail = f"; more than {MAX_REPEATS} more repeats would be needed to settle it"
                else:
                    tail = f"; {more} more repeat{'s' if more != 1 else ''} would likely settle it"
        return head + tail

    def to_dict(self) -> dict[str, object]:
        """The JSON document's and the registry's record of the lead."""
        interval = self.interval
        return {
            "model": self.model,
            "other": self.other,
            "pairs": self.pairs,
            "cases": self.cases,
            "ratio": self.ratio,
            "ratio_ci": [self.low, self.high] if self.low is not None else None,
            "lead": self.lead,
            "lead_ci": list(interval) if interval is not None else None,
            "tied": self.tied,
            "min_lead": self.min_lead,
            "resamples": RESAMPLES,
            "seed": SEED,
        }


def paired_lead(
    model: str,
    other: str,
    mine: Mapping[Run, float],
    theirs: Mapping[Run, float],
    *,
    min_lead: float = 0.0,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Lead:
    """``model``'s lead over ``other`` from their warm latencies by (case id, repeat)."""
    ratios = [(case, r) for case, r in paired_ratios(mine, theirs) if r > 0]
    if not ratios:
        return Lead(model, other, 0, 0, None, min_lead=min_lead)
    by_case: dict[str, list[float]] = {}
    for case, r in ratios:
        by_case.setdefault(case, []).append(math.log(r))
    logs = [math.log(r) for _, r in ratios]
    centre = math.exp(sum(logs) / len(logs))
    if len(by_case) > 1:
        units = [(sum(values), len(values)) for values in by_case.values()]
    else:
        units = [(value, 1) for value in logs]
    interval = _bootstrap(units, resamples, seed)
    low, high = (math.exp(interval[0]), math.exp(interval[1])) if interval else (None, None)
    return Lead(model, other, len(ratios), len(by_case), centre, low, high, min_lead)


@dataclass(frozen=True)
class AccuracyDifference:
    """``model`` against ``other`` on the runs both made: who was right where."""

    model: str
    other: str
    pairs: int
    model_correct: int
    other_correct: int
    model_only: int
    """Runs ``model`` got right and ``other`` wrong."""
    other_only: int
    p_value: float
    """Exact McNemar, two-sided."""

    def describe(self) -> str:
        """``p/a 9/10 vs p/b 8/10 on the same runs: right only for p/a 2, only for p/b 1;
        exact McNemar p = 1.00``."""
        return (
            f"{self.model} {self.model_correct}/{self.pairs} vs {self.other} "
            f"{self.other_correct}/{self.pairs} on the same runs: right only for "
            f"{self.model} {self.model_only}, only for {self.other} {self.other_only}; "
            f"exact McNemar p = {self.p_value:.2f}"
        )


def outcomes(results: Iterable[Result]) -> dict[Run, bool]:
    """(case id, repeat) -> whether the answer was right."""
    return {(r.case_id, r.repeat): r.correct for r in results}


def accuracy_difference(
    model: str, other: str, mine: Mapping[Run, bool], theirs: Mapping[Run, bool]
) -> AccuracyDifference:
    """The paired accuracy of ``model`` and ``other`` over the runs both made."""
    both = [run for run in mine if run in theirs]
    model_only = sum(1 for run in both if mine[run] and not theirs[run])
    other_only = sum(1 for run in both if theirs[run] and not mine[run])
    return AccuracyDifference(
        model,
        other,
        len(both),
        sum(1 for run in both if mine[run]),
        sum(1 for run in both if theirs[run]),
        model_only,
        other_only,
        mcnemar_exact(model_only, other_only),
    )
