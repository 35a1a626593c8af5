"""What a run writes at its end, and why: reports, history, registry.

:func:`write_outputs` writes what the run was asked to write (:class:`RunOutputs`)
and returns what it wrote (:class:`Written`: one line per file, the problems, the
failures); it decides nothing about pytest.  The rules:

- the reports (Markdown, HTML) are written for any run with results, also one that
  was interrupted (they say so);
- an interrupted run writes nothing else: its journal is where it resumes from;
- the history records every other run; a history that cannot be written is a problem
  (a warning), not a failure;
- the registry is updated only by a complete, timed run: a partial run (stopped early,
  interrupted) or one whose every answer came from the response cache keeps the
  registry's champions.  It never records a consensus combination, and with
  ``--llm-models=new`` the newcomers challenge the entries instead;
- a file that cannot be written (disk full) is one line and a failure; the rest is
  still written.

:func:`outputs_problem` and :func:`baseline_problem` say before the run why an output
cannot be written or a baseline cannot be read, and :func:`load_baseline` reads the
rankings ``--llm-baseline`` names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbench.safety.atomic import write_atomic
from pytest_llmbench.safety.redaction import redact_data
from pytest_llmbench.safety.sanitising import shown

if TYPE_CHECKING:
    from pytest_llmbench.analysis.gate import Baseline
    from pytest_llmbench.analysis.ranking import TaskRanking
    from pytest_llmbench.execution.results import Result

# What a run writes is imported when it writes it (the plugin checks the output paths
# at start-up with this module: that check loads no history, registry or report code).

__all__ = [
    "Document",
    "RunOutputs",
    "Written",
    "baseline_problem",
    "display_path",
    "load_baseline",
    "output_problem",
    "outputs_problem",
    "run_record",
    "write_outputs",
]


@dataclass(frozen=True)
class Document:
    """A report to write: where, what it is (``Markdown report``), and its text."""

    path: Path
    what: str
    render: Callable[[], str]


@dataclass(frozen=True)
class RunOutputs:
    """What a run was asked to write at its end."""

    documents: Sequence[Document] = ()
    history: Path | None = None
    registry: Path | None = None
    newcomers_only: bool = False
    """``--llm-models=new``: the newcomers challenge the registry's entries."""
    journal: Path | None = None
    """The run's journal (``None``: none was written, the run cannot be resumed)."""
    start: Path = Path()
    """Where the run was started: paths are shown relative to it."""


