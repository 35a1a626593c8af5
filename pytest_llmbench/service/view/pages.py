"""The pages of ``llmbench view``, as HTML text.  Pure: what was read in, a page out.

- :func:`runs_page` (``/``): every run, newest first; filters by task and model;
- :func:`run_page` (``/runs/<id>``): each task's ranking (the HTML report's own
  renderer, :func:`pytest_llmbench.reporting.html.task_section`) and the case x model grid
  with gold, verdict, score and latency, filtered for failing, flaky, generic and suspect
  gold cases;
- :func:`case_page` (``/cases/<run>/<task>/<case>``): every answer to one case side by side;
- :func:`task_page` (``/tasks/<name>``): champion and runner-up per run, the p50/p95 chart
  across runs, the succession of champions and the registry's ``why``;
- :func:`compare_page` (``/compare/<a>/<b>``): champions changed, cases flipped per model,
  latency changes (paired over the same runs), prompt versions and hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from pytest_llmbench.analysis.ranking import TaskRanking
from pytest_llmbench.execution.results import Result
from pytest_llmbench.formatting import ms
from pytest_llmbench.reporting.facts import ReportData, partial_note, run_date
from pytest_llmbench.reporting.html import task_section
from pytest_llmbench.service.view import compare
from pytest_llmbench.service.view.charts import timeline_chart
from pytest_llmbench.service.view.markup import Links, answer_block, clipped, page, text
from pytest_llmbench.service.view.prompts import CasePrompt
from pytest_llmbench.service.view.queries import RunRow, Standing, TaskPoint
from pytest_llmbench.storage.champions import RegistryEntry
from pytest_llmbench.storage.history import StoredRun

__all__ = ["case_page", "compare_page", "message_page", "run_page", "runs_page", "task_page"]

OPEN_ROWS = 100
"""Runs a task page lists open (newest first); the older ones behind a ``<details>``."""

_EXIT = {0: "passed", 1: "failed", 2: "interrupted", 3: "internal error", 4: "usage error"}


def _a(href: str, label: str) -> str:
    """A link; ``label`` is HTML already."""
    return f'<a href="{escape(href, quote=True)}">{label}</a>'


def _date(started: str) -> str:
    return run_date({"started_at": started})


def _gate(gate: str | None, exitstatus: int | None) -> str:
    if gate is not None:
        return text(gate)
    if exitstatus is None:
        return "-"
    return f"exit {exitstatus} ({_EXIT.get(exitstatus, 'other')})"


def _table(headers: Sequence[str], rows: Sequence[str], table_id: str = "", cls: str = "") -> str:
    """``rows`` are whole ``<tr>`` elements already."""
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    attrs = (f' id="{table_id}"' if table_id else "") + (f' class="{cls}"' if cls else "")
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _select(key: str, label: str, values: Sequence[str]) -> tuple[str, dict[str, int]]:
    """A filter's ``<select>`` (its options' values are numbers: the rows' ``data-KEY``
    attributes list those numbers), and the number of each value."""
    numbers = {v: n for n, v in enumerate(sorted(set(values)))}
    options = "".join(f'<option value="{n}">{text(v)}</option>' for v, n in numbers.items())
    select = (
        f'<label>{text(label)} <select data-key="{key}" name="{key}">'
        f'<option value="">all</option>{options}</select></label>'
    )
    return select, numbers


def _tokens(values: Sequence[str], numbers: dict[str, int]) -> str:
    return " ".join(str(numbers[v]) for v in values)


# --------------------------------------------------------------------------- runs


def runs_page(rows: Sequence[RunRow], links: Links, *, source: str = "") -> str:
    """Every run, newest first (``rows`` in that order)."""
    body = [
        "<h1>LLM benchmark history</h1>",
        f'<p class="meta">{len(rows)} run(s){" in " + text(source) if source else ""}</p>',
    ]
    tasks = sorted({t for r in rows for t in r.tasks})
    if tasks:
        body.append(
            '<p class="meta">Tasks over time: '
            + " · ".join(_a(links.task(t), text(t)) for t in tasks)
            + "</p>"
        )
    by_task, task_numbers = _select("tasks", "task", tasks)
    by_model, model_numbers = _select("models", "model", [m for r in rows for m in r.models])
    body.append(
        f'<form class="filters" data-target="runs">{by_task}{by_model}'
        '<span class="count"></span></form>'
    )
    trs = []
    for index, r in enumerate(rows):
        previous = rows[index + 1].id if index + 1 < len(rows) else None
        marks = [m for m, on in (("partial", r.partial), ("cache only", r.cache_only)) if on]
        champions = "<br>".join(
            f"{text(task)}: {text(model)} ({ms(mean, ' ms')})"
            for task, (model, mean) in sorted(r.champions.items())
        )
        trs.append(
            f'<tr data-tasks="{_tokens(r.tasks, task_numbers)}" '
            f'data-models="{_tokens(r.models, model_numbers)}">'
            f"<td>{text(_date(r.started_at))}</td>"
            f"<td>{_a(links.run(r.id), text(r.id))}</td>"
            f"<td><code>{text((r.git_commit or '-')[:12])}</code></td>"
            f"<td>{text(r.branch or '-')}</td>"
            f"<td>{', '.join(_a(links.task(t), text(t)) for t in r.tasks)}</td>"
            f"<td>{champions or 'none'}</td>"
            f"<td>{_gate(r.gate, r.exitstatus)}</td>"
            f"<td>{' '.join(f'<span class=mark>{m}</span>' for m in marks)}</td>"
            f"<td>{_a(links.compare(previous, r.id), 'vs previous') if previous else ''}</td>"
            "</tr>"
        )
    headers = ["date", "run", "commit", "branch", "tasks", "champions", "gate", "marks", ""]
    body.append(_table(headers, trs, "runs"))
    return page("LLM benchmark history", body, links, script=True)


# --------------------------------------------------------------------------- one run


def _run_meta(stored: StoredRun) -> list[str]:
    run = stored.run
    facts = [
        f"{label}: {text(value)}"
        for label, value in (
            ("date", run_date(run)),
            ("commit", str(run.get("git_commit") or "")[:12]),
            ("branch", run.get("git_branch")),
            ("host", run.get("host")),
            ("pytest-llmbench", run.get("plugin_version")),
        )
        if value
    ]
    gate = run.get("gate")
    exitstatus = run.get("exitstatus")
    facts.append(
        "gate: "
        + _gate(
            None if gate is None else str(gate),
            exitstatus if isinstance(exitstatus, int) else None,
        )
    )
    out = [f'<p class="meta">{" · ".join(facts)}</p>']
    note = partial_note(run)
    if note:
        out.append(f'<p class="meta"><strong>{text(note)}</strong></p>')
    return out


def _cell(runs: Sequence[Result]) -> str:
    passes = sum(r.correct for r in runs)
    cls = "pass" if passes == len(runs) else ("fail" if passes == 0 else "flaky")
    wrong = next((r for r in runs if not r.correct), None)
    verdict = ("✓" if wrong is None else f"✗ {text(wrong.direction)}") + (
        f" {passes}/{len(runs)}" if len(runs) > 1 else ""
    )
    scores = [r.score for r in runs if r.score is not None]
    latencies = [r.latency_ms for r in runs if r.latency_ms is not None]
    score = f"{sum(scores) / len(scores):.2f}" if scores else "-"
    latency = ms(sum(latencies) / len(latencies), " ms") if latencies else "-"
    shown_run = wrong or runs[0]
    return (
        f'<td class="{cls}"><b>{verdict}</b><br>score {score} · {latency}'
        f'<div class="ans">{clipped(shown_run.error or shown_run.got)}</div></td>'
    )


def _grid(
    stored: StoredRun, ranking: TaskRanking, results: Sequence[Result], grid_id: str, links: Links
) -> list[str]:
    candidates = [s.model for s in ranking.standings if s.combination is None]
    for r in results:
        if r.candidate not in candidates:
            candidates.append(r.candidate)
    cells: dict[tuple[str, str], list[Result]] = {}
    cases: dict[str, Result] = {}
    for r in results:
        cells.setdefault((r.case_id, r.candidate), []).append(r)
        cases.setdefault(r.case_id, r)
    generic = {g.case_id for g in ranking.generic}
    suspect = {g.case_id: g for g in ranking.suspect_gold}
    trs = []
    for case_id, first in cases.items():
        runs_of = [cells.get((case_id, c), []) for c in candidates]
        flags = []
        if any(not r.correct for runs in runs_of for r in runs):
            flags.append("failing")
        if any(0 < sum(r.correct for r in runs) < len(runs) for runs in runs_of):
            flags.append("flaky")
        if case_id in generic:
            flags.append("generic")
        if case_id in suspect:
            flags.append("suspect")
        marks = "".join(
            f' <span class="mark">{"generic answers" if f == "generic" else "suspect gold"}</span>'
            for f in flags
            if f in ("generic", "suspect")
        )
        if case_id in suspect:
            marks += f"<br><small>{text(suspect[case_id].describe())}</small>"
        link = _a(links.case(stored.id, ranking.task, case_id), text(case_id))
        row = "".join(_cell(runs) if runs else '<td class="none">not run</td>' for runs in runs_of)
        trs.append(
            f'<tr data-flags="{" ".join(flags)}" data-case="{text(case_id)}">'
            f"<th>{link}{marks}<br><small>{text(first.difficulty)}</small></th>"
            f'<td class="ans">{clipped(first.expected)}</td>{row}</tr>'
        )
    form = (
        f'<form class="filters" data-target="{grid_id}">'
        + "".join(
            f'<label><input type="checkbox" data-flag="{flag}" name="{flag}"> {label}</label>'
            for flag, label in (
                ("failing", "failing"),
                ("flaky", "flaky"),
                ("generic", "generic answers"),
                ("suspect", "suspect gold"),
            )
        )
        + '<span class="count"></span></form>'
    )
    return [
        f"<h3>Cases x models ({len(cases)} x {len(candidates)})</h3>",
        form,
        _table(["case", "gold", *candidates], trs, grid_id, "grid"),
    ]


def run_page(stored: StoredRun, links: Links, *, previous: str | None = None) -> str:
    """One run: each task's ranking as the HTML report shows it, then its grid."""
    data = ReportData(
        run=stored.run,
        results=stored.results,
        rankings=stored.rankings,
        case_counts=stored.case_counts(),
    )
    body = [f"<h1>Run {text(stored.id)}</h1>", *_run_meta(stored)]
    tasks = " · ".join(
        _a(f"#task-{i}", text(r.task)) + " (" + _a(links.task(r.task), "over time") + ")"
        for i, r in enumerate(stored.rankings)
    )
    body.append(f'<p class="meta">Tasks: {tasks or "none"}</p>')
    if previous:
        body.append(
            '<p class="meta">'
            + _a(links.compare(previous, stored.id), "Compare with the previous run")
            + "</p>"
        )
    by_task: dict[str, list[Result]] = {}
    for r in stored.results:
        by_task.setdefault(r.task, []).append(r)
    for index, ranking in enumerate(stored.rankings):
        body += task_section(data, ranking, f"task-{index}", answer=clipped, all_results=False)
        body += _grid(stored, ranking, by_task.get(ranking.task, []), f"grid-{index}", links)
    return page(f"Run {stored.id}", body, links, script=True)


