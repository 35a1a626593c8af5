"""Unit tests for pytest_llmbench.execution.prices and analysis.cost; prices worked out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis.cost import Cost, cost_per_1k
from pytest_llmbench.execution.prices import (
    Price,
    PriceError,
    PriceTable,
    load_price_file,
    parse_price_line,
)
from pytest_llmbench.execution.results import Result
from tests.support import factories


def call(model: str, prompt: int | None, completion: int | None, **kw: Any) -> Result:
    fields: dict[str, Any] = {"task": "t", "expected": "x", **kw}
    return factories.result(
        model, "A", prompt_tokens=prompt, completion_tokens=completion, **fields
    )


def test_parse_token_and_hourly_lines() -> None:
    assert parse_price_line("openai/gpt-4o-mini = 0.15 0.60") == Price(
        "openai/gpt-4o-mini", input=0.15, output=0.6
    )
    assert parse_price_line("  ollama/* =  hourly 0.80 ") == Price("ollama/*", hourly=0.8)
    assert parse_price_line("ollama/qwen2.5:7b = HOURLY 1") == Price("ollama/qwen2.5:7b", hourly=1)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("openai/x = 0.15", "expected 'PATTERN = INPUT OUTPUT'"),
        ("= 0.15 0.60", "expected 'PATTERN = INPUT OUTPUT'"),
        ("openai/x 0.15 0.60", "expected 'PATTERN = INPUT OUTPUT'"),
        ("openai/x = 0.15 0.60 1", "expected 'PATTERN = INPUT OUTPUT'"),
        ("openai/x = cheap 0.60", "expected a number, got 'cheap'"),
        ("openai/x = 0.15 -1", "expected a price of 0 or more, got '-1'"),
        ("ollama/* = hourly nan", "expected a price of 0 or more, got 'nan'"),
    ],
)
def test_bad_lines(line: str, message: str) -> None:
    with pytest.raises(PriceError, match=message) as info:
        parse_price_line(line)
    assert str(info.value).startswith(f"llm_prices line {line.strip()!r}: ")


def test_token_price_per_1000_requests() -> None:
    # mean prompt (300 + 500) / 2 = 400, mean completion (40 + 60) / 2 = 50
    # 1000 * (400 * 0.15 + 50 * 0.60) / 1e6 = 1000 * 90 / 1e6 = $0.09
    results = [call("openai/gpt-4o-mini", 300, 40), call("openai/gpt-4o-mini", 500, 60)]
    table = PriceTable((Price("openai/gpt-4o-mini", input=0.15, output=0.60),))
    cost = cost_per_1k("openai/gpt-4o-mini", results, table, mean_latency_ms=700.0)
    assert cost.basis == "tokens"
    assert cost.per_1k == pytest.approx(0.09)


def test_calls_without_token_counts_are_left_out_of_the_means() -> None:
    results = [
        call("openai/m", 400, 50),
        call("openai/m", None, None),
        call("openai/m", 10_000, 10_000, error="HTTP 500"),
    ]
    table = PriceTable((Price("openai/*", input=1.0, output=2.0),))
    # 1000 * (400 * 1 + 50 * 2) / 1e6 = 0.5
    assert cost_per_1k("openai/m", results, table, None).per_1k == pytest.approx(0.5)


def test_hourly_price_uses_mean_latency() -> None:
    # 1000 requests * 0.9 s = 900 s = 0.25 h; 0.25 h * $0.80 = $0.20 (= 900 * 0.8 / 3600)
    table = PriceTable((Price("ollama/*", hourly=0.80),))
    cost = cost_per_1k("ollama/qwen2.5:7b", [], table, mean_latency_ms=900.0)
    assert cost.basis == "hourly"
    assert cost.per_1k == pytest.approx(0.2)
    assert cost_per_1k("ollama/qwen2.5:7b", [], table, None) == Cost(None, "unknown")


def test_local_models_are_free_others_unknown() -> None:
    empty = PriceTable()
    assert cost_per_1k("llamacpp/smollm2-135m", [], empty, 100.0) == Cost(0.0, "local")
    assert cost_per_1k("ollama/llama3.2:3b", [], empty, 100.0) == Cost(0.0, "local")
    assert cost_per_1k("openai/gpt-4o", [], empty, 100.0) == Cost(None, "unknown")
    assert cost_per_1k("fake/right", [], empty, 100.0) == Cost(None, "unknown")


def test_token_price_without_token_counts_is_unknown() -> None:
    table = PriceTable((Price("openai/*", input=1.0, output=2.0),))
    assert cost_per_1k("openai/m", [call("openai/m", None, None)], table, 100.0) == Cost(
        None, "unknown"
    )


def test_first_matching_pattern_wins() -> None:
    table = PriceTable(
        (
            Price("openai/gpt-4o-mini*", input=0.15, output=0.60),
            Price("openai/*", input=2.50, output=10.0),
        )
    )
    assert table.find("openai/gpt-4o-mini") == table.prices[0]
    assert table.find("openai/gpt-4o") == table.prices[1]
    assert table.find("ollama/x") is None
    assert bool(table)
    assert not PriceTable()


def test_load_price_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text('openai/gpt-4o-mini: {input: 0.15, output: 0.60}\n"ollama/*": {hourly: 0.8}\n')
    assert load_price_file(path) == [
        Price("openai/gpt-4o-mini", input=0.15, output=0.6),
        Price("ollama/*", hourly=0.8),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "expected a mapping of model pattern to price"),
        ("openai/x: 0.15\n", "openai/x: expected {input: N, output: N} or {hourly: N}"),
        ("openai/x: {input: 0.15}\n", "expected the keys input and output, or hourly; got input"),
        ("openai/x: {input: 0.1, output: yes}\n", "openai/x.output: expected a number, got True"),
        ("openai/x: {hourly: -2}\n", "openai/x.hourly: expected a price of 0 or more"),
        ("openai/x: [\n", "is not valid YAML"),
    ],
)
def test_bad_price_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(PriceError, match=message.replace("{", r"\{").replace("}", r"\}")):
        load_price_file(path)


def test_missing_price_file(tmp_path: Path) -> None:
    with pytest.raises(PriceError, match=r"cannot read .*nope\.yaml"):
        load_price_file(tmp_path / "nope.yaml")
