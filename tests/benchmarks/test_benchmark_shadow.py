"""Benchmark: production latency with shadow checks on against off (issue 26, point 1).

The backend is the instant one of the service benchmark (a separate process answering
every ``POST /api/chat`` at once), so a call's wall time is the router's and the
client's own work.  ``Router.run`` is timed call by call (``perf_counter``) in blocks
that alternate: shadowing off, on at rate 0.2 (the issue's example), on at rate 1 (every
call checked by the runner-up, the worst case), ``ROUNDS`` times, the feedback log on as
in production.  The noise is what shadowing off differs from itself: the spread of the
p50 of its blocks.  Target: the p50 with shadowing on is within that noise of the p50
with it off (no figure asserted: ``-s`` shows the table; the test asserts every call was
answered and every sampled check made or counted as dropped).  The machine's load
average is printed beside the figures.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.providers.base import BuiltinSettings
from pytest_llmbench.router import Router, ShadowOptions
from tests.benchmarks.perf_table import readme_row
from tests.benchmarks.test_benchmark_serve import backend  # noqa: F401  (the fixture)
from tests.support.serve_harness import project

pytest.importorskip("pytest_benchmark")

CALLS = 300
"""Calls per block."""
ROUNDS = 5
RATES = (0.0, 0.2, 1.0)


def block(router: Router, calls: int = CALLS) -> list[float]:
    """Wall ms of each of ``calls`` calls, one after the other."""
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        answer = router.run("grading", posting="GOOD posting")
        out.append((time.perf_counter() - started) * 1000.0)
        assert answer.value == "PASS"
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


@pytest.mark.performance
def test_production_latency_with_shadow_checks_on_and_off(
    backend: tuple[str, int],  # noqa: F811  (its URL and process id)
    tmp_path: Path,
    benchmark: Any,
) -> None:
    registry = project(tmp_path)  # champion and runner-up, both on the instant backend
    url, _ = backend
    settings = BuiltinSettings(ollama_hosts=(url,), timeout_s=10.0, retries=0)
    routers = {
        rate: Router.from_registry(
            registry,
            settings=settings,
            shadow=ShadowOptions(rate=rate, random=random.Random(7).random),
        )
        for rate in RATES
    }
    for router in routers.values():
        block(router, 50)  # warm: connections, case file
        router.shadow.wait(10)
    blocks: dict[float, list[list[float]]] = {rate: [] for rate in RATES}

    def measure() -> None:
        for _ in range(ROUNDS):
            for rate, router in routers.items():
                blocks[rate].append(block(router))

    benchmark.pedantic(measure, rounds=1, iterations=1, warmup_rounds=0)
    for router in routers.values():
        router.close()
    off_p50s = [statistics.median(b) for b in blocks[0.0]]
    noise = max(off_p50s) - min(off_p50s)
    off = statistics.median([x for b in blocks[0.0] for x in b])
    load = os.getloadavg()[0]
    lines = [
        f"Router.run against an instant backend, {ROUNDS} x {CALLS} calls per setting, "
        f"load average {load:.2f}",
        f"  shadow off:      p50 {off:.3f} ms, p95 "
        f"{p95([x for b in blocks[0.0] for x in b]):.3f} ms; noise (spread of the blocks' "
        f"p50) {noise:.3f} ms",
    ]
    measured = [f"off p50 {off:.3f} ms (noise {noise:.3f} ms)"]
    for rate in RATES[1:]:
        calls = [x for b in blocks[rate] for x in b]
        on = statistics.median(calls)
        shadow = routers[rate].shadow
        verdict = "ok" if on - off <= noise else "OVER"
        lines.append(
            f"  shadow rate {rate:g}: p50 {on:.3f} ms ({on - off:+.3f} ms), p95 "
            f"{p95(calls):.3f} ms; {shadow.checked} checked, {shadow.dropped} dropped "
            f"(target: within the noise of shadowing off: {verdict})"
        )
        measured.append(f"rate {rate:g} p50 {on:.3f} ms ({on - off:+.3f} ms, {verdict})")
        assert shadow.sampled == shadow.checked + shadow.dropped
        assert shadow.checked > 0
    print("\n" + "\n".join(lines))
    readme_row(
        benchmark,
        "shadow-latency",
        what="`Router.run` p50 per call with shadow checks at rate 0.2 and 1 against off "
        "(instant backend, runner-up checks)",
        target="within the noise of shadowing off",
        measured="; ".join(measured),
    )
