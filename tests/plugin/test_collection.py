"""Plugin behaviour through pytester: collection, ids, selection, markers, summary, outputs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

ALL_FAKE = "--llm-models=fake"


def test_one_item_per_case_and_model_grouped_by_model(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "evals", "--collect-only", "-q", "--llm-models=fake/right,fake/lenient"
    )
    result.stdout.fnmatch_lines(
        [
            "evals/grading.yaml::grading::GRADE_PASS_001[[]fake/right[]]",
            "evals/grading.yaml::grading::GRADE_FAIL_001[[]fake/right[]]",
            "evals/grading.yaml::grading::GRADE_PASS_001[[]fake/lenient[]]",
            "evals/grading.yaml::grading::GRADE_FAIL_001[[]fake/lenient[]]",
            "4 tests collected*",
        ]
    )


def test_models_of_several_files_run_model_by_model(suite: pytest.Pytester) -> None:
    other = (
        (suite.path / "evals" / "grading.yaml").read_text().replace("task: grading", "task: other")
    )
    (suite.path / "evals" / "other.yaml").write_text(other)
    result = suite.runpytest(
        "evals", "--collect-only", "-q", "--llm-models=fake/right,fake/lenient"
    )
    ids = [line for line in result.stdout.lines if "::" in line]
    models = [line.split("[")[1] for line in ids]
    assert models == ["fake/right]"] * 4 + ["fake/lenient]"] * 4


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("grading", 10),
        ("GRADE_FAIL_001", 5),
        ("lenient", 2),
        ("GRADE_PASS_001 and right and not slowright", 1),
    ],
)
def test_k_selects_task_case_and_model(suite: pytest.Pytester, expr: str, expected: int) -> None:
    result = suite.runpytest("evals", "--collect-only", "-q", ALL_FAKE, "-k", expr)
    result.stdout.re_match_lines([rf"^{expected}(/10)? tests collected"])


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("easy", 5),
        ("not hard", 5),
        ("hard", 5),
        ("should_pass", 5),
        ("should_fail", 5),
        ("acme", 5),
        ("tag(name='acme')", 5),
        ("batch(n=2)", 5),
        ("llmbench", 10),
    ],
)
def test_markers_select_under_strict_markers(
    suite: pytest.Pytester, expr: str, expected: int
) -> None:
    result = suite.runpytest(
        "evals", "--collect-only", "-q", "--strict-markers", ALL_FAKE, "-m", expr
    )
    result.stdout.re_match_lines([rf"^{expected}(/10)? tests collected"])
    assert result.ret == pytest.ExitCode.OK


def test_markers_are_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.easy:*",
            "@pytest.mark.hard:*",
            "@pytest.mark.batch(n):*",
            "@pytest.mark.tag(name):*",
            "@pytest.mark.should_pass:*",
            "@pytest.mark.should_fail:*",
        ]
    )


def test_summary_ranks_champion_runner_up_and_names_misses(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", ALL_FAKE, "-p", "no:benchmark")
    result.assert_outcomes(passed=6, failed=4)
    result.stdout.fnmatch_lines(
        [
            "*llmbench ranking*",
            "task grading (strict policy, 2 cases)",
            "model*correct*mean ms*p95 ms*tok/s*status",
            "fake/right*2/2*champion",
            "fake/slowright*2/2*runner-up",
            "*1/2*disqualified",
            "*1/2*disqualified",
            "fake/garbage*0/2*disqualified",
            "Champion:  fake/right (2/2 correct, mean * ms, p95 * ms)",
            "Runner-up: fake/slowright (2/2 correct, mean * ms, p95 * ms)",
            "Did not qualify:",
        ]
    )
    result.stdout.fnmatch_lines(["  fake/lenient (1/2): too lenient on GRADE_FAIL_001"])
    result.stdout.fnmatch_lines(["  fake/strict (1/2): too strict on GRADE_PASS_001"])
    result.stdout.fnmatch_lines(
        ["  fake/garbage (0/2): unparseable on GRADE_PASS_001, GRADE_FAIL_001"]
    )


def test_failure_message_names_direction_and_reason(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "evals", "--llm-models=fake/lenient,fake/garbage", "-p", "no:benchmark"
    )
    result.stdout.fnmatch_lines(
        [
            "*too lenient: expected FAIL, got PASS (expected FAIL, said PASS)",
            "*unparseable: expected PASS, got I think it is fine "
            "(no verdict (PASS/FAIL) in answer*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_no_model_qualified_names_nearest_miss(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=fake/strict,fake/garbage", "-p", "no:benchmark")
    result.stdout.fnmatch_lines(
        ["Champion:  none, no model qualified (nearest miss: fake/strict, 1/2)"]
    )


def test_json_agrees_with_summary(suite: pytest.Pytester) -> None:
    out = suite.path / "out" / "bench.json"
    result = suite.runpytest("evals", ALL_FAKE, f"--llm-json={out}", "-p", "no:benchmark")
    result.stdout.fnmatch_lines([f"llmbench: results written to {out}"])
    doc = json.loads(out.read_text())
    assert set(doc) == {"run", "results", "tasks"}
    assert len(doc["results"]) == 10
    grading = doc["tasks"]["grading"]
    assert grading["champion"] == "fake/right"
    assert grading["runner_up"] == "fake/slowright"
    assert [s["model"] for s in grading["ranking"]] == ["fake/right", "fake/slowright"]
    lenient = next(s for s in grading["disqualified"] if s["model"] == "fake/lenient")
    assert lenient["failed_cases"][0]["case_id"] == "GRADE_FAIL_001"
    assert lenient["failed_cases"][0]["direction"] == "too lenient"
    record = next(
        r
        for r in doc["results"]
        if r["model"] == "fake/lenient" and r["case_id"] == "GRADE_FAIL_001"
    )
    assert record["expected"] == "FAIL"
    assert record["got"] == "PASS"
    assert record["correct"] is False
    assert record["latency_ms"] >= 0
    assert len(record["prompt_hash"]) == 16
    mean_right = grading["ranking"][0]["mean_ms"]
    mean_slow = grading["ranking"][1]["mean_ms"]
    assert mean_right < mean_slow
    assert f"mean {mean_right:,.0f} ms" in result.stdout.str()


def test_junit_testcases_carry_properties(suite: pytest.Pytester) -> None:
    xml_path = suite.path / "junit.xml"
    suite.runpytest(
        "evals", "--llm-models=fake/lenient", f"--junitxml={xml_path}", "-p", "no:benchmark"
    )
    cases = ET.parse(xml_path).getroot().iter("testcase")
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in cases
    }
    failed = props["GRADE_FAIL_001[fake/lenient]"]
    assert failed == {
        "task": "grading",
        "case": "GRADE_FAIL_001",
        "model": "fake/lenient",
        "repeat": "1",
        "expected": "FAIL",
        "got": "PASS",
        "correct": "False",
        "latency_ms": failed["latency_ms"],
    }
    assert float(failed["latency_ms"] or "nan") >= 0
    assert props["GRADE_PASS_001[fake/lenient]"]["correct"] == "True"


def test_last_failed_reruns_only_the_misses(suite: pytest.Pytester) -> None:
    suite.runpytest("evals", ALL_FAKE, "-p", "no:benchmark")
    result = suite.runpytest("evals", ALL_FAKE, "-p", "no:benchmark", "--lf", "-q")
    result.assert_outcomes(failed=4, deselected=6)


def test_repeat_makes_one_item_per_run_and_all_must_pass(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "evals", "--llm-models=fake/right", "--llm-repeat=3", "--collect-only", "-q"
    )
    result.stdout.fnmatch_lines(
        [
            "evals/grading.yaml::grading::GRADE_PASS_001[[]fake/right-rep1[]]",
            "evals/grading.yaml::grading::GRADE_PASS_001[[]fake/right-rep2[]]",
            "evals/grading.yaml::grading::GRADE_PASS_001[[]fake/right-rep3[]]",
            "6 tests collected*",
        ]
    )


def test_user_hooks_override_the_defaults(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        (suite.path / "conftest.py").read_text()
        + """

