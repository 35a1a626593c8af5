"""An OpenAI-compatible endpoint's replies, from either transport, and the request body.

The lean client hands the provider a reply's JSON (:class:`Reply`), the ``openai``
client its own objects: :func:`get` reads a field of either.  :func:`answer` reads a
chat completion's text and token counts, :func:`listing` a ``GET /models`` reply;
:func:`chat_arguments` and :func:`request_body` make a chat request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_llmbench.providers.base import Request, plain_json

__all__ = [
    "Answer",
    "Listing",
    "Reply",
    "answer",
    "chat_arguments",
    "get",
    "listing",
    "request_body",
]


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
    if type(obj) is dict or isinstance(obj, Mapping):  # a plain dict: no ABC check
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


def chat_arguments(request: Request, mode: str | None) -> dict[str, Any]:
    """The ``openai`` client's arguments for ``request`` (:func:`request_body`: the JSON sent)."""
    messages: list[dict[str, str]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": request.prompt})
    options = request.options
    arguments: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "temperature": options.temperature,
    }
    if options.seed is not None:
        arguments["seed"] = options.seed
    if options.max_tokens is not None:
        arguments["max_tokens"] = options.max_tokens
    if options.top_p is not None:
        arguments["top_p"] = options.top_p
    extra: dict[str, Any] = {}
    if options.top_k is not None:
        extra["top_k"] = options.top_k  # not in OpenAI's API; vLLM and llama.cpp take it
    extra.update(plain_json(options.extra))
    if extra:
        arguments["extra_body"] = extra
    schema = plain_json(request.json_schema) if request.json_schema is not None else None
    if schema is not None and mode == "json_schema":
        arguments["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": False},
        }
    elif schema is not None and mode == "json_object":
        arguments["response_format"] = {"type": "json_object", "schema": schema}
    return arguments


def request_body(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body the ``openai`` client sends for ``arguments`` (``extra_body`` merged in)."""
    body = {k: v for k, v in arguments.items() if k != "extra_body"}
    body.update(arguments.get("extra_body") or {})
    return body


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
