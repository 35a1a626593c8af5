"""The router's feedback lines: one line per model asked, written to the feedback log
(:mod:`pytest_llmbench.storage.feedback`).  Bookkeeping never costs a caller its answer:
a log that cannot be written is warned about once per process and the calls go on."""

from __future__ import annotations

import datetime as _dt
import logging
import random
import threading
from collections.abc import Mapping
from typing import Any

from pytest_llmbench.router.results import Attempt, ConsensusDetails
from pytest_llmbench.safety.redaction import redact
from pytest_llmbench.storage.feedback import FeedbackLog, FeedbackRecord

__all__ = ["close", "flush", "log_call", "now"]

_logger = logging.getLogger("pytest_llmbench.router")
_warned = threading.Event()
_warned_lock = threading.Lock()


def _warn_once(message: str) -> None:
    """Log a bookkeeping failure once per process (the router's calls go on)."""
    with _warned_lock:
        if _warned.is_set():
            return
        _warned.set()
    _logger.warning("%s", message)


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {redact(str(exc))}"


def flush(log: FeedbackLog | None) -> None:
    """Write the log's buffered lines now."""
    if log is not None:
        try:
            log.flush()
        except OSError as exc:
            _warn_once(f"llmbench: cannot write the feedback log {log.path} ({_why(exc)})")


def close(log: FeedbackLog | None) -> None:
    """Write the log's buffered lines and close it."""
    if log is not None:
        try:
            log.close()
        except OSError as exc:
            _warn_once(f"llmbench: cannot write the feedback log {log.path} ({_why(exc)})")


def now() -> str:
    """The time of a feedback line (UTC, milliseconds)."""
    moment = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


def log_call(
    log: FeedbackLog | None,
    task: str,
    attempts: list[Attempt],
    consensus: ConsensusDetails | None,
    *,
    when: str | None = None,
    inputs: Mapping[str, str] | None = None,
    answers: bool = False,
    shadow: tuple[str, Mapping[str, Any]] | None = None,
) -> None:
    """The feedback lines of one router call, in one write.

    :param when: the time of the call (default: now).
    :param inputs: the call's variables, captured (on its first line).
    :param answers: capture each model's raw answer too (``answer``).
    :param shadow: ``(model, outcome)``: the shadow check of that model's answer.
    """
    if log is None or not attempts:
        return
    call = f"{random.getrandbits(48):012x}"  # uuid4's 48 bits, no system call
    try:
        _append(log, task, call, when or now(), attempts, consensus, inputs, answers, shadow)
    except Exception as exc:  # bookkeeping never costs the caller its answer
        _warn_once(
            f"llmbench: cannot write the feedback log {log.path} "
            f"({_why(exc)}); the router goes on without it: make its folder writable, "
            "or pass feedback= another file or False"
        )


def _append(
    log: FeedbackLog,
    task: str,
    call: str,
    when: str,
    attempts: list[Attempt],
    consensus: ConsensusDetails | None,
    inputs: Mapping[str, str] | None,
    answers: bool,
    shadow: tuple[str, Mapping[str, Any]] | None,
) -> None:
    checked = None if shadow is None else shadow[0]
    log.append(
        [
            FeedbackRecord(
                time=when,
                call=call,
                task=task,
                model=a.model,
                outcome=a.outcome,
                latency_ms=a.latency_ms,
                fell_over_from=a.fell_over_from,
                detail=a.detail,
                consensus=None if consensus is None else consensus.to_dict(),
                model_changed=a.changed,
                inputs=dict(inputs) if inputs is not None and i == 0 else None,
                answer=a.text if answers and a.text else None,
                shadow=shadow[1] if shadow is not None and a.ok and a.model == checked else None,
            )
            for i, a in enumerate(attempts)
        ]
    )
