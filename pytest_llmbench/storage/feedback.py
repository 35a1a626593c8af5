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

``model_changed: true`` marks the lines of a model whose weights are not the benchmarked
ones (:mod:`pytest_llmbench.router.identity`), written only when true.  Three optional
keys, written only when set (a log without them reads as before):
``inputs`` (the case variables of the call, when the task captures its inputs: redacted),
``answer`` (the model's raw answer, captured likewise) and ``shadow`` (the outcome of a
shadow check of this answer, :mod:`pytest_llmbench.router.shadow`: ``{"check":
"runner_up", "model": "...", "agreed": bool | null, "score": float | null}``, with
``similarity``, the judge's ``reason``, ``error`` when the check could not be made, and
the shadow model's ``answer`` when the task captures).  :func:`captured_calls` reads the calls worth
a gold case from them (``llmbench feedback --export-cases``); :func:`summarize_feedback`
counts agreement (consensus and shadow checks) and judge scores for the drift check.

Every line is masked before it is written (:func:`~pytest_llmbench.safety.redaction.redact`:
registered secrets, the values of secret-named environment variables, credential-looking
text), so an answer or an error that echoes a key never lands in the log.  The router's
calls are buffered and written many calls at a time, each write whole at the end of the
file (``O_APPEND``), so concurrent writers (threads, processes) never interleave inside a
line (:class:`FeedbackLog`: when the lines are written).  Pure module apart from that one
file.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import json
import logging
import os
import re
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmbench.analysis.stats import percentile
from pytest_llmbench.safety.redaction import redact_data, register_environment_secrets

__all__ = [
    "DEFAULT_FEEDBACK",
    "OUTCOMES",
    "CapturedCall",
    "FeedbackLog",
    "FeedbackRecord",
    "FeedbackStats",
    "captured_calls",
    "feedback_path",
    "flush_feedback",
    "parse_since",
    "read_feedback",
    "records_since",
    "summarize_feedback",
]

_logger = logging.getLogger("pytest_llmbench.router")

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
    inputs: Mapping[str, str] | None = None
    """The call's case variables, when the task captures its inputs."""
    answer: str | None = None
    """The model's raw answer, when captured."""
    shadow: Mapping[str, Any] | None = None
    """The shadow check of this answer: ``check``, ``model``, ``agreed``, ``score``."""
    model_changed: bool = False
    """The model's weights were not the benchmarked ones (written only when true)."""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def agreed(self) -> bool | None:
        """Whether another model agreed with this answer (a consensus call or a shadow
        check); ``None`` when nothing checked it."""
        if self.shadow is not None and isinstance(self.shadow.get("agreed"), bool):
            return bool(self.shadow["agreed"])
        if self.consensus is not None and self.ok:
            return self.model in (self.consensus.get("agreed") or ())
        return None

    @property
    def judge_score(self) -> float | None:
        """The score a shadow judge gave this answer (0 to 1), or ``None``."""
        score = None if self.shadow is None else self.shadow.get("score")
        return float(score) if isinstance(score, (int, float)) else None

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
            **({} if self.inputs is None else {"inputs": dict(self.inputs)}),
            **({} if self.answer is None else {"answer": self.answer}),
            **({} if self.shadow is None else {"shadow": dict(self.shadow)}),
            **({"model_changed": True} if self.model_changed else {}),
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
            inputs=_inputs(data.get("inputs")),
            answer=None if data.get("answer") is None else str(data["answer"]),
            shadow=data["shadow"] if isinstance(data.get("shadow"), Mapping) else None,
            model_changed=data.get("model_changed") is True,
        )


def _inputs(value: Any) -> dict[str, str] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def feedback_path(registry: Path) -> Path:
    """The default feedback log of a registry: ``.llmbench/feedback.jsonl`` beside it."""
    return registry.parent / DEFAULT_FEEDBACK