def _prompt(prompt: CasePrompt | None, hashes: Sequence[str], versions: Sequence[str]) -> str:
    recorded = (
        "prompt hash " + (", ".join(f"<code>{text(h)}</code>" for h in hashes) or "not recorded")
    ) + (f" · prompt version {text(', '.join(versions))}" if versions else "")
    if prompt is None:
        return (
            f"<p>{recorded}. The history keeps the hash, not the text, and no case file of "
            "this task was found to read it from (<code>llmbench view --cases DIR</code>).</p>"
        )
    if prompt.as_sent:
        head = (
            f"<p>As sent in this run: {recorded}; read from <code>{text(prompt.source)}</code>, "
            "whose prompt has the same hash.</p>"
        )
    else:
        head = (
            f"<p><strong>The case file has changed since this run</strong>: its prompt now "
            f"(hash <code>{text(prompt.prompt_hash)}</code>, from "
            f"<code>{text(prompt.source)}</code>) is not the one sent ({recorded}).</p>"
        )
    system = f"<h3>System</h3>{answer_block(prompt.system)}" if prompt.system else ""
    return f'<div class="prompt">{head}{system}<h3>Prompt</h3>{answer_block(prompt.prompt)}</div>'


def case_page(
    run_id: str,
    task: str,
    case_id: str,
    results: Sequence[Result],
    links: Links,
    prompt: CasePrompt | None = None,
) -> str | None:
    """Every answer to one case of one run (``results``: that case's), side by side;
    ``None`` when there is none."""
    if not results:
        return None
    first = results[0]
    hashes = sorted({r.prompt_hash for r in results if r.prompt_hash})
    versions = sorted({r.prompt_version for r in results if r.prompt_version})
    body = [
        f"<h1>Case {text(case_id)}</h1>",
        f'<p class="meta">task {_a(links.task(task), text(task))} · run '
        f"{_a(links.run(run_id), text(run_id))} · difficulty {text(first.difficulty)}</p>",
        "<h2>Gold</h2>",
        answer_block(first.expected),
        "<h2>Prompt</h2>",
        _prompt(prompt, hashes, versions),
        f"<h2>Answers ({len(results)})</h2>",
        '<div class="side">',
    ]
    for r in results:
        verdict = "correct" if r.correct else f"wrong: {r.direction}"
        facts = [
            verdict,
            f"score {r.score:.2f}" if r.score is not None else "",
            ms(r.latency_ms, " ms"),
            f"run {r.repeat}",
            f"{r.completion_tokens} tokens" if r.completion_tokens is not None else "",
        ]
        body.append(
            f'<div class="answer {"pass" if r.correct else "fail"}">'
            f"<h3>{text(r.candidate)}</h3>"
            f'<p class="meta">{text(" · ".join(f for f in facts if f))}</p>'
            + (f"<p>{clipped(r.error or r.reason, 600)}</p>" if r.error or r.reason else "")
            + answer_block(r.got)
            + "</div>"
        )
    body.append("</div>")
    return page(f"Case {case_id} ({task})", body, links)


