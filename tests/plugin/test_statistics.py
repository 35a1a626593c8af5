"""The statistics through pytester: repeats, generic answers, suspect gold, policies, cost,
cold calls, the detail tables, the options, xdist, and the summary at 20 models."""

from __future__ import annotations

import json

import pytest

from tests.support.casedata import SKILLS_YAML

NO_BENCHMARK = ("-p", "no:benchmark")

# A model that is right the first time it sees a prompt and wrong after that; one
# counter per run (the provider is registered once per run).
FLIP_PROVIDER = (
    "def pytest_llmbench_register_providers(registry, config):\n",
    """def pytest_llmbench_register_providers(registry, config):
    seen = {}

    def flip(request):
        seen[request.prompt] = seen.get(request.prompt, 0) + 1
        right = by_posting(request)
        if seen[request.prompt] == 1:
            return right
        return '{"verdict": "PASS"}' if "FAIL" in right else '{"verdict": "FAIL"}'

    registry.add(ScriptedProvider("flip", {"flaky": flip}))
""",
)


@pytest.fixture
def flip_suite(suite: pytest.Pytester) -> pytest.Pytester:
    """The grading suite plus ``flip/flaky``."""
    suite.makeconftest((suite.path / "conftest.py").read_text().replace(*FLIP_PROVIDER))
    return suite


def test_right_once_is_champion_with_one_repeat(flip_suite: pytest.Pytester) -> None:
    result = flip_suite.runpytest(
        "evals", "--llm-models=flip/flaky,fake/slowright", "--llm-repeat=1", *NO_BENCHMARK
    )
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["Champion:  flip/flaky (2/2 correct*"])


def test_right_once_is_disqualified_with_three_repeats(flip_suite: pytest.Pytester) -> None:
    out = flip_suite.path / "bench.json"
    result = flip_suite.runpytest(
        "evals",
        "--llm-models=flip/flaky,fake/slowright",
        "--llm-repeat=3",
        f"--llm-json={out}",
        *NO_BENCHMARK,
    )
    # flip/flaky: right in run 1 of each case, wrong in runs 2 and 3
    result.assert_outcomes(passed=2 + 6, failed=4)
    result.stdout.fnmatch_lines(
        [
            "task grading (strict policy, 2 cases, 3 runs each)",
            "model*correct*pass^3*consist.*mean ms*status",
            "fake/slowright*6/6*1.00*1.00*champion",
            "flip/flaky*2/6*0.00*0.00*disqualified",
            "Champion:  fake/slowright (6/6 correct*",
            "Runner-up: none, only one model qualified",
            "Did not qualify:",
            "  flip/flaky (2/6): too strict on GRADE_PASS_001 (2/3); "
            "too lenient on GRADE_FAIL_001 (2/3)",
            "Flaky cases (right in some runs, wrong in others):",
            "  flip/flaky: GRADE_PASS_001 (1/3 right), GRADE_FAIL_001 (1/3 right)",
        ]
    )
    [flaky] = json.loads(out.read_text())["tasks"]["grading"]["disqualified"]
    assert flaky["repeats"]["flaky_cases"] == ["GRADE_PASS_001", "GRADE_FAIL_001"]
    assert flaky["repeats"]["pass_at_1"] == pytest.approx(1 / 3)
    assert flaky["repeats"]["consistency"] == 0.0
    # per case: right 1 of 3 runs; pass^3 = C(1, 3) / C(3, 3) = 0
    assert [(c["pass_rate"], c["pass_hat_k"]) for c in flaky["repeats"]["cases"]] == [
        (pytest.approx(1 / 3), 0.0),
        (pytest.approx(1 / 3), 0.0),
    ]


TEMPLATE_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider

SENTENCE = "Advanced technical expertise in domain-specific systems"


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {
        "template-a": lambda request: SENTENCE,
        "template-b": lambda request: SENTENCE,
        "reader": lambda request: request.prompt.splitlines()[0].removeprefix("Posting: "),
    }))
