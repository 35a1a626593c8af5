"""``--llm-eliminate``: a model's runs of a strict task stop after its first wrong one.

Scripted models on six cases, two runs each: ``right`` and ``slowright`` qualify,
``lenient`` says PASS to everything, ``strict`` FAIL to everything, ``flaky`` gets the
hard PASS case wrong on its second run only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider

REMOTE = {remote}


def pytest_llmbench_register_providers(registry, config):
    seen = {{}}

    def right(request):
        return '{{"verdict": "PASS"}}' if "GOOD" in request.prompt else '{{"verdict": "FAIL"}}'

    def flaky(request):
        seen[request.prompt] = seen.get(request.prompt, 0) + 1
        if "hard one" in request.prompt and seen[request.prompt] == 2:
            return '{{"verdict": "FAIL"}}'
        return right(request)

    provider = ScriptedProvider("fake", {{
        "right": right,
        "slowright": right,
        "lenient": lambda request: '{{"verdict": "PASS"}}',
        "strict": lambda request: '{{"verdict": "FAIL"}}',
        "flaky": flaky,
    }}, latency_s={{"slowright": 0.01}}, remote=REMOTE)
    registry.add(provider)
    config.scripted = provider
"""

CASES = [
    # (id, verdict, difficulty, posting)
    ("CASE_01", "PASS", "easy", "GOOD easy one"),
    ("CASE_02", "FAIL", "easy", "BAD easy one"),
    ("CASE_03", "PASS", "hard", "GOOD hard one"),
    ("CASE_04", "FAIL", "hard", "BAD hard one"),
    ("CASE_05", "PASS", "medium", "GOOD medium one"),
    ("CASE_06", "FAIL", "medium", "BAD medium one"),
]
FIRST_ROUND = ["CASE_04", "CASE_06", "CASE_02", "CASE_03", "CASE_05", "CASE_01"]
"""No history: gold FAIL first, then hard before medium before easy."""

TASK = "\n".join(
    [
        "task: grading",
        'prompt: "Posting: {posting}\\nAnswer PASS or FAIL."',
        "output: {kind: verdict, labels: [PASS, FAIL]}",
        "repeat: 2",
        "cases:",
    ]
    + [
        f"  - {{id: {cid}, expected: {{verdict: {v}}}, difficulty: {d}, "
        f"vars: {{posting: {p}}}, why: test}}"
        for cid, v, d, p in CASES
    ]
)


@pytest.fixture
def fleet(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.format(remote=False))
    (pytester.mkdir("evals") / "grading.yaml").write_text(TASK + "\n")
    return pytester


def _run(pytester: pytest.Pytester, name: str, *args: str) -> tuple[Any, dict[str, Any]]:
    out = pytester.path / f"{name}.json"
    if not any(a.startswith("--llm-history") for a in args):  # runs do not read each other's
        args = (*args, f"--llm-history={pytester.path / name}.sqlite")
    result = pytester.runpytest(
        "evals",
        "--llm-models=fake",
        "-p",
        "no:benchmark",
        "-p",
        "no:cacheprovider",
        f"--llm-json={out}",
        *args,
    )
    return result, json.loads(out.read_text())["tasks"]["grading"]


def _standing(task: dict[str, Any], model: str) -> dict[str, Any]:
    return next(s for s in task["ranking"] + task["disqualified"] if s["model"] == model)


