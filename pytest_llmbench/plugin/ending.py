"""The end of the run, wired to pytest: outputs, gate, exit status and summary.

The work is done below: :func:`pytest_llmbench.analysis.run.finish_run` (through
:meth:`BenchSession.finish`) ranks, :func:`pytest_llmbench.storage.outputs.write_outputs`
writes, :func:`pytest_llmbench.analysis.gate.gate` decides.  This module turns pytest's
view (exit status, options, the terminal, JUnit) into their plain inputs and back, and
checks before the run that every output can be written (a usage error then, not a
lost run at the end).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbench.plugin.journaling import RunJournal
from pytest_llmbench.plugin.options import option_path, options_record
from pytest_llmbench.plugin.session import BenchSession
from pytest_llmbench.plugin.warnings import LLMBenchWarning
from pytest_llmbench.settings.options import Options

if TYPE_CHECKING:
    from pytest_llmbench.analysis.gate import GateVerdict
    from pytest_llmbench.analysis.ranking import TaskRanking
    from pytest_llmbench.storage.outputs import RunOutputs, Written

# The end of the run's own modules (outputs, gate, history, reports) are imported by
# the functions that use them: a run that collects nothing does not load them.

__all__ = ["Ending", "check_outputs", "finish_outputs", "stopped"]


@dataclass
class Ending:
    """What the end of the run wrote and the gate's verdict, for the terminal summary."""

    written: Written
    verdict: GateVerdict


def stopped(session: pytest.Session, exitstatus: int) -> str | None:
    """Why the run stopped before its last item (``-x``, ``--maxfail``, Ctrl-C), if it did."""
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted"
    dsession = session.config.pluginmanager.get_plugin("dsession")  # xdist's controller
    for why in (session.shouldfail, session.shouldstop, getattr(dsession, "shouldstop", None)):
        if why:
            return f"stopped early ({why})"
    return None


# -- before the run ------------------------------------------------------------------


def check_outputs(config: pytest.Config, options: Options) -> None:
    """Every output asked for can be written and ``--llm-baseline`` can be read: a usage
    error now (the state folder's default history: a warning at the end, the run goes on)."""
    from pytest_llmbench.storage.outputs import run_problem

    outputs = {"--llm-json": options.json_path, "--llm-report": options.report_md}
    outputs |= {"--llm-html": options.report_html, "--llm-update-registry": options.update_registry}
    outputs["--llm-history"] = options.history if config.getoption("llm_history") else None
    cache = options.cache_dir if options.cache_mode != "off" else None
    base = option_path(config, options.baseline) if options.baseline else None
    where = config.invocation_params.dir
    problem = run_problem(outputs, where, cache, options.baseline, base, options.history_read)
    if problem is not None:
        raise pytest.UsageError(problem)


# -- at the end ----------------------------------------------------------------------


def finish_outputs(
    session: pytest.Session, exitstatus: int, bench: BenchSession, journal: RunJournal
) -> Ending:
    """The ``--llm-json`` document, the reports, history and registry, then the gate."""
    from pytest_llmbench.analysis.alerts import Limits
    from pytest_llmbench.analysis.gate import GateVerdict, gate
    from pytest_llmbench.providers.identity import model_identities
    from pytest_llmbench.reporting.end import nothing_to_run
    from pytest_llmbench.storage import json_report
    from pytest_llmbench.storage.outputs import Written, write_outputs

    options, ledger = bench.options, bench.ledger
    start = session.config.invocation_params.dir
    end = Ending(Written(), GateVerdict(fail_on_champion=options.fail_on == "champion"))
    written = end.written
    if options.json_path is not None:
        run = bench.run_info(int(session.exitstatus), journal.run_id)
        text = json_report.json_text(run, ledger.results, bench.rankings)  # streamed, redacted
        path = options.json_path
        written.write(path, text, f"llmbench: results written to {path}", start)
    nothing = nothing_to_run(options.changed_since, bench.catalogue.uses_new())
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and nothing:  # and the run passes
        written.messages.append(nothing)
        session.exitstatus = pytest.ExitCode.OK
        return end
    if not ledger.results:
        return end
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
    run = _run_record(session.config, bench, journal, int(exitstatus))
    baseline, notes = (None, []) if interrupted else _baseline(session.config, bench, journal)
    outcome = bench.outcome
    write_outputs(
        _asked(bench, journal, run, start),
        run,
        ledger.results,
        bench.rankings,
        interrupted=interrupted,
        partial=outcome.partial if outcome is not None else None,
        cache_only=outcome.cache_only if outcome is not None else False,
        case_files={
            t: Path(f["case_file"]) for t, f in ledger.task_facts.items() if "case_file" in f
        },
        written=written,
        identities=model_identities(bench.catalogue.all_models()),
    )
    for problem in written.problems:
        warnings.warn(LLMBenchWarning(f"llmbench: {problem}"), stacklevel=2)
    if interrupted:
        return end
    default = Limits(max_p95_ms=options.max_p95_ms, max_error_rate=options.max_error_rate)
    end.verdict = gate(
        bench.rankings,
        baseline=baseline,
        notes=notes,
        max_slowdown=options.max_slowdown,
        fail_on_champion=options.fail_on == "champion",
        limits=lambda task: ledger.alert_limits(task, default),
        run={"conditions": bench.conditions},
    )
    if (end.verdict.failed or written.failed) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    return end


