"""The load phase through pytest, against the emulated Ollama with parallel slots.

The slot test of issue 23: model A answers in 100 ms with one slot, model B in 150 ms
with four; both are always right.  One request at a time A is the champion; with
``load: {concurrency: 4}`` B is, and goodput and p95 under load are what the script
predicts.  Slots and queueing are real time (requests in flight together overlap; a
fake clock advanced by each would add their durations up), so the predictions carry a
10% margin for the HTTP round trips on a shared machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.support.casedata import NO_LLAMACPP, ollama_run_args, right_answer, verdict_yaml
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

CASES, CONCURRENCY, REQUESTS, SLO_MS = 4, 4, 16, 250.0
A_S, B_S = 0.100, 0.150

# What the script predicts.  A (one slot): the first four requests wait 0, 1, 2, 3
# service times, then the queue holds four: 100, 200, 300, 400, then 400 ms each.
A_TIMES = [100.0, 200.0, 300.0] + [400.0] * (REQUESTS - 3)
A_WALL_S = REQUESTS * A_S  # one at a time: 1.6 s
A_GOODPUT = sum(t <= SLO_MS for t in A_TIMES) / A_WALL_S  # 2 within the SLO: 1.25/s
# B (four slots): every request is served at once, four rounds of 150 ms.
B_WALL_S = REQUESTS / CONCURRENCY * B_S  # 0.6 s
B_GOODPUT = REQUESTS / B_WALL_S  # 26.7/s


@pytest.fixture
def srv() -> Iterator[OllamaEmulator]:
    models = [
        EmulatedModel("a:1b", latency_s=A_S, slots=1),
        EmulatedModel("b:1b", latency_s=B_S, slots=4),
    ]
    with OllamaEmulator(models=models, answer=right_answer, resident_slots=None) as server:
        yield server
    assert server.errors == []


def _run(pytester: pytest.Pytester, url: str, load: str | None) -> dict[str, Any]:
    pytester.makeconftest(NO_LLAMACPP)
    (pytester.path / "evals").mkdir(exist_ok=True)
    text = verdict_yaml(cases=CASES) + (load or "")
    (pytester.path / "evals" / "grading.yaml").write_text(text)
    result = pytester.runpytest(
        *ollama_run_args(url), "--llm-json=out.json", "--llm-update-registry=registry.yaml"
    )
    assert result.ret == 0, result.stdout.str()
    document: dict[str, Any] = json.loads((pytester.path / "out.json").read_text())
    task: dict[str, Any] = document["tasks"]["grading"]
    task["_stdout"] = result.stdout.str()
    return task


def _figures(task: dict[str, Any], model: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in task["at_load"]["standings"] if s["model"] == model)
    return found


@pytest.mark.deadline
def test_one_slot_wins_alone_and_four_slots_win_at_concurrency_4(
    pytester: pytest.Pytester, srv: OllamaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    serial = _run(pytester, srv.url, None)
    assert serial["champion"] == "ollama/a:1b"
    assert serial.get("at_load") is None

    load = (
        f"load: {{concurrency: {CONCURRENCY}, requests: {REQUESTS}, slo: {{p95_ms: {SLO_MS:g}}}}}\n"
    )
    task = _run(pytester, srv.url, load)
    assert task["champion"] == "ollama/b:1b"
    assert task["at_load"]["champion"] == "ollama/b:1b"
    assert srv.max_concurrent >= CONCURRENCY
    a, b = _figures(task, "ollama/a:1b"), _figures(task, "ollama/b:1b")
    print(
        f"A: p95 {a['p95_ms']:.0f} ms (script 400), goodput {a['goodput_rps']:.2f}/s "
        f"(script {A_GOODPUT:.2f}); B: p95 {b['p95_ms']:.0f} ms (script 150), goodput "
        f"{b['goodput_rps']:.1f}/s (script {B_GOODPUT:.1f})"
    )
    assert (a["requests"], b["requests"]) == (REQUESTS, REQUESTS)
    assert (a["errors"], b["errors"], a["wrong"], b["wrong"]) == (0, 0, 0, 0)
    assert b["p95_ms"] == pytest.approx(B_S * 1000, rel=0.10)
    assert b["goodput_rps"] == pytest.approx(B_GOODPUT, rel=0.10)
    assert a["p95_ms"] == pytest.approx(400.0, rel=0.10)
    assert a["goodput_rps"] == pytest.approx(A_GOODPUT, rel=0.10)
    assert a["throughput_rps"] == pytest.approx(REQUESTS / A_WALL_S, rel=0.10)
    assert "grading under load: x4 in flight, 16 requests per model" in task["_stdout"]
    assert "champion at load" in task["_stdout"]
    registry = yaml.safe_load((pytester.path / "registry.yaml").read_text())
    evidence = registry["tasks"]["grading"]["champion"]
    assert evidence["model"] == "ollama/b:1b"
    assert evidence["at_load"]["concurrency"] == CONCURRENCY
    assert evidence["at_load"]["goodput_rps"] == pytest.approx(B_GOODPUT, rel=0.10)
    assert evidence["at_load"]["slo_p95_ms"] == SLO_MS


def test_a_model_that_times_out_under_load_is_flagged_and_cannot_win(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    # A is faster alone (200 ms against 300) but serves one request at a time: with 8 in
    # flight its queue reaches 8 x 200 ms, past the 1 s timeout.
    models = [
        EmulatedModel("a:1b", latency_s=0.2, slots=1),
        EmulatedModel("b:1b", latency_s=0.3, slots=8),
    ]
    pytester.makeini("[pytest]\nllm_retries = 0\n")
    pytester.makeconftest(NO_LLAMACPP)
    pytester.mkdir("evals")
    load = "load: {concurrency: 8, requests: 8}\n"
    (pytester.path / "evals" / "grading.yaml").write_text(verdict_yaml(cases=2) + load)
    with OllamaEmulator(models=models, answer=right_answer, resident_slots=None) as server:
        result = pytester.runpytest(
            *ollama_run_args(server.url), "--llm-json=out.json", "--llm-timeout=1"
        )
    assert result.ret == 0, result.stdout.str()
    task = json.loads((pytester.path / "out.json").read_text())["tasks"]["grading"]
    assert task["champion"] == "ollama/b:1b"
    a = _figures(task, "ollama/a:1b")
    assert a["errors"] > 0
    assert a["flag"].endswith("of 8 answers under load")
    flagged = next(s for s in task["disqualified"] if s["model"] == "ollama/a:1b")
    assert flagged["status"].startswith("flagged:")
    result.stdout.fnmatch_lines(["*ollama/a:1b*FLAGGED:*failed of 8 answers under load*"])
