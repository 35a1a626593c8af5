"""The one ``Result`` factory of the tests.

:func:`result` builds a record with plain defaults for every field a test does not
care about; :func:`verdict` one answer of a verdict task.  The test files' own helpers
(``res``, ``said``, ``run`` ...) only shape their arguments and call these, so a change
to :class:`~pytest_llmbench.execution.results.Result` is made here once.
"""

from __future__ import annotations

from typing import Any

from pytest_llmbench.execution.results import Result


def result(
    model: str = "p/a",
    case: str = "C1",
    *,
    task: str = "grading",
    repeat: int = 1,
    expected: str = "PASS",
    got: str | None = None,
    correct: bool = True,
    **fields: Any,
) -> Result:
    """One result; ``got`` defaults to ``expected``; ``fields``: any other field."""
    return Result(
        task=task,
        case_id=case,
        model=model,
        repeat=repeat,
        expected=expected,
        got=expected if got is None else got,
        correct=correct,
        **fields,
    )


def verdict(
    model: str, case: str, said: str | None, *, gold: str | None = None, **fields: Any
) -> Result:
    """A verdict answer: the gold is FAIL for a case id with FAIL in it (else PASS) unless
    given; ``said`` the label (``None``: unparseable, recorded as ``garbage``)."""
    gold = gold or ("FAIL" if "FAIL" in case else "PASS")
    base: dict[str, Any] = {
        "expected": gold,
        "got": said or "garbage",
        "correct": said == gold,
        "kind": "verdict",
        "expected_label": gold,
        "got_label": said,
        "pass_label": "PASS",
    }
    return result(model, case, **{**base, **fields})
