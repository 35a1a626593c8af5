"""Unit tests for pytest_llmbench.cases.hashing: the hashes stored in the history and caches.

The pinned values were computed before cases/model.py was split: a change here would make
every stored prompt hash look changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from pytest_llmbench.cases.hashing import prompt_hash, prompt_hasher, version_hash
from pytest_llmbench.cases.options import GenerateOptions

SCHEMA = {"type": "object", "required": ["verdict"]}
OPTIONS = GenerateOptions(temperature=0.2, seed=None, max_tokens=64)


def test_prompt_hashes_are_the_ones_stored_by_earlier_runs() -> None:
    assert prompt_hash(None, "Grade: {x}", GenerateOptions(), None) == "72b3bcd38fb010bb"
    text = 'Résumé: ünïcode "quoted"'
    assert prompt_hash("Sei streng.", text, OPTIONS, SCHEMA) == "b16e7a1294be7c20"


def test_the_version_hash_is_the_stored_one() -> None:
    assert version_hash("Posting: {posting}") == "06bd721b5ad1804c"


def test_the_prompt_hash_is_that_of_the_sorted_json_of_what_is_sent() -> None:
    system, prompt = "Sei streng.", "Zeile 1\nZeile 2 {{ }}"
    sent = {
        "system": system,
        "prompt": prompt,
        "options": dataclasses.asdict(OPTIONS),
        "schema": SCHEMA,
    }
    blob = json.dumps(sent, sort_keys=True, ensure_ascii=False).encode("utf-8")
    expected = hashlib.sha256(blob).hexdigest()[:16]
    assert prompt_hasher(OPTIONS, SCHEMA)(system, prompt) == expected


def test_one_hasher_gives_each_prompt_its_own_hash() -> None:
    hasher = prompt_hasher(GenerateOptions(), None)
    assert hasher(None, "a") == prompt_hash(None, "a", GenerateOptions(), None)
    assert hasher(None, "a") != hasher(None, "b")
    assert hasher(None, "a") != hasher("", "a")  # no system prompt is not an empty one


def test_options_and_schema_change_the_hash() -> None:
    plain = prompt_hash(None, "p", GenerateOptions(), None)
    assert prompt_hash(None, "p", GenerateOptions(seed=1), None) != plain
    assert prompt_hash(None, "p", GenerateOptions(), {"type": "object"}) != plain
