"""Everything that outlives the session: journal and resume, history, registry, reports, gate.

:class:`Persistence` is called by the plugin's hooks, bound to one run's
:class:`BenchSession`; the work itself is done by the pure modules of ``storage``
(journal, history, champions), ``analysis.regression`` (the gate) and ``reporting``
(Markdown, HTML).

- Every process appends the items it ran to ``.llmbench/runs/<run-id>.jsonl``; the
  controller creates the run id and hands it to xdist workers.
- ``--llm-resume`` skips the items the journal already has (same prompt hash, same
  model fingerprint) and feeds their stored results into the ranking.
- At the end of the session the controller alone writes the reports, the history
  and the registry, and applies the gate (``--llm-baseline``, ``--llm-fail-on``).
"""

from __future__ import annotations

import os
import sqlite3
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis import alerts
from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.execution.results import Result
from pytest_llmbench.plugin.consensus import singles_only
from pytest_llmbench.plugin.items import RESULT_KEY, RESUMED_KEY, CaseItem, junit_properties
from pytest_llmbench.plugin.options import option_path
from pytest_llmbench.plugin.session import BenchSession
from pytest_llmbench.plugin.warnings import LLMBenchWarning
from pytest_llmbench.reporting.facts import ReportData
from pytest_llmbench.safety.atomic import write_atomic
from pytest_llmbench.safety.redaction import redact_data
from pytest_llmbench.safety.sanitising import shown
from pytest_llmbench.storage import git, history, journal, json_report
from pytest_llmbench.storage.champions import RegistryError, update_registry

__all__ = ["JOURNAL_LIMIT_INPUT", "RUN_ID_INPUT", "Persistence"]

RUN_ID_INPUT = "llmbench_run_id"
JOURNAL_LIMIT_INPUT = "llmbench_journal_limit"


