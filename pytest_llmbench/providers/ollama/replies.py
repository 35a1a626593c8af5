"""Ollama's replies read without the ``ollama`` package, for the lean client.

The ``ollama`` client builds a pydantic object from each reply's JSON
(``ChatResponse(**json)``, ``ListResponse(**json)``...).  Importing it (with pydantic
and httpx) costs about 0.2 s of CPU, more than the rest of a run's start-up, so the
lean client (:mod:`pytest_llmbench.providers.wire`) reads the replies the provider
uses here, in plain Python.

:func:`parse` reads a reply itself only when every field the ``ollama`` type declares
has exactly the type declared (a string where a string is due, an ``int`` for a count
or a duration, ``null`` for an optional field); the fields the provider never reads
and that have structured types of their own (images, tool calls, log-probabilities)
must be absent or ``null``.  Any other reply goes to the ``ollama`` type itself.  So a
reply reads the same on both paths (the same attribute names and values) and one the
``ollama`` type refuses fails with the same pydantic error.

The one check that is lighter than pydantic's: a ``modified_at`` timestamp must look
like an ISO 8601 date and time (``2025-01-15T10:20:30.123456789+01:00``) with a valid
date and time of day; pydantic parses it into a ``datetime`` (the provider never reads it).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

__all__ = ["SHAPES", "parse"]


class _Bad:
    """The marker of a value the plain reading does not take (the ``ollama`` type decides)."""


_BAD = _Bad()
Check = Callable[[Any], Any]
"""A field's check: the value as the reply object holds it, or ``_BAD``."""


def _str(value: Any) -> Any:
    return value if value is None or type(value) is str else _BAD


def _text(value: Any) -> Any:
    """A required string (``null`` is refused by the ``ollama`` type)."""
    return value if type(value) is str else _BAD


def _int(value: Any) -> Any:
    return value if value is None or type(value) is int else _BAD


def _bool(value: Any) -> Any:
    return value if value is None or type(value) is bool else _BAD


def _list_of_type(kind: type) -> Check:
    """A list whose every item is exactly of ``kind`` (or ``null``)."""

    def check(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is list and all(type(item) is kind for item in value):
            return list(value)
        return _BAD

    return check


_strs = _list_of_type(str)
_ints = _list_of_type(int)


def _null(value: Any) -> Any:
    """A field with a structured type of its own that the provider never reads."""
    return None if value is None else _BAD


def _mapping(value: Any) -> Any:
    return value if value is None or type(value) is dict else _BAD


_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?"
)


def _timestamp(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is not str:
        return _BAD
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return _BAD
    year, month, day, hour, minute = (int(match[i]) for i in range(1, 6))
    second = int(match[6] or 0)
    try:
        _dt.date(year, month, day)
    except ValueError:
        return _BAD
    if hour > 23 or minute > 59 or second > 59:
        return _BAD
    return value


class _Shape:
    """The fields of one ``ollama`` reply type: name -> check; ``required`` ones must be there.

    ``keys`` maps a field to the JSON key it is read from when they differ (pydantic's alias).
    """

    def __init__(
        self,
        fields: Mapping[str, Check],
        required: tuple[str, ...] = (),
        keys: Mapping[str, str] | None = None,
    ) -> None:
        self.fields = dict(fields)
        self.required = required
        self.keys = dict(keys or {})

    def __call__(self, data: Any) -> Any:
        if type(data) is not dict:
            return _BAD
        values: dict[str, Any] = {}
        for name, check in self.fields.items():
            key = self.keys.get(name, name)
            if key not in data:
                if name in self.required:
                    return _BAD
                values[name] = None
                continue
            value = check(data[key])
            if value is _BAD:
                return _BAD
            values[name] = value
        return SimpleNamespace(**values)


def _list_of(shape: _Shape) -> Check:
    def check(value: Any) -> Any:
        if type(value) is not list:
            return _BAD
        items = [shape(item) for item in value]
        return _BAD if any(item is _BAD for item in items) else items

    return check


def _optional(shape: _Shape) -> Check:
    def check(value: Any) -> Any:
        return None if value is None else shape(value)

    return check


_TIMINGS: dict[str, Check] = {
    "model": _str,
    "created_at": _str,
    "done": _bool,
    "done_reason": _str,
    "total_duration": _int,
    "load_duration": _int,
    "prompt_eval_count": _int,
    "prompt_eval_duration": _int,
    "eval_count": _int,
    "eval_duration": _int,
}
"""``BaseGenerateResponse``: what every generation reply has."""

_MESSAGE = _Shape(
    {
        "role": _text,
        "content": _str,
        "thinking": _str,
        "tool_name": _str,
        "images": _null,
        "tool_calls": _null,
    },
    required=("role",),
)

_DETAILS = _Shape(
    {
        "parent_model": _str,
        "format": _str,
        "family": _str,
        "families": _strs,
        "parameter_size": _str,
        "quantization_level": _str,
    }
)
_LISTED = _Shape(
    {
        "model": _str,
        "modified_at": _timestamp,
        "digest": _str,
        "size": _int,
        "details": _optional(_DETAILS),
    }
)

SHAPES: dict[str, _Shape] = {  # the ollama reply types parse() reads, by name
    "ChatResponse": _Shape(
        {**_TIMINGS, "message": _MESSAGE, "logprobs": _null}, required=("message",)
    ),
    "GenerateResponse": _Shape(
        {
            **_TIMINGS,
            "response": _str,
            "thinking": _str,
            "context": _ints,
            "logprobs": _null,
            "image": _str,
            "completed": _int,
            "total": _int,
        }
    ),
    "ListResponse": _Shape({"models": _list_of(_LISTED)}, required=("models",)),
    "ShowResponse": _Shape(
        {
            "modified_at": _timestamp,
            "template": _str,
            "modelfile": _str,
            "license": _str,
            "details": _optional(_DETAILS),
            "modelinfo": _mapping,
            "parameters": _str,
            "capabilities": _strs,
        },
        required=("modelinfo",),
        keys={"modelinfo": "model_info"},
    ),
}


def parse(kind: str, data: Any) -> Any:
    """The reply ``data`` (a reply's JSON) as the ``ollama`` type ``kind`` would hold it.

    Read here when every field has the declared type, else by ``ollama.<kind>(**data)``
    (which imports the ``ollama`` package, and raises what the ``ollama`` client raises
    for that reply: a pydantic ``ValidationError``, or a ``TypeError`` for a reply that
    is not a JSON object).
    """
    reply = SHAPES[kind](data)
    if reply is not _BAD:
        return reply
    import ollama

    return getattr(ollama, kind)(**data)
