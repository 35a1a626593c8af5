"""Kept for conftests written before 0.2: the scripted provider lives in
:mod:`pytest_llmbench.providers.scripted` (also ``pytest_llmbench.ScriptedProvider``)."""

from __future__ import annotations

from pytest_llmbench.providers.scripted import ScriptedProvider

__all__ = ["ScriptedProvider"]
