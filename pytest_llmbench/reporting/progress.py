"""Progress lines of a long run, for the terminal: which model runs and how many of its
items remain when the model changes (a run groups its items by model, which pytest's
dots never say); the judge phase's line is ``execution/judging.py``'s ``judging_line``.
Pure: counts in, text out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

__all__ = ["ModelProgress"]


class ModelProgress:
    """Given the models of the items in run order, a line each time the model changes."""

    def __init__(self, models: Sequence[str]) -> None:
        self.remaining = Counter(models)
        self.order = list(dict.fromkeys(models))
        self.current: str | None = None

    def line(self, model: str) -> str | None:
        """The line to show before an item of ``model`` runs (``None``: the same model)."""
        if model not in self.remaining:  # not among the items counted (a worker's share)
            return None
        shown = None
        if model != self.current:
            self.current = model
            left = self.remaining[model]
            place = f"model {self.order.index(model) + 1} of {len(self.order)}"
            shown = f"llmbench: {model}: {left} item{'s' if left != 1 else ''} to run ({place})"
        self.remaining[model] -= 1
        return shown
