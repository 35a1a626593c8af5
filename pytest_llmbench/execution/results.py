"""The result record: one per (task, case, model, repeat) call.

A plain, dict-able record so it can ride on pytest reports (and through xdist),
be written as JSON and read back.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmbench.execution.quality import Part

__all__ = [
    "APPROVAL_LABELS",
    "Result",
    "call_error",
    "failed_runs",
    "is_approval",
    "judge_failures",
    "timed_out",
]

APPROVAL_LABELS = frozenset(
    {
        "pass",
        "yes",
        "true",
        "good",
        "ok",
        "accept",
        "accepted",
        "approve",
        "approved",
        "valid",
        "correct",
        "safe",
        "allow",
        "allowed",
        "compliant",
        "match",
        "relevant",
        "grounded",
    }
)
"""First labels that make a task's labels a pass/fail pair (compared ignoring case)."""


_TIMEOUT = re.compile(r"timed? ?out|no answer .* within", re.IGNORECASE)
_TIMEOUT_SPAN = 500
"""How much of an error message is searched for a timeout (characters)."""


def timed_out(detail: str) -> bool:
    """Whether a provider's error says the call timed out (it says so near its start:
    a bounded search, whatever the length of the message)."""
    return _TIMEOUT.search(detail[:_TIMEOUT_SPAN]) is not None


def call_error(error: str) -> str:
    """A failed call's error as the result records it: a timeout says so first and what
    the machine's load was when it happened (a loaded machine's timeouts are often the
    machine's, not the model's): ``timed out: no answer from ollama/m within 120 s; the
    machine's load average was 9.3 on 2 cores``."""
    if not timed_out(error):
        return error
    head = error if error.lower().startswith("timed out") else f"timed out: {error}"
    try:
        load = os.getloadavg()[0]
    except OSError:  # not measurable here (Windows)
        return head
    return f"{head}; the machine's load average was {load:.1f} on {os.cpu_count() or 1} cores"


def is_approval(label: str | None) -> bool:
    """Whether ``label`` (a task's first label) means "good": then a miss is named "too
    lenient" or "too strict"; other label sets (URGENT, ROUTINE) name what was said."""
    return label is not None and label.casefold() in APPROVAL_LABELS


@dataclass(frozen=True, slots=True)  # slots: 20,000 records stay compact
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
    prompt_version: str = ""
    """The prompt version (``v2``) of a task with ``prompts:``; ``""`` for one ``prompt:``."""
    prompt_version_hash: str = ""
    """Hash of that version's template text: the same name with another hash is another prompt."""

    score: float | None = None
    """The score in 0-1: the mean of ``parts`` (1 or 0 for binary checks alone); an
    error scores 0.  Filled from ``correct`` when not given (records of older versions)."""
    parts: tuple[Part, ...] = ()
    """The checks behind ``score`` when there are graded ones (heuristics, JSON
    completeness, the judge)."""
    judge_model: str | None = None
    """The model that judged this answer (``expected.judge``); never the candidate's time."""
    judge_score: float | None = None
    judge_reason: str | None = None
    judge_ms: float | None = None
    """The judge call's own wall time (not in ``latency_ms``)."""
    ttft_ms: float | None = None
    """Time to first token of a streamed answer, client side: from the request (of the
    attempt that answered) to the first chunk with answer text, minus a load the server
    reported inside the call; ``None``: not streamed (or cached, or no text came)."""
    itl_ms: float | None = None
    """Inter-token latency: the mean time between the answer's chunks after the first."""

    @property
    def prefill_ms(self) -> float | None:
        """Reading the prompt, as the server reports it (Ollama ``prompt_eval_duration``,
        llama.cpp's ``timings.prompt_ms``, the embedded model's prompt evaluation)."""
        return self.prompt_eval_ms

    @property
    def generation_ms(self) -> float | None:
        """Generating the answer, as the server reports it (Ollama ``eval_duration``,
        llama.cpp's ``timings.predicted_ms``, the embedded model's decoding)."""
        return self.eval_ms

    def __post_init__(self) -> None:
        if self.score is None:
            object.__setattr__(self, "score", 1.0 if self.correct else 0.0)

    @property
    def candidate(self) -> str:
        """What is ranked: the model, or the (model, prompt version) pair ``model@v2``."""
        return f"{self.model}@{self.prompt_version}" if self.prompt_version else self.model

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
            if self.expected_label is not None and not is_approval(self.pass_label):
                # URGENT/ROUTINE: "too strict" would read wrong; say what was said.
                return f"said {self.got_label} for {self.expected_label}"
            if self.pass_label is not None and self.expected_label is not None:
                if self.got_label == self.pass_label and self.expected_label != self.pass_label:
                    return "too lenient"
                if self.expected_label == self.pass_label and self.got_label != self.pass_label:
                    return "too strict"
        return "wrong"

    def to_dict(self) -> dict[str, Any]:
        """The record as a flat dict of plain values (its score parts as plain objects),
        ready for JSON and for xdist: no deep copy of the rest."""
        data = {name: getattr(self, name) for name in _FIELDS}
        # Part's fields are plain values: a dict of them is what dataclasses.asdict makes,
        # without its recursive deep copy (two records per call: journal and history).
        data["parts"] = [{name: getattr(p, name) for name in _PART_FIELDS} for p in self.parts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        fields = {k: v for k, v in data.items() if k in _NAMES}
        fields["parts"] = tuple(
            p if isinstance(p, Part) else Part(**p) for p in fields.get("parts") or ()
        )
        return cls(**fields)


_FIELDS = tuple(f.name for f in dataclasses.fields(Result))
_PART_FIELDS = tuple(f.name for f in dataclasses.fields(Part))
_NAMES = frozenset(_FIELDS)


def failed_runs(results: Sequence[Result]) -> int:
    """Runs the judge failed or could not judge (the item itself had passed)."""
    return len(judge_failures(results))


def judge_failures(results: Sequence[Result]) -> list[Result]:
    """The runs the judge failed or could not judge, each naming its judge."""
    return [
        r
        for r in results
        if r.judge_model is not None
        and (r.error or any(p.name == "judge" and not p.passed for p in r.parts))
    ]
