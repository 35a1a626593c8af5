"""The judge pass: every judge call of the run, after the candidates, one judge at a time.

Items queue a :class:`~pytest_llmbench.execution.judge.JudgeJob` for each answer whose
case has a rubric; collection registers the calibration cases of verdict tasks.  At the
end of the session (the controller under xdist), :meth:`Judging.run` resolves each
task's judge (a model, or the registered champion of a verdict task, else its
runner-up), loads it once, asks it about every queued answer and every calibration case
it is measured on, unloads it, and folds its scores into the results.  A judge therefore
never shares a one-slot server with a candidate, and its time is recorded apart
(``judge_ms``), never in a candidate's latency, cost or tokens.  Judge calls go through
the response cache like any other.

Judging sees the run only through :class:`JudgeModels`: the models it may find, load,
ask and release, and the registered models of each task (for ``task:NAME`` judges).
The plugin gives it one over its providers; a unit test gives it a scripted one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.execution.cache import ResponseCache
from pytest_llmbench.execution.call import Call, fetch
from pytest_llmbench.execution.catalogue import ModelCatalogue
from pytest_llmbench.execution.judge import (
    CalibrationCase,
    JudgeError,
    JudgeJob,
    Judgement,
    apply_judgement,
    calibration_cases,
    judge_job,
    judge_request,
    parse_judgement,
    resolve_judge,
)
from pytest_llmbench.execution.lifecycle import ModelLifecycle
from pytest_llmbench.execution.results import Result, failed_runs, judge_failures
from pytest_llmbench.providers.base import ModelInfo

__all__ = ["JudgeModels", "Judging", "RunJudges", "Verdict", "failed_runs", "judge_failures"]

Verdict = tuple[str, bool, bool | None]
"""A calibration case judged: (case id, gold pass, judge pass or ``None`` if it failed)."""


class JudgeModels(Protocol):
    """The models judging may use: all it knows of the run."""

    def find(self, model_id: str) -> ModelInfo | None:
        """The model with this id, if a provider offers it."""

    def registered(self) -> Mapping[str, Sequence[str]]:
        """Per task, its registered models (champion first); empty when unreadable."""

    def load(self, model: ModelInfo) -> str | None:
        """Load ``model`` once for all its calls; why it cannot be used, else ``None``."""

    def ask(self, model: ModelInfo, prompt: str) -> Call:
        """One judge call (through the response cache when the run has one)."""

    def release(self, model: ModelInfo) -> None:
        """Unload ``model`` after its last call."""


class RunJudges:
    """The :class:`JudgeModels` of a run: its catalogue's models, loaded and released by
    its lifecycle, asked through its response cache (``None``: no cache)."""

    def __init__(
        self,
        catalogue: ModelCatalogue,
        lifecycle: ModelLifecycle,
        cache: ResponseCache | None,
        timeout_s: float,
        registered: Callable[[], Mapping[str, Sequence[str]]],
    ) -> None:
        self.catalogue = catalogue
        self.lifecycle = lifecycle
        self.cache = cache
        self.timeout_s = timeout_s
        self._registered = registered

    def find(self, model_id: str) -> ModelInfo | None:
        return self.catalogue.find_model(model_id)

    def registered(self) -> Mapping[str, Sequence[str]]:
        return self._registered()

    def load(self, model: ModelInfo) -> str | None:
        self.lifecycle.ensure_loaded(model)
        return self.lifecycle.unavailable.get(model.id)

    def ask(self, model: ModelInfo, prompt: str) -> Call:
        provider = self.catalogue.providers.get(model.provider)
        request = judge_request(model, prompt, self.timeout_s)
        return fetch(provider, model, request, 1, cache=self.cache)

    def release(self, model: ModelInfo) -> None:
        self.lifecycle.release(model)
        self.lifecycle.cold_start(model)  # a judge's load is no candidate's cold start


@dataclass
class _Plan:
    """One judge's work: the answers to score and the calibration tasks to be measured on."""

    model: ModelInfo
    jobs: list[JudgeJob] = field(default_factory=list)
    calibrate: list[str] = field(default_factory=list)


def judging_line(answers: int, calibration: int, judge: str) -> str:
    """The line before a judge's calls: how many answers (and calibration cases), which model."""
    what = f"{answers} answer{'s' if answers != 1 else ''}"
    if calibration:
        what += f" and {calibration} calibration case{'s' if calibration != 1 else ''}"
    return f"llmbench: judging {what} with {judge} ..."


