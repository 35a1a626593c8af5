"""``--llm-models=new``: per task, only the models not yet benchmarked on its current prompt.

Pure module.  The history (:func:`pytest_llmbench.storage.history.benchmarked`) says,
per task and model, the prompt hashes of the cases some run benchmarked the model on.
A model is *known* for a task when the history has it on every case of the task as the
case file now stands (each case's prompt hash: system, prompt, options and schema);
every other model is a *newcomer*.  So a changed prompt or template, a new case or a
new model makes a model new again, and a model benchmarked once is left alone until then.
A model whose weights changed since the registry recorded them (an ``ollama pull`` under
the same tag, another GGUF file: ``changed``) is new again too.

``new`` alone picks the newcomers among every available model (as ``all`` would);
with other entries (``new,ollama``) among the models those entries select.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from pytest_llmbench.providers.base import ModelInfo

__all__ = ["NEW_ENTRY", "newcomers"]

NEW_ENTRY = "new"
"""The ``--llm-models`` entry that runs each task on its newcomers only."""


def newcomers(
    task: str,
    candidates: Sequence[ModelInfo],
    benchmarked: Mapping[str, Collection[str]],
    hashes: Collection[str],
    changed: Mapping[str, str] | None = None,
) -> tuple[list[ModelInfo], list[str]]:
    """The candidates not benchmarked on every one of ``hashes``, and a note on the rest.

    :param benchmarked: per model id, the prompt hashes the history has it on (this task).
    :param hashes: the prompt hash of each of the task's current cases.
    :param changed: per model id whose weights changed since the registry's benchmark,
        how (``old -> new``): new again whatever the history says.
    """
    wanted = set(hashes)
    moved = changed or {}
    known = [
        m
        for m in candidates
        if wanted and wanted <= set(benchmarked.get(m.id, ())) and m.id not in moved
    ]
    new = [m for m in candidates if m not in known]
    names = ", ".join(m.id for m in known)
    notes = [
        f"new: {task}: {m.id} changed since the registry's benchmark ({moved[m.id]}): "
        "benchmarked again"
        for m in new
        if m.id in moved
    ]
    if not new:
        note = f"new: {task}: no new model ({len(known)} benchmarked on its current prompt)"
    elif known:
        note = f"new: {task}: {len(known)} model(s) benchmarked on its current prompt: {names}"
    else:
        note = f"new: {task}: no model benchmarked on its current prompt yet"
    return new, [note, *notes]