def test_same_champion_and_runner_up_and_eliminated_reasons(fleet: pytest.Pytester) -> None:
    full, full_task = _run(fleet, "full", "--llm-fail-on=champion", "--llm-eliminate=off")
    full.assert_outcomes(passed=47, xfailed=13)
    swept, task = _run(fleet, "swept", "--llm-fail-on=champion", "-rs")
    assert (task["champion"], task["runner_up"]) == ("fake/right", "fake/slowright")
    assert (task["champion"], task["runner_up"]) == (full_task["champion"], full_task["runner_up"])
    # right and slowright run all 12; lenient 1, strict 4, flaky 6 + 4.
    swept.assert_outcomes(passed=24 + 3 + 9, xfailed=3, skipped=11 + 8 + 2)
    expected = {
        "fake/lenient": ("CASE_04", 1),
        "fake/strict": ("CASE_03", 4),
        "fake/flaky": ("CASE_03", 10),
    }
    for model, (case_id, made) in expected.items():
        s = _standing(task, model)
        assert s["status"] == "disqualified"
        assert s["eliminated"] == {"case_id": case_id, "made": made, "runs": 12}
        assert s["missing_runs"] == []  # disqualified by a case, never incomplete
        swept.stdout.fnmatch_lines(
            [f"*{model} (*/12): eliminated after {case_id}, {made} of 12 runs made*"]
        )
        swept.stdout.fnmatch_lines(
            [f"SKIPPED * evals?grading.yaml:*: eliminated after {case_id}, {made} of 12 runs*"]
        )
    assert "partial run" not in swept.stdout.str()
    assert _standing(task, "fake/right")["eliminated"] is None


def test_round_by_round_likeliest_misses_first(fleet: pytest.Pytester) -> None:
    result, _ = _run(fleet, "swept", "--llm-fail-on=champion", "-v")
    order = [
        line.split("::")[2].split(" ")[0]
        for line in result.stdout.lines
        if "fake/right-rep" in line and "::" in line
    ]
    assert order == [f"{c}[fake/right-rep1]" for c in FIRST_ROUND] + [
        f"{c}[fake/right-rep2]" for c in FIRST_ROUND
    ]


def test_second_sweep_runs_the_history_misses_first(fleet: pytest.Pytester) -> None:
    history = fleet.path / "history.sqlite"
    _run(fleet, "first", "--llm-fail-on=champion", f"--llm-history={history}")
    _, task = _run(fleet, "second", "--llm-fail-on=champion", f"--llm-history={history}")
    # strict missed CASE_03 last time: it goes first now, and out at once.
    assert _standing(task, "fake/strict")["eliminated"]["made"] == 1
    # flaky missed CASE_03's second run: both runs of CASE_03 go first, out after 2
    # (round by round it would have made 6 + 1).
    assert _standing(task, "fake/flaky")["eliminated"] == {
        "case_id": "CASE_03",
        "made": 2,
        "runs": 12,
    }
    assert (task["champion"], task["runner_up"]) == ("fake/right", "fake/slowright")


def test_off_by_default_when_a_wrong_answer_fails_its_test(fleet: pytest.Pytester) -> None:
    result, task = _run(fleet, "default")
    result.assert_outcomes(passed=47, failed=13)
    assert all(s["eliminated"] is None for s in task["disqualified"])


def test_eliminated_items_are_not_sent_ahead(pytester: pytest.Pytester) -> None:
    (pytester.mkdir("evals") / "grading.yaml").write_text(TASK + "\n")
    calls = pytester.path / "calls.json"
    pytester.makeconftest(
        CONFTEST.format(remote=True)
        + f"""

def pytest_unconfigure(config):
    import json, pathlib
    calls = [model for model, _ in config.scripted.calls]
    pathlib.Path({str(calls)!r}).write_text(json.dumps(calls))
"""
    )
    history = f"--llm-history={pytester.path / 'history.sqlite'}"
    result, task = _run(pytester, "remote", "--llm-fail-on=champion", history)
    made = json.loads(calls.read_text())
    # At most the request sent ahead while the wrong answer was being scored is wasted.
    assert made.count("lenient") <= 2
    assert made.count("strict") <= 5
    assert made.count("right") == 12
    assert _standing(task, "fake/lenient")["eliminated"]["made"] == 1
    assert result.ret == 0
    # Next time the history says lenient gets CASE_04 wrong: nothing is sent after it.
    _run(pytester, "again", "--llm-fail-on=champion", history)
    made = json.loads(calls.read_text())
    assert made.count("lenient") == 1
    assert made.count("strict") == 1