"""


@pytest.fixture
def skills_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(TEMPLATE_CONFTEST)
    (pytester.mkdir("evals") / "skills.yaml").write_text(SKILLS_YAML)
    return pytester


def test_same_sentence_for_every_case_fails_and_warns(skills_suite: pytest.Pytester) -> None:
    out = skills_suite.path / "bench.json"
    result = skills_suite.runpytest(
        "evals", "--llm-models=fake", f"--llm-json={out}", *NO_BENCHMARK
    )
    # Every item passes its own check (the sentence has "expertise" and "systems") ...
    result.assert_outcomes(passed=6)
    # ... but the session-level check fails the templated answers, and the run.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "task skills (strict policy, 2 cases)",
            "fake/reader*2/2*champion",
            "Champion:  fake/reader (2/2 correct*",
            "Did not qualify:",
            "Warning: 2 of 3 models gave near-identical answers to different inputs "
            "(fake/template-a, fake/template-b; e.g. 'Advanced",
            "    technical expertise in domain-specific systems'): check that the prompt passes "
            "the input and that the checks can",
            "    fail",
            "llmbench: 4 run(s) failed the generic-answer check (see above), so the run fails",
        ]
    )
    for model in ("fake/template-a", "fake/template-b"):  # both 0/2: their order is by speed
        result.stdout.fnmatch_lines([f"{model}*0/2*disqualified"])
        result.stdout.fnmatch_lines([f"  {model} (0/2): generic answer on SKILLS_001, SKILLS_002"])
    task = json.loads(out.read_text())["tasks"]["skills"]
    assert task["champion"] == "fake/reader"
    assert {(g["model"], g["case_id"], g["similar_to"]) for g in task["generic_answers"]} == {
        ("fake/template-a", "SKILLS_001", "SKILLS_002"),
        ("fake/template-a", "SKILLS_002", "SKILLS_001"),
        ("fake/template-b", "SKILLS_001", "SKILLS_002"),
        ("fake/template-b", "SKILLS_002", "SKILLS_001"),
    }
    failed = task["disqualified"][0]["failed_cases"][0]
    assert failed["direction"] == "generic answer"
    assert failed["reason"] == "generic answer: 1.00 similar to its answer to SKILLS_002"


def test_generic_check_can_be_switched_off(skills_suite: pytest.Pytester) -> None:
    result = skills_suite.runpytest("evals", "--llm-models=fake", "--llm-generic-threshold=off")
    assert result.ret == pytest.ExitCode.OK
    assert "generic answer" not in result.stdout.str()
    for model in ("fake/reader", "fake/template-a", "fake/template-b"):
        result.stdout.fnmatch_lines([f"{model}*2/2*"])


def test_generic_threshold_from_ini(skills_suite: pytest.Pytester) -> None:
    skills_suite.makeini("[pytest]\nllm_generic_threshold = off\n")
    result = skills_suite.runpytest("evals", "--llm-models=fake")
    assert result.ret == pytest.ExitCode.OK


def test_suspect_gold_is_flagged(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        """
from pytest_llmbench.providers.scripted import ScriptedProvider

LENIENT = lambda request: '{"verdict": "PASS"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {
        "a": LENIENT, "b": LENIENT, "c": LENIENT,
        "d": lambda request: '{"verdict": "%s"}' % ("FAIL" if "BAD" in request.prompt else "PASS"),
    }))