from pytest_llmbench import Score


def pytest_llmbench_select_models(config, spec, available):
    return [m for m in available if m.name in ("strict", "lenient")]


def pytest_llmbench_score(task, case, answer):
    # this team counts every answer as right
    return Score(True, answer, "")
"""
    )
    result = suite.runpytest("evals", ALL_FAKE, "-p", "no:benchmark")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["Champion:  fake/*", "Runner-up: fake/*"])


def test_rank_hook_decides_the_order(suite: pytest.Pytester) -> None:
    suite.makeconftest(
        (suite.path / "conftest.py").read_text()
        + """

from dataclasses import replace
from pytest_llmbench import rank_strict


def pytest_llmbench_rank(config, task, results):
    ranking = rank_strict(task, results)
    return replace(ranking, notes=("ranked by the team's own hook",))
"""
    )
    result = suite.runpytest("evals", "--llm-models=fake/right", "-p", "no:benchmark")
    result.stdout.fnmatch_lines(["Note: ranked by the team's own hook"])


def test_header_lists_models(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=fake/right", "--collect-only")
    result.stdout.fnmatch_lines(["llmbench: 1 model(s): fake/right"])


def test_benchmark_fixture_records_each_call(suite: pytest.Pytester) -> None:
    out = suite.path / "bm.json"
    result = suite.runpytest("evals", "--llm-models=fake/right", f"--benchmark-json={out}")
    result.assert_outcomes(passed=2)
    benchmarks = json.loads(out.read_text())["benchmarks"]
    assert sorted(b["name"] for b in benchmarks) == [
        "GRADE_FAIL_001[fake/right]",
        "GRADE_PASS_001[fake/right]",
    ]
    assert {b["group"] for b in benchmarks} == {"grading"}
    assert all(b["stats"]["rounds"] == 1 for b in benchmarks)
    assert benchmarks[0]["extra_info"]["model"] == "fake/right"


def test_benchmark_disable_changes_nothing_else(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", ALL_FAKE, "--benchmark-disable")
    result.assert_outcomes(passed=6, failed=4)
    result.stdout.fnmatch_lines(["Champion:  fake/right*"])


STOPPING_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider


def right(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def stops(request):
    # right on the first case, then the run stops: an item fails without a record (-x
    # ends the run there), or the user presses Ctrl-C
    if "BAD" in request.prompt:
        raise STOP
    return right(request)


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider(
        "fake", {"slow": right, "fast": stops}, latency_s={"slow": 0.02}
    ))
"""

