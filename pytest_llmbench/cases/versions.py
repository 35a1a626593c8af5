"""What a task expands into: the prompt versions a run takes, and how an item's name
shows its model, prompt version and repeat."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_llmbench.cases.records import Case, Task

__all__ = ["item_params", "selected_versions"]


def item_params(model: str, version: str, repeat: int, repeats: int) -> str:
    """The bracketed part of an item's name: ``provider/model``, ``@v2``, ``-rep3``."""
    params = f"{model}@{version}" if version else model
    return f"{params}-rep{repeat}" if repeats > 1 else params


def selected_versions(task: Task, chosen: Sequence[str] = ()) -> list[tuple[str, tuple[Case, ...]]]:
    """(version, cases) to run: every prompt version, or those ``--llm-prompt`` names.

    A task with a single ``prompt:`` has one unnamed version, always run.
    """
    if not task.versions:
        return [("", task.cases)]
    return [(v.name, v.cases) for v in task.versions if not chosen or v.name in chosen]
