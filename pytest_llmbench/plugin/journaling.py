"""The run's journal and ``--llm-resume``, wired into pytest's items and reports.

- Every process appends the items it ran to ``.llmbench/runs/<run-id>.jsonl``
  (:mod:`pytest_llmbench.storage.journal`); the controller creates the run id and
  hands it to xdist workers.
- ``--llm-resume`` skips the items the journal already has (same prompt hash, same
  model fingerprint) and feeds their stored results into the ranking.
- What the reports need of each item's task and model rides on its reports (also to
  the xdist controller, which collects nothing).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from pytest_llmbench.execution.results import Result
from pytest_llmbench.plugin.items import RESULT_KEY, RESUMED_KEY, CaseItem
from pytest_llmbench.plugin.warnings import LLMBenchWarning
from pytest_llmbench.reporting.junit import junit_properties
from pytest_llmbench.settings.options import Options
from pytest_llmbench.storage import journal

__all__ = ["JOURNAL_LIMIT_INPUT", "RUN_ID_INPUT", "RunJournal", "state_problem"]

RUN_ID_INPUT = "llmbench_run_id"
JOURNAL_LIMIT_INPUT = "llmbench_journal_limit"


def state_problem(config: pytest.Config, message: str, configuring: bool = False) -> None:
    """State that cannot be read or written: a warning, and the run goes on."""
    warning = LLMBenchWarning(f"llmbench: {message}")
    if configuring:  # pytest_configure: only this way does it reach the summary
        config.issue_config_time_warning(warning, stacklevel=2)
    else:
        warnings.warn(warning, stacklevel=2)


class RunJournal:
    """One run's journal, the items it resumes, and what rides on the case reports."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.worker = hasattr(config, "workerinput")
        self.resumed_from: str | None = None
        limit: int | None = 0
        runs = options.runs_dir
        if self.worker:
            workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
            run_id = str(workerinput[RUN_ID_INPUT])
            given = workerinput.get(JOURNAL_LIMIT_INPUT, 0)
            limit = None if given is None else int(given)
            self.resumed_from = run_id if options.resume else None
        elif options.resume:
            try:
                run_id = journal.resume_id(options.runs_dir, options.resume)
            except journal.ResumeError as exc:
                raise pytest.UsageError(f"--llm-resume: {exc}") from None
            try:
                limit = journal.repair(journal.journal_path(runs, run_id))
            except OSError as exc:  # read-only: read it as it is, a cut line is skipped
                limit = None
                state_problem(config, f"journal not repaired: {exc}", configuring=True)
            self.resumed_from = run_id
        else:
            run_id = journal.new_run_id()
        self.run_id = run_id
        self.limit = limit
        self.journal = journal.Journal(journal.journal_path(runs, run_id))
        self.journaling = options.journal
        """Whether finished items go to the journal (off: --llm-no-journal, or unwritable)."""
        self.done: dict[journal.ItemKey, journal.Entry] = {}
        self.resumed = 0
        self._fingerprints: dict[str, str] = {}
        self._metas: dict[tuple[str, str], dict[str, Any]] = {}
        self.descriptions: dict[str, str] = {}
        self.model_info: dict[str, dict[str, Any]] = {}
        if self.resumed_from:
            self._read_done()

    def _read_done(self) -> None:
        problems: list[str] = []
        entries = journal.read_entries(self.journal.path, self.limit, problems)
        self.done = {e.key: e for e in entries}
        if problems and not self.worker:
            shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
            state_problem(
                self.config,
                f"{len(problems)} damaged journal line(s) skipped (their items run again): {shown}",
                configuring=True,
            )

    def configure_node(self, node: Any) -> None:
        """xdist: every worker writes to this run's journal and resumes from the same lines."""
        node.workerinput[RUN_ID_INPUT] = self.run_id
        node.workerinput[JOURNAL_LIMIT_INPUT] = self.limit

    def mark_done(self, items: list[pytest.Item]) -> None:
        """``--llm-resume``: mark the items the journal has (same prompt, same model)."""
        for item in items if self.done else ():
            if not isinstance(item, CaseItem):
                continue
            entry = self.done.get((item.task.name, item.case.id, item.candidate, item.repeat))
            if entry is None:
                continue
            same_prompt = entry.result.prompt_hash == item.case.prompt_hash
            if same_prompt and entry.fingerprint == self._fingerprint(item):
                item.stash[RESUMED_KEY] = entry
                self.resumed += 1

    def header_lines(self) -> list[str]:
        if not self.resumed_from:
            return []
        return [
            f"llmbench: resuming run {self.resumed_from}: {self.resumed} item(s) done "
            "already, skipped"
        ]

    def _fingerprint(self, item: CaseItem) -> str:
        model = item.model
        if model.id not in self._fingerprints:
            self._fingerprints[model.id] = journal.model_fingerprint(model)
        return self._fingerprints[model.id]

    def _meta(self, item: CaseItem) -> dict[str, Any]:
        """What the reports need about an item's task and model; rides on its reports
        (one dict per task and model, shared by their items' reports)."""
        key = (item.task.name, item.model.id)
        if key not in self._metas:
            model = item.model
            self._metas[key] = {
                "task": item.task.name,
                "description": item.task.description,
                "model": model.id,
                "model_info": {
                    "size_bytes": model.size_bytes,
                    "family": model.family,
                    "fingerprint": self._fingerprint(item),
                },
            }
        return self._metas[key]

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
                self._append(journal.Entry(result, self._fingerprint(item), item.nodeid))

    def _append(self, entry: journal.Entry) -> None:
        try:
            self.journal.append(entry)
        except OSError as exc:
            self.journaling = False
            state_problem(
                self.config,
                f"journal {self.journal.path} not written ({exc.strerror or exc}); the run "
                "goes on without it (it cannot be resumed); --llm-state-dir moves it",
            )

    def on_logreport(self, report: pytest.TestReport) -> Result | None:
        """Take in what a report carries (also under xdist, on the controller): the
        result of a resumed item, which the caller adds to the ledger."""
        meta = getattr(report, "llmbench_meta", None)
        if isinstance(meta, dict):  # also under xdist, where the controller collects nothing
            if meta.get("description"):
                self.descriptions.setdefault(str(meta["task"]), str(meta["description"]))
            self.model_info.setdefault(str(meta["model"]), dict(meta["model_info"]))
        record = getattr(report, "llmbench_result", None)
        resumed = getattr(report, "llmbench_resumed", None)
        if report.when == "setup" and resumed and isinstance(record, dict):
            return Result.from_dict(record)
        return None

    def close(self) -> None:
        try:
            self.journal.close()
        except OSError as exc:
            state_problem(self.config, f"journal {self.journal.path} not synced: {exc}")
