"""A/B of two prompt versions: the exact McNemar test, the decision rule, ``llmbench ab``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_llmbench.analysis.ab import ABRule, compare_versions, mcnemar_exact
from pytest_llmbench.cli import main
from pytest_llmbench.cli.ab import run_ab
from pytest_llmbench.cli.main import build_parser
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import Request
from pytest_llmbench.providers.scripted import ScriptedProvider
from tests.support import factories

CASES = 10
BROKEN_BY_V2 = {1}
FIXED_BY_V2 = {8, 9, 10}


def right(version: str, case: int) -> bool:
    """v1 is right on cases 1-7; v2 fixes 8, 9 and 10 and breaks 1."""
    if version == "v1":
        return case <= 7
    return case not in BROKEN_BY_V2


def answer(request: Request) -> str:
    number = int(re.search(r"case (\d+)", request.prompt).group(1))  # type: ignore[union-attr]
    version = "v2" if "carefully" in request.prompt else "v1"
    return '{"verdict": "PASS"}' if right(version, number) else '{"verdict": "FAIL"}'


def write_task(root: Path) -> Path:
    (root / "prompts").mkdir()
    (root / "prompts" / "grading_v1.txt").write_text("Posting: {posting}\nPASS or FAIL?")
    (root / "prompts" / "grading_v2.txt").write_text("Read carefully.\n{posting}\nPASS or FAIL?")
    cases = "".join(
        f"  - id: CASE_{n:02d}\n    expected: {{verdict: PASS}}\n    vars: {{posting: case {n}}}\n"
        for n in range(1, CASES + 1)
    )
    path = root / "grading.yaml"
    path.write_text(
        "task: grading\nprompts:\n  v1: {file: prompts/grading_v1.txt}\n"
        "  v2: {file: prompts/grading_v2.txt}\noutput: {kind: verdict}\ncases:\n" + cases
    )
    return path


def result(
    version: str, case: int, ms: float, model: str = "p/m", cost: float | None = None
) -> Result:
    return factories.result(
        model,
        f"CASE_{case:02d}",
        got="",
        correct=right(version, case),
        latency_ms=ms,
        prompt_version=version,
        cost_usd=cost,
    )


def results(a_ms: float = 100.0, b_ms: float = 100.0) -> list[Result]:
    return [result("v1", n, a_ms) for n in range(1, CASES + 1)] + [
        result("v2", n, b_ms) for n in range(1, CASES + 1)
    ]


# --------------------------------------------------------------------------- McNemar


def test_mcnemar_against_hand_computations() -> None:
    # 3 fixed, 1 broken: n = 4, k = 1: p = 2 * (C(4,0) + C(4,1)) / 2^4 = 2 * 5 / 16.
    assert mcnemar_exact(3, 1) == pytest.approx(0.625)
    assert mcnemar_exact(1, 3) == pytest.approx(0.625)
    # 5 fixed, 0 broken: p = 2 * 1 / 32.
    assert mcnemar_exact(5, 0) == pytest.approx(0.0625)
    # 10 and 2: p = 2 * (1 + 12 + 66) / 4096.
    assert mcnemar_exact(10, 2) == pytest.approx(158 / 4096)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(2, 2) == 1.0  # capped at 1


# --------------------------------------------------------------------------- the rule


def test_v2_fixing_three_and_breaking_one_ships_under_the_5_point_rule() -> None:
    report = compare_versions("grading", results(), "v1", "v2")
    overall = report.overall
    assert (overall.pairs, overall.a_correct, overall.b_correct) == (10, 7, 9)
    assert (overall.fixed, overall.broken) == (3, 1)
    assert overall.p_value == pytest.approx(0.625)
    assert overall.gain_points == pytest.approx(20.0)
    assert report.decision == "ship B"
    assert [c.model for c in report.models] == ["p/m"]


def test_a_gain_below_the_bar_keeps_a() -> None:
    report = compare_versions("grading", results(), "v1", "v2", ABRule(min_gain=25.0))
    assert report.decision == "keep A"
    assert "below the 25-point bar" in report.overall.why


def test_slower_or_costlier_beyond_the_tolerance_keeps_a() -> None:
    slow = compare_versions("grading", results(a_ms=100.0, b_ms=125.0), "v1", "v2")
    assert slow.decision == "keep A"
    assert "+25% latency" in slow.overall.why
    within = compare_versions("grading", results(a_ms=100.0, b_ms=108.0), "v1", "v2")
    assert within.decision == "ship B"
    costly = [
        result(
            r.prompt_version,
            int(r.case_id[-2:]),
            100.0,
            cost=0.01 if r.prompt_version == "v1" else 0.02,
        )
        for r in results()
    ]
    assert compare_versions("grading", costly, "v1", "v2").decision == "keep A"


def test_per_model_and_overall() -> None:
    other = [result(v, n, 50.0, model="p/other") for v in ("v1", "v2") for n in range(1, 11)]
    report = compare_versions("grading", [*results(), *other], "v1", "v2")
    assert [c.model for c in report.models] == ["p/m", "p/other"]
    assert report.overall.pairs == 20
    assert (report.overall.fixed, report.overall.broken) == (6, 2)


# --------------------------------------------------------------------------- the command


def test_ab_command_runs_both_versions_and_decides(tmp_path: Path) -> None:
    path = write_task(tmp_path)
    provider = ScriptedProvider("fake", {"m": answer})
    args = build_parser().parse_args(
        ["ab", str(path), "--a", "v1", "--b", "v2", "--models", "fake/m",
         "--latency-tolerance", "100"]
    )  # fmt: skip
    lines = run_ab(args, providers={"fake": provider})
    text = "\n".join(lines)
    assert "task grading: A = v1, B = v2" in text
    assert re.search(r"fake/m\s+10\s+70.0%\s+90.0%\s+\+20.0\s+3/1\s+0.625", text)
    assert lines[-1].startswith("Decision: ship B (accuracy +20.0 points")
    assert len(provider.calls) == 20  # every case with each version


def test_ab_json_for_ci(tmp_path: Path) -> None:
    path = write_task(tmp_path)
    args = build_parser().parse_args(
        ["ab", str(path), "--a", "v1", "--b", "v2", "--models", "fake/m", "--json",
         "--latency-tolerance", "100", "--min-gain", "30"]
    )  # fmt: skip
    [text] = run_ab(args, providers={"fake": ScriptedProvider("fake", {"m": answer})})
    document = json.loads(text)
    assert document["decision"] == "keep A"
    assert document["overall"]["p_value"] == pytest.approx(0.625)
    assert document["overall"]["fixed"] == 3
    assert document["overall"]["broken"] == 1
    assert document["models"][0]["b_accuracy"] == pytest.approx(0.9)
    assert document["rule"]["min_gain"] == 30.0


def test_ab_reads_the_results_of_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_task(tmp_path)
    from pytest_llmbench.storage.codec import encode

    run = tmp_path / "run.json"
    run.write_text(json.dumps({"run": {}, "results": [encode(r) for r in results()], "tasks": {}}))
    status = main(["ab", str(path), "--a", "v1", "--b", "v2", "--results", str(run)])
    assert status == 0
    assert "Decision: ship B" in capsys.readouterr().out


def test_ab_unknown_version_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_task(tmp_path)
    assert main(["ab", str(path), "--a", "v1", "--b", "v7", "--models", "fake/m"]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("no prompt version 'v7'; it has v1, v2")
