"""The Markdown report (``--llm-report PATH.md``), in the benchmarking cookbook's layout.

Pure module: :class:`~pytest_llmbench.reporting.facts.ReportData` in, Markdown text out.

Per run: date, models tested, a summary per task.  Per task: qualified count, top
results (correctness, mean latency, speed score), the streamed timings, the load
table of a task with a load phase, the models that failed to qualify with the cases
and the direction, and notes derived from the data.
"""

from __future__ import annotations

from collections.abc import Sequence

from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.formatting import ms
from pytest_llmbench.reporting.facts import (
    STREAMED_HEADERS,
    TOP_RESULTS_HEADERS,
    ReportData,
    adds_reason,
    combination_mark,
    correctness,
    format_bytes,
    notes,
    partial_note,
    ranked_by,
    run_date,
    streamed_rows,
    top_results_rows,
)
from pytest_llmbench.reporting.load import load_caption, load_headers, load_rows

__all__ = ["markdown_report"]

_MAX_CELL = 80


def cell(text: object, limit: int = _MAX_CELL) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped, shortened."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    for char in ("\\", "|", "<", ">", "`", "*", "_", "[", "]"):
        value = value.replace(char, "\\" + char)
    return value


def code(text: object) -> str:
    """Text as an inline code span (model names): backticks inside become quotes."""
    value = " ".join(str(text).split()).replace("`", "'").replace("|", "\\|")
    return f"`{value}`"


def _table(headers: Sequence[str], align: str, rows: list[list[str]]) -> list[str]:
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def _load_section(ranking: TaskRanking) -> list[str]:
    """The task's load table, when it ran a load phase."""
    load = ranking.at_load
    if load is None:
        return []
    champion = f"{code(load.champion)}" if load.champion else "none"
    headers = load_headers(load)
    return [
        "",
        "### Under load",
        "",
        f"{cell(load_caption(load), 400)} · **Champion at load:** {champion}",
        "",
        *_table(
            headers,
            "l" + "r" * (len(headers) - 2) + "l",
            load_rows(load, code, lambda t: cell(t, 240)),
        ),
    ]


def _task_section(data: ReportData, ranking: TaskRanking) -> list[str]:
    task = ranking.task
    tested = len(ranking.standings)
    qualified = ranking.qualified
    lines = [f"## Task: {task}", ""]
    if data.descriptions.get(task):
        lines += [cell(data.descriptions[task], 400), ""]
    cases = data.cases(task)
    runs: dict[tuple[str, str], int] = {}
    for r in data.results_of(task):
        runs[(r.candidate, r.case_id)] = runs.get((r.candidate, r.case_id), 0) + 1
    repeats = set(runs.values())
    per_case = f" · **Runs per case:** {repeats.pop()}" if len(repeats) == 1 else ""
    lines += [
        f"**Models tested:** {tested} · **Qualified:** {len(qualified)} of {tested} · "
        f"**Cases:** {cases}{per_case} · **Policy:** {ranking.policy}"
        + (f" · **Ranked by:** {ranked_by(ranking)}" if ranking.latency != "mean" else ""),
        "",
    ]
    champion, runner_up = ranking.champion, ranking.runner_up
    if champion is not None:
        lines.append(
            f"**Champion:** {code(champion.model)} ({ms(champion.mean_ms, ' ms')} mean)"
            + (
                f" · **Runner-up:** {code(runner_up.model)} ({ms(runner_up.mean_ms, ' ms')} mean)"
                if runner_up
                else " · **Runner-up:** none"
            )
        )
    else:
        lines.append("**Champion:** none, no model qualified")
    lines += ["", "### Top results", ""]
    if qualified:
        rows = top_results_rows(data, ranking, model=code, status=lambda s: s.status)
        lines += _table(TOP_RESULTS_HEADERS, "rlrrrrrl", rows)
    else:
        lines.append("No model was correct on every case and every run.")
    streamed = streamed_rows(ranking, model=code)
    if streamed:
        lines += ["", "### Streamed timings", ""]
        lines += _table(list(STREAMED_HEADERS), "lrrrrr", streamed)
    lines += _load_section(ranking)
    lines += ["", "### Failed to qualify", ""]
    failed = ranking.disqualified
    if failed:
        rows = []
        for s in failed:
            why = [w.describe() for w in (s.incomplete, s.eliminated) if w is not None]
            why += [
                f"{m.describe()}: expected {m.expected}, got {m.got}"
                + (f" ({m.reason})" if adds_reason(m) else "")
                for m in s.misses
            ]
            misses = "<br>".join(cell(line, 160) for line in why) or "-"
            name = code(s.model) + combination_mark(s)
            rows.append([name, correctness(s), ms(s.mean_ms, " ms"), misses])
        lines += _table(["model", "correctness", "mean latency", "failed cases"], "lrrl", rows)
    else:
        lines.append("Every model tested qualified.")
    found = notes(data, ranking)
    lines += ["", "### Notes", ""]
    lines += [f"- {cell(n, 400)}" for n in found] if found else ["- Nothing stood out."]
    lines.append("")
    return lines


def markdown_report(data: ReportData) -> str:
    """The whole report as Markdown."""
    run = data.run
    models = data.models()
    lines = [f"# LLM benchmark report, {run_date(run)}", ""]
    facts = []
    if run.get("id"):
        facts.append(f"**Run:** {code(run['id'])}")
    if run.get("git_commit"):
        facts.append(f"**Commit:** {code(str(run['git_commit'])[:12])}")
    if run.get("host"):
        facts.append(f"**Host:** {cell(run['host'])}")
    if run.get("plugin_version"):
        facts.append(f"pytest-llmbench {run['plugin_version']}")
    if facts:
        lines += [" · ".join(facts), ""]
    note = partial_note(run)
    if note:
        lines += [f"> **{note}**", ""]
    lines += ["## Summary", ""]
    rows = []
    for ranking in data.rankings:
        champion, runner_up = ranking.champion, ranking.runner_up
        rows.append(
            [
                ranking.task,
                str(data.cases(ranking.task)),
                f"{len(ranking.qualified)} of {len(ranking.standings)}",
                f"{code(champion.model)} ({ms(champion.mean_ms, ' ms')})" if champion else "none",
                f"{code(runner_up.model)} ({ms(runner_up.mean_ms, ' ms')})"
                if runner_up
                else "none",
            ]
        )
    lines += _table(["task", "cases", "qualified", "champion", "runner-up"], "lrrll", rows)
    lines += ["", f"## Models tested ({len(models)})", ""]
    if any(data.model_sizes.get(m) for m in models):
        lines += _table(
            ["model", "size"],
            "lr",
            [[code(m), format_bytes(data.model_sizes.get(m))] for m in models],
        )
    else:
        lines += [f"- {code(m)}" for m in models]
    lines.append("")
    for ranking in data.rankings:
        lines += _task_section(data, ranking)
    lines += [
        "---",
        "",
        "Correctness: correct runs of all runs; a model qualifies only at 100%. "
        "Latency: wall time of one call, model load excluded. "
        "Speed score: 100 for the champion, 100 x the champion's mean latency / the "
        "model's for the others.",
        "",
    ]
    return "\n".join(lines)
