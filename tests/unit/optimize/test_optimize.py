"""The interviewer loop with scripted models: threshold, session files, version file,
rejected proposals (dropped variable, held-out gold leak) and the holdout guard."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.records import Task
from pytest_llmbench.cli.main import build_parser
from pytest_llmbench.cli.optimize import run_optimize
from pytest_llmbench.optimize import optimize
from pytest_llmbench.optimize.files import next_version_path, write_session
from pytest_llmbench.optimize.interviewer import check_proposal, read_proposal
from pytest_llmbench.optimize.loop import split_cases
from pytest_llmbench.providers.base import ModelInfo, Request
from pytest_llmbench.providers.scripted import ScriptedProvider

PHRASE = "Check the salary band."
V2 = "Posting: {posting}\nIs the posting complete? PASS or FAIL."
POSTINGS = {
    f"CASE_{n:02d}": (f"Posting number {n} at Nordhafen Bank, Kiel office {n}", n % 2 == 0)
    for n in range(1, 11)
}
"""case id -> (posting, complete?)."""


def write_task(root: Path) -> Path:
    prompts = root / "prompts"
    prompts.mkdir()
    (prompts / "grading_v1.txt").write_text("Posting: {posting}\nPASS or FAIL?")
    (prompts / "grading_v2.txt").write_text(V2)
    cases = "".join(
        f"  - id: {case_id}\n    expected: {{verdict: {'PASS' if good else 'FAIL'}}}\n"
        f"    vars: {{posting: '{posting}'}}\n"
        for case_id, (posting, good) in POSTINGS.items()
    )
    path = root / "grading.yaml"
    path.write_text(
        "task: grading\nprompts:\n  v1: {file: prompts/grading_v1.txt}\n"
        "  v2: {file: prompts/grading_v2.txt}\noutput: {kind: verdict}\ncases:\n" + cases
    )
    return path


def truth(prompt: str) -> bool:
    return next(good for posting, good in POSTINGS.values() if posting in prompt)


def verdict(good: bool) -> str:
    return '{"verdict": "PASS"}' if good else '{"verdict": "FAIL"}'


def candidate(request: Request) -> str:
    """Right only when the prompt contains the phrase; lenient otherwise."""
    return verdict(truth(request.prompt) if PHRASE in request.prompt else True)


def proposing(*prompts: str) -> Callable[[Request], str]:
    """An interviewer that answers with these prompts in turn, then proposes nothing."""
    replies: Iterator[str] = iter(prompts)

    def interview(request: Request) -> str:
        proposal = next(replies, None)
        return json.dumps(
            {
                "analysis": "The model says PASS to everything.",
                "improved_prompt": proposal or "",
                "reasoning": "Ask it to check the salary band.",
                "has_improvement": proposal is not None,
            }
        )

    return interview


def models(interviewer: Callable[[Request], str]) -> ScriptedProvider:
    return ScriptedProvider("fake", {"small": candidate, "interviewer": interviewer})


def run(task: Task, provider: ScriptedProvider, holdout: float = 0.3):  # type: ignore[no-untyped-def]
    return optimize(
        task,
        provider,
        ModelInfo("fake", "small"),
        provider,
        ModelInfo("fake", "interviewer"),
        threshold=0.95,
        max_iterations=5,
        holdout=holdout,
    )


def held_out_postings(task: Task) -> list[str]:
    _, held = split_cases(task.versions[-1].cases, 0.3)
    return [case.vars["posting"] for case in held]


# --------------------------------------------------------------------------- the loop


def test_reaches_the_threshold_in_two_iterations(tmp_path: Path) -> None:
    task = load_task(write_task(tmp_path))
    provider = models(proposing(PHRASE + "\n" + V2))
    session = run(task, provider)
    assert [e.score for e in session.evaluations] == [0.5, 1.0]
    assert session.stop_reason.startswith("threshold reached")
    assert len(session.interviews) == 1
    assert session.interviews[0].accepted
    assert session.best is not None
    assert session.best.prompt == PHRASE + "\n" + V2
    assert (len(session.training), len(session.held_out)) == (7, 3)
    # The interviewer saw training cases only.
    question = session.interviews[0].interview_prompt
    assert all(posting not in question for posting in held_out_postings(task))
    assert "{posting}" in question


def test_session_files_have_every_field_and_nothing_is_overwritten(tmp_path: Path) -> None:
    path = write_task(tmp_path)
    (tmp_path / "prompts" / "grading_v3.txt").write_text("somebody's v3")
    args = build_parser().parse_args(
        ["optimize", str(path), "--model", "fake/small", "--interviewer", "fake/interviewer",
         "--out", str(tmp_path / "sessions")]
    )  # fmt: skip
    lines = run_optimize(args, providers={"fake": models(proposing(PHRASE + "\n" + V2))})
    [folder] = (tmp_path / "sessions").iterdir()
    assert folder.name.endswith("_fake_small")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "interview_1.json",
        "optimization_report.md",
        "session_data.json",
        "test_iteration_1.json",
        "test_iteration_2.json",
    ]
    iteration = json.loads((folder / "test_iteration_2.json").read_text())
    for key in ("prompt", "filled_prompt", "output", "time", "success", "error", "score",
                "timestamp"):  # fmt: skip
        assert key in iteration
    assert iteration["score"] == 1.0
    assert iteration["filled_prompt"].startswith(PHRASE + "\nPosting: Posting number")
    interview = json.loads((folder / "interview_1.json").read_text())
    for key in ("interviewer_model", "interview_prompt", "response", "improved_prompt",
                "has_improvement", "timestamp"):  # fmt: skip
        assert key in interview
    assert interview["interviewer_model"] == "fake/interviewer"
    assert interview["has_improvement"] is True
    data = json.loads((folder / "session_data.json").read_text())
    assert data["best_score"] == 1.0
    assert data["holdout_cases"]
    assert data["training_cases"]
    # The next free version: v3 exists, so v4; v3 is untouched.
    new = tmp_path / "prompts" / "grading_v4.txt"
    assert data["new_version_file"] == str(new)
    assert new.read_text() == PHRASE + "\n" + V2
    assert (tmp_path / "prompts" / "grading_v3.txt").read_text() == "somebody's v3"
    assert (tmp_path / "prompts" / "grading_v2.txt").read_text() == V2
    report = (folder / "optimization_report.md").read_text()
    assert "  v4: {file: prompts/grading_v4.txt}" in report
    assert any("new prompt version" in line for line in lines)


def test_next_version_of_a_single_prompt(tmp_path: Path) -> None:
    case_file = tmp_path / "t.yaml"
    assert next_version_path(case_file, "t", None) == tmp_path / "prompts" / "t_v2.txt"


def test_a_proposal_dropping_a_variable_or_leaking_held_out_gold_is_rejected(
    tmp_path: Path,
) -> None:
    task = load_task(write_task(tmp_path))
    leak = held_out_postings(task)[0]
    provider = models(
        proposing(
            PHRASE + "\nIs the posting complete? PASS or FAIL.",  # no {posting}
            PHRASE + f"\nExample: '{leak}' is complete.\n" + V2,  # a held-out input
            PHRASE + "\n" + V2,
        )
    )
    session = run(task, provider)
    first, second, third = session.interviews
    assert first.rejected_reasons == ("drops the template variable {posting}",)
    assert len(second.rejected_reasons) == 1
    assert second.rejected_reasons[0].startswith("contains the gold answer of held-out case")
    assert third.accepted
    assert len(session.evaluations) == 2  # rejected proposals are never run
    assert session.best is not None
    assert session.best.score == 1.0
    # The interviewer was told why.
    assert "your last proposal was rejected: drops the template variable" in (
        second.interview_prompt
    )


def test_the_holdout_guard_rejects_a_proposal_that_only_wins_on_training(
    tmp_path: Path,
) -> None:
    task = load_task(write_task(tmp_path))
    held = held_out_postings(task)

    def overfit(request: Request) -> str:
        is_held = any(posting in request.prompt for posting in held)
        good = truth(request.prompt)
        if "OVERFIT" in request.prompt:  # right on training, wrong on held-out
            return verdict(good != is_held)
        return verdict(good == is_held)  # the reverse

    provider = ScriptedProvider(
        "fake", {"small": overfit, "interviewer": proposing("OVERFIT\n" + V2)}
    )
    session = run(task, provider)
    first, second = session.evaluations
    assert (first.train_score, first.holdout_score) == (0.0, 1.0)
    assert (second.train_score, second.holdout_score) == (1.0, 0.0)
    assert second.score > first.score
    assert not second.accepted
    assert second.rejected_reason is not None
    assert second.rejected_reason.startswith("holdout guard")
    assert session.best is first
    assert session.stop_reason == "the interviewer proposed no improvement"
    folder, output = write_session(tmp_path / "out", "s1", session, tmp_path / "grading.yaml", None)
    assert output is None  # nothing better than the original: no version file
    assert "no version file was written" in (folder / "optimization_report.md").read_text()


def test_stops_without_gain_and_at_max_iterations(tmp_path: Path) -> None:
    task = load_task(write_task(tmp_path))
    provider = models(proposing(*(f"Try {n}.\n" + V2 for n in range(10))))
    session = run(task, provider)
    assert session.stop_reason == "no gain for 2 iterations"
    assert len(session.evaluations) == 3


def test_read_proposal_tolerates_prose_and_rejects_garbage() -> None:
    text = (
        'Sure! {"analysis": "a", "improved_prompt": "p {x}", "reasoning": "r", '
        '"has_improvement": true} Bye'
    )
    assert read_proposal(text).improved_prompt == "p {x}"
    assert read_proposal("no json here").has_improvement is False
    assert check_proposal("{x} {y}", "{x}", []) == ["drops the template variable {y}"]
    assert check_proposal("{x}", "{x} {z}", []) == ["uses variables the cases do not have: {z}"]


@pytest.mark.parametrize("bad", ["1.5", "-0.1"])
def test_bad_holdout_is_a_usage_error(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["optimize", "t.yaml", "--model", "a/b", "--interviewer", "a/c", "--holdout", bad]
        )
    assert "expected a share in (0, 1)" in capsys.readouterr().err


def test_a_held_out_expected_answer_is_a_leak() -> None:
    from pytest_llmbench.cases.records import Case, Expected

    held = Case("EXTRACT_007", Expected(json={"company": "Nordhafen Bank"}), prompt="")
    original = "Extract the company from {posting} as JSON."
    leaking = original + " Hint: it is often Nordhafen Bank."
    [reason] = check_proposal(original, leaking, [held])
    assert reason == "contains the gold answer of held-out case EXTRACT_007: 'Nordhafen Bank'"
    assert check_proposal(original, original + " Be exact.", [held]) == []


def test_each_interview_says_it_starts_and_what_came_of_it(tmp_path: Path) -> None:
    task = load_task(write_task(tmp_path))
    provider = models(proposing("...", PHRASE + "\n" + V2))
    lines: list[str] = []
    optimize(
        task, provider, ModelInfo("fake", "small"), provider, ModelInfo("fake", "interviewer"),
        threshold=0.95, max_iterations=5, holdout=0.3, progress=lines.append,
    )  # fmt: skip
    asking = "asking fake/interviewer for a better prompt (4 failed training case(s) shown) ..."
    assert lines[1] == f"interview 1: {asking}"
    assert lines[2].startswith("interview 1: rejected (the improved prompt is '...': ")
    assert lines[3] == f"interview 2: {asking}"
    assert lines[4].startswith("iteration 2: score 1.00")
