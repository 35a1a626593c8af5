"""Prompt versions without pytest: templates per version, ranking and gate by version."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.analysis.ranking import best_versions, rank_task
from pytest_llmbench.analysis.regression import compare
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.execution.results import Result
from tests.support import factories
from tests.support.casedata import VERSIONED, write_versioned_project


def test_versions_render_every_case_with_their_own_template(tmp_path: Path) -> None:
    task = load_task(write_versioned_project(tmp_path))
    assert [v.name for v in task.versions] == ["v1", "v2"]
    v1, v2 = task.versions
    assert v1.file == "prompts/grading_v1.txt"
    assert [c.prompt for c in v2.cases] == [
        "Read carefully.\nPosting: GOOD one\nPASS or FAIL?",
        "Read carefully.\nPosting: BAD one\nPASS or FAIL?",
    ]
    assert {c.prompt_version for c in v2.cases} == {"v2"}
    assert {c.prompt_version_hash for c in v2.cases} == {v2.hash}
    assert v1.hash != v2.hash
    assert len(v1.hash) == 16
    assert task.cases == v1.cases  # the first version stands for the task
    assert task.template == "Posting: {posting}\nPASS or FAIL?"
    assert v2.cases[0].vars == {"posting": "GOOD one"}


def test_a_single_prompt_has_no_version(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "task: t\nprompt: 'Q {x}'\ncases: [{id: A, expected: {contains: [a]}, vars: {x: 1}}]\n"
    )
    task = load_task(path)
    assert task.versions == ()
    assert task.cases[0].prompt_version == ""
    assert task.cases[0].prompt_version_hash == ""


def test_a_version_missing_a_variable_and_prompt_with_prompts_are_errors(tmp_path: Path) -> None:
    path = write_versioned_project(tmp_path)
    (path.parent / "prompts" / "grading_v2.txt").write_text("{posting} and {summary}")
    path.write_text(VERSIONED.replace("prompts:\n", "prompt: x\nprompts:\n"))
    with pytest.raises(CaseFileError) as info:
        load_task(path)
    message = str(info.value)
    assert "give either prompt or prompts, not both" in message
    assert (
        "template variable {summary} has no value in case 'GRADE_PASS_001' (prompt version v2)"
        in message
    )
    assert message.count("{summary}") == 2  # once per case, not once per version and case


def result(model: str, version: str, case: str, correct: bool, ms: float) -> Result:
    return factories.result(
        model,
        case,
        got="PASS" if correct else "FAIL",
        correct=correct,
        latency_ms=ms,
        prompt_version=version,
        prompt_version_hash=f"hash-{version}",
    )


def pairs_results(v2_right: bool = True) -> list[Result]:
    return [
        result("p/small", "v1", "A", True, 10),
        result("p/small", "v1", "B", False, 10),
        result("p/small", "v2", "A", True, 12),
        result("p/small", "v2", "B", v2_right, 12),
        result("p/big", "v1", "A", True, 50),
        result("p/big", "v1", "B", True, 50),
        result("p/big", "v2", "A", True, 55),
        result("p/big", "v2", "B", True, 55),
    ]


def test_the_ranking_ranks_model_version_pairs() -> None:
    ranking = rank_task("grading", pairs_results())
    assert [s.model for s in ranking.standings] == [
        "p/small@v2",
        "p/big@v1",
        "p/big@v2",
        "p/small@v1",
    ]
    champion = ranking.champion
    assert champion is not None
    assert (champion.model_id, champion.prompt_version) == ("p/small", "v2")
    assert champion.prompt_version_hash == "hash-v2"
    best = best_versions(ranking)
    assert {model: s.prompt_version for model, s in best.items()} == {
        "p/small": "v2",
        "p/big": "v1",
    }


def test_the_gate_compares_a_version_with_the_same_version() -> None:
    baseline = [rank_task("grading", pairs_results())]
    current = [rank_task("grading", pairs_results(v2_right=False))]
    report = compare(baseline, current, max_slowdown=10.0)
    # small@v2 was the champion; now small@v2 is wrong on B.  small@v1 (also wrong) and
    # big@v1 (right) are other pairs and do not stand in for it.
    assert any("champion p/small@v2 lost correctness: 1/2" in r for r in report.reasons)
    assert report.notes == ()


def test_the_gate_names_a_version_whose_text_changed() -> None:
    baseline = [rank_task("grading", pairs_results())]
    edited = [
        Result(**{**r.to_dict(), "prompt_version_hash": "hash-v2-edited"})
        if r.prompt_version == "v2"
        else r
        for r in pairs_results()
    ]
    report = compare(baseline, [rank_task("grading", edited)], max_slowdown=10.0)
    assert not report.failed
    assert report.notes == (
        "grading: prompt v2 changed since the baseline (hash hash-v2 -> hash-v2-edited)",
    )
