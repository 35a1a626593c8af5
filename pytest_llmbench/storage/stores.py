"""What a run's model catalogue reads from the champions file and the history, as
callables that import their modules when first called.

A run that selects its models by name (not ``--llm-models=registry`` nor ``new``) and
has no judge or consensus reading the registry imports neither
:mod:`~pytest_llmbench.storage.champions` nor :mod:`~pytest_llmbench.storage.succession`
(issue 23: start-up).  Each function does what the one of its name there does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_llmbench.providers.base import ModelInfo

__all__ = ["benchmarked_in", "changed_since", "registered_chain", "registered_models"]


def registered_models(path: Path, quiet: bool = False) -> dict[str, list[str]]:
    """:func:`pytest_llmbench.storage.champions.registered_models`."""
    from pytest_llmbench.storage import champions

    return champions.registered_models(path, quiet)


def registered_chain(path: Path, task: str) -> list[str]:
    """:func:`pytest_llmbench.storage.champions.registered_chain`."""
    from pytest_llmbench.storage import champions

    return champions.registered_chain(path, task)


def benchmarked_in(history: Path | None) -> Callable[[str], dict[str, set[str]]]:
    """:func:`pytest_llmbench.storage.succession.benchmarked_in`, made when first called."""

    def benchmarked(task: str) -> dict[str, set[str]]:
        from pytest_llmbench.storage import succession

        return succession.benchmarked_in(history)(task)

    return benchmarked


def changed_since(path: Path) -> Callable[[str, Sequence[ModelInfo]], dict[str, str]]:
    """:func:`pytest_llmbench.storage.succession.changed_since`, made when first called
    (it reads the registry once, on its first task: so does this)."""
    made: list[Callable[[str, Sequence[ModelInfo]], dict[str, str]]] = []

    def changed(task: str, models: Sequence[ModelInfo]) -> dict[str, str]:
        if not made:
            from pytest_llmbench.storage import succession

            made.append(succession.changed_since(path))
        return made[0](task, models)

    return changed
