"""pytest_llmbench.formatting: the one formatter of milliseconds and of one-line text."""

from __future__ import annotations

import pytest

from pytest_llmbench.formatting import ms, one_line


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.0, "0"),
        (0.4, "0"),
        (12.5, "12"),
        (13.5, "14"),
        (1234.5, "1,234"),
        (1_234_567, "1,234,567"),
    ],
)
def test_ms_is_whole_with_thousands_separators(value: float, shown: str) -> None:
    assert ms(value) == shown


def test_ms_in_a_table_shows_a_dash_for_no_value() -> None:
    assert ms(None) == "-"


def test_ms_in_a_sentence_carries_its_unit_and_no_unit_without_a_value() -> None:
    assert ms(2500.0, " ms") == "2,500 ms"
    assert ms(None, " ms") == "-"


def test_ms_names_what_is_missing_when_asked() -> None:
    # the champions registry's succession lines: "(1,200 ms mean against no latency, ...)"
    assert ms(1200.0, " ms mean", missing="no latency") == "1,200 ms mean"
    assert ms(None, " ms mean", missing="no latency") == "no latency"


def test_one_line_joins_every_run_of_whitespace_into_one_space() -> None:
    assert one_line("  connection\n\trefused \r\n by  host ") == "connection refused by host"
    assert one_line(ValueError("bad\nvalue")) == "bad value"
    assert one_line("") == ""


def test_one_line_caps_a_long_line_with_dots() -> None:
    assert one_line("word " * 10, limit=12) == "word word..."
    assert len(one_line("x" * 500, limit=200)) == 200
    assert one_line("short", limit=12) == "short"
    assert one_line("exactly twelve", limit=14) == "exactly twelve"
