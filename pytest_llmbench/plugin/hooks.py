"""The plugin's pytest hooks for one run: one implementation per hook, in order.

:class:`LLMBenchPlugin` is registered per config by the entry point (:mod:`pytest_llmbench.plugin`)
once pytest is configured.  Each hook does its steps in the order they depend on one another (run
state first, then what outlives the run), delegating to :class:`.session.BenchSession`,
:class:`.journaling.RunJournal` and :mod:`.ending`; the pure layers below do the work."""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from pytest_llmbench.execution.catalogue import header_lines
from pytest_llmbench.execution.distribute import Crash, parse_case_id
from pytest_llmbench.execution.results import Result
from pytest_llmbench.plugin import ending
from pytest_llmbench.plugin.items import (
    ELIMINATED_KEY,
    NEXT_KEY,
    RESULT_KEY,
    RESUMED_KEY,
    CaseItem,
    deselect_unchanged,
    order_for_elimination,
)
from pytest_llmbench.plugin.journaling import RunJournal
from pytest_llmbench.plugin.session import BenchSession
from pytest_llmbench.plugin.warnings import LLMBenchWarning
from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.providers.hosts import model_host
from pytest_llmbench.reporting.header import changed_lines, difficulty_lines, selects_difficulty
from pytest_llmbench.reporting.progress import ModelProgress

__all__ = ["WORKER_KEY", "LLMBenchPlugin", "XdistHooks"]

WORKER_KEY = "llmbench"
"""The key of what an xdist worker sends the controller in ``workeroutput``."""


def say(config: pytest.Config, lines: list[str]) -> None:
    """Lines on the terminal between pytest's dots (the next dots start a line of their own)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        if reporter is not None:
            reporter.write_line(line)
            reporter.currentfspath = None


class LLMBenchPlugin:
    """The hooks of one run, bound to its :class:`BenchSession`."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.bench = BenchSession(config)
        self.journal = RunJournal(config, self.bench.options)
        self.worker = hasattr(config, "workerinput")
        if not self.worker:
            ending.check_outputs(config, self.bench.options)
        self.passed: ending.PassedReports = {}
        self._finished: dict[str, Result] = {}
        """Results made on this process, by node id, until their call report is logged."""
        self.changed: tuple[list[str], list[str]] | None = None
        """``--llm-changed-since``: (the tasks kept, the tasks deselected)."""
        self.end: ending.Ending | None = None
        self.progress = ModelProgress(())

    # -- collection ------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> Generator[None, None, None]:
        bench = self.bench
        if bench.catalogue.selection_error:
            raise pytest.UsageError(bench.catalogue.selection_error)
        yield
        # After every other plugin's selection (-k, -m, --lf): --llm-changed-since
        # deselects unchanged tasks, --llm-resume marks the items done already.
        ref = bench.options.changed_since
        if ref is not None and any(isinstance(item, CaseItem) for item in items):
            self.changed = deselect_unchanged(config, items, str(ref))
        self.journal.mark_done(items)
        # One model's items run together (a model stays loaded; Ollama never swaps), in
        # the selection's order, which every xdist worker computes the same way.  The
        # outermost wrapper (registered after the cache plugin's --ff/--nf wrappers),
        # so it sorts last: a stable sort keeps their order within a model.
        models = bench.catalogue.all_models() if bench.ledger.case_counts else []
        order = {m.id: i for i, m in enumerate(models)}
        if order:
            items.sort(key=lambda it: order.get(getattr(getattr(it, "model", None), "id", ""), -1))
        if order and bench.options.eliminate:  # in a model's task: likeliest misses first
            order_for_elimination(items, bench)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # After every deselection (-k, -m, --lf): the runs each model of a task owes.
        cases = [item for item in session.items if isinstance(item, CaseItem)]
        for item in cases:
            self.bench.ledger.expect(item.task.name, item.case.id, item.repeat, item.candidate)
        self.progress = ModelProgress([] if self.worker else [item.model.id for item in cases])
        if cases:  # what collection made lives to the end: no full GC pass walks it per call
            gc.freeze()

    def pytest_report_collectionfinish(self, config: pytest.Config) -> list[str]:
        bench = self.bench
        if bench.catalogue.selection_error:
            return []  # a usage error follows: no "0 model(s): none" before it
        verbose = config.get_verbosity() > 0
        lines = header_lines(bench.catalogue, verbose) if bench.ledger.case_counts else []
        lines += changed_lines(bench.options.changed_since, self.changed)
        shown = verbose or selects_difficulty(config.option.markexpr or "")
        lines += self.journal.header_lines()
        return lines + difficulty_lines(bench.default_difficulty, shown)

    # -- running ---------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # The item may send its successor's request ahead (see pipeline): tell it which.
        if isinstance(item, CaseItem) and isinstance(nextitem, CaseItem):
            item.stash[NEXT_KEY] = nextitem
        if isinstance(item, CaseItem) and (line := self.progress.line(item.model.id)):
            say(self.config, [line])  # a model's items run together: which one, how many left

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.journal.setup(item)  # before fixtures: a resumed item is skipped

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if not isinstance(item, CaseItem):
            return report
        if call.when == "call" and RESULT_KEY in item.stash:
            result = item.stash[RESULT_KEY]
            if self.worker:  # the record rides to the controller on the report
                report.llmbench_result = result.to_dict()  # type: ignore[attr-defined]
            else:
                self._finished[item.nodeid] = result
        if report.skipped:
            self._skipped(item, report)
        self.journal.on_report(item, call.when, report)
        return report

    def _skipped(self, item: CaseItem, report: pytest.TestReport) -> None:
        bench = self.bench
        if RESULT_KEY not in item.stash and RESUMED_KEY not in item.stash:
            # Skipped (a skip mark, a model the server lacks): nobody owes this run for it.
            bench.ledger.skip(item.task.name, item.case.id, item.repeat, item.candidate)
        # A model the server does not have: one "SKIPPED [n]" line per task file and
        # reason (at the task's line), not one per case, nor one pointing into the plugin.
        # So is an eliminated model's: "eliminated after CASE_04, 1 of 12 runs made".
        missing = bench.lifecycle.unavailable.get(item.model.id)
        reason = missing or item.stash.get(ELIMINATED_KEY, None)
        if reason is not None:
            report.longrepr = (os.fspath(item.path), item.task.line, f"Skipped: {reason}")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        problems = self.bench.cache.problems
        while problems:  # a damaged entry, a cache that cannot be written: the run goes on
            warnings.warn(LLMBenchWarning(f"llmbench: {problems.pop(0)}"), stacklevel=1)
        result = self._finished.pop(report.nodeid, None) if report.when == "call" else None
        record = getattr(report, "llmbench_result", None)
        if result is None and report.when == "call" and isinstance(record, dict):
            result = Result.from_dict(record)  # from a worker
        if result is not None:
            self.bench.ledger.add_result(result)
            self.bench.eliminator.record(result)
            self.bench.racer.take(result, self.bench.ledger)  # slower than two done right?
            if report.passed:
                self.passed[(result.task, result.case_id, result.model, result.repeat)] = report
            worker = getattr(report, "worker_id", None)  # set by xdist on the controller
            if isinstance(worker, str):
                self.bench.distribution.record(result.model, worker)
        resumed = self.journal.on_logreport(report)
        if resumed is not None:
            self.bench.ledger.add_result(resumed)
        if not self.worker:  # taken in: pytest keeps every report to the end, not its copy
            for name in ("llmbench_result", "llmbench_meta"):
                report.__dict__.pop(name, None)

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        if getattr(report, "llmbench_crash", False):
            return "error", "E", "ERROR"  # the case did not fail: its worker died
        return None

    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # Unload a model after its last item on this process (the next one is another's).
        model = getattr(item, "model", None)
        lifecycle = self.bench.lifecycle
        if isinstance(model, ModelInfo) and model.id in lifecycle.loaded:
            following = getattr(nextitem, "model", None)
            if not isinstance(following, ModelInfo) or following.id != model.id:
                lifecycle.release(model)

    # -- the end ---------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        bench = self.bench
        bench.lifecycle.release_all()
        self.journal.close()
        if self.worker:
            session.config.workeroutput[WORKER_KEY] = bench.worker_output()  # type: ignore[attr-defined]
            return
        if bench.judging is not None:
            bench.judging.progress = lambda line: say(session.config, [line])
        outcome = bench.finish(ending.stopped(session, exitstatus))
        if session.exitstatus == pytest.ExitCode.OK and outcome.failed:
            # Every item passed its own checks, but some answers fail the session-level
            # generic-answer check or the judge: the run must not look green.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        ending.report_generic(session.config, outcome.rankings)
        self.end = ending.finish_outputs(session, exitstatus, bench, self.journal)

    @pytest.hookimpl(trylast=True)  # after pytest-benchmark's table: the ranking ends the run
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        ending.ranking_summary(terminalreporter, self.bench, self.passed)
        if self.end is not None:
            ending.gate_summary(terminalreporter, self.end, self.bench.options, self.bench.rankings)

    @pytest.hookimpl(trylast=True)  # after pytest's own full collection (unraisable)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.journal.close()
        gc.unfreeze()  # an in-process run (pytester, an IDE) leaves nothing held


