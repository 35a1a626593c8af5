"""A case file's generation options: plain data that every provider maps to its own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GenerateOptions"]


@dataclass(frozen=True)
class GenerateOptions:
    """Generation options, provider-neutral.  ``None`` means the provider's default."""

    temperature: float = 0.0
    seed: int | None = 42
    max_tokens: int | None = 256
    top_p: float | None = None
    top_k: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
