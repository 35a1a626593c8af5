"""Statistics of latency samples: mean, spread, percentiles and a 95% interval.

Pure module (no pytest, no numpy, no scipy).  For n samples x_1 .. x_n (ms):

- mean = sum(x) / n
- standard deviation (sample, n - 1): s = sqrt(sum((x - mean)^2) / (n - 1)); none for n = 1
- percentile q (0-100): linear interpolation between the closest ranks, as
  ``numpy.percentile`` does by default: position (n - 1) * q / 100 in the sorted samples
- 95% confidence interval of the mean: mean -/+ t * s / sqrt(n), where t is Student's
  two-sided 95% critical value for n - 1 degrees of freedom (:data:`T_95`); none for n = 1.
  Degrees of freedom between two rows of the table use the smaller one (a larger t, a
  wider, more cautious interval); above 120 the normal value 1.96 is used.
- speed score (the cookbook's): 1000 / mean latency in seconds = 1,000,000 / mean ms.

Two models whose intervals overlap are called "statistically tied": overlapping 95%
intervals are a cautious rule of thumb (not a significance test), enough to say "do not
pick one over the other on speed alone".
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "T_95",
    "LatencyStats",
    "confidence_interval",
    "latency_stats",
    "mcnemar_exact",
    "mean",
    "overlap",
    "percentile",
    "speed_score",
    "stdev",
    "t_critical",
]

T_95: dict[int, float] = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
    40: 2.021,
    50: 2.009,
    60: 2.000,
    80: 1.990,
    100: 1.984,
    120: 1.980,
}
"""Student's t, two-sided 95% (the 0.975 quantile), by degrees of freedom."""

Z_95 = 1.96
_T_ROWS = sorted(T_95)


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear interpolation between closest ranks.

    Same as ``numpy.percentile(values, q)`` with the default (linear) method.
    ``statistics.quantiles(values, n=100, method="inclusive")[q - 1]`` is the same method
    for whole q from 1 to 99 and two samples or more, but it rounds differently: on about
    a third of inputs the last bits differ (p95 of eight samples: 749.8000000000001 here,
    749.8 there), and the JSON report and the history keep these figures unrounded.
    """
    if not values:
        return None
    return _interpolate(sorted(values), q)


def _interpolate(ordered: Sequence[float], q: float) -> float:
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def stdev(values: Sequence[float]) -> float | None:
    """Sample standard deviation (divides by n - 1); ``None`` below two samples."""
    if len(values) < 2:
        return None
    centre = sum(values) / len(values)
    return math.sqrt(sum((v - centre) ** 2 for v in values) / (len(values) - 1))


def t_critical(df: int) -> float:
    """Two-sided 95% critical value of Student's t for ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df > _T_ROWS[-1]:
        return Z_95
    return T_95[_T_ROWS[bisect.bisect_right(_T_ROWS, df) - 1]]


def confidence_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """95% confidence interval of the mean (t-distribution); ``None`` below two samples."""
    spread = stdev(values)
    if spread is None:
        return None
    centre = sum(values) / len(values)
    half = t_critical(len(values) - 1) * spread / math.sqrt(len(values))
    return centre - half, centre + half


def speed_score(mean_ms: float | None) -> float | None:
    """The cookbook's speed score: 1000 / latency in seconds (higher is faster)."""
    if mean_ms is None or mean_ms <= 0:
        return None
    return 1000.0 / (mean_ms / 1000.0)


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one model's latencies on one task (ms)."""

    n: int
    mean: float
    p50: float
    p95: float
    p99: float
    stdev: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def speed(self) -> float | None:
        return speed_score(self.mean)

    @property
    def ci(self) -> tuple[float, float] | None:
        if self.ci_low is None or self.ci_high is None:
            return None
        return self.ci_low, self.ci_high


def latency_stats(values: Sequence[float]) -> LatencyStats | None:
    """Every statistic of the samples at once; ``None`` for no samples."""
    if not values:
        return None
    interval = confidence_interval(values)
    ordered = sorted(values)
    return LatencyStats(
        n=len(values),
        mean=sum(values) / len(values),
        p50=_interpolate(ordered, 50),
        p95=_interpolate(ordered, 95),
        p99=_interpolate(ordered, 99),
        stdev=stdev(values),
        ci_low=interval[0] if interval else None,
        ci_high=interval[1] if interval else None,
    )


def overlap(a: LatencyStats | None, b: LatencyStats | None) -> bool | None:
    """Whether the two 95% intervals overlap; ``None`` when either has none (n < 2)."""
    if a is None or b is None or a.ci is None or b.ci is None:
        return None
    (a_low, a_high), (b_low, b_high) = a.ci, b.ci
    return a_low <= b_high and b_low <= a_high


def mcnemar_exact(fixed: int, broken: int) -> float:
    """Two-sided exact McNemar p-value of ``fixed`` vs ``broken`` discordant pairs."""
    n = fixed + broken
    if n == 0:
        return 1.0
    k = min(fixed, broken)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / float(2**n)
    return min(1.0, 2.0 * tail)
