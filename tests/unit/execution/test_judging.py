"""Judging behind its narrow interface (``JudgeModels``), with a scripted judge model."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from pytest_llmbench.execution.call import Call, fetch
from pytest_llmbench.execution.judge import judge_request
from pytest_llmbench.execution.judging import Judging, failed_runs
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import ModelInfo, Request
from pytest_llmbench.providers.scripted import ScriptedProvider


def _says(text: str) -> Callable[[Request], str]:
    return lambda request: text


class ScriptedJudges:
    """The models judging may use: one scripted provider, a registry, a log of loads."""

    def __init__(
        self, answers: Mapping[str, str], registered: Mapping[str, Sequence[str]] = {}
    ) -> None:
        self.provider = ScriptedProvider(
            "fake", {name: _says(text) for name, text in answers.items()}
        )
        self._registered = registered
        self.events: list[str] = []

    def find(self, model_id: str) -> ModelInfo | None:
        provider, _, name = model_id.partition("/")
        known = provider == "fake" and name in self.provider.answers
        return ModelInfo("fake", name) if known else None

    def registered(self) -> Mapping[str, Sequence[str]]:
        return self._registered

    def load(self, model: ModelInfo) -> str | None:
        self.events.append(f"load {model.id}")
        return None

    def ask(self, model: ModelInfo, prompt: str) -> Call:
        self.events.append(f"ask {model.id}")
        return fetch(self.provider, model, judge_request(model, prompt, 5.0), 1)

    def release(self, model: ModelInfo) -> None:
        self.events.append(f"release {model.id}")


def _result(model: str, case_id: str, repeat: int = 1) -> Result:
    return Result("summary", case_id, model, repeat, "-", "an answer", True, latency_ms=12.0)


def _job(case_id: str, judge: str, model: str = "fake/cand") -> dict[str, object]:
    return {
        "task": "summary",
        "case_id": case_id,
        "model": model,
        "repeat": 1,
        "judge": judge,
        "prompt": f"judge {case_id}",
        "threshold": 0.7,
    }


def _judging(*jobs: dict[str, object], judges: Mapping[str, str] | None = None) -> Judging:
    judging = Judging()
    judging.merge_worker_output({"jobs": list(jobs), "judges": dict(judges or {})})
    return judging


def _score(score: float, reason: str = "ok") -> str:
    return json.dumps({"score": score, "reason": reason})


def test_the_judge_scores_each_queued_answer_loaded_once() -> None:
    models = ScriptedJudges({"judge": _score(0.9, "names the role")})
    judging = _judging(_job("S1", "fake/judge"), _job("S2", "fake/judge"))
    results = [_result("fake/cand", "S1"), _result("fake/cand", "S2")]

    out = judging.run(models, results)

    assert [r.judge_model for r in out] == ["fake/judge", "fake/judge"]
    assert [r.judge_score for r in out] == [0.9, 0.9]
    assert all(r.correct for r in out)
    assert out[0].judge_reason == "names the role"
    assert models.events == [
        "load fake/judge",
        "ask fake/judge",
        "ask fake/judge",
        "release fake/judge",
    ]
    assert failed_runs(out) == 0
    assert judging.resolved == {"summary": "fake/judge"}


def test_a_low_score_fails_the_run_and_counts_as_judged_wrong() -> None:
    models = ScriptedJudges({"judge": _score(0.2, "invents a salary")})
    out = _judging(_job("S1", "fake/judge")).run(models, [_result("fake/cand", "S1")])

    assert not out[0].correct
    assert "judge 0.2 < 0.7: invents a salary" in (out[0].reason or "")
    assert failed_runs(out) == 1


def test_an_unreadable_answer_from_the_judge_is_an_error_naming_it() -> None:
    models = ScriptedJudges({"judge": "I think it is fine"})
    out = _judging(_job("S1", "fake/judge")).run(models, [_result("fake/cand", "S1")])

    assert out[0].error is not None
    assert out[0].error.startswith("judge fake/judge failed:")
    assert failed_runs(out) == 1


def test_a_judge_no_provider_offers_is_never_called() -> None:
    models = ScriptedJudges({"judge": _score(1.0)})
    out = _judging(_job("S1", "fake/gone")).run(models, [_result("fake/cand", "S1")])

    assert out[0].error == "judge fake/gone failed: judge fake/gone is not available"
    assert models.events == []


def test_a_task_judge_is_the_registered_champion_of_that_task() -> None:
    models = ScriptedJudges(
        {"champ": _score(0.8)}, registered={"grading": ["fake/champ", "fake/second"]}
    )
    judging = _judging(_job("S1", "task:grading"), judges={"summary": "task:grading"})
    out = judging.run(models, [_result("fake/cand", "S1")])

    assert out[0].judge_model == "fake/champ"
    assert judging.resolved == {"summary": "fake/champ"}


def test_nothing_queued_calls_no_model_and_keeps_the_results() -> None:
    models = ScriptedJudges({"judge": _score(1.0)})
    results = [_result("fake/cand", "S1")]
    assert Judging().run(models, results) == results
    assert models.events == []


def test_calibration_verdicts_are_recorded_per_judge_and_task() -> None:
    models = ScriptedJudges({"judge": _score(0.9)})
    judging = Judging()
    judging.merge_worker_output(
        {
            "judges": {"grading": "fake/judge"},
            "calibrate_with": {"grading": "grading"},
            "calibration": {
                "grading": [
                    {
                        "task": "grading",
                        "case_id": "G1",
                        "gold_pass": True,
                        "prompt": "p1",
                        "threshold": 0.5,
                    },
                    {
                        "task": "grading",
                        "case_id": "G2",
                        "gold_pass": False,
                        "prompt": "p2",
                        "threshold": 0.5,
                    },
                ]
            },
        }
    )
    judging.run(models, [])

    assert judging.verdicts == {
        ("fake/judge", "grading"): [("G1", True, True), ("G2", False, True)]
    }
    assert models.events == [
        "load fake/judge",
        "ask fake/judge",
        "ask fake/judge",
        "release fake/judge",
    ]


def test_worker_output_round_trips_through_plain_data() -> None:
    judging = _judging(_job("S1", "fake/judge"), judges={"summary": "fake/judge"})
    again = Judging()
    again.merge_worker_output(json.loads(json.dumps(judging.worker_output())))
    assert again.jobs == judging.jobs
    assert again.judges == judging.judges