THREE_CASES_YAML = """\
task: grading
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - {id: GRADE_PASS_001, expected: {verdict: PASS}, vars: {posting: GOOD one}}
  - {id: GRADE_FAIL_001, expected: {verdict: FAIL}, vars: {posting: BAD one}}
  - {id: GRADE_PASS_002, expected: {verdict: PASS}, vars: {posting: GOOD two}}
"""


@pytest.mark.parametrize(
    ("stop", "how"),
    [
        ('RuntimeError("model server went away")', "-x"),
        ("KeyboardInterrupt()", "Ctrl-C"),
    ],
)
def test_a_run_stopped_during_the_faster_model_has_no_incomplete_champion(
    pytester: pytest.Pytester, stop: str, how: str
) -> None:
    pytester.makeconftest(f"STOP = {stop}\n" + STOPPING_CONFTEST)
    (pytester.mkdir("evals") / "grading.yaml").write_text(THREE_CASES_YAML)
    out = pytester.path / "bench.json"
    args = ["evals", "--llm-models=fake/slow,fake/fast", f"--llm-json={out}", "-p", "no:benchmark"]
    result = pytester.runpytest(*args, *(["-x"] if how == "-x" else []), no_reraise_ctrlc=True)
    result.stdout.fnmatch_lines(["*1 failed, 4 passed*" if how == "-x" else "*KeyboardInterrupt*"])
    # fake/slow ran all 3 cases; fake/fast answered GRADE_PASS_001 right and faster, then
    # the run stopped: GRADE_FAIL_001 has no answer, GRADE_PASS_002 never ran.
    result.stdout.fnmatch_lines(
        [
            "task grading (strict policy, 3 cases)",
            "model*correct*mean ms*status",
            "fake/slow*3/3*champion",
            "fake/fast*1/3*disqualified",
            "Champion:  fake/slow (3/3 correct, *",
            "Runner-up: none, only one model qualified",
            "Did not qualify:",
            "  fake/fast (1/3): incomplete: 2 of 3 cases not run",
        ]
    )
    task = json.loads(out.read_text())["tasks"]["grading"]
    assert (task["champion"], task["runner_up"]) == ("fake/slow", None)
    [fast] = task["disqualified"]
    assert fast["missing_runs"] == [
        {"case_id": "GRADE_FAIL_001", "repeat": 1},
        {"case_id": "GRADE_PASS_002", "repeat": 1},
    ]


