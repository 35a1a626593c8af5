"""The router's feedback log: one JSON line per model call made in production.

Written by :class:`pytest_llmbench.router.Router` (default ``.llmbench/feedback.jsonl``
beside the registry), summarised by ``llmbench feedback``::

    {"time": "2025-06-01T09:15:00.123Z", "call": "5f0c9a1e2b7d", "task": "grading",
     "model": "ollama/qwen2.5:7b", "outcome": "error", "latency_ms": 31.4,
     "fell_over_from": [], "detail": "cannot reach ollama at ...", "consensus": null}

``outcome`` is ``ok``, ``error``, ``timeout``, ``unparseable`` (an answer the benchmark
could not have scored) or ``circuit_open`` (skipped by the circuit breaker, not called).
``call`` groups the lines of one router call; ``fell_over_from`` lists the models that
failed before this one in that call; ``consensus`` is set on every line of a consensus
call: ``{"accepted": bool, "agreed": [models], "similarity": float}``.

Every line is masked before it is written (:func:`~pytest_llmbench.safety.redaction.redact`:
registered secrets, the values of secret-named environment variables, credential-looking
text), so an answer or an error that echoes a key never lands in the log.  Every call of
the router appends its lines in one write, so concurrent writers (threads,
processes) never interleave inside a line.  Pure module apart from that one file.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmbench.analysis.stats import percentile
from pytest_llmbench.safety.redaction import redact_data, register_environment_secrets

__all__ = [
    "DEFAULT_FEEDBACK",
    "OUTCOMES",
    "FeedbackLog",
    "FeedbackRecord",
    "FeedbackStats",
    "feedback_path",
    "read_feedback",
    "summarize_feedback",
]

DEFAULT_FEEDBACK = Path(".llmbench") / "feedback.jsonl"
"""Where the feedback log goes, relative to the registry's directory."""
OUTCOMES = ("ok", "error", "timeout", "unparseable", "circuit_open")


@dataclass(frozen=True)
class FeedbackRecord:
    """One model call (or one model skipped by its open circuit) in one router call."""

    time: str
    call: str
    task: str
    model: str
    outcome: str
    latency_ms: float | None = None
    fell_over_from: tuple[str, ...] = ()
    detail: str = ""
    consensus: Mapping[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "call": self.call,
            "task": self.task,
            "model": self.model,
            "outcome": self.outcome,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "fell_over_from": list(self.fell_over_from),
            "detail": self.detail,
            "consensus": None if self.consensus is None else dict(self.consensus),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedbackRecord:
        latency = data.get("latency_ms")
        return cls(
            time=str(data.get("time", "")),
            call=str(data.get("call", "")),
            task=str(data["task"]),
            model=str(data["model"]),
            outcome=str(data["outcome"]),
            latency_ms=None if latency is None else float(latency),
            fell_over_from=tuple(str(m) for m in data.get("fell_over_from") or ()),
            detail=str(data.get("detail") or ""),
            consensus=data.get("consensus"),
        )


def feedback_path(registry: Path) -> Path:
    """The default feedback log of a registry: ``.llmbench/feedback.jsonl`` beside it."""
    return registry.parent / DEFAULT_FEEDBACK


class FeedbackLog:
    """Appends the records of one router call at a time to a JSON-lines file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        register_environment_secrets()  # before an answer can echo one into the log

    def append(self, records: Sequence[FeedbackRecord]) -> None:
        if not records:
            return
        text = "".join(
            json.dumps(redact_data(r.to_dict()), ensure_ascii=False, separators=(",", ":")) + "\n"
            for r in records
        )
        data = text.encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND: one write lands whole at the end, whoever else appends.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)


def read_feedback(path: Path) -> tuple[list[FeedbackRecord], int]:
    """Every record of the log, and how many lines could not be read (a torn last line,
    a line that is not a JSON object of a router call).

    :raises FileNotFoundError: when there is no log.
    """
    records: list[FeedbackRecord] = []
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, Mapping):  # a number, a list: not a router call
                    raise TypeError("not an object")
                records.append(FeedbackRecord.from_dict(data))
            except (ValueError, KeyError, TypeError, RecursionError):
                bad += 1
    return records, bad


@dataclass(frozen=True)
class FeedbackStats:
    """One task and model in the feedback log."""

    task: str
    model: str
    calls: int
    """Calls made (a model skipped by its open circuit is not called)."""
    ok: int
    p50_ms: float | None
    """Median latency of the calls that answered (``ok``)."""
    p95_ms: float | None
    fell_over: int
    """Failed calls after which the router went on to the next model."""
    backup: int
    """Answers given after another model had failed in the same call."""
    skipped: int
    """Times the circuit breaker skipped the model."""
    outcomes: Mapping[str, int] = field(default_factory=dict)

    @property
    def success_rate(self) -> float | None:
        return None if not self.calls else self.ok / self.calls


def summarize_feedback(
    records: Iterable[FeedbackRecord], task: str | None = None
) -> list[FeedbackStats]:
    """Per task and model (in order of first appearance): success rate, p50/p95, fall-overs.

    A failed call counts as a fall-over when a later line of the same router call names
    its model in ``fell_over_from``.
    """
    chosen = [r for r in records if task is None or r.task == task]
    passed_on: set[tuple[str, str]] = set()  # (call, model) a later model fell over from
    for r in chosen:
        passed_on.update((r.call, m) for m in r.fell_over_from)
    groups: dict[tuple[str, str], list[FeedbackRecord]] = {}
    for r in chosen:
        groups.setdefault((r.task, r.model), []).append(r)
    stats: list[FeedbackStats] = []
    for (task_name, model), rows in groups.items():
        called = [r for r in rows if r.outcome != "circuit_open"]
        answered = [r.latency_ms for r in called if r.ok and r.latency_ms is not None]
        outcomes: dict[str, int] = {}
        for r in rows:
            outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
        stats.append(
            FeedbackStats(
                task=task_name,
                model=model,
                calls=len(called),
                ok=sum(1 for r in called if r.ok),
                p50_ms=percentile(answered, 50),
                p95_ms=percentile(answered, 95),
                fell_over=sum(1 for r in called if not r.ok and (r.call, r.model) in passed_on),
                backup=sum(1 for r in called if r.ok and r.fell_over_from),
                skipped=len(rows) - len(called),
                outcomes=outcomes,
            )
        )
    return stats
