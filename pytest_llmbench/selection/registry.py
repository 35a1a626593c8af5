"""``--llm-models=registry``: each task runs its registered champion and runner-up.

The plugin reads the champions file (:mod:`pytest_llmbench.storage.champions`);
this keeps each task's registered models that a provider offers now, with a note
for each other.  Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from pytest_llmbench.providers.base import Discovery, ModelInfo

__all__ = ["REGISTRY_ENTRY", "registry_models"]

REGISTRY_ENTRY = "registry"
"""The ``--llm-models`` entry that runs each task on its registered champion and runner-up."""


def registry_models(
    task: str,
    registered: Sequence[str] | None,
    source: str,
    providers: Collection[str],
    discover: Callable[[str], Discovery],
) -> tuple[list[ModelInfo], list[str]]:
    """The registered models of ``task`` that a provider offers now, and notes on the others.

    :param registered: the task's registered model ids, champion first (``None``: the
        task has no entry in the champions file named ``source``).
    :param discover: the models a provider offers (called only for the providers needed).
    """
    if registered is None:
        return [], [f"registry: task {task} has no entry in {source}: no model to run"]
    found: list[ModelInfo] = []
    notes: list[str] = []
    for model_id in registered:
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