# --------------------------------------------------------------------------- a task


def _holder(standing: Standing | None) -> str:
    return f"{text(standing.model)} ({ms(standing.mean_ms, ' ms')})" if standing else "none"


def task_page(
    task: str, points: Sequence[TaskPoint], links: Links, entry: RegistryEntry | None = None
) -> str:
    """A task over time: ``points`` oldest first."""
    body = [f"<h1>Task {text(task)} over time</h1>", f'<p class="meta">{len(points)} run(s)</p>']
    if entry is not None:
        runner = entry.runner_up.model if entry.runner_up else "none"
        body.append(
            "<h2>Registry</h2>"
            f"<p>Champion <b>{text(entry.champion.model)}</b> "
            f"({ms(entry.champion.mean_ms, ' ms')} mean, run {text(entry.champion.run or '-')})"
            f"; runner-up <b>{text(runner)}</b></p>"
            f"<p>Why: {text(entry.why or 'no change recorded by a run of newcomers')}</p>"
        )
    models: dict[str, None] = {}
    for point in reversed(points):
        for s in point.standings:
            models.setdefault(s.model)
    series: dict[str, tuple[list[float | None], list[float | None]]] = {
        model: ([None] * len(points), [None] * len(points)) for model in models
    }
    for index, point in enumerate(points):
        for s in point.standings:
            series[s.model][0][index] = s.p50_ms
            series[s.model][1][index] = s.p95_ms
    body.append("<h2>Latency across runs</h2>")
    body.append(
        timeline_chart(
            [_date(p.started_at)[:10] for p in points],
            series,
            title=f"{task}: p50 and p95 latency per model across runs",
        )
    )
    changes = []
    previous: str | None = None
    previous_point: TaskPoint | None = None
    for point in points:
        holder = point.holder("champion")
        name = holder.model if holder else None
        if previous_point is not None and name != previous:
            old = previous_point.holder("champion")
            changes.append(
                f"<li>{_a(links.run(point.run), text(_date(point.started_at)))}: "
                + (
                    f"<b>{text(name)}</b> ({ms(holder.mean_ms if holder else None, ' ms')})"
                    if name
                    else "no champion"
                )
                + (
                    f" replaced {text(previous)} ({ms(old.mean_ms if old else None, ' ms')})"
                    if previous
                    else ""
                )
                + f" · {_a(links.compare(previous_point.run, point.run), 'compare')}</li>"
            )
        previous, previous_point = name, point
    body.append(f"<h2>Succession of champions ({len(changes)} change(s))</h2>")
    body.append(
        "<ul>" + ("".join(reversed(changes)) or "<li>The champion never changed.</li>") + "</ul>"
    )
    trs: list[str] = []
    for index in range(len(points) - 1, -1, -1):
        point = points[index]
        champion, second = point.holder("champion"), point.holder("runner-up")
        qualified = sum(s.qualified for s in point.standings)
        before = points[index - 1].run if index else None
        trs.append(
            "<tr>"
            f"<td>{text(_date(point.started_at))}</td>"
            f"<td>{_a(links.run(point.run), text(point.run))}</td>"
            f"<td><code>{text((point.git_commit or '-')[:12])}</code></td>"
            f"<td>{_holder(champion)}</td><td>{_holder(second)}</td>"
            f'<td class="n">{qualified} of {len(point.standings)}</td>'
            f"<td>{_a(links.compare(before, point.run), 'vs previous') if before else ''}</td>"
            "</tr>"
        )
    body.append("<h2>Champion and runner-up per run</h2>")
    headers = ["date", "run", "commit", "champion", "runner-up", "qualified", ""]
    body.append(_table(headers, trs[:OPEN_ROWS], "timeline"))
    if len(trs) > OPEN_ROWS:  # a closed <details> is not laid out: the page paints sooner
        body.append(
            f"<details><summary>{len(trs) - OPEN_ROWS} older run(s)</summary>"
            + _table(headers, trs[OPEN_ROWS:], "timeline-older")
            + "</details>"
        )
    return page(f"Task {task} over time", body, links)