@dataclass
class Written:
    """What the end of a run wrote: a line per file, the problems, the failed files."""

    messages: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """State that could not be written (the history): a warning each."""
    failed: int = 0
    """Output files that could not be written (disk full): the run fails."""

    def write(self, path: Path, text: str | Iterable[str], done: str, start: Path) -> bool:
        """Write one file; a failure (disk full) is one line, and the run goes on.

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
            where = display_path(path, start)
            self.messages.append(f"llmbench: {where} not written: {exc.strerror or exc}")
            self.failed += 1
            return False
        self.messages.append(done)
        return True


def run_record(
    run: Mapping[str, Any],
    *,
    run_id: str,
    rootdir: Path,
    options: Mapping[str, Any],
    tasks: Sequence[str],
    resumed_from: str | None,
    model_info: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """The run's record for the history and the reports: ``run`` (the JSON document's
    ``run``) with its id, commit, rootdir, options, tasks, and the info of its models."""
    from pytest_llmbench.storage import git

    record = dict(run)
    record.update(
        {
            "id": run_id,
            "git_commit": git.head_commit(rootdir),
            "rootdir": str(rootdir),
            "options": options,
            "tasks": list(tasks),
            "resumed_from": resumed_from,
            "model_info": {
                model_id: info
                for model_id, info in sorted(model_info.items())
                if model_id in run.get("models", ())
            },
        }
    )
    # The history, the reports and `llmbench show` get it: no password of a host URL.
    redacted: dict[str, Any] = redact_data(record)
    return redacted


def write_outputs(
    asked: RunOutputs,
    run: Mapping[str, Any],
    results: Sequence[Result],
    rankings: Sequence[TaskRanking],
    *,
    interrupted: bool = False,
    partial: str | None = None,
    cache_only: bool = False,
    case_files: Mapping[str, Path] | None = None,
    written: Written | None = None,
    identities: Mapping[str, str] | None = None,
) -> Written:
    """Write the reports, the history and the registry of one run (see the module)."""
    import sqlite3

    from pytest_llmbench.storage import history

    out = written if written is not None else Written()
    start = asked.start
    for doc in asked.documents:
        done = f"llmbench: {doc.what} written to {display_path(doc.path, start)}"
        out.write(doc.path, shown(doc.render()), done, start)
    run_id = run.get("id")
    if interrupted:
        where = (
            f"its finished items are in {asked.journal}; finish it with --llm-resume"
            if asked.journal is not None
            else "no journal was written, so it cannot be resumed"
        )
        out.messages.append(f"llmbench: run {run_id} interrupted; {where}")
        return out
    if asked.history is not None:
        try:
            history.record_run(asked.history, run, results, rankings)
        except (history.HistoryError, OSError, sqlite3.Error) as exc:
            out.problems.append(f"history {asked.history} not written: {exc}")
        else:
            where = display_path(asked.history, start)
            out.messages.append(f"llmbench: run {run_id} recorded in {where}")
    if asked.registry is not None:
        if partial or cache_only:
            why = (
                f"the run is partial ({partial})"
                if partial
                else "every answer came from the response cache (nothing was timed)"
            )
            out.messages.append(
                f"llmbench: registry {display_path(asked.registry, start)} not "
                f"updated: {why}; it keeps its champions"
                + ("; finish the run with --llm-resume" if partial else "")
            )
        else:
            out.messages.extend(
                _update_registry(
                    asked, rankings, run, case_files or {}, {} if identities is None else identities
                )
            )
    return out


def _update_registry(
    asked: RunOutputs,
    rankings: Sequence[TaskRanking],
    run: Mapping[str, Any],
    case_files: Mapping[str, Path],
    identities: Mapping[str, str],
) -> list[str]:
    """Update the registry; ``identities`` (model id -> the weights' identity, such as
    Ollama's digest) is recorded with the evidence, so ``llmbench rankings`` sees a model
    pulled again under the same tag."""
    from pytest_llmbench.analysis.consensus_ranking import singles_only
    from pytest_llmbench.storage.champions import RegistryError, update_registry

    path = asked.registry
    assert path is not None
    try:
        singles = [singles_only(r) for r in rankings]  # never a combination
        if asked.newcomers_only:  # newcomers only: they challenge the entry
            from pytest_llmbench.storage.succession import admit_newcomers

            updated, kept = admit_newcomers(path, singles, run, case_files, identities)
        else:
            updated, kept = update_registry(
                path,
                singles,
                run,
                case_files,
                identities=identities,  # looked up lazily
            )
    except (RegistryError, OSError) as exc:
        return [f"llmbench: registry not updated: {exc}"]
    messages = []
    if updated:
        messages.append(f"llmbench: registry {path} updated: {', '.join(updated)}")
    if kept:
        why = "no newcomer beat it" if asked.newcomers_only else "no model qualified"
        messages.append(f"llmbench: registry kept the previous entry of {', '.join(kept)} ({why})")
    return messages


def load_baseline(
    spec: str,
    path: Path | None,
    source: Path | None,
    tasks: Sequence[str],
    run_id: str | None,
) -> tuple[Baseline | None, list[str]]:
    """The rankings ``--llm-baseline spec`` names, or ``None`` and why (gate lines).

    ``path``: ``spec`` as a file path; ``source``: the history to look the run up in;
    ``tasks``: this run's tasks (``last`` is the latest run that ranked all of them).
    A ``--llm-json`` file that cannot be read raises :class:`json_report.ReportError`.
    """
    from pytest_llmbench.analysis.gate import Baseline
    from pytest_llmbench.storage import history, json_report

    if spec != "last" and path is not None and path.is_file():
        rankings = json_report.load_json_rankings(path)
        return Baseline(str(path), rankings, json_report.load_json_run(path)), []
    if source is None or not source.is_file():
        return None, [f"no history at {source}: no baseline, nothing compared"]
    try:
        if spec == "last":
            found = history.last_run_with(source, tasks, exclude=run_id)
            if found is None:
                return None, [
                    "no earlier run in the history ranked "
                    + ", ".join(tasks)
                    + ": no baseline, nothing compared"
                ]
        else:
            found = history.resolve_run(source, spec, exclude=run_id)
        stored = history.load_run(source, found)
    except history.HistoryError as exc:
        return None, [f"no baseline: {exc}"]
    return Baseline(f"run {found}", list(stored.rankings), stored.run), []


def outputs_problem(outputs: Mapping[str, Path | None], start: Path) -> str | None:
    """Why one of the output files (by option name) cannot be written, or ``None``."""
    for name, path in outputs.items():
        problem = output_problem(Path(path)) if path is not None else None
        if path is not None and problem:
            return f"{name} {display_path(Path(path), start)}: {problem}"
    return None


def baseline_problem(spec: str, path: Path | None, source: Path | None) -> str | None:
    """Why ``--llm-baseline spec`` names nothing to compare with, or ``None``.

    ``path``: ``spec`` as a file path (a ``--llm-json`` report); ``source``: the history.
    """
    from pytest_llmbench.storage import history, json_report

    if path is not None and path.is_file() and spec != "last":
        try:
            json_report.load_json_rankings(path)
        except json_report.ReportError as exc:
            return f"--llm-baseline {exc}"
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            return f"--llm-baseline {spec}: not a --llm-json report ({type(exc).__name__}: {exc})"
        return None
    if spec == "last":
        return None
    try:
        if source is None:
            raise history.HistoryError("no history")
        history.resolve_run(source, spec)
    except history.HistoryError:
        return (
            f"--llm-baseline {spec}: not a file, nor a run in the history "
            f"({source}); use a --llm-json file, a run id or 'last'"
        )
    return None


def output_problem(path: Path) -> str | None:
    """Why an output file cannot be written at ``path``, or ``None``.

    A directory, a collected case file (the gold cases would be overwritten), a parent
    that is a file or that cannot be written.  Missing parents are created on writing.
    """
    if path.is_dir():
        return "is a directory; name a file"
    if path.is_file():
        # Only a file whose name says YAML can be a case file: any other (the history,
        # however large) is never read to decide what it is.
        if path.suffix in (".yaml", ".yml") and _is_case_file(path):
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


def _is_case_file(path: Path) -> bool:
    """``path`` (named ``.yaml``/``.yml``) holds gold cases, as collection tells one."""
    from pytest_llmbench.cases.encoding import readable_text
    from pytest_llmbench.cases.load import looks_like_case_file

    try:
        return looks_like_case_file(readable_text(path.read_bytes()))
    except OSError:
        return False


def display_path(path: Path, start: Path) -> str:
    """A path as the user would type it: relative to where the run started, if inside."""
    try:
        return str(Path(path).resolve().relative_to(start.resolve()))
    except ValueError:
        return str(path)


def run_problem(
    outputs: Mapping[str, Path | None],
    start: Path,
    cache_dir: Path | None,
    baseline: str | None,
    baseline_path: Path | None,
    history_read: Path,
) -> str | None:
    """What stops a run before it starts, in one line: an output (option -> path) that
    cannot be written, a cache folder (``None``: no cache) that is a file, a baseline
    (``--llm-baseline`` as given, and as a path) that cannot be read; ``None``: nothing."""
    problem = outputs_problem(dict(outputs), start)
    if problem is None and cache_dir is not None and cache_dir.exists() and not cache_dir.is_dir():
        problem = f"--llm-cache-dir {cache_dir}: is a file, not a directory"
    if problem is None and baseline:
        problem = baseline_problem(baseline, baseline_path, history_read)
    return problem
