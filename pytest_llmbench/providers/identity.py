"""Which weights stand behind a model's name: its identity, where the provider reports one.

An ``ollama pull`` replaces the weights under the same tag; the registry records the
identity each model was benchmarked with (:attr:`~pytest_llmbench.storage.champions.
Evidence.identity`), and ``llmbench rankings`` compares it with what is installed now.

- Ollama: the digest ``/api/tags`` reports (:func:`model_identity` reads it from the
  discovered :class:`~pytest_llmbench.providers.base.ModelInfo`;
  :func:`installed_ollama_identities` asks a host directly);
- embedded llama.cpp: ``sha256:`` of the GGUF file (:func:`file_sha256`: hashed once,
  then cached by path, size and modification time in ``.llmbench/file-hashes.json``);
- OpenAI-compatible endpoints: what ``GET /models`` says of the model
  (:func:`listed_identity`: its ``id``, and vLLM's ``root`` or llama.cpp server's
  ``meta`` size and parameter count when it gives them); ``None`` when it is not listed.

:func:`current_identity` asks a provider for a model's identity now (the router's
check before a model's first use, :mod:`pytest_llmbench.router.identity`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pytest_llmbench.providers.base import DEFAULT_OLLAMA_HOST, ModelInfo, Provider

__all__ = [
    "HASH_CACHE",
    "current_identity",
    "file_sha256",
    "installed_ollama_identities",
    "listed_identity",
    "model_identities",
    "model_identity",
    "tagged",
]

HASH_CACHE = Path(".llmbench") / "file-hashes.json"
"""Where :func:`file_sha256` keeps the hashes it made (relative to the working directory)."""

_hashes: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def model_identity(info: ModelInfo) -> str | None:
    """The identity of a discovered model: Ollama's digest, an embedded model's file
    hash, what an OpenAI-compatible endpoint lists; ``None`` when there is none."""
    if info.provider == "ollama":
        digest = info.details.get("digest")
        return str(digest) if digest else None
    if info.provider == "llamacpp":
        path = info.details.get("path") or _builtin_path(info.name)
        return file_sha256(str(path)) if path else None
    identity = info.details.get("identity")
    return str(identity) if identity else None


def _builtin_path(name: str) -> str | None:
    from pytest_llmbench.providers.llamacpp import BUILTIN_MODELS

    if name not in BUILTIN_MODELS:
        return None
    try:
        path = BUILTIN_MODELS[name][1]()
    except Exception:  # a package that cannot give its file: no identity
        return None
    return None if path is None else str(path)


def file_sha256(path: str, cache: Path | None = HASH_CACHE) -> str | None:
    """``sha256:HEX`` of a file, hashed once per path, size and modification time (kept
    in memory and in ``cache``, so a later run does not read a 200 MB GGUF again);
    ``None`` when the file cannot be read.  A cache that cannot be read or written is
    left alone (the file is hashed)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = (os.path.abspath(path), stat.st_size, stat.st_mtime_ns)
    with _hash_lock:
        if key in _hashes:
            return _hashes[key]
    stored = _read_cache(cache)
    found = stored.get(_cache_key(key))
    if not isinstance(found, str):
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
        except OSError:
            return None
        found = f"sha256:{digest.hexdigest()}"
        _write_cache(cache, {**stored, _cache_key(key): found})
    with _hash_lock:
        _hashes[key] = found
    return found


def _cache_key(key: tuple[str, int, int]) -> str:
    return f"{key[0]}:{key[1]}:{key[2]}"


def _read_cache(cache: Path | None) -> dict[str, Any]:
    if cache is None:
        return {}
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(cache: Path | None, data: Mapping[str, Any]) -> None:
    if cache is None:
        return
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        part = cache.with_name(f"{cache.name}.{os.getpid()}.part")
        part.write_text(json.dumps(dict(data), indent=0, sort_keys=True), encoding="utf-8")
        os.replace(part, cache)
    except OSError:
        pass  # a cache is a saving, never a failure


