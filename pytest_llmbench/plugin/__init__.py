"""The pytest entry point (``pytest11: llmbench = pytest_llmbench.plugin``).

Light on purpose: every pytest run in a project that has the plugin installed
imports this module, also a run that collects no case file.  It declares the options
and the hookspecs, recognises case files, and registers the run's hooks
(:class:`~pytest_llmbench.plugin.hooks.LLMBenchPlugin`) when pytest is configured;
everything else is imported from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_llmbench.execution.gcpause import collector_paused
from pytest_llmbench.plugin import hookspec
from pytest_llmbench.plugin.declare import add_options

if TYPE_CHECKING:
    from pytest_llmbench.plugin.items import CaseFile

__all__ = [
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_configure",
]

CASE_SUFFIXES = (".yaml", ".yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)
    from pytest_llmbench.plugin.compat import import_without_assert_rewriting

    import_without_assert_rewriting(pluginmanager, __name__.partition(".")[0])


@collector_paused()  # importing the run's modules (see execution.gcpause)
def pytest_configure(config: pytest.Config) -> None:
    from pytest_llmbench.cases.markers import MARKERS
    from pytest_llmbench.plugin import defaults
    from pytest_llmbench.plugin.hooks import LLMBenchPlugin, XdistHooks
    from pytest_llmbench.plugin.session import BENCH_KEY

    for line in MARKERS:  # the marks case items carry (cases.markers)
        config.addinivalue_line("markers", line)
    config.pluginmanager.register(defaults, "llmbench-defaults")
    plugin = LLMBenchPlugin(config)
    config.stash[BENCH_KEY] = plugin.bench
    config.pluginmanager.register(plugin, "llmbench-run")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(plugin), "llmbench-xdist")
    if config.pluginmanager.hasplugin("benchmark") and not config.getoption("llm_benchmark_table"):
        from pytest_llmbench.plugin.benchmark import QuietBenchmarkTable

        config.pluginmanager.register(QuietBenchmarkTable(config), "llmbench-quiet-benchmark")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    if file_path.suffix not in CASE_SUFFIXES:
        return None
    try:
        raw = file_path.read_bytes()
    except OSError:
        return None
    from pytest_llmbench.cases.encoding import readable_text
    from pytest_llmbench.cases.load import looks_like_case_file

    # Told by its text read as what it looks like (UTF-8, UTF-16, UTF-32): a case file
    # that is not UTF-8 is collected all the same, and loading it reports the encoding
    # (skipping it would make its task vanish without a word); any other YAML file,
    # whatever its encoding, stays ignored.
    if not looks_like_case_file(readable_text(raw)):
        return None
    from pytest_llmbench.plugin.items import CaseFile

    return CaseFile.from_parent(parent, path=file_path)
