"""Racing (issue 24, point 3): under ``--llm-eliminate``, a right model clearly slower
than the champion and the runner-up so far stops being timed; its other cases still run
once for correctness.

Four models on an emulated Ollama server, timed on the fake clock (the scripted
latencies exactly: no wall-clock figure): alpha 10 ms and beta 12 ms always right;
gamma 20 ms always right (raced out); delta 25 ms right except on the last case.  Eight
cases, all gold PASS of one difficulty (so they run in file order), three runs each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.casedata import NO_LLAMACPP, ollama_run_args
from tests.support.clock import FakeClock
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

CASES = 8
REPEATS = 3
LATENCY_S = {"alpha:1b": 0.010, "beta:1b": 0.012, "gamma:1b": 0.020, "delta:1b": 0.025}
WRONG = {"delta:1b": CASES}
"""Model -> the case it gets wrong (every run)."""
A, B, C, D = (f"ollama/{name}" for name in LATENCY_S)


def task_yaml() -> str:
    lines = [
        "task: grading",
        'prompt: "Posting: {posting}\\nAnswer PASS or FAIL."',
        "output: {kind: verdict, labels: [PASS, FAIL]}",
        f"repeat: {REPEATS}",
        "cases:",
    ]
    for i in range(1, CASES + 1):
        lines.append(
            f"  - {{id: C{i}, expected: {{verdict: PASS}}, difficulty: medium, "
            f"vars: {{posting: posting {i}}}}}"
        )
    return "\n".join(lines) + "\n"


class Fleet:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def answer(self, model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
        case = int(str(messages[-1]["content"]).split("posting ", 1)[1].split()[0])
        self.calls[model] = self.calls.get(model, 0) + 1
        return json.dumps({"verdict": "FAIL" if WRONG.get(model) == case else "PASS"})


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


@pytest.fixture
def server(fake_clock: FakeClock, fleet: Fleet) -> Iterator[OllamaEmulator]:
    models = [EmulatedModel(name, latency_s=s) for name, s in LATENCY_S.items()]
    with OllamaEmulator(models=models, answer=fleet.answer, clock=fake_clock) as srv:
        yield srv
    assert srv.errors == []


def run(pytester: pytest.Pytester, url: str, *args: str) -> tuple[dict[str, Any], list[str]]:
    pytester.makeconftest(NO_LLAMACPP)
    evals = pytester.path / "evals"
    evals.mkdir(exist_ok=True)
    (evals / "grading.yaml").write_text(task_yaml())
    result = pytester.runpytest(
        *ollama_run_args(url),
        "--llm-json=out.json",
        "--llm-no-history",
        "--llm-fail-on=champion",
        *args,
    )
    assert result.ret == 0, result.stdout.str()[-3000:]
    doc = json.loads((pytester.path / "out.json").read_text())
    return doc["tasks"]["grading"], result.outlines


def test_a_clearly_slower_right_model_is_raced_out(
    pytester: pytest.Pytester, server: OllamaEmulator, fleet: Fleet
) -> None:
    task, lines = run(pytester, server.url)
    assert (task["champion"], task["runner_up"]) == (A, B)
    by_model = {s["model"]: s for s in task["ranking"]}
    gamma = by_model[C]
    # Raced out after its first call (cold) and 6 paired warm calls; then the last case
    # still ran once: every case once, no repeat.
    assert gamma["status"] == "raced out"
    assert gamma["qualified"] is True
    assert (gamma["correct"], gamma["total"]) == (CASES, CASES)
    raced = gamma["raced"]
    assert (raced["after"], raced["made"], raced["runs"]) == (7, CASES, CASES * REPEATS)
    champion_lead, runner_up_lead = raced["leads"]
    assert (champion_lead["model"], runner_up_lead["model"]) == (A, B)
    assert champion_lead["pairs"] == 6
    assert champion_lead["ratio"] == pytest.approx(2.0, rel=0.01)  # 20 ms / 10 ms
    assert champion_lead["ratio_ci"][0] > 1.0
    assert runner_up_lead["ratio_ci"][0] > 1.0
    assert fleet.calls["gamma:1b"] == CASES
    # The champion and the runner-up made every run; the summary says who was raced out.
    assert fleet.calls["alpha:1b"] == fleet.calls["beta:1b"] == CASES * REPEATS
    text = "\n".join(lines)
    assert "Raced out (slower than the champion and the runner-up beyond the noise):" in text
    assert f"{C} (8/8): raced out after 7 runs (2.00x the latency of {A} [2.00, 2.00]" in text


def test_a_raced_model_wrong_on_a_remaining_case_is_disqualified(
    pytester: pytest.Pytester, server: OllamaEmulator, fleet: Fleet
) -> None:
    task, _ = run(pytester, server.url)
    # delta: raced out after 7 runs, then wrong on C8 (run once): eliminated as usual.
    delta = next(s for s in task["disqualified"] if s["model"] == D)
    assert delta["eliminated"]["case_id"] == f"C{CASES}"
    assert delta["raced"] is None
    assert fleet.calls["delta:1b"] == CASES
    assert D not in {s["model"] for s in task["ranking"]}


def test_racing_never_changes_the_champion_or_the_runner_up(
    pytester: pytest.Pytester, server: OllamaEmulator, fleet: Fleet
) -> None:
    full, _ = run(pytester, server.url, "--llm-eliminate=off")
    calls = sum(fleet.calls.values())
    fleet.calls.clear()
    off, _ = run(pytester, server.url, "--llm-race=off")
    without_racing = sum(fleet.calls.values())
    fleet.calls.clear()
    raced, _ = run(pytester, server.url)
    for task in (off, raced):
        assert (task["champion"], task["runner_up"]) == (full["champion"], full["runner_up"])
    assert not any(s["raced"] for s in off["ranking"])
    # Full: 4 x 24; racing off: gamma makes all 24, delta 8 (and a 9th request sent ahead
    # before its wrong answer was scored); on: gamma 8 as well, and delta's 9th run was not
    # sent ahead (a raced model's repeats are known to be skipped).
    assert (calls, without_racing, sum(fleet.calls.values())) == (96, 81, 64)
