"""Unit tests for pytest_llmbench.analysis.stats; every expected number worked out by hand."""

from __future__ import annotations

import math

import pytest

from pytest_llmbench.analysis.stats import (
    T_95,
    LatencyStats,
    confidence_interval,
    latency_stats,
    mean,
    overlap,
    percentile,
    speed_score,
    stdev,
    t_critical,
)

FIVE = [300.0, 100.0, 500.0, 200.0, 400.0]
# mean 1500 / 5 = 300
# squared deviations 200^2 + 100^2 + 0 + 100^2 + 200^2 = 100,000; / (5 - 1) = 25,000
# s = sqrt(25,000) = 158.1139
# half width = t(4) * s / sqrt(5) = 2.776 * 70.7107 = 196.2929
S_FIVE = math.sqrt(25_000)
HALF_FIVE = 2.776 * S_FIVE / math.sqrt(5)


def test_mean_and_stdev() -> None:
    assert mean(FIVE) == 300.0
    assert stdev(FIVE) == pytest.approx(158.1139, abs=1e-4)
    assert stdev([10.0, 20.0]) == pytest.approx(7.0711, abs=1e-4)  # sqrt(25 + 25)
    assert stdev([5.0, 5.0, 5.0]) == 0.0


def test_single_sample_has_no_spread_and_no_interval() -> None:
    assert mean([42.0]) == 42.0
    assert stdev([42.0]) is None
    assert confidence_interval([42.0]) is None
    assert stdev([]) is None
    assert confidence_interval([]) is None


@pytest.mark.parametrize(
    ("df", "t"),
    [
        (1, 12.706),
        (4, 2.776),
        (30, 2.042),
        (35, 2.042),  # between rows 30 and 40: the smaller df, the larger t
        (40, 2.021),
        (119, 1.984),  # between rows 100 and 120: row 100
        (120, 1.980),
        (121, 1.96),  # beyond the table: the normal value
        (10_000, 1.96),
    ],
)
def test_t_critical(df: int, t: float) -> None:
    assert t_critical(df) == t


def test_t_table_decreases_towards_the_normal_value() -> None:
    values = [T_95[df] for df in sorted(T_95)]
    assert values == sorted(values, reverse=True)
    assert values[-1] > 1.96


def test_t_critical_rejects_zero_degrees_of_freedom() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        t_critical(0)


def test_confidence_interval_five_samples() -> None:
    interval = confidence_interval(FIVE)
    assert interval is not None
    low, high = interval
    assert low == pytest.approx(300.0 - 196.2929, abs=1e-3)  # 103.707
    assert high == pytest.approx(300.0 + 196.2929, abs=1e-3)  # 496.293


def test_confidence_interval_two_samples_uses_t_with_one_df() -> None:
    # mean 15, s = 7.0711, half = 12.706 * 7.0711 / sqrt(2) = 12.706 * 5 = 63.53
    interval = confidence_interval([10.0, 20.0])
    assert interval == pytest.approx((15.0 - 63.53, 15.0 + 63.53))


def test_confidence_interval_of_identical_samples_is_a_point() -> None:
    assert confidence_interval([100.0, 100.0, 100.0]) == (100.0, 100.0)


def test_speed_score_is_1000_over_seconds() -> None:
    assert speed_score(250.0) == 4000.0  # 0.25 s -> 1000 / 0.25
    assert speed_score(1000.0) == 1000.0
    assert speed_score(300.0) == pytest.approx(3333.333, abs=1e-3)
    assert speed_score(None) is None
    assert speed_score(0.0) is None


def test_latency_stats_five_samples() -> None:
    stats = latency_stats(FIVE)
    assert stats is not None
    assert stats.n == 5
    assert stats.mean == 300.0
    assert stats.p50 == 300.0  # position 2: the middle value
    assert stats.p95 == pytest.approx(480.0)  # position 3.8: 400 + 100 * 0.8
    assert stats.p99 == pytest.approx(496.0)  # position 3.96: 400 + 100 * 0.96
    assert stats.stdev == pytest.approx(S_FIVE)
    assert stats.ci == pytest.approx((300.0 - HALF_FIVE, 300.0 + HALF_FIVE))
    assert stats.speed == pytest.approx(1e6 / 300.0)


def test_latency_stats_single_sample() -> None:
    assert latency_stats([80.0]) == LatencyStats(n=1, mean=80.0, p50=80.0, p95=80.0, p99=80.0)
    single = latency_stats([80.0])
    assert single is not None
    assert single.ci is None
    assert single.speed == 12_500.0  # 1000 / 0.08 s


def test_latency_stats_empty() -> None:
    assert latency_stats([]) is None


def test_percentile_is_still_linear_interpolation() -> None:
    # sorted [10, 20, 30, 40], position 3 * 0.99 = 2.97: 30 + 10 * 0.97 = 39.7
    assert percentile([40.0, 10.0, 30.0, 20.0], 99) == pytest.approx(39.7)


def _stats(values: list[float]) -> LatencyStats:
    stats = latency_stats(values)
    assert stats is not None
    return stats


def test_overlap_of_intervals() -> None:
    # [100, 110, 120]: mean 110, s 10, half 4.303 * 10 / sqrt(3) = 24.843 -> (85.16, 134.84)
    # [130, 140, 150]: (115.16, 164.84) overlaps; [200, 210, 220]: (175.16, 234.84) does not
    a, b, c = (
        _stats([100.0, 110.0, 120.0]),
        _stats([130.0, 140.0, 150.0]),
        _stats([200.0, 210.0, 220.0]),
    )
    assert a.ci == pytest.approx((110.0 - 24.843, 110.0 + 24.843), abs=1e-3)
    assert overlap(a, b) is True
    assert overlap(b, a) is True
    assert overlap(a, c) is False
    assert overlap(b, c) is False


def test_overlap_of_points_that_touch_is_a_tie() -> None:
    assert overlap(_stats([100.0, 100.0]), _stats([100.0, 100.0])) is True


def test_overlap_unknown_without_intervals() -> None:
    assert overlap(_stats([100.0]), _stats([100.0, 120.0])) is None
    assert overlap(None, _stats([100.0, 120.0])) is None
