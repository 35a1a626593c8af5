"""The run journal: one JSON line per finished item, so a crash or Ctrl-C loses nothing.

``<state dir>/runs/<run-id>.jsonl`` (the state dir: ``.llmbench`` under the rootdir,
or ``--llm-state-dir``).  Each process appends the items
it ran (one ``write`` of one line as each finishes, ``fsync`` soon after), so the file
is valid up to the last finished item whatever happens; a line cut short by a kill is ignored on
reading and cut off before the file is appended to again.

``--llm-resume`` reads it back: an item is done when the journal has its
(task, case, model, repeat) with the same prompt hash and model fingerprint.
No pytest here.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import secrets
import time
import typing
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import ModelInfo, file_id, installed
from pytest_llmbench.safety.redaction import redact

__all__ = [
    "RUNS_DIR",
    "Entry",
    "ItemKey",
    "Journal",
    "ResumeError",
    "journal_path",
    "latest_run",
    "model_fingerprint",
    "new_run_id",
    "read_entries",
    "repair",
    "resume_id",
]

RUNS_DIR = Path(".llmbench") / "runs"
JOURNAL_VERSION = 1

ItemKey = tuple[str, str, str, int]
"""(task, case id, model id, repeat)."""


def new_run_id(now: _dt.datetime | None = None) -> str:
    """``20250101T120000Z-1a2b3c``: sorts by start time, unique enough across hosts."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def model_fingerprint(model: ModelInfo) -> str:
    """What identifies the model's weights: Ollama's digest, a package version, a file."""
    details = model.details
    digest = details.get("digest")
    if digest:
        return str(digest)
    package = details.get("package")
    if package:
        return installed(str(package))
    path = details.get("path")
    if path:
        return file_id(str(path))
    return ""


@dataclass(frozen=True)
class Entry:
    """One journal line: the result of a finished item and what it was run with."""

    result: Result
    fingerprint: str = ""
    nodeid: str = ""

    @property
    def key(self) -> ItemKey:
        r = self.result
        return (r.task, r.case_id, r.candidate, r.repeat)

    def to_line(self) -> str:
        record = {
            "v": JOURNAL_VERSION,
            "nodeid": self.nodeid,
            "fingerprint": self.fingerprint,
            "result": self.result.to_dict(),  # flat record: no deep copy needed
        }
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_fields)
        return redact(line) + "\n"

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Entry:
        """The entry of one parsed line; ``ValueError`` names what is wrong with it."""
        if not isinstance(record, Mapping):
            raise ValueError("not a JSON object")
        return cls(
            result=checked_result(record.get("result")),
            fingerprint=str(record.get("fingerprint") or ""),
            nodeid=str(record.get("nodeid") or ""),
        )


_RESULT_TYPES = typing.get_type_hints(Result)
_REQUIRED = {f.name for f in fields(Result) if f.default is MISSING}


def _fits(value: object, hint: Any) -> bool:
    """Whether a JSON value fits a field type of :class:`Result` (``str``, ``float | None``...)."""
    options = (hint,) if typing.get_origin(hint) is tuple else typing.get_args(hint) or (hint,)
    for option in options:
        if typing.get_origin(option) is tuple and isinstance(value, list):
            return True  # a tuple of records (a result's score parts) is a JSON list
        if option is type(None) and value is None:
            return True
        if option is bool and isinstance(value, bool):
            return True
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return True
        if option is str and isinstance(value, str):
            return True
    return False


def checked_result(data: object) -> Result:
    """A :class:`Result` from a stored record, every field of the right type.

    Raises ``ValueError`` naming the first field that is missing or of a wrong type:
    a record is never trusted blindly (a damaged or hand-edited file).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"'result' is not an object (got {type(data).__name__})")
    for name in sorted(_REQUIRED - data.keys()):
        raise ValueError(f"result field {name!r} is missing")
    for name, value in data.items():
        hint = _RESULT_TYPES.get(name)
        if hint is not None and not _fits(value, hint):
            raise ValueError(f"result field {name!r} has a wrong type ({type(value).__name__})")
    return Result.from_dict(dict(data))


def _fields(value: Any) -> Any:
    """A record's nested dataclasses (a result's score parts) as plain objects."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def journal_path(runs: Path, run_id: str) -> Path:
    """The journal of ``run_id`` in the directory of journals ``runs``."""
    return runs / f"{run_id}.jsonl"


def _complete_lines(data: bytes) -> Iterator[bytes]:
    """The newline-terminated lines; a trailing partial line is left out."""
    end = data.rfind(b"\n")
    if end < 0:
        return
    yield from data[: end + 1].splitlines()


def read_entries(
    path: Path, limit: int | None = None, problems: list[str] | None = None
) -> list[Entry]:
    """Every complete, readable line of a journal (up to byte ``limit``).

    A damaged line is skipped (its item simply runs again); ``problems`` gets one
    ``path:line: what`` for each.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read() if limit is None else handle.read(limit)
    except FileNotFoundError:
        return []
    entries: list[Entry] = []
    for number, line in enumerate(_complete_lines(data), 1):
        try:
            entries.append(Entry.from_record(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            if problems is not None:
                problems.append(f"{path}:{number}: {exc}")
    return entries


def repair(path: Path) -> int:
    """Cut a partial last line (left by a kill mid-write); return the file's size."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    if size == 0:
        return 0
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return size
        handle.seek(0)
        end = handle.read().rfind(b"\n") + 1
        handle.truncate(end)
        return end


def latest_run(directory: Path) -> str | None:
    """The id of the newest journal in ``directory`` (run ids sort by start time)."""
    if not directory.is_dir():
        return None
    ids = sorted(p.stem for p in directory.glob("*.jsonl"))
    return ids[-1] if ids else None


class Journal:
    """Appends finished items to one run's journal (opened on the first item).

    Every line is written at once with one ``write`` call, so it is in the file when
    the process dies (Ctrl-C, kill, crash).  ``fsync``, which only matters when the
    machine itself goes down, follows a line at most ``sync_interval_s`` later (and on
    close): about 2 ms per call would otherwise double the cost of instant items
    (cache hits, scripted models) without protecting anything more against a kill.
    """

    def __init__(self, path: Path, sync_interval_s: float = 0.1) -> None:
        self.path = path
        self.sync_interval_s = sync_interval_s
        self._fd: int | None = None
        self._synced = 0.0
        self._dirty = False

    def append(self, entry: Entry) -> None:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = entry.to_line().encode("utf-8")
        # One write of one line with O_APPEND: processes sharing the file never interleave.
        written = os.write(self._fd, data)
        while written < len(data):  # pragma: no cover - a short write on a full disk
            written += os.write(self._fd, data[written:])
        self._dirty = True
        if time.monotonic() - self._synced >= self.sync_interval_s:
            self.sync()

    def sync(self) -> None:
        if self._fd is not None and self._dirty:
            os.fsync(self._fd)
            self._dirty = False
            self._synced = time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None


class ResumeError(LookupError):
    """``--llm-resume`` names no journal (the message says which runs there are)."""


def resume_id(runs: Path, wanted: str) -> str:
    """The run ``--llm-resume`` names (``latest``: the last journal in ``runs``)."""
    if wanted == "latest":
        latest = latest_run(runs)
        if latest is None:
            raise ResumeError(f"no run journal in {runs}")
        return latest
    path = journal_path(runs, wanted)
    if not path.is_file():
        known = sorted(p.stem for p in runs.glob("*.jsonl"))
        raise ResumeError(f"no journal {path}; runs: {', '.join(known[-5:]) or 'none'}")
    return wanted
