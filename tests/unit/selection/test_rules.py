"""The selection rules the options give (selection/rules.py ``rules_from``)."""

from __future__ import annotations

from pytest_llmbench.selection.rules import (
    DEFAULT_CODE_PATTERNS,
    DEFAULT_VISION_PATTERNS,
    rules_from,
)


def test_exclude_entries_are_split_on_commas_and_the_size_parsed() -> None:
    rules = rules_from(["p/a, p/b", " ", "p/c"], "8GB", ["*coder*"], None)
    assert rules.exclude == ("p/a", "p/b", "p/c")
    assert rules.max_size_bytes == 8_000_000_000
    assert rules.max_size_text == "8GB"
    assert rules.code_patterns == ("*coder*",)
    assert rules.vision_patterns == tuple(DEFAULT_VISION_PATTERNS)


def test_no_options_give_no_limit_and_the_default_patterns() -> None:
    rules = rules_from([], "", None, [])
    assert rules.exclude == ()
    assert rules.max_size_bytes is None
    assert rules.code_patterns == tuple(DEFAULT_CODE_PATTERNS)
    assert rules.vision_patterns == tuple(DEFAULT_VISION_PATTERNS)
