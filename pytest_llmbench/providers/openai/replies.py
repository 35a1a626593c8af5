"""An OpenAI-compatible endpoint's replies, from either transport, and the request body.

The lean client hands the provider a reply's JSON (:class:`Reply`), the ``openai``
client its own objects: :func:`get` reads a field of either.  :func:`answer` reads a
chat completion's text and token counts, :func:`listing` a ``GET /models`` reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Answer", "Listing", "Reply", "answer", "get", "listing", "request_body"]


@dataclass(frozen=True)
class Reply:
    """A successful reply over the lean client: its JSON and its ``Server`` header."""

    json: Any
    server: str


@dataclass(frozen=True)
class Listing:
    """A ``GET /models`` reply: its entries and the server's ``Server`` header."""

    entries: list[Any]
    server: str


@dataclass(frozen=True)
class Answer:
    """What a chat completion says: the text and the token counts it reports."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None


def get(obj: Any, name: str) -> Any:
    """A field of a reply: a JSON object's key (lean client) or an attribute (``openai``)."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def listing(reply: Reply) -> Listing:
    """The entries of a ``GET /models`` reply over the lean client (``TypeError``: none)."""
    entries = get(reply.json, "data")
    if not isinstance(entries, list):
        raise TypeError("the reply has no 'data' list")
    return Listing(entries, reply.server)


def answer(completion: Any) -> Answer | None:
    """The text and token counts of a chat completion; ``None``: no ``choices[0].message``."""
    try:
        message = get(get(completion, "choices")[0], "message")
        if message is None:
            raise AttributeError("message")
        text = get(message, "content") or ""
    except (AttributeError, IndexError, TypeError, KeyError):
        return None
    usage = get(completion, "usage")
    return Answer(
        str(text),
        _int(get(usage, "prompt_tokens")),
        _int(get(usage, "completion_tokens")),
    )


def request_body(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body the ``openai`` client sends for ``arguments`` (``extra_body`` merged in)."""
    body = {k: v for k, v in arguments.items() if k != "extra_body"}
    body.update(arguments.get("extra_body") or {})
    return body


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
