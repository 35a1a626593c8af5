"""Host failover (issue 12, point 4): two Ollama hosts serve the same models.

Host A is killed mid-run; its models move to host B, which answers every remaining
case (the one cut in flight included), so the ranking is the one a run without the
fault gives.  Emulated servers over real HTTP on loopback; the run goes through
pytester, and the JSON, the journal and the history must agree (:func:`consistent`).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.casedata import NO_LLAMACPP, verdict_yaml
from tests.support.clock import FakeClock
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator
from tests.support.runs import NO_BENCHMARK, consistent

CASES = 4
LATENCY = {"alpha:1b": 0.005, "beta:1b": 0.005, "gamma:1b": 0.03, "delta:1b": 0.06}
"""alpha passes everything (disqualified); beta is the fastest right model: the champion.

Discovery puts alpha and delta on host A, beta and gamma on host B; the items run model
by model in name order, so the 10th item is delta's second, on A.
"""


def answer(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
    good = "GOOD" in messages[-1]["content"] or model.startswith("alpha")
    return json.dumps({"verdict": "PASS" if good else "FAIL"})


@pytest.fixture
def hosts(fake_clock: FakeClock) -> Iterator[tuple[OllamaEmulator, OllamaEmulator]]:
    """Latencies on the fake clock: which model is fastest does not depend on real sleeps."""

    def server() -> OllamaEmulator:
        models = [EmulatedModel(name, latency_s=s) for name, s in LATENCY.items()]
        return OllamaEmulator(models=models, answer=answer, resident_slots=None, clock=fake_clock)

    with server() as a, server() as b:
        yield a, b
    assert a.errors == b.errors == []


def bench(pytester: pytest.Pytester, a: OllamaEmulator, b: OllamaEmulator, out: str) -> Any:
    return pytester.runpytest(
        "evals",
        f"--llm-ollama-host={a.url}",
        f"--llm-ollama-host={b.url}",
        "--llm-models=ollama",
        "--llm-timeout=10",
        f"--llm-json={out}",
        *NO_BENCHMARK,
    )


def sent(server: OllamaEmulator) -> Counter[tuple[str, str]]:
    """Each chat request the server received: (model, question) -> how many times."""
    return Counter(
        (body["model"], body["messages"][-1]["content"]) for body in server.bodies("/api/chat")
    )


def test_host_killed_mid_run_its_models_move_and_the_champion_stays(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    hosts: tuple[OllamaEmulator, OllamaEmulator],
) -> None:
    a, b = hosts
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(NO_LLAMACPP)
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=CASES))

    calm = bench(pytester, a, b, "calm.json")
    assert calm.ret == pytest.ExitCode.TESTS_FAILED  # alpha is too lenient
    calm_doc = consistent(pytester.path, pytester.path / "calm.json")
    expected = calm_doc["tasks"]["grading"]
    assert expected["champion"] == "ollama/beta:1b"
    assert {r["host"] for r in calm_doc["results"]} == {a.url, b.url}

    a.reset_counters()
    b.reset_counters()
    answered = 0
    lock = threading.Lock()

    def answer_then_kill(model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
        nonlocal answered
        with lock:
            answered += 1
            if answered == 10:  # host A is killed after 10 items, whichever host had them
                threading.Thread(target=a.die).start()
        return answer(model, messages, fmt, opts)

    a.answer = b.answer = answer_then_kill
    result = bench(pytester, a, b, "out.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=3 * CASES + CASES // 2, failed=CASES // 2)  # alpha's FAIL cases
    assert not a.alive

    doc = consistent(pytester.path, pytester.path / "out.json")
    results = doc["results"]
    assert len(results) == 4 * CASES
    assert [r for r in results if r["error"]] == []  # every case answered
    task = doc["tasks"]["grading"]
    assert (task["champion"], task["runner_up"]) == (expected["champion"], expected["runner_up"])
    # The results say which host answered: A's models moved to B once A was gone.
    hosts_of = Counter((r["model"], r["host"]) for r in results)
    moved = [model for model, host in hosts_of if host == b.url and (model, a.url) in hosts_of]
    assert moved == ["ollama/delta:1b"], hosts_of
    # No request was sent twice to a live host (A got each at most once before it died).
    on_a, on_b = sent(a), sent(b)
    assert max(on_a.values()) == 1
    assert max(on_b.values()) == 1
    assert len(on_a | on_b) == 4 * CASES
    assert sum((on_a & on_b).values()) <= 2  # at most the ones cut in flight on A