class FeedbackLog:
    """Appends the records of one router call at a time to a JSON-lines file.

    The file is opened once (``O_APPEND``) and kept open; the lines are buffered in
    memory and written in one ``write`` when ``flush_bytes`` are waiting, when the oldest
    has waited ``flush_s`` seconds (a timer thread writes them then), on :meth:`flush`
    and :meth:`close`, when the log is dropped, and at the exit of the process (nothing
    is lost on a normal exit).  ``flush_bytes=0``: every call's lines are written at
    once.  A file moved away (log rotation) is noticed at the next write, which opens
    the path anew.  :func:`read_feedback` writes the buffered lines of the file it reads
    first, so a reader in this process sees every call made.
    """

    def __init__(self, path: Path, *, flush_bytes: int = 64 * 1024, flush_s: float = 1.0) -> None:
        self.path = path
        self.flush_bytes = flush_bytes
        self.flush_s = flush_s
        self._lock = threading.Lock()
        register_environment_secrets()  # before an answer can echo one into the log
        self._buffer = _Buffer()
        self._timer: threading.Timer | None = None
        self._warned = False
        self._finalizer = weakref.finalize(self, _write_out, path, self._buffer, self._lock)
        _OPEN.add(self)

    def append(self, records: Sequence[FeedbackRecord]) -> None:
        if not records:
            return
        text = "".join(
            json.dumps(redact_data(r.to_dict()), ensure_ascii=False, separators=(",", ":")) + "\n"
            for r in records
        )
        data = text.encode("utf-8")
        with self._lock:
            if self._buffer.fd is None:  # a log that cannot be written says so at the call
                _open_locked(self.path, self._buffer)
            self._buffer.chunks.append(data)
            self._buffer.size += len(data)
            if self._buffer.size >= self.flush_bytes:
                _write_locked(self.path, self._buffer)
            elif self._timer is None:
                # the timer holds the log weakly: a log dropped is written out at once
                self._timer = threading.Timer(self.flush_s, _on_timer, (weakref.ref(self),))
                self._timer.daemon = True
                self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
        try:
            self.flush()
        except OSError as exc:  # no caller to tell: one line, the lines are dropped
            if not self._warned:
                self._warned = True
                _logger.warning("llmbench: cannot write the feedback log %s (%s)", self.path, exc)

    def flush(self) -> None:
        """Write the buffered lines now (``OSError`` when the file cannot be written:
        the lines are dropped)."""
        with self._lock:
            _write_locked(self.path, self._buffer)

    def close(self) -> None:
        """Write the buffered lines and close the file (it reopens on the next call)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        with self._lock:
            try:
                _write_locked(self.path, self._buffer)
            finally:
                self._buffer.close()


class _Buffer:
    """The lines waiting and the open file: what a dropped log still writes out."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.fd: int | None = None
        self.inode: tuple[int, int] | None = None

    def close(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _on_timer(ref: weakref.ref[FeedbackLog]) -> None:
    log = ref()
    if log is not None:
        log._on_timer()


def _write_locked(path: Path, buffer: _Buffer) -> None:
    """Write what is buffered in one ``write`` (the caller holds the log's lock)."""
    if not buffer.chunks:
        return
    data = b"".join(buffer.chunks)
    buffer.chunks.clear()
    buffer.size = 0
    if buffer.fd is not None:
        try:  # rotated or removed meanwhile: open the path anew
            st = os.stat(path)
            moved = (st.st_dev, st.st_ino) != buffer.inode
        except OSError:
            moved = True
        if moved:
            buffer.close()
    if buffer.fd is None:
        _open_locked(path, buffer)
    assert buffer.fd is not None
    view = memoryview(data)
    while view:
        written = os.write(buffer.fd, view)
        view = view[written:]


def _open_locked(path: Path, buffer: _Buffer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: one write lands whole at the end, whoever else appends.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    st = os.fstat(fd)
    buffer.fd, buffer.inode = fd, (st.st_dev, st.st_ino)


def _write_out(path: Path, buffer: _Buffer, lock: threading.Lock) -> None:
    """A log dropped or the process exiting: write what waits, close the file."""
    with lock:
        try:
            _write_locked(path, buffer)
        except OSError as exc:
            _logger.warning("llmbench: cannot write the feedback log %s (%s)", path, exc)
        finally:
            buffer.close()


_OPEN: weakref.WeakSet[FeedbackLog] = weakref.WeakSet()
"""Every log of this process (to write out in :func:`flush_feedback` and at exit)."""


def flush_feedback(path: Path | None = None) -> None:
    """Write the buffered lines of every feedback log of this process (of ``path`` only,
    when given)."""
    wanted = None if path is None else os.path.abspath(path)
    for log in list(_OPEN):
        if wanted is None or os.path.abspath(log.path) == wanted:
            log.flush()


def _at_exit() -> None:
    for log in list(_OPEN):
        log._finalizer()


def _forget_in_child() -> None:  # a forked child does not write its parent's lines
    for log in list(_OPEN):
        log._buffer.chunks.clear()
        log._buffer.size = 0
        log._buffer.fd = None
        log._lock = threading.Lock()
        log._timer = None


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)


def read_feedback(path: Path) -> tuple[list[FeedbackRecord], int]:
    """Every record of the log, and how many lines could not be read (a torn last line,
    a line that is not a JSON object of a router call).

    :raises FileNotFoundError: when there is no log.
    """
    with contextlib.suppress(OSError):  # what this process buffered, first
        flush_feedback(path)
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
    checked: int = 0
    """Answers another model checked (consensus calls, shadow checks)."""
    agreed: int = 0
    """Of those, the answers the other model agreed with."""
    judge_scores: tuple[float, ...] = ()
    """Scores shadow judges gave its answers."""

    @property
    def success_rate(self) -> float | None:
        return None if not self.calls else self.ok / self.calls

    @property
    def error_rate(self) -> float | None:
        return None if not self.calls else 1 - self.ok / self.calls

    @property
    def agreement(self) -> float | None:
        """The share of its checked answers another model agreed with."""
        return None if not self.checked else self.agreed / self.checked

    @property
    def judge_score(self) -> float | None:
        """The mean score of its judged answers."""
        return None if not self.judge_scores else sum(self.judge_scores) / len(self.judge_scores)


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
        checks = [r.agreed for r in called if r.agreed is not None]
        scores = tuple(s for s in (r.judge_score for r in called) if s is not None)
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
                checked=len(checks),
                agreed=sum(checks),
                judge_scores=scores,
            )
        )
    return stats


