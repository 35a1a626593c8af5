"""The judge check: scripted candidates and a scripted judge through pytest (pytester), the
scheduling on a one-slot emulated Ollama, calibration against gold, and the pure parts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.casedata import NO_LLAMACPP_PROVIDER
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator

CONFTEST = (
    NO_LLAMACPP_PROVIDER
    + """
import json

from pytest_llmbench.providers.scripted import ScriptedProvider


def answer_of(request):
    return request.prompt.split("Answer to grade:", 1)[1].split("Reply with JSON", 1)[0]


def judge(request):
    answer = answer_of(request)
    if "Nordhafen" in answer or ("GOOD" in answer and "TRICKY" not in answer):
        return json.dumps({"score": 0.9, "reason": "Names the company and the role."})
    return json.dumps({"score": 0.2, "reason": "Does not name the company."})


def verdict(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(NoLlamaCpp())
    registry.add(ScriptedProvider("cand", {
        "good": lambda r: "Nordhafen Bank seeks a Data Engineer.",
        "bad": lambda r: "A great company seeks great talent.",
        "verdict": verdict,
    }))
    registry.add(ScriptedProvider("jp", {
        "judge": judge,
        "broken": lambda r: "I think it is fine.",
    }, latency_s={"judge": 0.15}))
"""
)


def summary_task(judge: str, cases: int = 2) -> str:
    lines = [
        "task: summary",
        "prompt: 'Summarise in one sentence: {posting}'",
        f"judge: {judge}",
        "cases:",
    ]
    for i in range(1, cases + 1):
        lines += [
            f"  - id: S{i}",
            "    expected:",
            "      judge: {rubric: Names the hiring company and the role., pass: 0.7}",
            "    vars: {posting: Nordhafen Bank is hiring a Data Engineer in Hamburg.}",
        ]
    return "\n".join(lines) + "\n"


def grading_task(cases: int = 10, tricky: int = 0, judge: str = "") -> str:
    """A verdict task whose cases carry a gold verdict and a rubric (calibration cases);
    the last ``tricky`` good summaries are ones the scripted judge gets wrong."""
    lines = [
        "task: grading",
        "prompt: 'Summary: {summary}\\nPASS or FAIL?'",
        "output: {kind: verdict}",
        *([f"judge: {judge}"] if judge else []),
        "cases:",
    ]
    for i in range(1, cases + 1):
        good = i % 2 == 1
        text = "GOOD summary" if good else "BAD summary"
        if good and i > cases - 2 * tricky:
            text = "TRICKY GOOD summary"
        lines += [
            f"  - id: G{i:02d}",
            f"    expected: {{verdict: {'PASS' if good else 'FAIL'}, judge: {{rubric: Is good.}}}}",
            f"    vars: {{summary: {text}}}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.mkdir("evals")
    return pytester


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest(
        "evals", "--llm-json=out.json", "-p", "no:benchmark", "-p", "no:cacheprovider", *args
    )


def records(project: pytest.Pytester) -> dict[str, list[dict[str, Any]]]:
    doc = json.loads((project.path / "out.json").read_text())
    out: dict[str, list[dict[str, Any]]] = {}
    for r in doc["results"]:
        out.setdefault(r["model"], []).append(r)
    return out


# --------------------------------------------------------------------------- acceptance 1


def test_judge_scores_and_reasons_are_recorded_apart_from_the_candidates_time(
    project: pytest.Pytester,
) -> None:
    (project.path / "evals" / "summary.yaml").write_text(summary_task("{model: jp/judge}"))
    result = run(project, "--llm-models=cand/good,cand/bad")
    result.assert_outcomes(passed=4)  # each item's own checks: none but the judge's
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the judge failed cand/bad twice
    by_model = records(project)
    for r in by_model["cand/good"]:
        assert (r["correct"], r["score"], r["judge_score"]) == (True, 0.9, 0.9)
        assert r["judge_model"] == "jp/judge"
        assert r["judge_reason"] == "Names the company and the role."
        assert r["judge_ms"] >= 150  # the judge's own time (a 150 ms sleep) ...
        assert r["latency_ms"] < r["judge_ms"]  # ... is not the candidate's (no sleep)
        assert r["completion_tokens"] == 6  # the candidate's tokens only
    for r in by_model["cand/bad"]:
        assert (r["correct"], r["score"], r["error"]) == (False, 0.2, None)
        assert r["reason"] == "judge 0.2 < 0.7: Does not name the company."
    result.stdout.fnmatch_lines(["*[100%]", "llmbench: judging 4 answers with jp/judge ..."])
    result.stdout.fnmatch_lines(
        [
            "Champion:  cand/good (mean score 0.90, 2/2 correct, mean 0 ms, p95 0 ms)",
            "  cand/bad (0/2): wrong on S1, S2",
            "Judge: jp/judge: 4 answer(s) scored, 2 below the rubric's pass; mean 1?? ms a "
            "call (not in the candidates' time)",
            "llmbench: the judge failed 2 run(s) or could not judge them, so the run fails:",
            "  summary S? cand/bad: jp/judge scored 0.2 < 0.7: Does not name the company.",
            "  summary S? cand/bad: jp/judge scored 0.2 < 0.7: Does not name the company.",
        ]
    )


def test_judge_from_the_registry_falls_back_to_the_runner_up(project: pytest.Pytester) -> None:
    (project.path / "evals" / "summary.yaml").write_text(summary_task("{task: grading}"))
    (project.path / "reg.yaml").write_text(
        "version: 1\ntasks:\n  grading:\n"
        "    champion: {model: jp/gone, correct: 10, total: 10}\n"
        "    runner_up: {model: jp/judge, correct: 10, total: 10}\n"
    )
    result = run(project, "--llm-models=cand/good", "--llm-registry=reg.yaml")
    assert result.ret == pytest.ExitCode.OK
    assert {r["judge_model"] for r in records(project)["cand/good"]} == {"jp/judge"}


def test_judge_from_the_registry_takes_the_champion(project: pytest.Pytester) -> None:
    (project.path / "evals" / "summary.yaml").write_text(summary_task("{task: grading}"))
    (project.path / "reg.yaml").write_text(
        "version: 1\ntasks:\n  grading:\n"
        "    champion: {model: jp/broken, correct: 10, total: 10}\n"
        "    runner_up: {model: jp/judge, correct: 10, total: 10}\n"
    )
    run(project, "--llm-models=cand/good", "--llm-registry=reg.yaml")
    assert {r["judge_model"] for r in records(project)["cand/good"]} == {"jp/broken"}


def test_self_judging_is_flagged(project: pytest.Pytester) -> None:
    (project.path / "evals" / "summary.yaml").write_text(summary_task("{model: cand/good}"))
    result = run(project, "--llm-models=cand/good")
    result.stdout.fnmatch_lines(["Warning: self-preference: cand/good judged its own answers"])


def test_a_judge_failure_is_the_runs_error_naming_the_judge(project: pytest.Pytester) -> None:
    (project.path / "evals" / "summary.yaml").write_text(summary_task("{model: jp/broken}"))
    result = run(project, "--llm-models=cand/good")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    for r in records(project)["cand/good"]:
        assert r["error"].startswith("judge jp/broken failed: not valid JSON")
        assert r["score"] == 0.0
        assert r["judge_score"] is None
    result.stdout.fnmatch_lines(
        [
            "  cand/good (0/2): error on S1, S2; a judge error, not a wrong answer: judge "
            "jp/broken failed: not valid JSON*",
            "*2 judge error(s)*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "llmbench: the judge failed 2 run(s) or could not judge them, so the run fails:",
            "  summary S1 cand/good: judge jp/broken failed: not valid JSON*",
        ]
    )


def test_an_unavailable_judge_is_named(project: pytest.Pytester) -> None:
    (project.path / "evals" / "summary.yaml").write_text(summary_task("{model: jp/nobody}"))
    run(project, "--llm-models=cand/good")
    assert {r["error"] for r in records(project)["cand/good"]} == {
        "judge jp/nobody failed: judge jp/nobody is not available"
    }


# --------------------------------------------------------------------------- acceptance 3


def test_calibration_reports_agreement_and_warns_under_90_percent(
    project: pytest.Pytester,
) -> None:
    evals = project.path / "evals"
    (evals / "grading.yaml").write_text(
        grading_task(tricky=2, judge="{model: jp/judge, answer: summary}")
    )
    result = run(
        project, "--llm-models=cand/verdict", "-W", "default::pytest_llmbench.LLMBenchWarning"
    )
    result.stdout.fnmatch_lines(
        [
            "Judge agreement: jp/judge agrees with the gold on 80% of 10 cases of grading "
            "(disagrees on G07, G09)",
            "Warning: judge jp/judge agrees with the gold on 80% of 10 cases of grading "
            "(disagrees on G07, G09): under 90%",
            "*LLMBenchWarning: judge jp/judge agrees with the gold on 80%*",
        ]
    )


def test_a_judged_task_shows_its_judges_agreement(project: pytest.Pytester) -> None:
    evals = project.path / "evals"
    (evals / "grading.yaml").write_text(grading_task(judge="{answer: summary}"))
    (evals / "summary.yaml").write_text(summary_task("{model: jp/judge, calibrate: grading}"))
    result = run(project, "--llm-models=cand/good,cand/verdict", "-k", "summary or grading")
    result.stdout.fnmatch_lines(
        ["Judge agreement: jp/judge agrees with the gold on 100% of 10 cases of grading"]
    )
    assert "under 90%" not in result.stdout.str()


# --------------------------------------------------------------------------- acceptance 2


def emulated(model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
    if isinstance(fmt, dict) and "score" in fmt.get("properties", {}):
        return json.dumps({"score": 0.8, "reason": "Fine."})
    return "Nordhafen Bank seeks a Data Engineer."


@pytest.fixture
def one_slot() -> Iterator[OllamaEmulator]:
    models = [EmulatedModel("a:1b"), EmulatedModel("b:1b"), EmulatedModel("j:1b")]
    with OllamaEmulator(models=models, answer=emulated, resident_slots=1) as server:
        yield server
    assert server.errors == []


def test_the_judge_is_loaded_once_after_the_candidates_on_a_one_slot_server(
    project: pytest.Pytester, one_slot: OllamaEmulator
) -> None:
    (project.path / "evals" / "summary.yaml").write_text(
        summary_task("{model: ollama/j:1b}", cases=10)
    )
    result = run(
        project, f"--llm-ollama-host={one_slot.url}", "--llm-models=ollama/a:1b,ollama/b:1b"
    )
    assert result.ret == pytest.ExitCode.OK
    assert sum(one_slot.loads.values()) == 3
    assert one_slot.loads == {"a:1b": 1, "b:1b": 1, "j:1b": 1}
    assert one_slot.evictions == {}
    assert one_slot.requests == {"a:1b": 10, "b:1b": 10, "j:1b": 20}
    judged = [r for rs in records(project).values() for r in rs]
    assert {(r["judge_model"], r["judge_score"]) for r in judged} == {("ollama/j:1b", 0.8)}
