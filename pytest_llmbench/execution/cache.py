"""The response cache: re-score answers without a model server.

``--llm-cache`` mode:

- ``off`` (default): every case calls its model;
- ``write``: every case calls its model and stores the answer;
- ``read``: every case takes its answer from the cache and no model is called (nor
  asked what models it has: the models are the ones the cache holds answers for);
  a case with no stored answer fails with the error "not in the response cache";
- ``readwrite``: a stored answer is used, a missing one is fetched live and stored.

The key is the SHA-256 of the provider, the model, its digest when the provider
reports one (Ollama does), the full request (prompt, system, options, schema; not
the timeout, which does not change the answer), the plugin version and the repeat
number (with ``--llm-repeat 5`` the five answers are five entries, so a re-score
checks five answers, not one five times).  One JSON
file per key under ``.llmbench/cache/`` (``--llm-cache-dir``), written atomically,
so parallel workers can share a cache.

A cached answer is scored like a live one but its result is marked ``cached`` and
carries no timing: "timing never comes from a cache hit".

Pure-ish module: files in, :class:`Response` out; no pytest.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmbench._version import __version__
from pytest_llmbench.providers.base import Discovery, ModelInfo, Request, Response, plain_json
from pytest_llmbench.safety.atomic import write_atomic
from pytest_llmbench.safety.redaction import redact, redact_data

__all__ = [
    "DEFAULT_DIR",
    "MODES",
    "NOT_CACHED",
    "CacheEntry",
    "ResponseCache",
    "cache_key",
    "request_fingerprint",
]

MODES = ("off", "read", "write", "readwrite")
DEFAULT_DIR = ".llmbench/cache"
NOT_CACHED = "not in the response cache (--llm-cache=read)"
FORMAT = 1

_RESPONSE_FIELDS = tuple(f.name for f in dataclasses.fields(Response))


def request_fingerprint(request: Request) -> dict[str, Any]:
    """Everything in a request that can change the answer, as plain JSON."""
    options = request.options
    return {
        "model": request.model,
        "system": request.system,
        "prompt": request.prompt,
        "options": {
            "temperature": options.temperature,
            "seed": options.seed,
            "max_tokens": options.max_tokens,
            "top_p": options.top_p,
            "top_k": options.top_k,
            "extra": plain_json(options.extra),
        },
        "json_schema": plain_json(request.json_schema) if request.json_schema is not None else None,
    }


def _digest(model: ModelInfo) -> str | None:
    digest = model.details.get("digest")
    return str(digest) if digest else None


def cache_key(
    model: ModelInfo, request: Request, version: str = __version__, repeat: int = 1
) -> str:
    material: dict[str, Any] = {
        "provider": model.provider,
        "model": model.name,
        "digest": _digest(model),
        "request": request_fingerprint(request),
        "plugin_version": version,
    }
    if repeat != 1:  # the first run's key is the request's alone
        material["repeat"] = repeat
    canonical = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    key: str
    provider: str
    model: str
    digest: str | None
    response: Response
    latency_ms: float | None
    """The latency of the live call that was stored (kept for people; never ranked)."""
    stored_at: str
    plugin_version: str


class ResponseCache:
    """The cache directory, used in one of :data:`MODES`."""

    def __init__(self, directory: Path, mode: str = "off", version: str = __version__) -> None:
        if mode not in MODES:
            raise ValueError(f"cache mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.directory = directory
        self.mode = mode
        self.version = version
        self._index: dict[str, dict[str, ModelInfo]] | None = None
        self.problems: list[str] = []
        """Damaged entries skipped and writes that failed, for the caller to report
        (and clear); the run goes on without them."""
        self._unwritable = False

    @property
    def reads(self) -> bool:
        return self.mode in ("read", "readwrite")

    @property
    def writes(self) -> bool:
        return self.mode in ("write", "readwrite")

    @property
    def offline(self) -> bool:
        """``read``: no model is called or discovered; everything comes from the cache."""
        return self.mode == "read"

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    # -- one entry --------------------------------------------------------------

    def get(self, model: ModelInfo, request: Request, repeat: int = 1) -> CacheEntry | None:
        """The stored answer to this request, or ``None`` (also for a damaged file: it goes
        to ``problems``, with the file)."""
        key = cache_key(model, request, self.version, repeat)
        path = self.path(key)
        try:
            return self._load(path, strict=True)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.problems.append(f"cache entry {path}: {exc}; skipped (a miss)")
            return None

    def put(
        self,
        model: ModelInfo,
        request: Request,
        response: Response,
        latency_ms: float | None,
        repeat: int = 1,
    ) -> Path:
        """Store a live answer (atomically: a temporary file, then a rename)."""
        key = cache_key(model, request, self.version, repeat)
        stored = {f: getattr(response, f) for f in _RESPONSE_FIELDS}
        stored["text"] = redact(response.text)
        document = {
            "format": FORMAT,
            "key": key,
            "provider": model.provider,
            "model": model.name,
            "digest": _digest(model),
            "plugin_version": self.version,
            "stored_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "repeat": repeat,
            "latency_ms": latency_ms,
            "request": redact_data(request_fingerprint(request)),
            "response": stored,
        }
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, [json.dumps(document, indent=1, ensure_ascii=False) + "\n"])
        return path

    def store(
        self,
        model: ModelInfo,
        request: Request,
        response: Response,
        latency_ms: float | None,
        repeat: int = 1,
    ) -> None:
        """:meth:`put`, but a cache that cannot be written (read-only, disk full) is
        reported once in ``problems`` and no longer written to: the run goes on."""
        if self._unwritable:
            return
        try:
            self.put(model, request, response, latency_ms, repeat)
        except OSError as exc:
            self._unwritable = True
            self.problems.append(
                f"response cache {self.directory} not written ({exc.strerror or exc}); "
                "the run goes on without storing answers"
            )

    @staticmethod
    def _load(path: Path, strict: bool = False) -> CacheEntry | None:
        """One entry; ``None`` for a damaged one, or with ``strict`` the error."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            stored = document["response"]
            if not isinstance(stored, dict) or not isinstance(stored.get("text"), str):
                raise ValueError("its response has no text string")
            response = Response(**{k: v for k, v in stored.items() if k in _RESPONSE_FIELDS})
            return CacheEntry(
                key=str(document["key"]),
                provider=str(document["provider"]),
                model=str(document["model"]),
                digest=document.get("digest"),
                response=response,
                latency_ms=document.get("latency_ms"),
                stored_at=str(document.get("stored_at", "")),
                plugin_version=str(document.get("plugin_version", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            if strict:
                raise
            return None

    # -- what it holds ----------------------------------------------------------

    def entries(self) -> Iterator[CacheEntry]:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("??/*.json")):
            entry = self._load(path)
            if entry is not None:
                yield entry

    def _models(self) -> dict[str, dict[str, ModelInfo]]:
        """Provider -> model -> info, for the entries of this plugin version (read once)."""
        if self._index is None:
            index: dict[str, dict[str, ModelInfo]] = {}
            for entry in self.entries():
                if entry.plugin_version != self.version:
                    continue
                models = index.setdefault(entry.provider, {})
                if entry.model not in models:
                    details: dict[str, Any] = {"cached": True}
                    if entry.digest:
                        details["digest"] = entry.digest
                    models[entry.model] = ModelInfo(entry.provider, entry.model, details=details)
            self._index = index
        return self._index

    def discovery(self, provider: str) -> Discovery:
        """The models of ``provider`` the cache holds answers for (``read`` mode discovery)."""
        models = self._models().get(provider, {})
        if not models:
            return Discovery(
                problem=f"no cached answers in {self.directory}",
                hint="record them with --llm-cache=write or readwrite",
            )
        return Discovery(tuple(models[name] for name in sorted(models)))