# --------------------------------------------------------------------------- windows


def parse_since(text: str, now: _dt.datetime | None = None) -> _dt.datetime:
    """``7d``, ``12h``, ``30m`` (before ``now``) or a date or time (``2025-06-01``,
    ``2025-06-01T09:00Z``) as an aware UTC time.

    :raises ValueError: for anything else.
    """
    now = now or _dt.datetime.now(_dt.timezone.utc)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhm])\s*", text)
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
        return now - _dt.timedelta(**{unit: float(match.group(1))})
    moment = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def _time(record: FeedbackRecord) -> _dt.datetime | None:
    try:
        moment = _dt.datetime.fromisoformat(record.time.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def records_since(records: Iterable[FeedbackRecord], since: _dt.datetime) -> list[FeedbackRecord]:
    """The records from ``since`` on (a record without a readable time is left out)."""
    out = []
    for record in records:
        moment = _time(record)
        if moment is not None and moment >= since:
            out.append(record)
    return out


# --------------------------------------------------------------------------- captured calls


@dataclass(frozen=True)
class CapturedCall:
    """A router call whose inputs were captured and whose answer is in doubt."""

    call: str
    time: str
    task: str
    inputs: Mapping[str, str]
    reasons: tuple[str, ...]
    """Why it is worth a gold case: ``failed``, ``fell over``, ``no consensus``,
    ``disagreement`` (a shadow check), ``low judge score``."""
    lines: tuple[FeedbackRecord, ...]
    """Its lines: who answered what."""


def captured_calls(
    records: Iterable[FeedbackRecord],
    task: str,
    *,
    min_judge_score: float = 0.5,
    everything: bool = False,
) -> tuple[list[CapturedCall], int]:
    """The calls of ``task`` with captured inputs that are worth a gold case (every one
    with ``everything``), in log order, and how many calls of the task had no captured
    inputs.

    A call is worth one when no model answered, when a model failed before another
    answered, when a consensus found no agreement, when a shadow check disagreed, or when
    a shadow judge scored an answer below ``min_judge_score``.
    """
    calls: dict[str, list[FeedbackRecord]] = {}
    for record in records:
        if record.task == task:
            calls.setdefault(record.call or f"line{len(calls)}", []).append(record)
    found: list[CapturedCall] = []
    uncaptured = 0
    for call, lines in calls.items():
        inputs = next((r.inputs for r in lines if r.inputs is not None), None)
        if inputs is None:
            uncaptured += 1
            continue
        reasons = _doubts(lines, min_judge_score)
        if reasons or everything:
            found.append(CapturedCall(call, lines[0].time, task, inputs, reasons, tuple(lines)))
    return found, uncaptured


def _doubts(lines: Sequence[FeedbackRecord], min_judge_score: float) -> tuple[str, ...]:
    reasons: list[str] = []
    called = [r for r in lines if r.outcome != "circuit_open"]
    if not any(r.ok for r in called):
        reasons.append("failed")
    elif any(not r.ok for r in called):
        reasons.append("fell over")
    consensus = next((r.consensus for r in lines if r.consensus is not None), None)
    if consensus is not None and not consensus.get("accepted", True):
        reasons.append("no consensus")
    if any(r.shadow is not None and r.shadow.get("agreed") is False for r in lines):
        reasons.append("disagreement")
    scores = [s for s in (r.judge_score for r in lines) if s is not None]
    if scores and min(scores) < min_judge_score:
        reasons.append("low judge score")
    return tuple(reasons)
