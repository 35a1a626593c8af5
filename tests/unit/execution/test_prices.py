"""The price table the options give (execution/prices.py ``price_table``) and the
one-line failure of a wrong result (execution/scoring.py ``failure_message``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.execution.prices import PriceError, price_table
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import failure_message


def test_the_price_file_comes_first_then_the_ini_lines(tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("'openai/*': {input: 1, output: 2}\n")
    table = price_table(prices, ["openai/* = 5 6", "ollama/* = hourly 0.5"])
    first = table.find("openai/gpt")
    assert first is not None
    assert (first.input, first.output) == (1.0, 2.0)
    ollama = table.find("ollama/m")
    assert ollama is not None
    assert ollama.hourly == 0.5


def test_no_prices_is_an_empty_table_and_a_bad_line_a_price_error() -> None:
    assert not price_table(None, [])
    with pytest.raises(PriceError, match="llm_prices line 'nope'"):
        price_table(None, ["nope"])


def test_a_wrong_answer_says_what_was_expected_and_got() -> None:
    result = Result("t", "A", "p/m", 1, "42", "forty  two\nor so", False, reason="not a number")
    assert (
        failure_message(result) == "wrong answer: expected 42, got forty two or so (not a number)"
    )


def test_a_failed_call_is_no_wrong_answer() -> None:
    result = Result("t", "A", "p/m", 1, "42", "", False, error="HTTP 500 from p/m")
    assert failure_message(result) == "call error, not a wrong answer: HTTP 500 from p/m"
