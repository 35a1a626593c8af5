"""Everything that outlives the session: journal and resume, history, registry, reports, gate.

:class:`Tracker` holds the hooks, bound to one run's :class:`BenchSession`
(registered by :func:`pytest_llmbench.plugin.pytest_configure`); the work itself is
done by the pure modules ``journal``, ``history``, ``registry``, ``gate``,
``report_md`` and ``report_html``.

- Every process appends the items it ran to ``.llmbench/runs/<run-id>.jsonl``; the
  controller creates the run id and hands it to xdist workers.
- ``--llm-resume`` skips the items the journal already has (same prompt hash, same
  model fingerprint) and feeds their stored results into the ranking.
- At the end of the session the controller alone writes the reports, the history
  and the registry, and applies the gate (``--llm-baseline``, ``--llm-fail-on``).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis import regression as gate
from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.execution.results import Result
from pytest_llmbench.plugin.items import RESULT_KEY, RESUMED_KEY, CaseItem, junit_properties
from pytest_llmbench.plugin.session import BenchSession
from pytest_llmbench.reporting.facts import ReportData
from pytest_llmbench.reporting.html import html_report
from pytest_llmbench.reporting.markdown import markdown_report
from pytest_llmbench.storage import history, journal
from pytest_llmbench.storage.champions import RegistryError, registry_path, update_registry

__all__ = ["TrackOptions", "Tracker", "add_options"]

RUN_ID_INPUT = "llmbench_run_id"
JOURNAL_LIMIT_INPUT = "llmbench_journal_limit"
FAIL_ON = ("case", "champion")
_DEFAULT = "__default__"


def _percent(value: str) -> float:
    text = value.strip().removesuffix("%")
    try:
        number = float(text)
    except ValueError:
        raise pytest.UsageError(
            f"--llm-max-slowdown: expected a percentage such as 20 or 20%, got {value!r}"
        ) from None
    if number < 0:
        raise pytest.UsageError(f"--llm-max-slowdown: expected 0 or more, got {value!r}")
    return number / 100.0


def _registry_file(value: str) -> str:
    """``--llm-update-registry PATH``: a YAML file, not a test path swallowed by the option."""
    if value != _DEFAULT and not value.endswith((".yaml", ".yml")):
        raise pytest.UsageError(
            f"--llm-update-registry: {value!r} is not a .yaml file; write "
            "--llm-update-registry=PATH.yaml, or put the option after the test paths"
        )
    return value


def _run_ref(value: str) -> str:
    """``--llm-resume RUN``: a run id, not a test path swallowed by the option."""
    if value != "latest" and ("/" in value or os.sep in value or os.path.exists(value)):
        raise pytest.UsageError(
            f"--llm-resume: {value!r} is a path, not a run id; write --llm-resume=RUN, "
            "or put the option after the test paths"
        )
    return value


def add_options(group: Any) -> None:
    """The options of this module, in the plugin's ``--llm-*`` group."""
    group.addoption(
        "--llm-report",
        metavar="PATH.md",
        default=None,
        help="write a Markdown report (summary, top results, failed to qualify, notes).",
    )
    group.addoption(
        "--llm-html",
        metavar="PATH",
        default=None,
        help="write a self-contained HTML report with charts (no network needed to view it).",
    )
    group.addoption(
        "--llm-history",
        metavar="PATH",
        default=None,
        help="SQLite file every run is appended to. Default: .llmbench/history.sqlite "
        "under the rootdir.",
    )
    group.addoption(
        "--llm-no-history",
        action="store_true",
        default=False,
        help="do not append this run to the history.",
    )
    group.addoption(
        "--llm-registry",
        metavar="PATH",
        default=None,
        help="the champion registry read by --llm-models=registry. "
        "Default: llmbench-registry.yaml at the rootdir.",
    )
    group.addoption(
        "--llm-update-registry",
        metavar="PATH",
        nargs="?",
        const=_DEFAULT,
        type=_registry_file,
        default=None,
        help="write each task's champion and runner-up with the evidence to the registry "
        "(PATH, else --llm-registry, else llmbench-registry.yaml at the rootdir).",
    )
    group.addoption(
        "--llm-changed-since",
        metavar="REF",
        default=None,
        help="run only the tasks whose case file, prompt or referenced files changed "
        "against git REF (committed, staged, unstaged or untracked).",
    )
    group.addoption(
        "--llm-baseline",
        metavar="PATH|last|RUN",
        default=None,
        help="fail the session when a task lost its champion, the champion lost "
        "correctness or got slower than --llm-max-slowdown, against a --llm-json file, "
        "a run of the history, or 'last' (the latest run with these tasks).",
    )
    group.addoption(
        "--llm-max-slowdown",
        metavar="PERCENT",
        type=_percent,
        default=None,
        help="the champion latency growth --llm-baseline allows. Default: 20%%.",
    )
    group.addoption(
        "--llm-fail-on",
        metavar="case|champion",
        choices=FAIL_ON,
        default="case",
        help="'case': a wrong answer fails its test (default); 'champion': wrong answers "
        "are xfailed and only a task without a champion fails the session.",
    )
    group.addoption(
        "--llm-resume",
        metavar="RUN",
        nargs="?",
        const="latest",
        type=_run_ref,
        default=None,
        help="continue an interrupted run: skip the items its journal "
        "(.llmbench/runs/RUN.jsonl) has, with the same prompt and model. "
        "Default RUN: the latest.",
    )


