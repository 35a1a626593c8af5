"""The price table: what a call costs, from its token usage.

Pure module.  One line per model (or glob) in the ``llm_prices`` ini option, in US
dollars per million tokens, prompt then completion::

    llm_prices =
        openai/gpt-4o-mini = 0.15 0.60
        groq/* = 0.05 0.08

The first matching line wins.  A model without a line has no cost (``None``).
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Price", "PriceError", "PriceTable"]


class PriceError(ValueError):
    """A bad ``llm_prices`` line; ``str()`` is the usage error."""


@dataclass(frozen=True)
class Price:
    prompt_per_mtok: float
    completion_per_mtok: float

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """USD for one call; ``None`` when the usage is unknown."""
        if prompt_tokens is None and completion_tokens is None:
            return None
        return (
            (prompt_tokens or 0) * self.prompt_per_mtok
            + (completion_tokens or 0) * self.completion_per_mtok
        ) / 1_000_000


@dataclass(frozen=True)
class PriceTable:
    entries: tuple[tuple[str, Price], ...] = ()

    @classmethod
    def parse(cls, lines: Iterable[str]) -> PriceTable:
        entries: list[tuple[str, Price]] = []
        for line in lines:
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            pattern, sep, rest = text.partition("=")
            numbers = rest.split()
            if not sep or not pattern.strip() or len(numbers) != 2:
                raise PriceError(
                    f"llm_prices expects 'MODEL = PROMPT_USD COMPLETION_USD' "
                    f"(per million tokens), got {line!r}"
                )
            try:
                prompt, completion = (float(n) for n in numbers)
            except ValueError:
                raise PriceError(f"llm_prices: prices must be numbers, got {line!r}") from None
            if min(prompt, completion) < 0 or not math.isfinite(prompt + completion):
                raise PriceError(f"llm_prices: prices must not be negative, got {line!r}")
            entries.append((pattern.strip(), Price(prompt, completion)))
        return cls(tuple(entries))

    def for_model(self, model_id: str) -> Price | None:
        for pattern, price in self.entries:
            if fnmatch.fnmatchcase(model_id, pattern):
                return price
        return None

    def cost(
        self, model_id: str, prompt_tokens: int | None, completion_tokens: int | None
    ) -> float | None:
        price = self.for_model(model_id)
        return price.cost(prompt_tokens, completion_tokens) if price else None
