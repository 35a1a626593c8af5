"""The session folder of an optimization and the next prompt version file.

``.llmbench/optimize/<session-id>_<task>_<model>/``, the session id being the start time
and the process id (``20250601-091500-4242``), never reused (a second session of the same
model in the same second gets ``-2``), written as the loop goes (:class:`SessionFiles`):

- ``session_data.json``: the settings, the split, the original and best prompt, the
  score of every iteration, why the loop stopped;
- ``test_iteration_N.json``: prompt, filled prompt, output, time, success, error,
  score, timestamp (and every case's answer, training and held-out scores);
- ``interview_N.json``: interviewer model, interview prompt, response, improved
  prompt, has_improvement, timestamp (and analysis, reasoning, why it was rejected);
- ``optimization_report.md``: what happened and how to add the new version.

Several models in one command also get ``<session-id>_suite.json``, one line each.

Everything is masked before it is written (:func:`~pytest_llmbench.safety.redaction.redact`):
an interviewer or a model that echoes an API key does not put it on disk.  A file that
cannot be written (a read-only prompts folder, a full disk) costs only that file: what
was written stays, and :attr:`SessionFiles.problems` says what is missing and where the
rest is.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

from pytest_llmbench.optimize.loop import Evaluation, Interview, Session
from pytest_llmbench.safety.redaction import redact, redact_data

__all__ = [
    "SessionFiles",
    "comparison_lines",
    "next_version_path",
    "report_lines",
    "session_dir",
    "write_session",
    "write_suite",
]

DEFAULT_ROOT = Path(".llmbench") / "optimize"
_VERSIONED = re.compile(r"^(?P<stem>.*?)(?P<v>_v)(?P<n>[0-9]+)$")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def session_dir(root: Path, session_id: str, model: str, task: str = "") -> Path:
    """``root/<session-id>_<task>_<model>`` (names made file-safe), created, never reused:
    when it exists (another session of the same model in the same second), the first free
    ``<session-id>-N_...``."""
    root.mkdir(parents=True, exist_ok=True)
    tail = "_".join(_safe(part) for part in (task, model) if part)
    for number in range(1, 1000):
        stamp = session_id if number == 1 else f"{session_id}-{number}"
        path = root / f"{stamp}_{tail}"
        try:
            path.mkdir(exist_ok=False)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free session folder for {session_id}_{tail} in {root}")


def next_version_path(case_file: Path, task: str, version_file: str | None) -> Path:
    """The next free ``..._vN.txt`` beside the version optimized (``prompts/grading_v3.txt``
    after ``grading_v2.txt``); ``prompts/<task>_v2.txt`` for a task with one ``prompt:``.
    Never an existing file."""
    if version_file:
        current = (case_file.parent / version_file).resolve()
        match = _VERSIONED.match(current.stem)
        folder, suffix = current.parent, current.suffix or ".txt"
        stem = match["stem"] if match else current.stem
        number = int(match["n"]) + 1 if match else 2
    else:
        folder, stem, suffix, number = case_file.parent / "prompts", task, ".txt", 2
    existing = [
        int(m["n"])
        for p in folder.glob(f"{stem}_v*{suffix}")
        if (m := _VERSIONED.match(p.stem)) and m["stem"] == stem
    ]
    number = max([number, *(n + 1 for n in existing)])
    path = folder / f"{stem}_v{number}{suffix}"
    while path.exists():  # pragma: no cover - a file created meanwhile
        number += 1
        path = folder / f"{stem}_v{number}{suffix}"
    return path


def _dump(path: Path, data: Any) -> None:
    text = json.dumps(redact_data(data), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class SessionFiles:
    """The session folder of one optimization, written as the loop goes.

    Create it before the loop (an unwritable ``root`` fails there, before any model is
    called: ``OSError``), pass :meth:`record` to :func:`~pytest_llmbench.optimize.optimize`
    and call :meth:`finish` with the session.  A file that cannot be written is skipped and
    named in :attr:`problems`; the others are still written.
    """

    def __init__(self, root: Path, session_id: str, task: str, model: str) -> None:
        self.folder = session_dir(root, session_id, model, task)
        self.problems: list[str] = []

    def _write(self, path: Path, data: Any) -> bool:
        try:
            _dump(path, data)
        except OSError as exc:
            self.problems.append(f"cannot write {path} ({_why(exc)})")
            return False
        return True

    def record(self, item: Evaluation | Interview) -> None:
        """Write one evaluation (``test_iteration_N.json``) or interview (``interview_N.json``)."""
        if isinstance(item, Evaluation):
            name = f"test_iteration_{item.iteration}.json"
        else:
            name = f"interview_{item.number}.json"
        self._write(self.folder / name, dataclasses.asdict(item))

    def finish(self, session: Session, case_file: Path, version_file: str | None) -> Path | None:
        """The next version file (when the prompt improved), ``session_data.json`` and the
        report; the version file, or ``None`` when none was written."""
        output: Path | None = None
        best = session.best
        failed: str | None = None
        if best is not None and session.improved:
            output = next_version_path(case_file, session.task, version_file)
            try:
                output.parent.mkdir(parents=True, exist_ok=True)
                with output.open("x", encoding="utf-8") as handle:  # "x": never overwrite
                    handle.write(redact(best.prompt))
            except OSError as exc:
                failed = f"cannot write the new prompt version {output} ({_why(exc)})"
                self.problems.append(
                    f"{failed}; the best prompt is in {self.folder / 'optimization_report.md'}"
                )
                output = None
        data = session_data(session, output, case_file)
        if failed:
            data["new_version_error"] = failed
        self._write(self.folder / "session_data.json", data)
        lines = report_lines(session, output, case_file, failed)
        report = redact("\n".join(lines) + "\n")
        path = self.folder / "optimization_report.md"
        try:
            path.write_text(report, encoding="utf-8")
        except OSError as exc:
            self.problems.append(f"cannot write {path} ({_why(exc)})")
        return output

    def problem_line(self) -> str:
        """What could not be written and where the rest is, as one line ("" when none)."""
        if not self.problems:
            return ""
        return f"{'; '.join(self.problems)}; what was written is in {self.folder}"


def session_data(session: Session, output: Path | None, case_file: Path) -> dict[str, Any]:
    best = session.best
    return {
        "task": session.task,
        "case_file": str(case_file),
        "prompt_version": session.prompt_version,
        "model": session.model,
        "interviewer": session.interviewer,
        "threshold": session.threshold,
        "max_iterations": session.max_iterations,
        "holdout": session.holdout,
        "training_cases": list(session.training),
        "holdout_cases": list(session.held_out),
        "original_prompt": session.original_prompt,
        "original_score": session.evaluations[0].score if session.evaluations else None,
        "best_prompt": best.prompt if best else None,
        "best_score": best.score if best else None,
        "best_iteration": best.iteration if best else None,
        "improved": session.improved,
        "iterations": [
            {
                "iteration": e.iteration,
                "score": e.score,
                "train_score": e.train_score,
                "holdout_score": e.holdout_score,
                "accepted": e.accepted,
                "rejected_reason": e.rejected_reason,
            }
            for e in session.evaluations
        ],
        "interviews": len(session.interviews),
        "stop_reason": session.stop_reason,
        "new_version_file": str(output) if output else None,
        "started_at": session.started_at,
        "finished_at": session.finished_at,
    }


def report_lines(
    session: Session, output: Path | None, case_file: Path, failed: str | None = None
) -> list[str]:
    """``optimization_report.md`` (``failed``: why the new version file is missing)."""
    best = session.best
    first = session.evaluations[0] if session.evaluations else None
    version = f" (version {session.prompt_version})" if session.prompt_version else ""
    lines = [
        f"# Prompt optimization: {session.task} on {session.model}",
        "",
        f"- Case file: `{case_file}`{version}",
        f"- Interviewer: `{session.interviewer}`",
        f"- Threshold {session.threshold:g}, at most {session.max_iterations} iterations, "
        f"{len(session.held_out)} of {len(session.training) + len(session.held_out)} cases "
        "held out (never shown to the interviewer)",
        f"- Stopped: {session.stop_reason}",
        f"- Score: {first.score:.2f} -> {best.score:.2f}" if first and best else "- Score: -",
        "",
        "## Iterations",
        "",
    ]
    rows = [
        [e.iteration, f"{e.score:.2f}", f"{e.train_score:.2f}", f"{e.holdout_score:.2f}",
         f"{e.time:.1f}", "yes" if e.accepted else f"no: {e.rejected_reason}"]
        for e in session.evaluations
    ]  # fmt: skip
    headers = ["iteration", "score", "training", "held-out", "seconds", "kept"]
    lines += tabulate(rows, headers=headers, tablefmt="github").splitlines()
    if session.interviews:
        lines += ["", "## Interviews", ""]
        for i in session.interviews:
            verdict = "tried" if i.accepted else "not tried"
            if i.rejected_reasons:
                verdict = "rejected: " + "; ".join(i.rejected_reasons)
            elif not i.has_improvement:
                verdict = "no improvement proposed" + (f" ({i.error})" if i.error else "")
            lines.append(f"{i.number}. {verdict}. {i.analysis[:300]}".rstrip())
    lines += ["", "## Result", ""]
    if output is not None and best is not None:
        rel = (
            output.relative_to(case_file.parent.resolve())
            if output.is_relative_to(case_file.parent.resolve())
            else output
        )
        name = output.stem.rpartition("_")[2] or "v2"
        lines += [
            f"The best prompt (iteration {best.iteration}, score {best.score:.2f}) is in "
            f"`{output}`. To benchmark it against the others, add it to `prompts:` in "
            f"`{case_file}`:",
            "",
            "```yaml",
            "prompts:",
            "  # ... the versions you have (a single prompt: becomes v1)",
            f"  {name}: {{file: {rel}}}",
            "```",
            "",
            f"then run `pytest {case_file} --llm-models={session.model}` or "
            f"`llmbench ab {case_file} --a {session.prompt_version or 'v1'} --b {name} "
            f"--models {session.model}`.",
        ]
    elif failed is not None and best is not None:
        lines.append(
            f"The best prompt (iteration {best.iteration}, score {best.score:.2f}) beat the "
            f"original, but {failed}: copy it from the section below."
        )
    else:
        lines.append("No prompt scored better than the original; no version file was written.")
    if best is not None:
        lines += ["", "## Best prompt", "", "```text", best.prompt, "```"]
    return lines


def write_session(
    root: Path, session_id: str, session: Session, case_file: Path, version_file: str | None
) -> tuple[Path, Path | None]:
    """Write a finished session's folder at once (see :class:`SessionFiles` to write it as
    the loop goes), and the next version file when the prompt improved.
    Returns (folder, version file or ``None``)."""
    files = SessionFiles(root, session_id, session.task, session.model)
    for evaluation in session.evaluations:
        files.record(evaluation)
    for interview in session.interviews:
        files.record(interview)
    return files.folder, files.finish(session, case_file, version_file)


def comparison_lines(entries: Sequence[tuple[Session, Path, Path | None]]) -> list[str]:
    """One row per model: original and best score, iterations, stop reason, new file."""
    rows = []
    for session, _folder, output in entries:
        first, best = (session.evaluations[0] if session.evaluations else None), session.best
        rows.append([
            session.model,
            f"{first.score:.2f}" if first else "-",
            f"{best.score:.2f}" if best else "-",
            str(len(session.evaluations)),
            session.stop_reason,
            str(output) if output else "-",
        ])  # fmt: skip
    headers = ["model", "original", "best", "iterations", "stopped", "new version"]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True).splitlines()


def write_suite(
    root: Path, session_id: str, entries: Sequence[tuple[Session, Path, Path | None]]
) -> Path:
    """``<session-id>_suite.json``: every model's session of one command, side by side."""
    path = root / f"{session_id}_suite.json"
    number = 1
    while path.exists():  # another command's, in the same second and process
        number += 1
        path = root / f"{session_id}-{number}_suite.json"
    _dump(
        path,
        {
            "session_id": session_id,
            "task": entries[0][0].task if entries else None,
            "models": [
                {
                    "model": s.model,
                    "folder": str(folder),
                    "original_score": s.evaluations[0].score if s.evaluations else None,
                    "best_score": s.best.score if s.best else None,
                    "iterations": len(s.evaluations),
                    "stop_reason": s.stop_reason,
                    "new_version_file": str(output) if output else None,
                }
                for s, folder, output in entries
            ],
            "comparison": comparison_lines(entries),
        },
    )
    return path