"""
    )
    out = suite.path / "bench.json"
    result = suite.runpytest("evals", "--llm-models=fake", f"--llm-json={out}", *NO_BENCHMARK)
    result.stdout.fnmatch_lines(
        [
            "Champion:  fake/d (2/2 correct*",
            "Suspect gold: GRADE_FAIL_001: 3 of 4 models say PASS, gold is FAIL; recheck the label",
        ]
    )
    [suspect] = json.loads(out.read_text())["tasks"]["grading"]["suspect_gold"]
    assert suspect == {
        "case_id": "GRADE_FAIL_001",
        "gold": "FAIL",
        "answer": "PASS",
        "models": ["fake/a", "fake/b", "fake/c"],
        "of": 4,
    }


def test_no_suspect_gold_when_most_models_agree_with_it(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=fake", *NO_BENCHMARK)
    assert "Suspect gold" not in result.stdout.str()


def weighted(suite: pytest.Pytester, ranking: str) -> None:
    path = suite.path / "evals" / "grading.yaml"
    text = path.read_text().replace("cases:\n", f"ranking: {ranking}\ncases:\n", 1)
    path.write_text(text)


def test_weighted_policy_from_the_case_file(suite: pytest.Pytester) -> None:
    weighted(suite, "{policy: weighted, quality: 0.5, min_correct: 0}")
    out = suite.path / "bench.json"
    result = suite.runpytest(
        "evals", "--llm-models=fake/slowright,fake/lenient", f"--llm-json={out}", *NO_BENCHMARK
    )
    # fake/lenient: 1/2 right, the fastest: 0.5 * 0.5 + 0.5 * 1 = 0.75
    # fake/slowright: 2/2 right, 50 ms a call: 0.5 + 0.5 * (lenient ms / slowright ms) < 0.75
    result.stdout.fnmatch_lines(
        [
            "task grading (weighted policy: quality 0.5, speed 0.5, 2 cases)",
            "model*correct*score*mean ms*status",
            "fake/lenient*1/2*0.750*champion",
            "fake/slowright*2/2*0.5*runner-up",
            "Champion:  fake/lenient (score 0.750, 1/2 correct*",
            "Wrong answers of ranked models:",
            "  fake/lenient (1/2): too lenient on GRADE_FAIL_001",
        ]
    )
    task = json.loads(out.read_text())["tasks"]["grading"]
    assert task["policy"] == "weighted"
    assert task["weights"] == {"quality": 0.5, "speed": 0.5}
    assert task["ranking"][0]["weighted_score"] == pytest.approx(0.75)


def test_llm_rank_overrides_the_case_file(suite: pytest.Pytester) -> None:
    weighted(suite, "{policy: weighted, quality: 0.5, min_correct: 0}")
    result = suite.runpytest(
        "evals", "--llm-models=fake/slowright,fake/lenient", "--llm-rank=strict", *NO_BENCHMARK
    )
    result.stdout.fnmatch_lines(
        ["task grading (strict policy, 2 cases)", "Champion:  fake/slowright (2/2 correct*"]
    )
    result = suite.runpytest(
        "evals", "--llm-models=fake/slowright,fake/right", "--llm-rank=weighted", *NO_BENCHMARK
    )
    # the file's weights apply when --llm-rank picks the weighted policy
    result.stdout.fnmatch_lines(["task grading (weighted policy: quality 0.5, speed 0.5, 2 cases)"])


def test_default_weights_without_any_in_the_file(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=fake/right", "--llm-rank=weighted")
    result.stdout.fnmatch_lines(["task grading (weighted policy: quality 0.7, speed 0.3, 2 cases)"])


def test_cold_call_is_marked_and_kept_apart(suite: pytest.Pytester) -> None:
    out = suite.path / "bench.json"
    suite.runpytest(
        "evals", "--llm-models=fake/right", "--llm-repeat=2", f"--llm-json={out}", *NO_BENCHMARK
    )
    doc = json.loads(out.read_text())
    # the first call of the model in the process, and only that one
    assert [r["cold"] for r in doc["results"]] == [True, False, False, False]
    [right] = doc["tasks"]["grading"]["ranking"]
    assert right["cold"]["n"] == 1
    assert right["latency"]["n"] == 3


def test_prices_from_ini_give_cost_per_1000_requests(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nllm_prices =\n    fake/slow* = hourly 3.6\n")
    out = suite.path / "bench.json"
    result = suite.runpytest(
        "evals", "--llm-models=fake/right,fake/slowright", f"--llm-json={out}", *NO_BENCHMARK
    )
    result.stdout.fnmatch_lines(["model*correct*mean ms*$/1k*status", "fake/right*-*champion"])
    ranked = {s["model"]: s for s in json.loads(out.read_text())["tasks"]["grading"]["ranking"]}
    # hourly: mean ms * 3.6 / 3600 = mean ms / 1000 dollars per 1,000 requests
    slow = ranked["fake/slowright"]
    assert slow["cost_basis"] == "hourly"
    assert slow["cost_per_1k_requests"] == pytest.approx(slow["mean_ms"] / 1000)
    assert (ranked["fake/right"]["cost_basis"], ranked["fake/right"]["cost_per_1k_requests"]) == (
        "unknown",
        None,
    )


def test_prices_from_a_file(suite: pytest.Pytester) -> None:
    (suite.path / "prices.yaml").write_text('"fake/*": {hourly: 0}\n')
    out = suite.path / "bench.json"
    suite.runpytest(
        "evals", "--llm-models=fake/right", "--llm-prices=prices.yaml", f"--llm-json={out}"
    )
    [right] = json.loads(out.read_text())["tasks"]["grading"]["ranking"]
    assert (right["cost_basis"], right["cost_per_1k_requests"]) == ("hourly", 0.0)


def test_verbose_shows_the_detail_tables(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=fake/right,fake/lenient", "-v")
    result.stdout.fnmatch_lines(
        [
            "task grading: latency (warm calls), pass rate and cost",
            "model*runs*mean ms*sd ms*95% CI ms*p99 ms*cold ms*pass@1*",
            "task grading: verdicts, positive = the FAIL side (bad items)",
            "model*accuracy*precision*recall*F1*tp*fn*fp*tn*none",
            "fake/right*1.00*1.00*1.00*1.00*1*0*0*1*0",
            "fake/lenient*0.50*-*0.00*0.00*0*1*0*1*0",
        ]
    )


def test_json_has_verdict_metrics_and_latency_statistics(suite: pytest.Pytester) -> None:
    out = suite.path / "bench.json"
    suite.runpytest("evals", "--llm-models=fake/lenient", f"--llm-json={out}", *NO_BENCHMARK)
    [lenient] = json.loads(out.read_text())["tasks"]["grading"]["disqualified"]
    assert lenient["verdict_metrics"] == {
        "accuracy": 0.5,
        "precision": None,
        "recall": 0.0,
        "f1": 0.0,
        "tp": 0,
        "fn": 1,
        "fp": 0,
        "tn": 1,
        "unanswered_fail": 0,
        "unanswered_pass": 0,
        "confusion": {
            "PASS": {"PASS": 1, "FAIL": 0, "none": 0},
            "FAIL": {"PASS": 1, "FAIL": 0, "none": 0},
        },
    }
    assert set(lenient["latency"]) == {
        "n",
        "mean_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "stdev_ms",
        "ci95_ms",
        "speed",
    }


MANY_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider


def answer(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def lenient(request):
    return '{"verdict": "PASS"}'


NAMES = [f"qwen2.5-instruct-{i:02d}:32b-instruct-q4_K_M-with-a-very-long-tag" for i in range(20)]


def pytest_llmbench_register_providers(registry, config):
    answers = {name: (answer if i % 3 else lenient) for i, name in enumerate(NAMES)}
    registry.add(ScriptedProvider("ollama-like-provider", answers))
"""


def test_summary_of_twenty_models_fits_in_120_columns(suite: pytest.Pytester) -> None:
    suite.makeconftest(MANY_CONFTEST)
    suite.makeini("[pytest]\nllm_prices =\n    ollama-like-provider/* = hourly 0.8\n")
    result = suite.runpytest(
        "evals", "--llm-models=ollama-like-provider", "--llm-repeat=2", "-v", *NO_BENCHMARK
    )
    # 7 of the 20 models are lenient: wrong on GRADE_FAIL_001 in both runs
    result.assert_outcomes(passed=80 - 14, failed=14)
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if "llmbench ranking" in line)
    summary = lines[start + 1 :]
    summary = summary[: next(i for i, line in enumerate(summary) if line.startswith("====="))]
    assert len(summary) > 40
    too_wide = [line for line in summary if len(line) > 120]
    assert too_wide == []
    # one table for the task, every model in it once
    assert sum(1 for line in summary if line.startswith("task grading (strict")) == 1
    assert sum(1 for line in summary if "champion" in line or "runner-up" in line) >= 2
    assert sum(1 for line in summary if line.endswith("disqualified")) == 7
