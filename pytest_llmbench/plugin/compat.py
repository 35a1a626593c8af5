"""The private pytest and pytest-benchmark APIs the plugin uses, and only here.

Each has no public equivalent that does the same job; each is guarded so that a
version without it degrades to the public behaviour, and names the version it was
checked against.  When upgrading pytest or pytest-benchmark, check these first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # Only the return type of ``Collector.repr_failure`` (checked with pytest 9.2.0).
    from _pytest._code.code import TerminalRepr as TerminalRepr

__all__ = [
    "TerminalRepr",
    "benchmark_session",
    "fixture_info",
    "hide_from_table",
    "import_without_assert_rewriting",
    "set_item_id",
]


def fixture_info(node: pytest.Collector, function: Callable[..., object]) -> Any:
    """The fixture closure of ``function`` as collected under ``node``, computed once.

    ``pytest.Function`` computes it per item when not given one: for thousands of items
    that dominates collection, so a task computes it once for all its items through the
    session's fixture manager (``Session._fixturemanager.getfixtureinfo``, pytest 9.2.0).
    ``None`` (pytest computes it per item) where that is not there.
    """
    manager = getattr(node.session, "_fixturemanager", None)
    if manager is None:  # pragma: no cover - another pytest
        return None
    return manager.getfixtureinfo(node, function, None)


def set_item_id(item: pytest.Item, name: str, params: str) -> None:
    """Give a case item the id pytest >= 9.2 builds from ``originalname`` and its params.

    pytest 9.2.0 builds structured node ids (``Item._id``, from the parent's
    ``id.child(...).with_params(...)``) from a callspec our items do not have; without
    this, ``[model]`` would be missing from ids in ``--lf`` and ``-k`` matching.
    Earlier pytest versions build the id from the name, which already has it.
    """
    parent_id = getattr(item.parent, "id", None)
    if parent_id is not None and hasattr(parent_id, "with_params"):
        item._id = parent_id.child(name).with_params(params)


def benchmark_session(config: pytest.Config) -> Any:
    """pytest-benchmark's session of this run, or ``None`` (not installed, ``-p no:benchmark``).

    pytest-benchmark 5.x keeps it only as ``config._benchmarksession`` (no stash key);
    the plugin appends its records to ``benchmarks`` (see ``plugin.benchmark``).
    """
    if not config.pluginmanager.hasplugin("benchmark"):
        return None
    return getattr(config, "_benchmarksession", None)


def hide_from_table(session: Any, hidden: Callable[[Any], bool]) -> None:
    """Leave the benchmark records ``hidden`` says so of out of the terminal table.

    pytest-benchmark 5.x (checked with 5.3.1) makes its table in ``finish()``: it saves
    every record (``handle_saving``), then flattens them with ``prepare_benchmarks()``,
    computing each one's statistics, for the table alone.  Wrapping that method on
    this run's session keeps the saved data whole and the hidden rows (and their
    statistics) out of the table.
    """
    prepare = getattr(session, "prepare_benchmarks", None)
    benchmarks = getattr(session, "benchmarks", None)
    if not callable(prepare) or not isinstance(benchmarks, list):  # pragma: no cover
        return

    def prepare_shown() -> Iterator[Any]:
        everything = session.benchmarks
        session.benchmarks = [b for b in everything if not hidden(b)]
        try:
            yield from prepare()
        finally:
            session.benchmarks = everything

    session.prepare_benchmarks = prepare_shown


def import_without_assert_rewriting(
    pluginmanager: pytest.PytestPluginManager, package: str
) -> None:
    """Let ``package``'s other modules import as Python imports them.

    pytest rewrites the asserts of every module of a distribution with a ``pytest11``
    entry point, for the helpers a plugin gives tests.  This package gives none (its
    few asserts are internal checks), and a rewritten module loads slower: pytest
    hashes its source and reads its cached copy with ``marshal.load`` on a file, about
    20 ms of CPU per run for the modules a run imports.  The modules already imported
    (this one, its options and hookspecs) stay as they are.  Nothing happens when the
    rewriting hook is not there (``--assert=plain``) or not as expected.
    """
    hook = getattr(pluginmanager, "rewrite_hook", None)
    # ``AssertionRewritingHook._must_rewrite``: the package names it rewrites (pytest 9.2.0).
    marked = getattr(hook, "_must_rewrite", None)
    if isinstance(marked, set):
        marked.discard(package)
