"""How far to trust a judge: its agreement with gold, and self-preference.

Pure module.  A judge is itself a model on a verdict task: on cases that carry a gold
verdict and a rubric, its verdict (score >= the rubric's pass) either agrees with the
gold or not.  ``agreement = agreed / cases``; under :data:`MIN_AGREEMENT` the summary
warns.  A candidate judged by itself, or by a judge of its family, is flagged
(models tend to prefer their own answers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_llmbench.execution.results import Result

__all__ = ["MIN_AGREEMENT", "Agreement", "JudgeSummary", "agreement", "judge_summary"]

MIN_AGREEMENT = 0.9
"""Under this share of agreement with gold, a judge is warned about."""


@dataclass(frozen=True)
class Agreement:
    """A judge against the gold verdicts of one task's calibration cases."""

    judge: str
    task: str
    agreed: int
    total: int
    disagreed: tuple[str, ...] = ()
    """The case ids where the judge and the gold differ."""
    errors: tuple[str, ...] = ()
    """The case ids where the judge gave no judgement (counted as disagreeing)."""

    @property
    def share(self) -> float:
        return self.agreed / self.total if self.total else 0.0

    @property
    def low(self) -> bool:
        return self.share < MIN_AGREEMENT

    def describe(self) -> str:
        """``ollama/j agrees with the gold on 80% of 10 cases of grading (disagrees on A, B)``"""
        text = (
            f"{self.judge} agrees with the gold on {100 * self.share:.0f}% of {self.total} "
            f"case{'s' if self.total != 1 else ''} of {self.task}"
        )
        if self.disagreed:
            text += f" (disagrees on {', '.join(self.disagreed)})"
        return text

    def warning(self) -> str | None:
        if not self.low:
            return None
        return f"judge {self.describe()}: under {100 * MIN_AGREEMENT:.0f}%"


def agreement(
    judge: str, task: str, verdicts: Iterable[tuple[str, bool, bool | None]]
) -> Agreement:
    """``verdicts``: (case id, gold pass, judge pass or ``None`` when the judge failed)."""
    agreed = 0
    total = 0
    disagreed: list[str] = []
    errors: list[str] = []
    for case_id, gold, said in verdicts:
        total += 1
        if said is None:
            errors.append(case_id)
            disagreed.append(case_id)
        elif said == gold:
            agreed += 1
        else:
            disagreed.append(case_id)
    return Agreement(judge, task, agreed, total, tuple(disagreed), tuple(errors))


@dataclass(frozen=True)
class JudgeSummary:
    """What a task's judging amounted to (the summary's ``Judge:`` lines)."""

    judges: tuple[str, ...]
    judged: int
    """Answers the judge scored."""
    failed: int
    """Answers the judge scored below the rubric's pass."""
    errors: int
    """Judge calls that gave no judgement (the runs are errors naming the judge)."""
    mean_ms: float | None
    """The judge's mean call time: never in the candidates' latency."""
    self_judged: tuple[str, ...] = ()
    """Candidates judged by themselves."""
    same_family: tuple[str, ...] = ()
    """Candidates judged by another model of their family."""
    agreement: tuple[Agreement, ...] = ()

    def lines(self) -> list[str]:
        ms = f"; mean {self.mean_ms:,.0f} ms a call" if self.mean_ms is not None else ""
        errors = f", {self.errors} judge error(s)" if self.errors else ""
        out = []
        if self.judged or self.errors:
            out.append(
                f"Judge: {', '.join(self.judges) or 'none'}: {self.judged} answer(s) scored, "
                f"{self.failed} below the rubric's pass{errors}{ms} (not in the candidates' time)"
            )
        out.extend(f"Judge agreement: {a.describe()}" for a in self.agreement)
        return out

    def warnings(self) -> list[str]:
        out = [w for a in self.agreement if (w := a.warning())]
        if self.self_judged:
            out.append(f"self-preference: {', '.join(self.self_judged)} judged its own answers")
        if self.same_family:
            out.append(
                "self-preference: judged by a model of the same family: "
                + ", ".join(self.same_family)
            )
        return out


def judge_summary(
    results: Sequence[Result], agreements: Iterable[Agreement] = ()
) -> JudgeSummary | None:
    """The judging of one task's results (``None`` when nothing was judged or calibrated)."""
    judged = [r for r in results if r.judge_model is not None]
    calibrated = tuple(agreements)
    if not judged and not calibrated:
        return None
    from pytest_llmbench.execution.judge import family_of  # loaded when a run was judged

    judges = tuple(dict.fromkeys(r.judge_model for r in judged if r.judge_model))
    scored = [r for r in judged if r.judge_score is not None]
    times = [r.judge_ms for r in judged if r.judge_ms is not None]
    self_judged = sorted({r.model for r in judged if r.model == r.judge_model})
    same_family = sorted(
        {
            f"{r.model} by {r.judge_model}"
            for r in judged
            if r.judge_model
            and r.model != r.judge_model
            and family_of(r.model) == family_of(r.judge_model)
        }
    )
    failed = sum(1 for r in scored if any(p.name == "judge" and not p.passed for p in r.parts))
    return JudgeSummary(
        judges=judges or tuple(dict.fromkeys(a.judge for a in calibrated)),
        judged=len(scored),
        failed=failed,
        errors=len(judged) - len(scored),
        mean_ms=sum(times) / len(times) if times else None,
        self_judged=tuple(self_judged),
        same_family=tuple(same_family),
        agreement=calibrated,
    )