# --------------------------------------------------------------------------- compare


def _outcome(r: Result) -> str:
    head = "correct" if r.correct else f"wrong ({r.direction})"
    return f'{text(head)}<div class="ans">{clipped(r.error or r.got)}</div>'


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None or before == 0:
        return "-"
    pct = 100.0 * (after - before) / before
    return f'<span class="{"down" if pct > 0 else "up"}">{pct:+.0f}%</span>'


def compare_page(a: StoredRun, b: StoredRun, links: Links) -> str:
    """What changed from run ``a`` to run ``b``."""
    body = [
        f"<h1>Compare {text(a.id)} → {text(b.id)}</h1>",
        f'<p class="meta">A: {_a(links.run(a.id), text(a.id))} ({text(run_date(a.run))}) · '
        f"B: {_a(links.run(b.id), text(b.id))} ({text(run_date(b.run))})</p>",
        "<h2>Champions</h2>",
    ]
    trs = [
        f'<tr class="{"changed" if c.changed else ""}">'
        f"<td>{_a(links.task(c.task), text(c.task))}</td>"
        f"<td>{text(c.before or 'none')} ({ms(c.before_ms, ' ms')})</td>"
        f"<td>{text(c.after or 'none')} ({ms(c.after_ms, ' ms')})</td>"
        f"<td>{'<b>changed</b>' if c.changed else 'same'}</td></tr>"
        for c in compare.champions(a, b)
    ]
    body.append(_table(["task", "A", "B", ""], trs, "champions"))
    found = compare.flips(a, b)
    per_model: dict[tuple[str, str], list[int]] = {}
    for f in found:
        counts = per_model.setdefault((f.task, f.model), [0, 0])
        counts[0 if f.fixed else 1] += 1
    body.append(f"<h2>Cases that flipped ({len(found)})</h2>")
    if per_model:
        body.append(
            "<p>"
            + " · ".join(
                f"{text(task)} / {text(model)}: <span class=up>{fixed} fixed</span>, "
                f"<span class=down>{broke} broke</span>"
                for (task, model), (fixed, broke) in per_model.items()
            )
            + "</p>"
        )
    trs = [
        f'<tr data-flip="{"fixed" if f.fixed else "broke"}" class="{"up" if f.fixed else "down"}">'
        f"<td>{text(f.task)}</td><td>{text(f.model)}</td>"
        f"<td>{_a(links.case(b.id, f.task, f.case_id), text(f.case_id))}</td>"
        f"<td>{'fixed' if f.fixed else 'broke'}</td>"
        f"<td>{_outcome(f.before)}</td><td>{_outcome(f.after)}</td></tr>"
        for f in found
    ]
    body.append(
        _table(["task", "model", "case", "", "A", "B"], trs, "flips")
        if trs
        else "<p>No case changed outcome.</p>"
    )
    body.append("<h2>Latency</h2>")
    trs = []
    for c in compare.latency_changes(a, b):
        interval = (
            f"{c.diff_ms:+,.0f} ms [{c.interval[0]:+,.0f}, {c.interval[1]:+,.0f}]"
            if c.diff_ms is not None and c.interval is not None
            else (f"{c.diff_ms:+,.0f} ms" if c.diff_ms is not None else "-")
        )
        trs.append(
            f"<tr><td>{text(c.task)}</td><td>{text(c.model)}</td>"
            f'<td class="n">{ms(c.before_ms)}</td><td class="n">{ms(c.after_ms)}</td>'
            f'<td class="n">{_change(c.before_ms, c.after_ms)}</td>'
            f'<td class="n">{c.paired}</td><td class="n">{interval}</td></tr>'
        )
    body.append(
        _table(
            [
                "task",
                "model",
                "A mean ms",
                "B mean ms",
                "change",
                "paired runs",
                "paired difference (95% interval)",
            ],
            trs,
            "latency",
        )
    )
    body.append("<h2>Prompts</h2>")

    def versions(pairs: Sequence[tuple[str, str]]) -> str:
        return (
            "<br>".join(
                f"{text(name or '(single prompt)')} <code>{text(digest[:12] or '-')}</code>"
                for name, digest in pairs
            )
            or "-"
        )

    trs = [
        f"<tr><td>{text(p.task)}</td><td>{versions(p.before)}</td><td>{versions(p.after)}</td>"
        f'<td class="n">{len(p.changed)} of {p.cases}</td>'
        f"<td>{text(', '.join(p.changed[:20]))}{' …' if len(p.changed) > 20 else ''}</td></tr>"
        for p in compare.prompt_versions(a, b)
    ]
    body.append(
        _table(
            ["task", "A versions (hash)", "B versions (hash)", "cases with a new prompt", "which"],
            trs,
            "prompts",
        )
    )
    return page(f"Compare {a.id} and {b.id}", body, links)


def message_page(title: str, message: str, links: Links) -> str:
    """A page that says what is not there (an unknown run, task or case)."""
    return page(title, [f"<h1>{text(title)}</h1>", f"<p>{text(message)}</p>"], links)
