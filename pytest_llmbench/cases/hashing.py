"""The hashes that name what a case sends: the prompt hash (system, prompt, options,
schema) and the prompt version hash (a template's text).

The history and the response cache compare these hashes across runs: their bytes must
never change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from pytest_llmbench.cases.options import GenerateOptions

__all__ = ["prompt_hash", "prompt_hasher", "version_hash"]


def prompt_hash(
    system: str | None, prompt: str, options: GenerateOptions, schema: Mapping[str, Any] | None
) -> str:
    """The hash of one request: what :func:`prompt_hasher` gives for it."""
    return prompt_hasher(options, schema)(system, prompt)


def prompt_hasher(
    options: GenerateOptions, schema: Mapping[str, Any] | None
) -> Callable[[str | None, str], str]:
    """The prompt hash of one template's cases: what they share is encoded once.

    The hash is that of ``json.dumps({"system", "prompt", "options", "schema"},
    sort_keys=True, ensure_ascii=False)`` (the history compares hashes across runs);
    the text is put together from its parts, the same bytes.
    """
    fixed_options = json.dumps(dataclasses.asdict(options), sort_keys=True, ensure_ascii=False)
    fixed_schema = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    head = '{"options": ' + fixed_options + ', "prompt": '
    middle = ', "schema": ' + fixed_schema + ', "system": '

    def hash_one(system: str | None, prompt: str) -> str:
        blob = (
            head
            + json.dumps(prompt, ensure_ascii=False)
            + middle
            + json.dumps(system, ensure_ascii=False)
            + "}"
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    return hash_one


def version_hash(template: str) -> str:
    """The hash of a prompt version: its template text, before any variable is filled."""
    return hashlib.sha256(template.encode("utf-8")).hexdigest()[:16]
