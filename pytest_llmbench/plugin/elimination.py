"""``--llm-eliminate`` in the run: the order of the items, and which ones are skipped.

The pure part (case order, first wrong runs, the ranking's view) is
:mod:`pytest_llmbench.analysis.elimination`; this module applies it to pytest items:

- :func:`order_for_elimination` (collection): within each model's items of a task
  (and prompt version), round by round, the likeliest misses first; every run of a
  case the history has the model wrong on comes before the first round.  Items of
  different models keep the order the collection gave them;
- :func:`elimination_reason` (run): the skip reason of an item whose model is already
  out of the running for its task.  The pipeline never sends such an item ahead, nor
  the item after one the history says the model got wrong before
  (:func:`may_eliminate`).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from pytest_llmbench.analysis.elimination import FailureRates, case_order_key

if TYPE_CHECKING:
    from pytest_llmbench.plugin.items import CaseItem
    from pytest_llmbench.plugin.session import BenchSession

__all__ = ["elimination_reason", "may_eliminate", "order_for_elimination"]


def _rates(bench: BenchSession) -> FailureRates:
    """The history's failure rates for the collected tasks (none without a history)."""
    path = bench.options.history_read
    if path is None or not path.is_file():
        return FailureRates.empty()
    from pytest_llmbench.storage.history import HistoryError, failure_rates

    try:
        return failure_rates(path, sorted(bench.ledger.case_counts))
    except (HistoryError, sqlite3.Error, OSError):
        return FailureRates.empty()  # the history itself is reported at the end of the run


def order_for_elimination(items: list[pytest.Item], bench: BenchSession) -> None:
    """Sort ``items`` in place: each (model, task, prompt version) group's items round by
    round, each round's cases likeliest to eliminate first; the groups stay where they are.
    """
    from pytest_llmbench.plugin.items import CaseItem

    rates = bench.eliminator.rates = _rates(bench)
    first: dict[tuple[str, str, str], int] = {}
    indexes: dict[str, dict[str, int]] = {}
    keys: list[tuple[int, int, tuple[float, ...], int]] = []
    for position, item in enumerate(items):
        if not isinstance(item, CaseItem):
            keys.append((position, 0, (), 0))
            continue
        task = item.task
        group = first.setdefault((item.model.id, task.name, item.case.prompt_version), position)
        index = indexes.get(task.name)
        if index is None:
            index = indexes[task.name] = {case.id: i for i, case in enumerate(task.cases)}
        case_key = case_order_key(task, item.case, index.get(item.case.id, 0), item.model.id, rates)
        # A case the history has this model wrong on: all its runs first (a miss on a
        # second run only is found at once, not after a whole round of the others).
        known_miss = rates.by_model.get((task.name, item.case.id, item.model.id), 0.0) > 0.0
        keys.append((group, 0 if known_miss else item.repeat, case_key, item.repeat))
    order = sorted(range(len(items)), key=keys.__getitem__)
    items[:] = [items[i] for i in order]


def elimination_reason(item: CaseItem, bench: BenchSession) -> str | None:
    """Why ``item`` is skipped (its model had a wrong run of its strict task), or ``None``."""
    if not bench.options.eliminate:
        return None
    task, candidate = item.task.name, item.candidate
    eliminator = bench.eliminator
    if not eliminator.eliminated(task, candidate):
        return None
    if bench.ledger.rank_settings(task, bench.options.rank_policy)[0] != "strict":
        return None
    runs = sum(1 for models in bench.ledger.expected.get(task, {}).values() if candidate in models)
    return eliminator.reason(task, candidate, runs)


def may_eliminate(item: CaseItem, following: CaseItem, bench: BenchSession) -> bool:
    """Whether ``following`` (of the same model and task) might be eliminated by ``item``:
    the history has ``item``'s model wrong on its case before.  ``following`` is then not
    sent ahead (a wrong answer would leave its request unused)."""
    if not bench.options.eliminate or following.candidate != item.candidate:
        return False
    if following.task.name != item.task.name:
        return False
    return bench.eliminator.may_eliminate(item.task.name, item.case.id, item.model.id)