def listed_identity(entry: Any) -> str | None:
    """What a ``GET /models`` entry of an OpenAI-compatible endpoint says of the model
    behind its name: ``id``, with vLLM's ``root`` and llama.cpp server's ``meta`` size
    and parameter count when given (``created`` is left out: servers set it at start)."""

    def field(obj: Any, name: str) -> Any:
        return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)

    model = field(entry, "id")
    if not model:
        return None
    parts = [str(model)]
    if field(entry, "root") and field(entry, "root") != model:
        parts.append(f"root={field(entry, 'root')}")
    meta = field(entry, "meta")
    for key in ("size", "n_params"):
        if isinstance(meta, Mapping) and meta.get(key) is not None:
            parts.append(f"{key}={meta[key]}")
    return ";".join(parts)


def current_identity(provider: Provider, name: str, timeout_s: float) -> str | None:
    """The identity of ``provider``'s model ``name`` now, asked within ``timeout_s``
    (Ollama: ``/api/tags`` of its host; an OpenAI-compatible endpoint: ``GET /models``;
    embedded: the file hash).  ``None`` when it is not known (no answer, not listed).

    :raises OSError: (and other errors) when the server cannot be asked; the caller
        treats any failure as "not known".
    """
    if provider.name == "ollama":
        host = getattr(provider, "host_for", lambda _n: None)(name)
        listed = installed_ollama_identities(host, timeout_s)
        return listed.get(f"ollama/{_tag(name)}")
    if provider.name == "llamacpp":
        path = getattr(provider, "_path", None)
        return file_sha256(str(path(name))) if callable(path) else None
    endpoint = getattr(provider, "endpoint", None)
    if endpoint is None:
        return None
    import urllib.request  # only here: a run that asks no server imports no HTTP client

    request = urllib.request.Request(f"{endpoint.base_url.rstrip('/')}/models")
    key = endpoint.api_key() if endpoint.key_env else None
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout_s) as reply:
        data = json.loads(reply.read().decode("utf-8"))
    entries = data.get("data") if isinstance(data, Mapping) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and entry.get("id") == name:
            return listed_identity(entry)
    return None


def model_identities(models: Iterable[ModelInfo]) -> Mapping[str, str]:
    """``{model id: identity}`` of the models that have one (for
    :func:`~pytest_llmbench.storage.champions.update_registry`).

    Lazy: a model's identity is found when it is looked up (``get``), so a run hashes
    the GGUF of the models the registry records (champion, runner-up), not every one."""
    return _Identities(models)


class _Identities(Mapping[str, str]):
    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self._models = {info.id: info for info in models}
        self._found: dict[str, str | None] = {}

    def _find(self, model: str) -> str | None:
        if model not in self._found:
            info = self._models.get(model)
            self._found[model] = None if info is None else model_identity(info)
        return self._found[model]

    def __getitem__(self, model: str) -> str:
        found = self._find(model)
        if found is None:
            raise KeyError(model)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([m for m in self._models if self._find(m) is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _tag(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def installed_ollama_identities(
    host: str | None = None, timeout_s: float = 3.0
) -> Mapping[str, str | None]:
    """``{"ollama/NAME:TAG": digest}`` of every model the host lists in ``/api/tags``.

    :raises OSError: when the host cannot be reached or does not answer with a listing.
    """
    import urllib.request

    from pytest_llmbench.providers.ollama.discovery import normalize_host

    base = normalize_host(host or DEFAULT_OLLAMA_HOST)
    with urllib.request.urlopen(f"{base}/api/tags", timeout=timeout_s) as reply:
        data = json.loads(reply.read().decode("utf-8"))
    if not isinstance(data, Mapping) or not isinstance(data.get("models"), list):
        raise OSError(f"{base}/api/tags did not list models")
    out: dict[str, str | None] = {}
    for entry in data["models"]:
        if isinstance(entry, Mapping):
            name = entry.get("model") or entry.get("name")
            if isinstance(name, str) and name:
                digest = entry.get("digest")
                out[f"ollama/{_tag(name)}"] = str(digest) if digest else None
    return out


def tagged(model: str) -> str:
    """``ollama/llama3`` as Ollama lists it: ``ollama/llama3:latest``."""
    return _tag(model)
