"""Prices of model calls: the ``llm_prices`` ini lines and the ``--llm-prices`` file.

A price applies to the models its ``fnmatch`` pattern matches; the first matching entry
wins (entries of ``--llm-prices`` come before the ``llm_prices`` ini lines).  Two kinds:

- per token: ``$ per million input tokens`` and ``$ per million output tokens``;
- hourly, for a machine you pay by the hour (a local GPU, a rented box).

One call's cost is :func:`call_cost`; the cost of 1,000 requests is
:func:`pytest_llmbench.analysis.cost.cost_per_1k`.

ini lines (``llm_prices``)::

    openai/gpt-4o-mini = 0.15 0.60
    ollama/* = hourly 0.80

``--llm-prices FILE.yaml``::

    openai/gpt-4o-mini: {input: 0.15, output: 0.60}
    "ollama/*": {hourly: 0.80}
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Price",
    "PriceError",
    "PriceTable",
    "call_cost",
    "load_price_file",
    "parse_price_line",
    "price_table",
]


class PriceError(ValueError):
    """A bad price line or price file; ``str()`` is the user-facing message."""


@dataclass(frozen=True)
class Price:
    pattern: str
    input: float | None = None
    """$ per million input (prompt) tokens."""
    output: float | None = None
    """$ per million output (completion) tokens."""
    hourly: float | None = None
    """$ per hour of model time."""

    def matches(self, model: str) -> bool:
        return fnmatch.fnmatchcase(model, self.pattern)


@dataclass(frozen=True)
class PriceTable:
    prices: tuple[Price, ...] = ()

    def find(self, model: str) -> Price | None:
        return next((p for p in self.prices if p.matches(model)), None)

    def __bool__(self) -> bool:
        return bool(self.prices)


def _number(text: Any, where: str) -> float:
    if isinstance(text, bool):
        raise PriceError(f"{where}: expected a number, got {text!r}")
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise PriceError(f"{where}: expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise PriceError(f"{where}: expected a price of 0 or more, got {text!r}")
    return value


LINE_FORMAT = "'PATTERN = INPUT OUTPUT' ($ per million tokens) or 'PATTERN = hourly PRICE'"


def parse_price_line(line: str) -> Price:
    """``pattern = input output`` or ``pattern = hourly price``."""
    pattern, sep, rest = line.partition("=")
    pattern = pattern.strip()
    words = rest.split()
    where = f"llm_prices line {line.strip()!r}"
    if not sep or not pattern or len(words) != 2:
        raise PriceError(f"{where}: expected {LINE_FORMAT}")
    if words[0].casefold() == "hourly":
        return Price(pattern, hourly=_number(words[1], where))
    return Price(pattern, input=_number(words[0], where), output=_number(words[1], where))


def _price_entry(pattern: Any, value: Any, where: str) -> Price:
    spot = f"{where}: {pattern}"
    if not isinstance(value, Mapping):
        raise PriceError(f"{spot}: expected {{input: N, output: N}} or {{hourly: N}}")
    keys = set(value)
    if keys == {"hourly"}:
        return Price(str(pattern), hourly=_number(value["hourly"], f"{spot}.hourly"))
    if keys == {"input", "output"}:
        return Price(
            str(pattern),
            input=_number(value["input"], f"{spot}.input"),
            output=_number(value["output"], f"{spot}.output"),
        )
    raise PriceError(
        f"{spot}: expected the keys input and output, or hourly; got {', '.join(map(str, keys))}"
    )


def load_price_file(path: Path) -> list[Price]:
    """Read a YAML mapping ``pattern: {input: N, output: N}`` or ``pattern: {hourly: N}``."""
    import yaml  # on first use: most runs have no price file

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PriceError(f"--llm-prices: cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise PriceError(f"--llm-prices: {path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise PriceError(f"--llm-prices: {path}: expected a mapping of model pattern to price")
    return [_price_entry(pattern, value, str(path)) for pattern, value in data.items()]


def call_cost(
    table: PriceTable, model: str, prompt_tokens: int | None, completion_tokens: int | None
) -> float | None:
    """$ for one call from its token usage (per-token prices only; ``None`` when unknown).

    An hourly price has no per-call figure (it is charged on time, see :func:`cost_per_1k`).
    """
    price = table.find(model)
    if price is None or price.input is None or price.output is None:
        return None
    if prompt_tokens is None and completion_tokens is None:
        return None
    return ((prompt_tokens or 0) * price.input + (completion_tokens or 0) * price.output) / 1e6


def price_table(path: Path | None, lines: Iterable[str]) -> PriceTable:
    """The prices of the ``--llm-prices`` file (if any), then of the ``llm_prices`` lines
    (the first entry that matches a model wins)."""
    prices = list(load_price_file(path)) if path is not None else []
    prices.extend(parse_price_line(line) for line in lines)
    return PriceTable(tuple(prices))
