"""``--llm-models=registry``: run each task on its registered champion and runner-up.

Pure module.  The registry file is read by :mod:`pytest_llmbench.storage.champions`;
this module decides which of a task's registered models can run now.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from pytest_llmbench.providers.base import Discovery, ModelInfo

__all__ = ["REGISTRY_ENTRY", "registered_models"]

REGISTRY_ENTRY = "registry"
"""The ``--llm-models`` entry that runs each task on its registered champion and runner-up."""


def registered_models(
    task: str,
    models: Sequence[str] | None,
    providers: Collection[str],
    discover: Callable[[str], Discovery],
    *,
    source: str = "the registry",
) -> tuple[list[ModelInfo], list[str]]:
    """The registered models of ``task`` that a provider offers now, and notes on the others.

    :param models: the task's registered model ids (champion, then runner-up); ``None``
        when ``source`` has no entry for the task.
    :param discover: the models a provider offers (called only for the providers needed).
    :param source: the registry's name, for the notes.
    """
    if models is None:
        return [], [f"registry: task {task} has no entry in {source}: no model to run"]
    found: list[ModelInfo] = []
    notes: list[str] = []
    for model_id in models:
        provider = model_id.partition("/")[0]
        if provider not in providers:
            notes.append(f"registry: {task}: {model_id} left out: no provider {provider!r}")
            continue
        discovery = discover(provider)
        match = next((m for m in discovery.models if m.id == model_id), None)
        if match is None:
            why = f" ({discovery.problem})" if discovery.problem else ""
            notes.append(f"registry: {task}: {model_id} left out: not available{why}")
        else:
            found.append(match)
    return found, notes
