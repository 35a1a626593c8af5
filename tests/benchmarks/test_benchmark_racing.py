"""Benchmark: racing (``--llm-race``, on with ``--llm-eliminate``) on the 20-model fleet
of the elimination benchmark (issue 24, acceptance 2).

The fleet, its cases and its misses are those of ``test_benchmark_elimination.py``
(20 models x 20 cases x 3 runs; four always right, sixteen missing at least one case),
with a realistic spread of speeds among the four right ones: 12, 14, 20 and 30 ms (the
champion and the runner-up 17% apart, two clearly slower right models for racing to
stop timing); the sixteen others answer in 8 to 24 ms as there.  Each call's latency is
the model's speed times the case's length factor (0.7 to 1.6: the per-case spread the
paired comparison removes) times a seeded per-call noise of about 5%, scripted on the
fake clock: the rankings and the call counts are the same on any machine, under any load.

Three in-process pytest runs against one emulated Ollama server:

1. the full run (``--llm-eliminate=off``): every model makes all 60 runs;
2. the first sweep (``--llm-fail-on champion``: elimination and racing on), no history;
3. the second sweep, its case order from the first sweep's history.

Targets (asserted: the counts are deterministic): the same champion and runner-up as
the full run; the first sweep at most 0.25x the full run's generation requests (counted
at the emulator), the second at most 0.2x.  The raced-out models are printed with their
evidence.

Run it alone with ``pytest tests/benchmarks/test_benchmark_racing.py -m performance -s``.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from tests.benchmarks.perf_table import readme_row
from tests.benchmarks.test_benchmark_elimination import (
    CASES,
    MODELS,
    REPEATS,
    Fleet,
    answer_s,
    fleet_yaml,
    model_name,
    sweeps,
)
from tests.support.casedata import NO_LLAMACPP, ollama_run_args
from tests.support.clock import FakeClock
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

pytestmark = pytest.mark.performance

pytest.importorskip("pytest_benchmark")

TARGETS = {"first_sweep": 0.25, "second_sweep": 0.2}
"""Generation requests of the sweep / those of the full run, at most."""
RIGHT_S = (0.012, 0.014, 0.020, 0.030)
"""The four always-right models' speeds (s)."""
NOISE = 0.05
LOAD_S = 0.05


def speed_s(index: int) -> float:
    return RIGHT_S[index] if index < len(RIGHT_S) else answer_s(index)


def case_factor(case: int) -> float:
    """The case's length: 0.7 to 1.6 times the model's speed, the same for every model."""
    return 0.7 + 0.9 * ((case * 7) % CASES) / (CASES - 1)


class TimedFleet(Fleet):
    """The elimination benchmark's answers, each taking its scripted time on the clock."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def answer(self, model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
        said = super().answer(model, messages, fmt, opts)
        text = str(messages[-1]["content"])
        case = int(text.split("posting ", 1)[1].split()[0])
        index = int(model.removeprefix("fleet")[:2])
        run = self.calls[(model, case)]
        noise = random.Random(f"{model}/{case}/{run}").gauss(0.0, NOISE)
        self.clock.advance(speed_s(index) * case_factor(case) * math.exp(noise))
        return said


def test_racing_sweeps_against_the_full_run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    fake_clock: FakeClock,
    benchmark: Any,
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(NO_LLAMACPP)
    (pytester.mkdir("evals") / "grading.yaml").write_text(fleet_yaml())
    fleet = TimedFleet(fake_clock)
    srv = OllamaEmulator(
        models=[EmulatedModel(model_name(i), latency_s=0.0) for i in range(MODELS)],
        answer=fleet.answer,
        resident_slots=1,
        load_latency_s=LOAD_S,
        clock=fake_clock,
    )
    runs: dict[str, dict[str, Any]] = {}
    history = pytester.path / "sweeps.sqlite"

    def run(name: str, *args: str) -> None:
        out = pytester.path / f"{name}.json"
        srv.reset_counters()
        fleet.reset()
        result = pytester.runpytest(*ollama_run_args(srv.url), "-q", f"--llm-json={out}", *args)
        assert result.ret == 0, result.stdout.str()[-3000:]
        task = json.loads(out.read_text())["tasks"]["grading"]
        runs[name] = {"requests": sum(srv.requests.values()), "task": task}

    def all_three() -> None:
        for name, args in sweeps(history):
            run(name, *args)

    with srv:
        benchmark.pedantic(all_three, rounds=1, iterations=1, warmup_rounds=0)
    assert srv.errors == []

    full = runs["full"]
    assert full["requests"] == MODELS * CASES * REPEATS
    top = (full["task"]["champion"], full["task"]["runner_up"])
    assert top == (f"ollama/{model_name(0)}", f"ollama/{model_name(1)}")
    lines = [f"full run: {full['requests']} generation requests, champion and runner-up {top}"]
    figures: dict[str, Any] = {}
    for name, target in TARGETS.items():
        sweep = runs[name]
        task = sweep["task"]
        assert (task["champion"], task["runner_up"]) == top
        raced = [s for s in task["ranking"] if s["raced"]]
        ratio = sweep["requests"] / full["requests"]
        figures[name] = {
            "requests": sweep["requests"],
            "ratio": round(ratio, 3),
            "raced_out": [s["model"] for s in raced],
            "target": target,
        }
        lines.append(
            f"{name.replace('_', ' ')}: {sweep['requests']} of {full['requests']} requests "
            f"({ratio:.3f}x, target <= {target}x); {len(raced)} raced out, "
            f"{sum(1 for s in task['disqualified'] if s['eliminated'])} eliminated"
        )
        for s in raced:
            leads = s["raced"]["leads"]
            evidence = ", ".join(
                f"{lead['ratio']:.2f}x {lead['model']} [{lead['ratio_ci'][0]:.2f}, "
                f"{lead['ratio_ci'][1]:.2f}]"
                for lead in leads
            )
            lines.append(
                f"  raced out: {s['model']} after {s['raced']['after']} runs, "
                f"{min(lead['pairs'] for lead in leads)} paired calls: {evidence}; "
                f"{s['raced']['made']} of {s['raced']['runs']} runs made"
            )
    print("\n" + "\n".join(lines))
    first, second = figures["first_sweep"], figures["second_sweep"]
    benchmark.extra_info.update(figures)
    readme_row(
        benchmark,
        "racing",
        what=(
            f"racing (`--llm-fail-on champion`: elimination and racing) on the emulated fleet of "
            f"{MODELS} models x {CASES} cases x {REPEATS} runs, right models at 12/14/20/30 ms, "
            "timed on the fake clock (`tests/benchmarks/test_benchmark_racing.py`): first sweep "
            "/ second sweep against the full run's generation requests"
        ),
        target=f"<= {TARGETS['first_sweep']}x / <= {TARGETS['second_sweep']}x",
        measured=(
            f"**{first['ratio']:.3f}x / {second['ratio']:.3f}x** ({first['requests']} / "
            f"{second['requests']} of {full['requests']} requests); raced out: "
            f"{len(first['raced_out'])} / {len(second['raced_out'])}. Same champion and "
            "runner-up as the full run (asserted)"
        ),
    )
    assert first["ratio"] <= TARGETS["first_sweep"]
    assert second["ratio"] <= TARGETS["second_sweep"]
