"""docs/reference/case-file.md: made from the case schema, every key described."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.cases.reference import PAGE, Key, keys, render

ROOT = Path(__file__).resolve().parents[3]


def test_the_case_file_reference_is_up_to_date() -> None:
    committed = (ROOT / PAGE).read_text(encoding="utf-8")
    assert committed == render(), (
        f"{PAGE} is stale: run `python -m pytest_llmbench.cli.reference --all` "
        "at the repository root and commit the page"
    )


@pytest.mark.parametrize("key", keys(), ids=lambda key: key.path)
def test_every_key_has_a_description_on_the_page(key: Key) -> None:
    path, description = key.path, key.description
    assert description.strip(), f"{path}: add a description to case_schema.json"
    row = next(line for line in render().splitlines() if line.startswith(f"| `{path}` |"))
    assert description.replace("|", "\\|") in row


def test_the_walk_reaches_nested_keys_and_refuses_a_key_without_text() -> None:
    paths = {key.path for key in keys()}
    assert {"task", "output.kind", "cases[].expected.words.min", "prompts.<name>"} <= paths
    assert "cases[].expected.mentions.at_least" in paths
    schema = {"type": "object", "properties": {"new_key": {"type": "string"}}}
    (new,) = keys(schema)
    assert (new.path, new.description) == ("new_key", "")