class Judging:
    """The run's judge jobs and calibration cases, and what judging them found."""

    def __init__(self) -> None:
        self.jobs: list[JudgeJob] = []
        self.calibration: dict[str, list[CalibrationCase]] = {}
        """Per verdict task, its cases with a gold verdict and a rubric."""
        self.judges: dict[str, str] = {}
        """Per task with a judge: how it names the judge (a model id or ``task:NAME``)."""
        self.calibrate_with: dict[str, str] = {}
        """Per task with a judge: the task whose calibration cases measure that judge."""
        self.verdicts: dict[tuple[str, str], list[Verdict]] = {}
        """(judge id, calibration task) -> the judge's verdicts on its calibration cases
        (``analysis.calibration.agreement`` measures them against the gold)."""
        self.resolved: dict[str, str] = {}
        """Per task: the judge model id it resolved to."""
        self.progress: Callable[[str], None] | None = None
        """Told before each judge's calls: how many, with which model (the terminal)."""

    # -- collecting ------------------------------------------------------------

    def add_task(self, task: Task) -> None:
        cases = calibration_cases(task)
        if cases:
            self.calibration[task.name] = cases
        spec = task.judge
        if spec is None or (spec.model is None and spec.task is None):
            return
        self.judges[task.name] = spec.ref
        calibrate = spec.calibration_task or (task.name if cases else None)
        if calibrate is not None:
            self.calibrate_with[task.name] = calibrate

    def queue(self, task: Task, case: Case, result: Result, call: Call) -> None:
        """Queue the judging of one answer, if its case has a rubric."""
        if call.response is None:
            return
        job = judge_job(task, case, result, call.response.text)
        if job is not None:
            self.jobs.append(job)

    def worker_output(self) -> dict[str, Any]:
        return {
            "jobs": [dataclasses.asdict(j) for j in self.jobs],
            "calibration": {
                t: [dataclasses.asdict(c) for c in cs] for t, cs in self.calibration.items()
            },
            "judges": dict(self.judges),
            "calibrate_with": dict(self.calibrate_with),
        }

    def merge_worker_output(self, data: dict[str, Any]) -> None:
        self.jobs.extend(JudgeJob(**j) for j in data.get("jobs", []))
        for task, cases in data.get("calibration", {}).items():
            self.calibration[task] = [CalibrationCase(**c) for c in cases]
        self.judges.update(data.get("judges", {}))
        self.calibrate_with.update(data.get("calibrate_with", {}))

    # -- judging ---------------------------------------------------------------

    def run(self, models: JudgeModels, results: Sequence[Result]) -> list[Result]:
        """Judge every queued answer and calibration case; the results with the judges' scores."""
        out = list(results)
        if not self.jobs and not self.judges:
            return out
        index = {(r.task, r.case_id, r.model, r.repeat): i for i, r in enumerate(out)}
        plans = self._plan(models, out, index)
        for plan in plans.values():
            self._judge(models, plan, out, index)
        return out

    def _plan(
        self, models: JudgeModels, out: list[Result], index: dict[tuple[str, str, str, int], int]
    ) -> dict[str, _Plan]:
        registered: Mapping[str, Sequence[str]] = {}
        if any(ref.startswith("task:") for ref in self.judges.values()):
            registered = models.registered()
        found: dict[str, tuple[ModelInfo | None, str]] = {}

        def resolve(ref: str) -> tuple[ModelInfo | None, str]:
            if ref not in found:
                found[ref] = resolve_judge(ref, registered, models.find)
            return found[ref]

        plans: dict[str, _Plan] = {}
        for job in self.jobs:
            model, problem = resolve(job.judge)
            if model is None:
                i = index.get(job.key())
                if i is not None:
                    out[i] = apply_judgement(out[i], job, job.judge, None, error=problem)
                continue
            plans.setdefault(model.id, _Plan(model)).jobs.append(job)
            self.resolved[job.task] = model.id
        for task, ref in self.judges.items():
            calibrate = self.calibrate_with.get(task)
            model, _ = resolve(ref)
            if model is None or calibrate not in self.calibration:
                continue
            self.resolved.setdefault(task, model.id)
            plan = plans.setdefault(model.id, _Plan(model))
            if calibrate not in plan.calibrate:
                plan.calibrate.append(calibrate)
        return plans

    @staticmethod
    def _ask(
        models: JudgeModels, judge: ModelInfo, missing: str | None, prompt: str
    ) -> tuple[Judgement | None, str, float | None]:
        if missing is not None:
            return None, missing, None
        call = models.ask(judge, prompt)
        if call.response is None:
            return None, call.error or "no answer", call.latency_ms
        try:
            return parse_judgement(call.response.text), "", call.latency_ms
        except JudgeError as exc:
            return None, str(exc), call.latency_ms

    def _judge(
        self,
        models: JudgeModels,
        plan: _Plan,
        out: list[Result],
        index: dict[tuple[str, str, str, int], int],
    ) -> None:
        judge = plan.model
        if self.progress is not None:
            calibration = sum(len(self.calibration[task]) for task in plan.calibrate)
            self.progress(judging_line(len(plan.jobs), calibration, judge.id))
        missing = models.load(judge)  # once for all its calls
        try:
            for job in plan.jobs:
                i = index.get(job.key())
                if i is None:
                    continue
                judgement, error, ms = self._ask(models, judge, missing, job.prompt)
                out[i] = apply_judgement(out[i], job, judge.id, judgement, error=error, judge_ms=ms)
            for task in plan.calibrate:
                verdicts: list[Verdict] = []
                for case in self.calibration[task]:
                    judgement, _, _ = self._ask(models, judge, missing, case.prompt)
                    said = None if judgement is None else judgement.score >= case.threshold - 1e-9
                    verdicts.append((case.case_id, case.gold_pass, said))
                self.verdicts[(judge.id, task)] = verdicts
        finally:
            models.release(judge)
