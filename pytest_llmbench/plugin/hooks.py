"""The plugin's pytest hooks for one run: one implementation per hook, in order.

:class:`LLMBenchPlugin` is registered per config by the entry point
(:mod:`pytest_llmbench.plugin`) once pytest is configured.  Each hook does its steps
in the order they depend on one another (run state first, then what outlives the
run), delegating to :class:`~pytest_llmbench.plugin.session.BenchSession` and
:class:`~pytest_llmbench.plugin.persistence.Persistence`; the pure layers below do
the work.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from pytest_llmbench.analysis.elimination import mark_eliminated
from pytest_llmbench.analysis.notes import annotate
from pytest_llmbench.analysis.ranking import model_loads, with_loads
from pytest_llmbench.execution.results import Result
from pytest_llmbench.formatting import one_line
from pytest_llmbench.plugin.consensus import rank_with_consensus
from pytest_llmbench.plugin.distribute import Crash, parse_case_id
from pytest_llmbench.plugin.elimination import order_for_elimination
from pytest_llmbench.plugin.items import (
    ELIMINATED_KEY,
    NEXT_KEY,
    RESULT_KEY,
    RESUMED_KEY,
    CaseItem,
)
from pytest_llmbench.plugin.persistence import Persistence
from pytest_llmbench.plugin.session import BenchSession
from pytest_llmbench.plugin.warnings import LLMBenchWarning
from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.reporting.terminal import detail_lines, summary_lines
from pytest_llmbench.safety.sanitising import shown
from pytest_llmbench.storage.json_report import json_text

__all__ = ["WORKER_KEY", "LLMBenchPlugin"]

OVERTURNED = "overturned (generic answer)"
"""The category of passed items the generic-answer check failed (the last line counts it)."""

WORKER_KEY = "llmbench"
"""The key of what an xdist worker sends the controller in ``workeroutput``."""


def _host(model: ModelInfo) -> str | None:
    host = model.details.get("host")
    return host if isinstance(host, str) else None


def _stopped(session: pytest.Session, exitstatus: int) -> str | None:
    """Why the run stopped before its last item (``-x``, ``--maxfail``, Ctrl-C), if it did."""
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    dsession = session.config.pluginmanager.get_plugin("dsession")  # xdist's controller
    for why in (session.shouldfail, session.shouldstop, getattr(dsession, "shouldstop", None)):
        if why:
            return f"stopped early ({why})"
    return None


_DIFFICULTY = re.compile(r"\b(easy|medium|hard)\b")


def _difficulty_lines(config: pytest.Config, bench: BenchSession) -> list[str]:
    """Cases without a difficulty are marked (and counted as) ``medium``: said with ``-v``,
    and whenever ``-m`` selects by difficulty (then it decides what runs)."""
    counts = bench.default_difficulty
    selects = _DIFFICULTY.search(config.getoption("markexpr", "") or "")
    if not counts or not (config.get_verbosity() > 0 or selects):
        return []
    per_task = ", ".join(f"{task}: {count}" for task, count in counts.items())
    return [
        f"llmbench: {sum(counts.values())} case(s) give no difficulty and are marked medium, "
        f"the default ({per_task})"
    ]


class LLMBenchPlugin:
    """The hooks of one run, bound to its :class:`BenchSession`."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.bench = BenchSession(config)
        self.persistence = Persistence(config, self.bench)
        self.worker = hasattr(config, "workerinput")
        self.passed: dict[tuple[str, str, str, int], pytest.TestReport] = {}
        self._finished: dict[str, Result] = {}
        """Results made on this process, by node id, until their call report is logged."""
        """The passed case items' reports, by run (the generic-answer check may overturn them)."""

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
        self.persistence.select(config, items)
        # One model's items run together (a model stays loaded; Ollama never swaps), in
        # the selection's order, which every xdist worker computes the same way.  The
        # outermost wrapper (registered after the cache plugin's --ff/--nf wrappers),
        # so it sorts last: a stable sort keeps their order within a model.
        models = bench.catalogue.all_models() if bench.ledger.case_counts else []
        order = {m.id: i for i, m in enumerate(models)}
        if order:
            items.sort(key=lambda it: order.get(getattr(getattr(it, "model", None), "id", ""), -1))
        if order and bench.options.eliminate:
            # Within a model's items of a task: round by round, likeliest misses first.
            order_for_elimination(items, bench)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # After every deselection (-k, -m, --lf): the runs each model of a task owes.
        for item in session.items:
            if isinstance(item, CaseItem):
                self.bench.ledger.expect(item.task.name, item.case.id, item.repeat, item.candidate)

    def pytest_report_collectionfinish(self, config: pytest.Config) -> list[str]:
        bench = self.bench
        if bench.catalogue.selection_error:
            return []  # a usage error follows: no "0 model(s): none" before it
        lines = bench.catalogue.header_lines() if bench.ledger.case_counts else []
        return lines + self.persistence.header_lines() + _difficulty_lines(config, bench)

    # -- running ---------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # The item may send its successor's request ahead (see pipeline): tell it which.
        if isinstance(item, CaseItem) and isinstance(nextitem, CaseItem):
            item.stash[NEXT_KEY] = nextitem

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        self.persistence.setup(item)  # before fixtures: a resumed item is skipped

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
        self.persistence.on_report(item, call.when, report)
        return report

    def _skipped(self, item: CaseItem, report: pytest.TestReport) -> None:
        bench = self.bench
        if RESULT_KEY not in item.stash and RESUMED_KEY not in item.stash:
            # Skipped (a skip mark, a model the server lacks): nobody owes this run for it.
            bench.ledger.skip(item.task.name, item.case.id, item.repeat, item.candidate)
        # A model the server does not have: one "SKIPPED [n]" line per task file and
        # reason (at the task's line), not one per case, nor one pointing into the plugin.
        # So is an eliminated model's: "eliminated after CASE_04, 1 of 12 runs made".
        reason = bench.lifecycle.unavailable.get(item.model.id) or item.stash.get(
            ELIMINATED_KEY, None
        )
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
            if report.passed:
                self.passed[(result.task, result.case_id, result.model, result.repeat)] = report
            worker = getattr(report, "worker_id", None)  # set by xdist on the controller
            if isinstance(worker, str):
                self.bench.distribution.record(result.model, worker)
        self.persistence.on_logreport(report)
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
        config = session.config
        bench = self.bench
        bench.lifecycle.release_all()
        self.persistence.close_journal()
        if self.worker:
            config.workeroutput[WORKER_KEY] = bench.worker_output()  # type: ignore[attr-defined]
            return
        ledger = bench.ledger
        ledger.results.extend(bench.distribution.crash_results(ledger.task_facts))
        # The judges, after every candidate: each loaded once, never in a candidate's time.
        ledger.results[:] = bench.judging.run(bench, ledger.results)
        # A model is loaded once per process, before its first case of whichever task:
        # every task's table shows that load.
        loads = model_loads(ledger.results)
        bench.rankings = [
            # Each task with its consensus combinations (when it declares consensus);
            # cache use, structured-output fallbacks and judging, whatever policy ranked it.
            bench.judging.annotate(
                annotate(
                    with_loads(rank_with_consensus(config, bench, task), loads),
                    ledger.for_task(task),
                ),
                ledger.for_task(task),
            )
            for task in ledger.task_names()
        ]
        if bench.options.eliminate:  # disqualified by a case, not incomplete
            out = bench.eliminator
            bench.rankings = [mark_eliminated(r, out.for_task(r.task)) for r in bench.rankings]
        bench.judge_evidence(_stopped(session, exitstatus))
        judged_wrong = bench.judging.failed_runs(ledger.results)
        if session.exitstatus == pytest.ExitCode.OK and (bench.generic_failures() or judged_wrong):
            # Every item passed its own checks, but some answers fail the session-level
            # generic-answer check: the run must not look green.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        self._report_generic(config)
        if bench.options.json_path is not None:
            run = bench.run_info(int(session.exitstatus))
            text = json_text(run, ledger.results, bench.rankings)  # streamed, redacted
            path = bench.options.json_path
            self.persistence.write(path, text, f"llmbench: results written to {path}")
        self.persistence.finish(session, exitstatus)

    def _report_generic(self, config: pytest.Config) -> None:
        """A failing JUnit testcase per task whose passed items the generic check overturned."""
        from _pytest.junitxml import xml_key

        xml = config.stash.get(xml_key, None)
        for ranking in self.bench.rankings:
            if not ranking.generic or xml is None:
                continue
            lines = [
                f"{len(ranking.generic)} answer(s) of task {ranking.task} passed their own "
                "checks but are generic (nearly the same answer to different inputs):"
            ]
            lines += [
                f"  {g.model} {g.case_id}"
                + (f" (repeat {g.repeat})" if g.repeat > 1 else "")
                + f": {g.describe()}: {one_line(g.answer)[:200]!r}"
                for g in ranking.generic
            ]
            name = f"generic_answers::{ranking.task}"
            report = pytest.TestReport(
                nodeid=f"llmbench::{name}",
                location=("llmbench", None, name),
                keywords={},
                outcome="failed",
                longrepr="\n".join(lines),
                when="call",
            )
            xml.pytest_runtest_logreport(report)

    def _overturned(self) -> list[pytest.TestReport]:
        """The passed items' reports whose answers the generic-answer check failed."""
        return [
            self.passed[key]
            for r in self.bench.rankings
            for g in r.generic
            if (key := (r.task, g.case_id, g.model, g.repeat)) in self.passed
        ]

    @pytest.hookimpl(trylast=True)  # after pytest-benchmark's table: the ranking ends the run
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        bench = self.bench
        if bench.rankings:
            terminalreporter.section("llmbench ranking")
            for line in summary_lines(bench.rankings, bench.ledger.case_counts):
                terminalreporter.write_line(shown(line))
            if terminalreporter.verbosity > 0:
                for line in detail_lines(bench.rankings):
                    terminalreporter.write_line(shown(line))
            for line in bench.distribution.summary_lines(bench.ledger.results):
                terminalreporter.write_line(line)
            for message in bench.distribution.warnings() + bench.judging.low_agreements():
                warnings.warn(LLMBenchWarning(message), stacklevel=1)
            judged_wrong = bench.judging.failed_runs(bench.ledger.results)
            if judged_wrong:
                terminalreporter.write_line(
                    f"llmbench: the judge failed {judged_wrong} run(s) or could not judge them "
                    "(see above), so the run fails",
                    red=True,
                )
            failures = bench.generic_failures()
            if failures:
                terminalreporter.write_line(
                    f"llmbench: {failures} run(s) failed the generic-answer check (see above), "
                    "so the run fails",
                    red=True,
                )
                # The last line counts them: "12 passed, 3 overturned (generic answer)".
                overturned = terminalreporter.stats.setdefault(OVERTURNED, [])
                overturned.extend(self._overturned())
            if bench.partial:
                terminalreporter.write_line(f"llmbench: partial run: {bench.partial}", yellow=True)
        if not self.worker:
            self.persistence.summary(terminalreporter)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.persistence.close_journal()

    # -- xdist -----------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist controller: every worker writes to this run's journal."""
        self.persistence.configure_node(node)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        from pytest_llmbench.plugin.scheduler import make_scheduler

        catalogue = self.bench.catalogue

        def hosts() -> dict[str, str | None]:
            # The controller collects nothing: it asks the providers itself where each
            # model is served (the same answer every worker computes).
            return {m.id: _host(m) for m in catalogue.models()}

        return make_scheduler(
            config,
            log,
            mode=self.bench.options.dist,
            providers=catalogue.providers.names(),
            hosts=hosts,
            distribution=self.bench.distribution,
            report=self._say,
        )

    def _say(self, lines: list[str]) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for line in lines:
                reporter.write_line(line)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist controller: take in what a worker collected (case counts, policies, loads)."""
        worker = str(node.gateway.id)
        if error is not None:
            self.bench.distribution.down[worker] = one_line(error)
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
        bench.distribution.crashes.append(crash)
        if case is None:
            return
        report.llmbench_crash = True  # type: ignore[attr-defined]
        report.longrepr = crash.message()
        report.location = (case.path, None, crashitem.split("::", 1)[-1])