def _asked(
    bench: BenchSession, journal: RunJournal, run: dict[str, Any], start: Path
) -> RunOutputs:
    """What the options ask the end of the run to write (the reports rendered on demand)."""
    from pytest_llmbench.reporting.documents import report_documents
    from pytest_llmbench.storage.outputs import RunOutputs

    options, ledger = bench.options, bench.ledger
    documents = report_documents(
        options.report_md,
        options.report_html,
        run=run,
        results=ledger.results,
        rankings=bench.rankings,
        case_counts=ledger.case_counts,
        descriptions=journal.descriptions,
    )
    return RunOutputs(
        documents=documents,
        history=options.history,
        registry=options.update_registry,
        newcomers_only=bench.catalogue.uses_new(),
        journal=journal.journal.path if journal.journaling else None,
        start=start,
    )


def _run_record(
    config: pytest.Config, bench: BenchSession, journal: RunJournal, exitstatus: int
) -> dict[str, Any]:
    from pytest_llmbench.storage.outputs import run_record

    return run_record(
        bench.run_info(exitstatus, journal.run_id),
        run_id=journal.run_id,
        rootdir=config.rootpath,
        options=options_record(config),
        tasks=[r.task for r in bench.rankings],
        resumed_from=journal.resumed_from,
        model_info=journal.model_info,
    )


def _baseline(config: pytest.Config, bench: BenchSession, journal: RunJournal) -> Any:
    from pytest_llmbench.storage import json_report
    from pytest_llmbench.storage.outputs import load_baseline

    spec = bench.options.baseline
    if spec is None:
        return None, []
    tasks = [r.task for r in bench.rankings]
    try:
        return load_baseline(
            spec, option_path(config, spec), bench.options.history_read, tasks, journal.run_id
        )
    except json_report.ReportError as exc:
        raise pytest.UsageError(f"--llm-baseline {exc}") from None


# -- the summary and JUnit -------------------------------------------------------------


def gate_summary(
    terminalreporter: pytest.TerminalReporter,
    end: Ending,
    options: Options,
    rankings: list[TaskRanking],
) -> None:
    """The gate's verdict (when a check was asked for) and where the outputs went."""
    from pytest_llmbench.reporting.end import gate_lines

    verdict = end.verdict
    if (options.baseline is not None or verdict.fail_on_champion or verdict.alerted) and rankings:
        terminalreporter.section("llmbench gate")
        for text, markup in gate_lines(verdict):
            terminalreporter.write_line(text, **markup)
    for message in end.written.messages:
        terminalreporter.write_line(message)


def report_generic(config: pytest.Config, rankings: list[TaskRanking]) -> None:
    """A failing JUnit testcase per task whose passed items the generic check overturned."""
    from _pytest.junitxml import xml_key

    from pytest_llmbench.reporting.junit import generic_lines

    xml = config.stash.get(xml_key, None)
    for ranking in rankings:
        if not ranking.generic or xml is None:
            continue
        lines = generic_lines(ranking)
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


OVERTURNED = "overturned (generic answer)"
"""The category of passed items the generic-answer check failed (the last line counts it)."""

PassedReports = dict[tuple[str, str, str, int], pytest.TestReport]
"""The passed case items' reports, by run (the generic-answer check may overturn them)."""


def ranking_summary(
    terminalreporter: pytest.TerminalReporter, bench: BenchSession, passed: PassedReports
) -> None:
    """The rankings, the xdist lines, and why a run whose items passed fails."""
    from pytest_llmbench.reporting.end import failure_lines, ranking_lines

    outcome = bench.outcome
    if outcome is None or not outcome.rankings:
        return
    terminalreporter.section("llmbench ranking")
    verbose = terminalreporter.verbosity > 0
    xdist = bench.distribution.summary_lines(bench.ledger.results)
    lines = ranking_lines(outcome, bench.ledger.case_counts, verbose, xdist, bench.conditions)
    for text, markup in lines:
        terminalreporter.write_line(text, **markup)
    for message in bench.distribution.warnings() + outcome.warnings:
        warnings.warn(LLMBenchWarning(message), stacklevel=1)
    for text, markup in failure_lines(outcome):
        terminalreporter.write_line(text, **markup)
    # The last line counts them: "12 passed, 3 overturned (generic answer)".
    if outcome.generic_failures:
        terminalreporter.stats.setdefault(OVERTURNED, []).extend(
            passed[key]
            for r in outcome.rankings
            for g in r.generic
            if (key := (r.task, g.case_id, g.model, g.repeat)) in passed
        )
