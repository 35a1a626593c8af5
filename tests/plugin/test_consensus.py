"""Consensus combinations in the benchmark's ranking (issue 14, part 3, acceptance 3).

An emulated Ollama fleet (real HTTP on loopback) where model A is wrong on two cases
and B on two others: ``consensus(A+B|C)`` is built from the answers the three models
already gave, ranked with them under the task's policy, and listed like a model,
marked as a combination, in the terminal, JSON, Markdown and HTML outputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.casedata import NO_LLAMACPP, ollama_run_args, verdict_yaml
from tests.support.clock import FakeClock
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

A, B, C = "ollama/alpha:1b", "ollama/beta:1b", "ollama/gamma:1b"
COMBINATION = f"consensus({A}+{B}|{C})"
WRONG = {"alpha:1b": {1, 2}, "beta:1b": {3, 4}, "gamma:1b": {5, 6, 7}}
"""The cases each model gets wrong: A and B disagree on 1-4, where C is right."""


def answer(model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
    prompt = messages[-1]["content"]
    case = int(prompt.split("posting ")[1].split()[0])
    good = "GOOD" in prompt
    if case in WRONG[model]:
        good = not good
    return json.dumps({"verdict": "PASS" if good else "FAIL"})


@pytest.fixture
def fleet(fake_clock: FakeClock) -> Iterator[OllamaEmulator]:
    """Latencies on the fake clock: the ranking by speed does not depend on real sleeps."""
    models = [
        EmulatedModel("alpha:1b", latency_s=0.002),
        EmulatedModel("beta:1b", latency_s=0.008),
        EmulatedModel("gamma:1b", latency_s=0.002),
    ]
    with OllamaEmulator(
        models=models, answer=answer, resident_slots=None, clock=fake_clock
    ) as server:
        yield server
    assert server.errors == []


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(NO_LLAMACPP)
    evals = pytester.mkdir("evals")
    yaml = verdict_yaml(cases=10) + "consensus: {models: 3, agree: 0.75}\n"
    (evals / "grading.yaml").write_text(yaml)
    return pytester


def run(project: pytest.Pytester, url: str, *args: str) -> pytest.RunResult:
    return project.runpytest(
        *ollama_run_args(url),
        "--llm-json=out.json",
        "--llm-report=report.md",
        "--llm-html=report.html",
        "--llm-no-history",
        *args,
    )


def test_the_combination_is_right_on_every_case_and_becomes_champion(
    project: pytest.Pytester, fleet: OllamaEmulator
) -> None:
    result = run(project, fleet.url)
    result.assert_outcomes(passed=30 - 7, failed=7)
    # no extra calls: each model answered each case once
    assert dict(fleet.requests) == {"alpha:1b": 10, "beta:1b": 10, "gamma:1b": 10}
    doc = json.loads((project.path / "out.json").read_text())
    assert {r["model"] for r in doc["results"]} == {A, B, C}  # the calls made, no others
    # each call took its model's scripted time on the fake clock, to the microsecond
    scripted = {A: 2.0, B: 8.0, C: 2.0}
    assert all(r["latency_ms"] == pytest.approx(scripted[r["model"]]) for r in doc["results"])
    task = doc["tasks"]["grading"]
    assert task["champion"] == COMBINATION
    standings = {s["model"]: s for s in task["ranking"] + task.get("disqualified", [])}
    combined = standings[COMBINATION]
    assert (combined["correct"], combined["total"]) == (10, 10)
    assert combined["combination"]["models"] == [A, B, C]
    assert combined["combination"]["tie_breaks"] == 4  # A and B disagree on cases 1-4
    assert combined["combination"]["agreed"] == 10
    assert standings[A]["combination"] is None
    # its latency is the sum of the calls it needed: two on cases 5-10, three on 1-4
    calls = {(r["model"], r["case_id"]): r for r in doc["results"]}
    rows = []  # (latency, cold) of each combined run: A and B, and C where they disagree
    for n in range(1, 11):
        needed = [A, B, C] if n <= 4 else [A, B]
        used = [calls[(m, f"CASE_{n:02d}")] for m in needed]
        rows.append((sum(r["latency_ms"] for r in used), any(r["cold"] for r in used)))
    warm = [ms for ms, cold in rows if not cold] or [ms for ms, _ in rows]
    assert combined["mean_ms"] == pytest.approx(sum(warm) / len(warm))
    result.stdout.fnmatch_lines(
        [f"*Champion*{COMBINATION}*", "Combination: consensus(*) is a combination: the answers of*"]
    )
    markdown = (project.path / "report.md").read_text()
    escaped = COMBINATION.replace("|", "\\|")  # a table cell
    assert f"`{escaped}` (combination) | 100% (10/10)" in markdown
    html = (project.path / "report.html").read_text()
    assert f"{COMBINATION} (combination)" in html


def test_pairs_are_the_best_models_and_configurable(
    project: pytest.Pytester, fleet: OllamaEmulator
) -> None:
    result = run(project, fleet.url, "--llm-consensus-pairs=3")
    result.assert_outcomes(passed=23, failed=7)
    doc = json.loads((project.path / "out.json").read_text())
    task = doc["tasks"]["grading"]
    models = [s["model"] for s in task["ranking"] + task.get("disqualified", [])]
    combos = [m for m in models if m.startswith("consensus(")]
    # A and B (8/10) rank above C (7/10): the pairs A+B, A+C, B+C, each with the third
    assert sorted(combos) == sorted(
        [COMBINATION, f"consensus({A}+{C}|{B})", f"consensus({B}+{C}|{A})"]
    )


def test_a_task_without_consensus_has_no_combination(
    project: pytest.Pytester, fleet: OllamaEmulator
) -> None:
    (project.path / "evals" / "grading.yaml").write_text(verdict_yaml(cases=10))
    run(project, fleet.url)
    doc = json.loads((project.path / "out.json").read_text())
    assert doc["tasks"]["grading"]["champion"] is None
    ranked = doc["tasks"]["grading"]["ranking"] + doc["tasks"]["grading"]["disqualified"]
    assert not any(s["model"].startswith("consensus(") for s in ranked)


def test_the_registry_never_names_a_combination(
    project: pytest.Pytester, fleet: OllamaEmulator
) -> None:
    # gamma right everywhere: it and the combination qualify; only gamma is registered
    WRONG["gamma:1b"], saved = set(), WRONG["gamma:1b"]
    try:
        run(project, fleet.url, "--llm-update-registry=reg.yaml")
    finally:
        WRONG["gamma:1b"] = saved
    registry = (project.path / "reg.yaml").read_text()
    assert f"model: {C}" in registry
    assert "consensus(" not in registry
