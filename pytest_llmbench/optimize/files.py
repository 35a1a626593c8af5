"""The session folder of an optimization and the next prompt version file.

``.llmbench/optimize/<session-id>_<model>/``:

- ``session_data.json``: the settings, the split, the original and best prompt, the
  score of every iteration, why the loop stopped;
- ``test_iteration_N.json``: prompt, filled prompt, output, time, success, error,
  score, timestamp (and every case's answer, training and held-out scores);
- ``interview_N.json``: interviewer model, interview prompt, response, improved
  prompt, has_improvement, timestamp (and analysis, reasoning, why it was rejected);
- ``optimization_report.md``: what happened and how to add the new version.

Several models in one command also get ``<session-id>_suite.json``, one line each.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tabulate import tabulate

from pytest_llmbench.optimize.loop import Session

__all__ = [
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


def session_dir(root: Path, session_id: str, model: str) -> Path:
    """``root/<session-id>_<model>`` (model made file-safe), created, never reused."""
    path = root / f"{session_id}_{_safe(model)}"
    path.mkdir(parents=True, exist_ok=False)
    return path


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
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


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


def report_lines(session: Session, output: Path | None, case_file: Path) -> list[str]:
    """``optimization_report.md``."""
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
    else:
        lines.append("No prompt scored better than the original; no version file was written.")
    if best is not None:
        lines += ["", "## Best prompt", "", "```text", best.prompt, "```"]
    return lines


def write_session(
    root: Path, session_id: str, session: Session, case_file: Path, version_file: str | None
) -> tuple[Path, Path | None]:
    """Write the session folder, and the next version file when the prompt improved.
    Returns (folder, version file or ``None``)."""
    folder = session_dir(root, session_id, session.model)
    output: Path | None = None
    best = session.best
    if best is not None and session.improved:
        output = next_version_path(case_file, session.task, version_file)
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("x", encoding="utf-8") as handle:  # "x": never overwrite
            handle.write(best.prompt)
    for evaluation in session.evaluations:
        _dump(
            folder / f"test_iteration_{evaluation.iteration}.json", dataclasses.asdict(evaluation)
        )
    for interview in session.interviews:
        _dump(folder / f"interview_{interview.number}.json", dataclasses.asdict(interview))
    _dump(folder / "session_data.json", session_data(session, output, case_file))
    report = "\n".join(report_lines(session, output, case_file)) + "\n"
    (folder / "optimization_report.md").write_text(report, encoding="utf-8")
    return folder, output


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
