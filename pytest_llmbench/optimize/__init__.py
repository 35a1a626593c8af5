"""The interviewer loop: improve a task's prompt for one model, guarded by held-out cases.

Uses :mod:`pytest_llmbench.execution` (the benchmark's calls, timing and scoring) and
:mod:`pytest_llmbench.analysis`; never pytest.  Entry points: :func:`optimize` (one
model) and the ``llmbench optimize`` command (:mod:`pytest_llmbench.cli.optimize`).
"""

from __future__ import annotations

from pytest_llmbench.optimize.loop import Evaluation, Interview, Session, optimize

__all__ = ["Evaluation", "Interview", "Session", "optimize"]