class Persistence:
    """One run's journal and resume, then its history, registry, reports and gate.

    Plain methods, called by the plugin's hooks (:mod:`pytest_llmbench.plugin.hooks`)
    at the point of each hook where their order matters.
    """

    def __init__(self, config: pytest.Config, bench: BenchSession) -> None:
        self.config = config
        self.bench = bench
        self.options = bench.options
        self.root = config.rootpath
        self.worker = hasattr(config, "workerinput")
        self.resumed_from: str | None = None
        self.messages: list[str] = []
        self.gate_reasons: list[str] = []
        self.gate_lines: list[str] = []
        self.compared = False
        self.alerted = False
        """Some task has alert limits (the gate reports them)."""
        self.deselected_tasks: list[str] = []
        self.selected_tasks: list[str] | None = None
        self.descriptions: dict[str, str] = {}
        self.model_info: dict[str, dict[str, Any]] = {}
        self._fingerprints: dict[str, str] = {}
        self._metas: dict[tuple[str, str], dict[str, Any]] = {}
        self.resumed = 0
        self.failed_outputs = 0
        """Output files that could not be written at the end (disk full): the run fails."""
        limit: int | None = 0
        runs = self.options.runs_dir
        if self.worker:
            workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
            run_id = str(workerinput[RUN_ID_INPUT])
            given = workerinput.get(JOURNAL_LIMIT_INPUT, 0)
            limit = None if given is None else int(given)
            self.resumed_from = run_id if self.options.resume else None
        elif self.options.resume:
            run_id = self._resume_id(self.options.resume)
            try:
                limit = journal.repair(journal.journal_path(runs, run_id))
            except OSError as exc:  # read-only: read it as it is, a cut line is skipped
                limit = None
                self._state_problem(f"journal not repaired: {exc}", configuring=True)
            self.resumed_from = run_id
        else:
            run_id = journal.new_run_id()
        self.run_id = run_id
        self.journal_limit = limit
        bench.run_id = run_id
        self.journal = journal.Journal(journal.journal_path(runs, run_id))
        self.journaling = self.options.journal
        """Whether finished items go to the journal (off: --llm-no-journal, or unwritable)."""
        self.done: dict[journal.ItemKey, journal.Entry] = {}
        if self.resumed_from:
            problems: list[str] = []
            entries = journal.read_entries(self.journal.path, limit, problems)
            self.done = {e.key: e for e in entries}
            if problems and not self.worker:
                shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
                self._state_problem(
                    f"{len(problems)} damaged journal line(s) skipped (their items run "
                    f"again): {shown}",
                    configuring=True,
                )
        if not self.worker:
            self._check_paths()
        if self.options.baseline and not self.worker:
            self._check_baseline(self.options.baseline)

    def _state_problem(self, message: str, configuring: bool = False) -> None:
        """State that cannot be read or written: a warning, and the run goes on."""
        warning = LLMBenchWarning(f"llmbench: {message}")
        if configuring:  # pytest_configure: only this way does it reach the summary
            self.config.issue_config_time_warning(warning, stacklevel=2)
        else:
            warnings.warn(warning, stacklevel=2)

    # -- setup ----------------------------------------------------------------

    def _resume_id(self, wanted: str) -> str:
        runs = self.options.runs_dir
        if wanted == "latest":
            latest = journal.latest_run(runs)
            if latest is None:
                raise pytest.UsageError(f"--llm-resume: no run journal in {runs}")
            return latest
        path = journal.journal_path(runs, wanted)
        if not path.is_file():
            known = sorted(p.stem for p in runs.glob("*.jsonl"))
            raise pytest.UsageError(
                f"--llm-resume: no journal {path}; runs: {', '.join(known[-5:]) or 'none'}"
            )
        return wanted

    def _check_paths(self) -> None:
        """Every output path can be written: a usage error now, not a lost run at the end."""
        options = self.options
        outputs = {
            "--llm-json": options.json_path,
            "--llm-report": options.report_md,
            "--llm-html": options.report_html,
            "--llm-update-registry": options.update_registry,
            "--llm-history": options.history,
        }
        for name, path in outputs.items():
            if path is not None:
                problem = output_problem(Path(path))
                if problem:
                    shown = _shown(Path(path), self.config)
                    raise pytest.UsageError(f"{name} {shown}: {problem}")
        cache = options.cache_dir
        if options.cache_mode != "off" and cache.exists() and not cache.is_dir():
            raise pytest.UsageError(
                f"--llm-cache-dir {options.cache_dir}: is a file, not a directory"
            )

    def _check_baseline(self, spec: str) -> None:
        """A bad --llm-baseline is a usage error before anything runs."""
        path = option_path(self.config, spec)
        if path is not None and path.is_file() and spec != "last":
            try:
                json_report.load_json_rankings(path)
            except json_report.ReportError as exc:
                raise pytest.UsageError(f"--llm-baseline {exc}") from None
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise pytest.UsageError(
                    f"--llm-baseline {spec}: not a --llm-json report ({type(exc).__name__}: {exc})"
                ) from None
            return
        if spec == "last":
            return
        source = self.options.history_read
        try:
            if source is None:
                raise history.HistoryError("no history")
            history.resolve_run(source, spec)
        except history.HistoryError:
            raise pytest.UsageError(
                f"--llm-baseline {spec}: not a file, nor a run in the history "
                f"({source}); use a --llm-json file, a run id or 'last'"
            ) from None

    def configure_node(self, node: Any) -> None:
        """xdist: every worker writes to this run's journal and resumes from the same lines."""
        node.workerinput[RUN_ID_INPUT] = self.run_id
        node.workerinput[JOURNAL_LIMIT_INPUT] = self.journal_limit

    # -- collection -----------------------------------------------------------

    def select(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """``--llm-changed-since`` deselects unchanged tasks; ``--llm-resume`` marks done items."""
        cases = [item for item in items if isinstance(item, CaseItem)]
        if self.options.changed_since is not None and cases:
            self._select_changed(config, items, cases)
        if self.done:
            for item in items:
                if isinstance(item, CaseItem):
                    self._mark_done(item)

    def _select_changed(
        self, config: pytest.Config, items: list[pytest.Item], cases: list[CaseItem]
    ) -> None:
        ref = str(self.options.changed_since)
        sources: dict[str, tuple[Path, ...]] = {}
        for case_item in cases:
            sources.setdefault(case_item.task.name, case_item.task.sources)
        try:
            changed_files = git.changed_files(config.rootpath, ref)
        except git.GitError as exc:
            raise pytest.UsageError(str(exc)) from None
        changed = set(git.changed_tasks(sources, changed_files))
        self.selected_tasks = [t for t in sources if t in changed]
        self.deselected_tasks = [t for t in sources if t not in changed]
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            unchanged = isinstance(item, CaseItem) and item.task.name not in changed
            (drop if unchanged else keep).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    def _mark_done(self, item: CaseItem) -> None:
        key = (item.task.name, item.case.id, item.candidate, item.repeat)
        entry = self.done.get(key)
        if entry is None:
            return
        same_prompt = entry.result.prompt_hash == item.case.prompt_hash
        same_model = entry.fingerprint == self._fingerprint(item)
        if same_prompt and same_model:
            item.stash[RESUMED_KEY] = entry
            self.resumed += 1

    def header_lines(self) -> list[str]:
        lines: list[str] = []
        if self.selected_tasks is not None:
            ref = self.options.changed_since
            total = len(self.selected_tasks) + len(self.deselected_tasks)
            names = ", ".join(self.selected_tasks) or "none"
            lines.append(
                f"llmbench: changed since {ref}: {len(self.selected_tasks)} of {total} "
                f"task(s): {names}"
            )
        if self.resumed_from:
            lines.append(
                f"llmbench: resuming run {self.resumed_from}: {self.resumed} item(s) done "
                "already, skipped"
            )
        return lines

    # -- running --------------------------------------------------------------

    def _fingerprint(self, item: CaseItem) -> str:
        model = item.model
        if model.id not in self._fingerprints:
            self._fingerprints[model.id] = journal.model_fingerprint(model)
        return self._fingerprints[model.id]

    def _meta(self, item: CaseItem) -> dict[str, Any]:
        """What the reports need about an item's task and model; rides on its reports
        (one dict per task and model, shared by their items' reports)."""
        key = (item.task.name, item.model.id)
        meta = self._metas.get(key)
        if meta is None:
            meta = self._metas[key] = self._new_meta(item)
        return meta

    def _new_meta(self, item: CaseItem) -> dict[str, Any]:
        model = item.model
        return {
            "task": item.task.name,
            "description": item.task.description,
            "model": model.id,
            "model_info": {
                "size_bytes": model.size_bytes,
                "family": model.family,
                "fingerprint": self._fingerprint(item),
            },
        }

    def setup(self, item: pytest.Item) -> None:
        """Skip an item its run's journal already has (``--llm-resume``)."""
        entry = item.stash.get(RESUMED_KEY, None)
        if entry is not None:
            # JUnit keeps what the earlier run recorded, with where it came from.
            item.user_properties.extend(junit_properties(entry.result))
            item.user_properties.append(("resumed_from", self.resumed_from))
            pytest.skip(f"done in run {self.resumed_from}")

    def on_report(self, item: CaseItem, when: str, report: pytest.TestReport) -> None:
        """Give a case item's report what the reports need; journal its result."""
        if when == "setup":
            entry = item.stash.get(RESUMED_KEY, None)
            if entry is not None and report.skipped:
                report.llmbench_result = entry.result.to_dict()  # type: ignore[attr-defined]
                report.llmbench_resumed = self.resumed_from  # type: ignore[attr-defined]
                report.llmbench_meta = self._meta(item)  # type: ignore[attr-defined]
        elif when == "call" and RESULT_KEY in item.stash:
            report.llmbench_meta = self._meta(item)  # type: ignore[attr-defined]
            if self.journaling:
                result = item.stash[RESULT_KEY]
                self._journal(journal.Entry(result, self._fingerprint(item), item.nodeid))

    def _journal(self, entry: journal.Entry) -> None:
        try:
            self.journal.append(entry)
        except OSError as exc:
            self.journaling = False
            self._state_problem(
                f"journal {self.journal.path} not written ({exc.strerror or exc}); the run "
                "goes on without it (it cannot be resumed); --llm-state-dir moves it"
            )

    def on_logreport(self, report: pytest.TestReport) -> None:
        """Take in what a report carries (also under xdist, on the controller)."""
        record = getattr(report, "llmbench_result", None)
        resumed = getattr(report, "llmbench_resumed", None)
        if report.when == "setup" and resumed and isinstance(record, dict):
            self.bench.ledger.add_result(Result.from_dict(record))
        meta = getattr(report, "llmbench_meta", None)
        if isinstance(meta, dict):  # also under xdist, where the controller collects nothing
            if meta.get("description"):
                self.descriptions.setdefault(str(meta["task"]), str(meta["description"]))
            self.model_info.setdefault(str(meta["model"]), dict(meta["model_info"]))

    # -- the end --------------------------------------------------------------

    def _run_record(self, exitstatus: int) -> dict[str, Any]:
        bench = self.bench
        run = bench.run_info(exitstatus)
        run.update(
            {
                "id": self.run_id,
                "git_commit": git.head_commit(self.root),
                "rootdir": str(self.root),
                "options": self.options.record(self.config),
                "tasks": [r.task for r in bench.rankings],
                "resumed_from": self.resumed_from,
                "model_info": {
                    model_id: info
                    for model_id, info in sorted(self.model_info.items())
                    if model_id in run.get("models", ())
                },
            }
        )
        # The history, the reports and `llmbench show` get it: no password of a host URL.
        redacted: dict[str, Any] = redact_data(run)
        return redacted

    def write(self, path: Path, text: str | Iterable[str], done: str) -> bool:
        """Write one output file; a failure (disk full) is one line, and the run goes on.

        Text in pieces (the ``--llm-json`` document, streamed) is written as it comes, to
        a temporary file renamed over ``path`` when whole: a failure leaves no half file.
        """
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, str):
                path.write_text(text, encoding="utf-8")
            else:
                write_atomic(path, text)
        except OSError as exc:
            self.messages.append(
                f"llmbench: {_shown(path, self.config)} not written: {exc.strerror or exc}"
            )
            self.failed_outputs += 1
            return False
        self.messages.append(done)
        return True

    def _write(self, path: Path, text: str, what: str) -> None:
        self.write(path, shown(text), f"llmbench: {what} written to {_shown(path, self.config)}")

    def finish(self, session: pytest.Session, exitstatus: int) -> None:
        """Reports, history, registry and gate, from the ranked results (controller only)."""
        options = self.options
        if options.changed_since is not None and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            self.messages.append(
                f"llmbench: no task changed since {options.changed_since}; nothing to benchmark"
            )
            session.exitstatus = pytest.ExitCode.OK
            return
        bench = self.bench
        if bench.catalogue.uses_new() and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            self.messages.append("llmbench: no new model for any task; nothing to benchmark")
            session.exitstatus = pytest.ExitCode.OK
            return
        if not bench.ledger.results:
            return
        run = self._run_record(int(exitstatus))
        data = ReportData(
            run=run,
            results=bench.ledger.results,
            rankings=bench.rankings,
            case_counts=bench.ledger.case_counts,
            descriptions=self.descriptions,
            model_sizes={k: v.get("size_bytes") for k, v in run["model_info"].items()},
        )
        # The optional outputs' modules are imported when asked for (start-up: issue 17).
        if options.report_md is not None:
            from pytest_llmbench.reporting.markdown import markdown_report

            self._write(options.report_md, markdown_report(data), "Markdown report")
        if options.report_html is not None:
            from pytest_llmbench.reporting.html import html_report

            self._write(options.report_html, html_report(data), "HTML report")
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            where = (
                f"its finished items are in {self.journal.path}; finish it with --llm-resume"
                if self.journaling
                else "no journal was written, so it cannot be resumed"
            )
            self.messages.append(f"llmbench: run {self.run_id} interrupted; {where}")
            return
        baseline = self._baseline(bench.rankings)
        if options.history is not None:
            try:
                history.record_run(options.history, run, bench.ledger.results, bench.rankings)
            except (history.HistoryError, OSError, sqlite3.Error) as exc:
                self._state_problem(f"history {options.history} not written: {exc}")
            else:
                where = _shown(options.history, self.config)
                self.messages.append(f"llmbench: run {self.run_id} recorded in {where}")
        if options.update_registry is not None:
            if bench.partial or bench.cache_only:
                why = (
                    f"the run is partial ({bench.partial})"
                    if bench.partial
                    else "every answer came from the response cache (nothing was timed)"
                )
                self.messages.append(
                    f"llmbench: registry {_shown(options.update_registry, self.config)} not "
                    f"updated: {why}; it keeps its champions"
                    + ("; finish the run with --llm-resume" if bench.partial else "")
                )
            else:
                self._update_registry(options.update_registry, bench.rankings, run)
        reasons: list[str] = []
        if baseline is not None:
            from pytest_llmbench.analysis import regression as gate

            label, rankings = baseline
            report = gate.compare(rankings, bench.rankings, options.max_slowdown, label)
            reasons.extend(report.reasons)
            self.compared = bool(report.compared)
            compared = ", ".join(report.compared) or "no task in common"
            self.gate_lines.append(f"compared with {label}: {compared}")
            self.gate_lines.extend(report.notes)
        if options.fail_on == "champion":
            from pytest_llmbench.analysis.regression import without_champion

            reasons.extend(without_champion(bench.rankings))
        reasons.extend(self._alerts(bench.rankings))
        self.gate_reasons = reasons
        failed = reasons or self.failed_outputs
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _alerts(self, rankings: list[TaskRanking]) -> list[str]:
        """``--llm-max-p95``, ``--llm-max-error-rate`` and ``alerts:``: the limits each
        task's champion and runner-up are over."""
        reasons: list[str] = []
        for ranking in rankings:
            limits = self.bench.ledger.alert_limits(ranking.task, self.options)
            if limits.any:
                self.alerted = True
                self.gate_lines.append(f"alerts for {ranking.task}: {limits.describe()}")
                reasons.extend(alerts.breaches(ranking, limits))
        return reasons

    def _baseline(self, current: list[TaskRanking]) -> tuple[str, list[TaskRanking]] | None:
        spec = self.options.baseline
        if spec is None:
            return None
        path = option_path(self.config, spec)
        if spec != "last" and path is not None and path.is_file():
            try:
                return str(path), json_report.load_json_rankings(path)
            except json_report.ReportError as exc:
                raise pytest.UsageError(f"--llm-baseline {exc}") from None
        source = self.options.history_read
        if source is None or not source.is_file():
            self.gate_lines.append(f"no history at {source}: no baseline, nothing compared")
            return None
        try:
            if spec == "last":
                run_id = history.last_run_with(
                    source, [r.task for r in current], exclude=self.run_id
                )
                if run_id is None:
                    self.gate_lines.append(
                        "no earlier run in the history ranked "
                        + ", ".join(r.task for r in current)
                        + ": no baseline, nothing compared"
                    )
                    return None
            else:
                run_id = history.resolve_run(source, spec, exclude=self.run_id)
            stored = history.load_run(source, run_id)
        except history.HistoryError as exc:
            self.gate_lines.append(f"no baseline: {exc}")
            return None
        return f"run {run_id}", list(stored.rankings)

    def _update_registry(
        self, path: Path, rankings: list[TaskRanking], run: dict[str, Any]
    ) -> None:

        facts = self.bench.ledger.task_facts
        case_files = {task: Path(f["case_file"]) for task, f in facts.items() if "case_file" in f}
        try:
            singles = [singles_only(r) for r in rankings]  # never a combination
            if self.bench.catalogue.uses_new():  # newcomers only: they challenge the entry
                from pytest_llmbench.storage.succession import admit_newcomers

                updated, kept = admit_newcomers(path, singles, run, case_files)
            else:
                updated, kept = update_registry(path, singles, run, case_files)
        except (RegistryError, OSError) as exc:
            self.messages.append(f"llmbench: registry not updated: {exc}")
            return
        if updated:
            self.messages.append(f"llmbench: registry {path} updated: {', '.join(updated)}")
        if kept:
            why = "no newcomer beat it" if self.bench.catalogue.uses_new() else "no model qualified"
            self.messages.append(
                f"llmbench: registry kept the previous entry of {', '.join(kept)} ({why})"
            )

    def summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """The gate's verdict and where the outputs went."""
        gated = (
            self.options.baseline is not None or self.options.fail_on == "champion" or self.alerted
        )
        if gated and self.bench.rankings:
            terminalreporter.section("llmbench gate")
            for line in self.gate_lines:
                terminalreporter.write_line(line)
            if self.gate_reasons:
                terminalreporter.write_line(
                    f"FAILED: {len(self.gate_reasons)} reason(s)", red=True, bold=True
                )
                for reason in self.gate_reasons:
                    terminalreporter.write_line(shown(f"  {reason}"), red=True)
            else:
                checks = []
                if self.compared:
                    checks.append("no regression")
                if self.options.fail_on == "champion":
                    checks.append("every task has a champion")
                if self.alerted:
                    checks.append("champions and runners-up within the alert limits")
                if checks:
                    terminalreporter.write_line("passed: " + ", ".join(checks), green=True)
        for message in self.messages:
            terminalreporter.write_line(message)

    def close_journal(self) -> None:
        try:
            self.journal.close()
        except OSError as exc:
            self._state_problem(f"journal {self.journal.path} not synced: {exc}")


def output_problem(path: Path) -> str | None:
    """Why an output file cannot be written at ``path``, or ``None``.

    A directory, a collected case file (the gold cases would be overwritten), a parent
    that is a file or that cannot be written.  Missing parents are created on writing.
    """
    if path.is_dir():
        return "is a directory; name a file"
    if path.is_file():
        from pytest_llmbench.cases.encoding import readable_text
        from pytest_llmbench.cases.load import looks_like_case_file

        try:
            text = readable_text(path.read_bytes())  # as collection tells a case file
        except OSError:
            text = ""

        if path.suffix in (".yaml", ".yml") and looks_like_case_file(text):
            return "is a case file; writing there would destroy its gold cases; name another file"
        if not os.access(path, os.W_OK):
            return "cannot be written (permission denied)"
        return None
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"{parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot be written: {parent} is not writable"
    return None


def _shown(path: Path, config: pytest.Config) -> str:
    """A path as the user would type it: relative to where pytest was started, if inside."""
    try:
        return str(Path(path).resolve().relative_to(config.invocation_params.dir.resolve()))
    except ValueError:
        return str(path)
