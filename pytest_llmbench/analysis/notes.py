"""Notes about how a task's results were obtained, added to its ranking.

Pure module.  Whatever policy ranked a task (the default or a ``pytest_llmbench_rank``
hook), the controller adds these notes at the end of the session, so they reach the
terminal summary (``Note: ...``) and the ``--llm-json`` document (``tasks.T.notes``):

- answers that came from the response cache, and that they are not timed;
- models whose endpoint did not take the JSON Schema response format, and what was
  used instead (``json_object`` with the schema, or the prompt alone).
- embedded models whose prompts were rendered in llama-cpp-python's fallback chat
  format because nothing better was known.

They are derived from the result records, so they work the same under xdist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import FALLBACK_CHAT_FORMAT
from pytest_llmbench.safety.redaction import redact

__all__ = ["STRUCTURED_NOTES", "annotate", "run_notes"]

STRUCTURED_NOTES = {
    "json_object": "the endpoint rejected the json_schema response format; "
    "asked for json_object with the schema instead",
    "prompt": "the endpoint takes no structured-output response format; "
    "answers were asked for by the prompt alone",
}


def run_notes(results: Sequence[Result]) -> list[str]:
    """The notes for one task's results (all models)."""
    notes: list[str] = []
    cached: dict[str, int] = {}
    total: dict[str, int] = {}
    for r in results:
        total[r.model] = total.get(r.model, 0) + 1
        if r.cached:
            cached[r.model] = cached.get(r.model, 0) + 1
    if cached:
        every = sum(cached.values()) == len(results)
        if every:
            notes.append(
                f"all {len(results)} answers came from the response cache: no timing (cached), "
                "so qualified models are listed by name, not by speed"
            )
        else:
            parts = [f"{model} {n} of {total[model]}" for model, n in cached.items()]
            notes.append(
                "answers from the response cache (not timed, latency not ranked): "
                + ", ".join(parts)
            )
            untimed = [model for model, n in cached.items() if n == total[model]]
            if untimed:
                notes.append(
                    f"no timing (cached): {', '.join(untimed)}, ranked after the timed models"
                )
    fallbacks: dict[tuple[str, str], int] = {}
    for r in results:
        if r.structured in STRUCTURED_NOTES:
            key = (r.model, r.structured)
            fallbacks[key] = fallbacks.get(key, 0) + 1
    for (model, how), count in fallbacks.items():
        runs = f" ({count} of {total[model]} answers)" if count != total[model] else ""
        notes.append(f"{model}: {STRUCTURED_NOTES[how]}{runs}")
    guessed = {r.model: None for r in results if r.chat_format == FALLBACK_CHAT_FORMAT}
    notes.extend(
        f"{model}: no chat template in the GGUF and no known format for the model; prompts "
        "used llama-cpp-python's fallback llama-2 [INST] format (set one with "
        "--llm-gguf 'NAME=PATH chat_format=FORMAT')"
        for model in guessed
    )
    return [redact(note) for note in notes]


def annotate(ranking: TaskRanking, results: Sequence[Result]) -> TaskRanking:
    """``ranking`` with the notes of its results appended (unchanged when there are none)."""
    notes = [n for n in run_notes(results) if n not in ranking.notes]
    if not notes:
        return ranking
    return replace(ranking, notes=(*ranking.notes, *notes))
