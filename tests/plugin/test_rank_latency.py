"""The latency a task is ranked by (issue 23, acceptance 2): ``ranking: {latency: ...}``
in the case file and ``--llm-rank-latency``.

Two always-right models on an emulated Ollama server, timed on the fake clock: A reads
the prompt slowly and generates fast, B the opposite.  By the mean end-to-end time A is
the champion; by the 95th percentile of the time to first token (a chat UI's wait) B is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.support.casedata import NO_LLAMACPP, ollama_run_args
from tests.support.clock import FakeClock
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

A, B = "ollama/alpha:1b", "ollama/beta:1b"
WORDS = 20
ANSWER = "ok " + " ".join(f"word{i}" for i in range(WORDS - 1))
SCRIPT = {  # prefill, time per token (s): A 0.5 + 20 x 0.005, B 0.05 + 20 x 0.04
    "alpha:1b": (0.5, 0.005),
    "beta:1b": (0.05, 0.04),
}
CASES = 5


def task_yaml(ranking: str = "") -> str:
    lines = [
        "task: chat",
        'prompt: "Say ok about {thing}."',
        "output: {kind: text}",
        "options: {temperature: 0, seed: 42, max_tokens: 64}",
        *([f"ranking: {ranking}"] if ranking else []),
        "cases:",
    ]
    for i in range(1, CASES + 1):
        lines += [f"  - id: C{i}", "    expected: {contains: [ok]}", f"    vars: {{thing: t{i}}}"]
    return "\n".join(lines) + "\n"


def answer(model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
    return ANSWER


@pytest.fixture
def server(fake_clock: FakeClock) -> Iterator[OllamaEmulator]:
    models = [
        EmulatedModel(name, prompt_latency_s=prefill, token_latency_s=per_token)
        for name, (prefill, per_token) in SCRIPT.items()
    ]
    with OllamaEmulator(models=models, answer=answer, resident_slots=None, clock=fake_clock) as srv:
        yield srv
    assert srv.errors == []


def run(pytester: pytest.Pytester, url: str, ranking: str, *args: str) -> dict[str, Any]:
    pytester.makeconftest(NO_LLAMACPP)
    evals = pytester.path / "evals"
    evals.mkdir(exist_ok=True)
    (evals / "chat.yaml").write_text(task_yaml(ranking))
    result = pytester.runpytest(
        *ollama_run_args(url), "--llm-json=out.json", "--llm-no-history", *args
    )
    result.assert_outcomes(passed=2 * CASES)
    doc = json.loads((pytester.path / "out.json").read_text())
    doc["_lines"] = result.outlines
    return dict(doc)


def test_by_mean_the_fast_generator_wins(pytester: pytest.Pytester, server: OllamaEmulator) -> None:
    doc = run(pytester, server.url, "")
    task = doc["tasks"]["chat"]
    assert (task["champion"], task["runner_up"], task["latency"]) == (A, B, "mean")
    by_model = {s["model"]: s for s in task["ranking"]}
    # the scripted figures, within 5%: TTFT = prefill + one token, end-to-end = prefill + 20
    assert by_model[A]["mean_ms"] == pytest.approx(600.0, rel=0.05)
    assert by_model[B]["mean_ms"] == pytest.approx(850.0, rel=0.05)
    assert by_model[A]["ttft"]["p95_ms"] == pytest.approx(505.0, rel=0.05)
    assert by_model[B]["ttft"]["p95_ms"] == pytest.approx(90.0, rel=0.05)
    assert by_model[A]["itl_ms"] == pytest.approx(5.0, rel=0.05)
    assert by_model[B]["prefill_ms"] == pytest.approx(50.0, rel=0.05)
    assert by_model[B]["generation_ms"] == pytest.approx(800.0, rel=0.05)
    lines = doc["_lines"]
    assert any("ttft p95 ms" in line for line in lines)  # streamed: the column is there
    assert not any("ranked by" in line for line in lines)  # the default says nothing new


def test_by_ttft_p95_from_the_option_the_fast_reader_wins(
    pytester: pytest.Pytester, server: OllamaEmulator
) -> None:
    doc = run(pytester, server.url, "", "--llm-rank-latency=ttft_p95", "--llm-update-registry")
    task = doc["tasks"]["chat"]
    assert (task["champion"], task["runner_up"], task["latency"]) == (B, A, "ttft_p95")
    assert any(
        line.startswith("task chat (strict policy, ranked by ttft p95") for line in doc["_lines"]
    )
    registry = yaml.safe_load((pytester.path / "llmbench-registry.yaml").read_text())
    champion = registry["tasks"]["chat"]["champion"]
    assert (champion["model"], champion["latency"]) == (B, "ttft_p95")
    assert champion["latency_ms"] == pytest.approx(90.0, rel=0.05)


def test_the_case_file_chooses_the_latency(
    pytester: pytest.Pytester, server: OllamaEmulator
) -> None:
    doc = run(pytester, server.url, "{latency: ttft_p95}")
    assert doc["tasks"]["chat"]["champion"] == B
    # the option wins over the file
    doc = run(pytester, server.url, "{latency: ttft_p95}", "--llm-rank-latency=mean")
    assert doc["tasks"]["chat"]["champion"] == A
