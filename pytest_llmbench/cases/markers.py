"""The pytest markers a case item carries, declared by the plugin (``pytest --markers``).

Plain text: what each marker means, in the words ``pytest --markers`` shows.
"""

from __future__ import annotations

__all__ = ["MARKERS"]

MARKERS = (
    "llmbench: an LLM gold case run by pytest-llmbench",
    "easy: case difficulty easy (pytest-llmbench)",
    "medium: case difficulty medium (pytest-llmbench)",
    "hard: case difficulty hard (pytest-llmbench)",
    "batch(n): the case's batch number (pytest-llmbench); select with -m 'batch(n=1)'",
    "tag(name): a case tag (pytest-llmbench); each tag is also a marker of its own name",
    "should_pass: the gold verdict is the passing label (pytest-llmbench)",
    "should_fail: the gold verdict is a failing label (pytest-llmbench)",
)