SKIPPING_CONFTEST = """
import pytest

from pytest_llmbench.providers.scripted import ScriptedProvider


def right(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {"slow": right, "fast": right}, latency_s={"slow": 0.02}))


def pytest_collection_modifyitems(items):
    for item in items:
        if "GRADE_PASS_002" in item.nodeid and SKIPPED_FOR in item.nodeid:
            item.add_marker(pytest.mark.skip(reason="not today"))
"""


@pytest.mark.parametrize(
    ("skipped_for", "champion", "line"),
    [
        # a case skipped for every model is owed by none: the faster one is champion
        ("fake/", "fake/fast", "Runner-up: fake/slow*"),
        # skipped for the faster model only: it has not shown it gets that case right
        ("fake/fast", "fake/slow", "  fake/fast (2/3): incomplete: 1 of 3 cases not run"),
    ],
)
def test_a_skipped_case_is_owed_only_by_models_that_ran_it(
    pytester: pytest.Pytester, skipped_for: str, champion: str, line: str
) -> None:
    pytester.makeconftest(f"SKIPPED_FOR = {skipped_for!r}\n" + SKIPPING_CONFTEST)
    (pytester.mkdir("evals") / "grading.yaml").write_text(THREE_CASES_YAML)
    result = pytester.runpytest("evals", "--llm-models=fake/slow,fake/fast", "-p", "no:benchmark")
    result.stdout.fnmatch_lines([f"Champion:  {champion} *", line])


@pytest.mark.parametrize("flag", ["--ff", "--nf"])
def test_failed_first_and_new_first_keep_each_models_cases_together(
    suite: pytest.Pytester, flag: str
) -> None:
    args = ["evals", "--llm-models=fake/right,fake/lenient", "-p", "no:randomly", "-v"]
    suite.runpytest(*args).assert_outcomes(passed=3, failed=1)  # lenient on GRADE_FAIL_001
    (suite.path / "evals" / "grading.yaml").touch()
    result = suite.runpytest(*args, flag)
    ran = [
        line.split("[")[1].split("]")[0]
        for line in result.outlines
        if " PASSED" in line or " FAILED" in line
    ]
    # the failed case first within its model, and each model's cases together
    assert ran == ["fake/right", "fake/right", "fake/lenient", "fake/lenient"]
    if flag == "--ff":
        result.stdout.fnmatch_lines(
            ["*GRADE_FAIL_001?fake/lenient? FAILED*", "*GRADE_PASS_001?fake/lenient? PASSED*"]
        )