class XdistHooks:
    """The xdist controller's hooks of one run (registered when xdist is there)."""

    def __init__(self, run: LLMBenchPlugin) -> None:
        self.config = run.config
        self.bench = run.bench
        self.journal = run.journal

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: every worker writes to this run's journal."""
        self.journal.configure_node(node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        from pytest_llmbench.plugin.scheduler import make_scheduler

        catalogue = self.bench.catalogue

        def hosts() -> dict[str, str | None]:
            # The controller collects nothing: it asks the providers itself where each
            # model is served (the same answer every worker computes).
            return {m.id: model_host(m) for m in catalogue.models()}

        return make_scheduler(
            config,
            log,
            mode=self.bench.options.dist,
            providers=catalogue.providers.names(),
            hosts=hosts,
            distribution=self.bench.distribution,
            report=lambda lines: say(self.config, lines),
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist controller: take in what a worker collected (case counts, policies, loads)."""
        worker = str(node.gateway.id)
        if error is not None:
            self.bench.distribution.went_down(worker, error)
        data = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if isinstance(data, dict):
            self.bench.merge_worker_output(data, worker)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        """A worker died while running ``crashitem``: an error with the reason, and a record."""
        bench = self.bench
        worker = str(report.node.gateway.id)
        reason = bench.distribution.down.get(worker, "it went down")
        providers = bench.catalogue.providers.names()
        case = parse_case_id(crashitem, providers, bench.distribution.hosts.keys())
        crash = Crash(worker, crashitem, reason, case)
        bench.distribution.crashed(crash)
        if case is None:
            return
        report.llmbench_crash = True  # type: ignore[attr-defined]
        report.longrepr = crash.message()
        report.location = (case.path, None, crashitem.split("::", 1)[-1])
