"""Which weights stand behind a model's name: its identity, where the provider reports one.

An ``ollama pull`` replaces the weights under the same tag; the registry records the
identity each model was benchmarked with (:attr:`~pytest_llmbench.storage.champions.
Evidence.identity`), and ``llmbench rankings`` compares it with what is installed now.

- Ollama: the digest ``/api/tags`` reports (:func:`model_identity` reads it from the
  discovered :class:`~pytest_llmbench.providers.base.ModelInfo`;
  :func:`installed_ollama_identities` asks a host directly);
- OpenAI-compatible endpoints and the rest: none (``None``) for now.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterable, Mapping

from pytest_llmbench.providers.base import DEFAULT_OLLAMA_HOST, ModelInfo

__all__ = ["installed_ollama_identities", "model_identities", "model_identity", "tagged"]


def model_identity(info: ModelInfo) -> str | None:
    """The identity of a discovered model: Ollama's digest, else ``None``."""
    if info.provider == "ollama":
        digest = info.details.get("digest")
        return str(digest) if digest else None
    return None


def model_identities(models: Iterable[ModelInfo]) -> dict[str, str]:
    """``{model id: identity}`` of the models that have one (for
    :func:`~pytest_llmbench.storage.champions.update_registry`)."""
    out: dict[str, str] = {}
    for info in models:
        identity = model_identity(info)
        if identity is not None:
            out[info.id] = identity
    return out


def _tag(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def installed_ollama_identities(
    host: str | None = None, timeout_s: float = 3.0
) -> Mapping[str, str | None]:
    """``{"ollama/NAME:TAG": digest}`` of every model the host lists in ``/api/tags``.

    :raises OSError: when the host cannot be reached or does not answer with a listing.
    """
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
