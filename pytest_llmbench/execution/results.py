"""The result record: one per (task, case, model, repeat) call.

A plain, dict-able record so it can ride on pytest reports (and through xdist),
be written as JSON and read back.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["Result"]


@dataclass(frozen=True)
class Result:
    task: str
    case_id: str
    model: str
    repeat: int
    expected: str
    got: str
    correct: bool
    reason: str = ""
    latency_ms: float | None = None
    """The warm answer time used for ranking: the call's wall time as the harness measured
    it, minus any model load the server reports inside the call and minus failed attempts
    and backoff before a retry that answered (``wall_ms`` keeps the raw figure)."""
    load_ms: float | None = None
    """The load the server reported inside this call (its ``load_duration``)."""
    prompt_eval_ms: float | None = None
    eval_ms: float | None = None
    total_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    error: str | None = None
    """Set when the call itself failed (timeout, server error); the case counts as wrong."""
    prompt_hash: str = ""
    host: str | None = None
    kind: str = "text"
    expected_label: str | None = None
    got_label: str | None = None
    pass_label: str | None = None
    difficulty: str = "medium"
    wall_ms: float | None = None
    """Wall time of the whole call (load, retries and all)."""
    queue_ms: float | None = None
    """Server total minus load, prompt eval and eval (waiting in the server's queue)."""
    cold_start_ms: float | None = None
    """The explicit load before this model's first case in this process (first result only)."""
    retries: int = 0
    cold: bool = False
    """The first call of the model in its process, right after the model was loaded.

    Kept out of the warm latency statistics (mean, percentiles, interval) and shown apart.
    """
    cached: bool = False
    """The answer came from the response cache: scored, but never timed or ranked by speed."""
    cost_usd: float | None = None
    """What the call cost, from its token usage and the ``llm_prices`` table (live calls)."""
    structured: str | None = None
    """How structured output was asked for when the provider had to fall back
    (``json_schema``, ``json_object``, ``prompt``); ``None``: as the task asked."""
    chat_format: str | None = None
    """How the messages became the prompt text, when the provider chose it (embedded
    llama.cpp: ``gguf-template``, a llama-cpp-python format such as ``gemma``, or
    ``llama-2 (fallback)``)."""

    @property
    def direction(self) -> str:
        """How a wrong verdict was wrong: ``too lenient``, ``too strict`` or ``wrong``."""
        if self.correct:
            return ""
        if self.error:
            return "error"
        if self.kind == "verdict":
            if self.got_label is None:
                return "unparseable"
            if self.pass_label is not None and self.expected_label is not None:
                if self.got_label == self.pass_label and self.expected_label != self.pass_label:
                    return "too lenient"
                if self.expected_label == self.pass_label and self.got_label != self.pass_label:
                    return "too strict"
        return "wrong"

    def to_dict(self) -> dict[str, Any]:
        # Every field is a plain value: a shallow copy is what dataclasses.asdict's deep
        # one (about 60 us per record, paid on every item's report) would give.
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})


_FIELDS = tuple(f.name for f in dataclasses.fields(Result))
