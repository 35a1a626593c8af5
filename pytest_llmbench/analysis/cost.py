"""Cost per 1,000 requests from a price table.

Pure module.  A model's price is the first entry of the price table whose pattern
matches it.  Two kinds of price:

- per token, ``$ per million input tokens`` and ``$ per million output tokens``:
  $/1,000 requests = 1000 * (mean prompt tokens * input + mean completion tokens * output)
  / 1,000,000, the means taken over the calls that report token counts;
- hourly, for a machine you pay by the hour (a local GPU, a rented box):
  $/1,000 requests = 1000 * mean latency in hours * hourly price
  = mean latency ms * hourly price / 3600.

A model of a local provider (``llamacpp``, ``ollama``) without a price costs 0; any other
model without a price has an unknown cost (shown as ``-``, never as 0).

The prices themselves (ini lines, price file) are read by
:mod:`pytest_llmbench.execution.prices`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_llmbench.execution.prices import PriceTable
from pytest_llmbench.execution.results import Result

__all__ = ["LOCAL_PROVIDERS", "Cost", "cost_per_1k"]

LOCAL_PROVIDERS = frozenset({"llamacpp", "ollama"})


@dataclass(frozen=True)
class Cost:
    per_1k: float | None
    """$ per 1,000 requests; ``None`` when unknown."""
    basis: str
    """``tokens``, ``hourly``, ``local`` (free) or ``unknown``."""


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def cost_per_1k(
    model: str,
    results: Iterable[Result],
    table: PriceTable,
    mean_latency_ms: float | None,
    local_providers: frozenset[str] = LOCAL_PROVIDERS,
) -> Cost:
    """The cost of 1,000 requests like these, by the model's price (see the module docstring)."""
    price = table.find(model)
    if price is None:
        if model.partition("/")[0] in local_providers:
            return Cost(0.0, "local")
        return Cost(None, "unknown")
    if price.hourly is not None:
        if mean_latency_ms is None:
            return Cost(None, "unknown")
        return Cost(mean_latency_ms * price.hourly / 3600.0, "hourly")
    runs = [r for r in results if r.error is None]
    prompt = _mean([r.prompt_tokens for r in runs if r.prompt_tokens is not None])
    completion = _mean([r.completion_tokens for r in runs if r.completion_tokens is not None])
    if prompt is None or completion is None or price.input is None or price.output is None:
        return Cost(None, "unknown")
    return Cost(1000.0 * (prompt * price.input + completion * price.output) / 1e6, "tokens")