def _path(config: pytest.Config, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else config.invocation_params.dir / path


@dataclass(frozen=True)
class TrackOptions:
    report_md: Path | None = None
    report_html: Path | None = None
    history: Path | None = None
    """``None`` with ``--llm-no-history``."""
    history_read: Path | None = None
    """Where ``--llm-baseline last`` looks, even with ``--llm-no-history``."""
    update_registry: Path | None = None
    changed_since: str | None = None
    baseline: str | None = None
    max_slowdown: float = 0.2
    fail_on: str = "case"
    resume: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> TrackOptions:
        history_path = _path(config, config.getoption("llm_history")) or (
            config.rootpath / history.DEFAULT_HISTORY
        )
        update = config.getoption("llm_update_registry")
        slowdown = config.getoption("llm_max_slowdown")
        return cls(
            report_md=_path(config, config.getoption("llm_report")),
            report_html=_path(config, config.getoption("llm_html")),
            history=None if config.getoption("llm_no_history") else history_path,
            history_read=history_path,
            update_registry=(
                registry_path(config) if update == _DEFAULT else _path(config, update)
            ),
            changed_since=config.getoption("llm_changed_since"),
            baseline=config.getoption("llm_baseline"),
            max_slowdown=0.2 if slowdown is None else float(slowdown),
            fail_on=config.getoption("llm_fail_on") or "case",
            resume=config.getoption("llm_resume"),
        )


def _options_record(config: pytest.Config) -> dict[str, Any]:
    """The plugin's options as given (``llm_*``), JSON-ready."""
    return {
        key: (str(value) if isinstance(value, os.PathLike) else value)
        for key, value in sorted(vars(config.option).items())
        if key.startswith("llm_")
    }


class Tracker:
    """Hooks for one run: journal and resume, then history, registry, reports and gate."""

    def __init__(self, config: pytest.Config, bench: BenchSession) -> None:
        self.config = config
        self.bench = bench
        self.options = TrackOptions.from_config(config)
        self.root = config.rootpath
        self.worker = hasattr(config, "workerinput")
        self.resumed_from: str | None = None
        self.messages: list[str] = []
        self.gate_reasons: list[str] = []
        self.gate_lines: list[str] = []
        self.compared = False
        self.deselected_tasks: list[str] = []
        self.selected_tasks: list[str] | None = None
        self.descriptions: dict[str, str] = {}
        self.model_info: dict[str, dict[str, Any]] = {}
        self._fingerprints: dict[str, str] = {}
        self.resumed = 0
        limit = 0
        if self.worker:
            workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
            run_id = str(workerinput[RUN_ID_INPUT])
            limit = int(workerinput.get(JOURNAL_LIMIT_INPUT, 0))
            self.resumed_from = run_id if self.options.resume else None
        elif self.options.resume:
            run_id = self._resume_id(self.options.resume)
            limit = journal.repair(journal.journal_path(self.root, run_id))
            self.resumed_from = run_id
        else:
            run_id = journal.new_run_id()
        self.run_id = run_id
        self.journal_limit = limit
        bench.run_id = run_id
        self.journal = journal.Journal(journal.journal_path(self.root, run_id))
        self.done: dict[journal.ItemKey, journal.Entry] = {}
        if self.resumed_from:
            entries = journal.read_entries(self.journal.path, limit)
            self.done = {e.key: e for e in entries}
        if self.options.baseline and not self.worker:
            self._check_baseline(self.options.baseline)

    # -- setup ----------------------------------------------------------------

    def _resume_id(self, wanted: str) -> str:
        if wanted == "latest":
            latest = journal.latest_run(self.root)
            if latest is None:
                raise pytest.UsageError(
                    f"--llm-resume: no run journal in {self.root / journal.RUNS_DIR}"
                )
            return latest
        path = journal.journal_path(self.root, wanted)
        if not path.is_file():
            known = sorted(p.stem for p in (self.root / journal.RUNS_DIR).glob("*.jsonl"))
            raise pytest.UsageError(
                f"--llm-resume: no journal {path}; runs: {', '.join(known[-5:]) or 'none'}"
            )
        return wanted

    def _check_baseline(self, spec: str) -> None:
        """A bad --llm-baseline is a usage error before anything runs."""
        path = _path(self.config, spec)
        if spec == "last" or (path is not None and path.is_file()):
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

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: every worker writes to this run's journal and resumes from the same lines."""
        node.workerinput[RUN_ID_INPUT] = self.run_id
        node.workerinput[JOURNAL_LIMIT_INPUT] = self.journal_limit

    # -- collection -----------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
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
            changed_files = gate.changed_files(config.rootpath, ref)
        except gate.GateError as exc:
            raise pytest.UsageError(str(exc)) from None
        changed = set(gate.changed_tasks(sources, changed_files))
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
        key = (item.task.name, item.case.id, item.model.id, item.repeat)
        entry = self.done.get(key)
        if entry is None:
            return
        same_prompt = entry.result.prompt_hash == item.case.prompt_hash
        same_model = entry.fingerprint == self._fingerprint(item)
        if same_prompt and same_model:
            item.stash[RESUMED_KEY] = entry
            self.resumed += 1

    def pytest_report_collectionfinish(self, config: pytest.Config) -> list[str]:
        lines: list[str] = []
        if self.bench.uses_registry():
            for task, models in self.bench.task_models.items():
                names = ", ".join(m.id for m in models) or "none"
                lines.append(f"llmbench: registry: {task}: {names}")
            lines.extend(f"llmbench: {note}" for note in self.bench.registry_notes)
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
        """What the reports need about an item's task and model; rides on its reports."""
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

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        entry = item.stash.get(RESUMED_KEY, None)
        if entry is not None:
            # JUnit keeps what the earlier run recorded, with where it came from.
            item.user_properties.extend(junit_properties(entry.result))
            item.user_properties.append(("resumed_from", self.resumed_from))
            pytest.skip(f"done in run {self.resumed_from}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if not isinstance(item, CaseItem):
            return report
        if call.when == "setup":
            entry = item.stash.get(RESUMED_KEY, None)
            if entry is not None and report.skipped:
                report.llmbench_result = entry.result.to_dict()  # type: ignore[attr-defined]
                report.llmbench_resumed = self.resumed_from  # type: ignore[attr-defined]
                report.llmbench_meta = self._meta(item)  # type: ignore[attr-defined]
        elif call.when == "call" and RESULT_KEY in item.stash:
            report.llmbench_meta = self._meta(item)  # type: ignore[attr-defined]
            result = item.stash[RESULT_KEY]
            self.journal.append(journal.Entry(result, self._fingerprint(item), item.nodeid))
            if self.options.fail_on == "champion" and report.failed and not result.correct:
                # Like an xfail: shown as "x", counted as xfailed, the reason kept.
                excinfo = call.excinfo
                report.outcome = "skipped"
                report.wasxfail = str(excinfo.value) if excinfo else "wrong answer"
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "llmbench_result", None)
        resumed = getattr(report, "llmbench_resumed", None)
        if report.when == "setup" and resumed and isinstance(record, dict):
            self.bench.add_result(Result.from_dict(record))
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
                "git_commit": history.git_commit(self.root),
                "rootdir": str(self.root),
                "options": _options_record(self.config),
                "tasks": [r.task for r in bench.rankings],
                "resumed_from": self.resumed_from,
                "model_info": {
                    model_id: info
                    for model_id, info in sorted(self.model_info.items())
                    if model_id in run.get("models", ())
                },
            }
        )
        return run

    def _write(self, path: Path, text: str, what: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.messages.append(f"llmbench: {what} written to {_shown(path, self.config)}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.journal.close()
        if self.worker:
            return
        options = self.options
        if options.changed_since is not None and exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            self.messages.append(
                f"llmbench: no task changed since {options.changed_since}; nothing to benchmark"
            )
            session.exitstatus = pytest.ExitCode.OK
            return
        bench = self.bench
        if not bench.results:
            return
        run = self._run_record(int(exitstatus))
        data = ReportData(
            run=run,
            results=bench.results,
            rankings=bench.rankings,
            case_counts=bench.case_counts,
            descriptions=self.descriptions,
            model_sizes={k: v.get("size_bytes") for k, v in run["model_info"].items()},
        )
        if options.report_md is not None:
            self._write(options.report_md, markdown_report(data), "Markdown report")
        if options.report_html is not None:
            self._write(options.report_html, html_report(data), "HTML report")
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.messages.append(
                f"llmbench: run {self.run_id} interrupted; its finished items are in "
                f"{self.journal.path}; finish it with --llm-resume"
            )
            return
        baseline = self._baseline(bench.rankings)
        if options.history is not None:
            try:
                history.record_run(options.history, run, bench.results, bench.rankings)
            except history.HistoryError as exc:
                self.messages.append(f"llmbench: history not written: {exc}")
            else:
                where = _shown(options.history, self.config)
                self.messages.append(f"llmbench: run {self.run_id} recorded in {where}")
        if options.update_registry is not None:
            self._update_registry(options.update_registry, bench.rankings, run)
        reasons: list[str] = []
        if baseline is not None:
            label, rankings = baseline
            report = gate.compare(rankings, bench.rankings, options.max_slowdown, label)
            reasons.extend(report.reasons)
            self.compared = bool(report.compared)
            compared = ", ".join(report.compared) or "no task in common"
            self.gate_lines.append(f"compared with {label}: {compared}")
        if options.fail_on == "champion":
            reasons.extend(gate.without_champion(bench.rankings))
        self.gate_reasons = reasons
        if reasons and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _baseline(self, current: list[TaskRanking]) -> tuple[str, list[TaskRanking]] | None:
        spec = self.options.baseline
        if spec is None:
            return None
        path = _path(self.config, spec)
        if spec != "last" and path is not None and path.is_file():
            try:
                return str(path), gate.load_json_rankings(path)
            except gate.GateError as exc:
                raise pytest.UsageError(str(exc)) from None
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

        facts = self.bench.task_facts
        case_files = {task: Path(f["case_file"]) for task, f in facts.items() if "case_file" in f}
        try:
            updated, kept = update_registry(path, rankings, run, case_files)
        except (RegistryError, OSError) as exc:
            self.messages.append(f"llmbench: registry not updated: {exc}")
            return
        if updated:
            self.messages.append(f"llmbench: registry {path} updated: {', '.join(updated)}")
        if kept:
            self.messages.append(
                f"llmbench: registry kept the previous entry of {', '.join(kept)} "
                "(no model qualified)"
            )

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.worker:
            return
        gated = self.options.baseline is not None or self.options.fail_on == "champion"
        if gated and self.bench.rankings:
            terminalreporter.section("llmbench gate")
            for line in self.gate_lines:
                terminalreporter.write_line(line)
            if self.gate_reasons:
                terminalreporter.write_line(
                    f"FAILED: {len(self.gate_reasons)} reason(s)", red=True, bold=True
                )
                for reason in self.gate_reasons:
                    terminalreporter.write_line(f"  {reason}", red=True)
            else:
                checks = []
                if self.compared:
                    checks.append("no regression")
                if self.options.fail_on == "champion":
                    checks.append("every task has a champion")
                if checks:
                    terminalreporter.write_line("passed: " + ", ".join(checks), green=True)
        for message in self.messages:
            terminalreporter.write_line(message)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.journal.close()


def _shown(path: Path, config: pytest.Config) -> str:
    """A path as the user would type it: relative to where pytest was started, if inside."""
    try:
        return str(Path(path).resolve().relative_to(config.invocation_params.dir.resolve()))
    except ValueError:
        return str(path)
