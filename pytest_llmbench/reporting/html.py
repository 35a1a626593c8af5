"""The HTML report (``--llm-html PATH``): one self-contained file.

Pure module: :class:`~pytest_llmbench.reporting.facts.ReportData` in, HTML text out.
Inline CSS and inline SVG charts drawn here in Python; no script, no font, no
request of any kind at view time (a Content-Security-Policy says so to the browser).
Every string that comes from a model, a case or the user is escaped.

Per task: a latency-against-accuracy chart (one point per model), the latency
distribution of each model (every call, with its quartiles), the tables of the
Markdown report, for a task with a load phase its p50 and p95 against concurrency
(one request at a time, then under load), and every result in a collapsed table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from pytest_llmbench.analysis.ranking import ModelStanding, TaskRanking, percentile
from pytest_llmbench.execution.results import Result
from pytest_llmbench.formatting import ms
from pytest_llmbench.reporting.facts import (
    STREAMED_HEADERS,
    TOP_RESULTS_HEADERS,
    ReportData,
    adds_reason,
    combination_mark,
    correctness,
    notes,
    partial_note,
    ranked_by,
    run_date,
    streamed_rows,
    top_results_rows,
)
from pytest_llmbench.reporting.load import load_caption, load_headers, load_rows

__all__ = ["CSS", "STATUS_COLORS", "concurrency_chart", "html_report", "task_section"]

STATUS_COLORS = {
    "champion": "#1a7f37",
    "runner-up": "#0969da",
    "qualified": "#8250df",
    "disqualified": "#cf222e",
}
_OTHER = "#57606a"
_WRONG = "#cf222e"

CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       background: #ffffff; margin: 24px auto; max-width: 1180px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 6px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.meta, .stats { color: #57606a; margin: 4px 0; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.out { max-width: 420px; white-space: pre-wrap; word-break: break-word;
         font-family: ui-monospace, monospace; font-size: 12px; }
.st-champion { color: #116329; font-weight: 600; }
.st-runner-up { color: #0550ae; font-weight: 600; }
.st-disqualified { color: #a40e26; }
.wrong { background: #fff1f0; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; max-width: 560px; }
figcaption { color: #57606a; font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #1f2328; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .grid { stroke: #eaeef2; stroke-width: 1; }
details { margin: 8px 0 16px; }
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}"


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values from ``low`` (rounded down) to the first one at or past ``high``."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(first + step * len(ticks), 9))
    return ticks


def _ms_label(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:g} s"
    return f"{value:,.0f}" if value == round(value) else f"{value:.2g}"


class _Scale:
    def __init__(self, low: float, high: float, start: float, end: float) -> None:
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.start + (value - self.low) / span * (self.end - self.start)


def _x_axis(
    ticks: Sequence[float], x: _Scale, left: int, right: int, top: int, base: int
) -> list[str]:
    """A latency chart's x axis: a grid line and a label per tick, then the axis line.

    ``left`` and ``right`` are the plot's edges, ``top`` and ``base`` its top and its
    baseline (where the axis runs), in pixels.
    """
    parts = []
    for tick in ticks:
        tx = _num(x(tick))
        parts.append(
            f'<line class="grid" x1="{tx}" x2="{tx}" y1="{top}" y2="{base}"/>'
            f'<text x="{tx}" y="{base + 15}" text-anchor="middle">{_ms_label(tick)}</text>'
        )
    parts.append(f'<line class="axis" x1="{left}" x2="{right}" y1="{base}" y2="{base}"/>')
    return parts


def accuracy_chart(ranking: TaskRanking) -> str:
    """An SVG scatter: mean latency (x) against share of correct runs (y), one point a model."""
    width, height = 560, 320
    left, right, top, bottom = 56, 110, 34, 42
    standings = [s for s in ranking.standings if s.total]
    latencies = [s.mean_ms for s in standings if s.mean_ms is not None]
    high = max(latencies) * 1.1 if latencies else 1.0
    ticks_x = _ticks(0.0, high)
    x = _Scale(0.0, ticks_x[-1], left, width - right)
    y = _Scale(0.0, 100.0, height - bottom, top)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart accuracy" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(ranking.task)}: mean latency against accuracy">'
    ]
    for share_tick in (0, 25, 50, 75, 100):
        ty = _num(y(share_tick))
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ty}" y2="{ty}"/>'
            f'<text x="{left - 6}" y="{ty}" text-anchor="end" dy="4">{share_tick}%</text>'
        )
    parts += _x_axis(ticks_x, x, left, width - right, top, height - bottom)
    parts.append(
        f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}"/>'
        f'<text x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">'
        "mean latency (ms)</text>"
        f'<text transform="translate(14 {(top + height - bottom) / 2}) rotate(-90)" '
        'text-anchor="middle">correct runs</text>'
    )
    for index, s in enumerate(standings):
        if s.mean_ms is None:
            continue
        share = 100.0 * s.correct / s.total
        px, py = x(s.mean_ms), y(share)
        color = STATUS_COLORS.get(s.status, _OTHER)
        label_y = py - 10 - 11 * (index % 2) if py > top + 30 else py + 16 + 11 * (index % 2)
        parts.append(
            f'<circle cx="{_num(px)}" cy="{_num(py)}" r="7" fill="{color}" '
            f'stroke="#ffffff" stroke-width="1.5">'
            f"<title>{_e(s.model)}: {s.score} correct, mean {ms(s.mean_ms, ' ms')}, "
            f"{_e(s.status)}</title></circle>"
            f'<text x="{_num(px + 9)}" y="{_num(label_y)}">{_e(s.model)}</text>'
        )
    for column, (status, color) in enumerate(STATUS_COLORS.items()):
        lx = left + 6 + column * 100
        parts.append(
            f'<circle cx="{lx}" cy="12" r="6" fill="{color}"/>'
            f'<text x="{lx + 10}" y="16">{status}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def latency_chart(ranking: TaskRanking, results: Sequence[Result]) -> str:
    """An SVG strip chart: every call's latency per model, with min-max and quartiles.

    Filled dots are correct answers, hollow red rings wrong ones.
    """
    models = list(ranking.standings)
    row_h = 30
    left, right, top, bottom = 170, 20, 10, 40
    width = 560
    height = top + bottom + row_h * max(len(models), 1)
    by_model: dict[str, list[Result]] = {}
    for r in results:
        if r.latency_ms is not None:
            by_model.setdefault(r.candidate, []).append(r)
    values = [r.latency_ms for rs in by_model.values() for r in rs if r.latency_ms is not None]
    ticks_x = _ticks(0.0, max(values) * 1.05 if values else 1.0)
    x = _Scale(0.0, ticks_x[-1], left, width - right)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart latency" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(ranking.task)}: latency of every call per model">'
    ]
    parts += _x_axis(ticks_x, x, left, width - right, top, height - bottom)
    parts.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">'
        "latency of each call (ms)</text>"
    )
    for row, s in enumerate(models):
        mid = top + row * row_h + row_h / 2
        color = STATUS_COLORS.get(s.status, _OTHER)
        name = s.model if len(s.model) <= 26 else s.model[:25] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{_num(mid + 4)}" text-anchor="end">'
            f"<title>{_e(s.model)}</title>{_e(name)}</text>"
        )
        calls = by_model.get(s.model, [])
        lat = sorted(r.latency_ms for r in calls if r.latency_ms is not None)
        if lat:
            q1, q2, q3 = (percentile(lat, q) or 0.0 for q in (25, 50, 75))
            parts.append(
                f'<line x1="{_num(x(lat[0]))}" x2="{_num(x(lat[-1]))}" y1="{_num(mid)}" '
                f'y2="{_num(mid)}" stroke="{color}" stroke-width="1"/>'
                f'<rect x="{_num(x(q1))}" y="{_num(mid - 7)}" '
                f'width="{_num(max(x(q3) - x(q1), 1.0))}" height="14" fill="{color}" '
                f'fill-opacity="0.18" stroke="{color}"/>'
                f'<line x1="{_num(x(q2))}" x2="{_num(x(q2))}" y1="{_num(mid - 7)}" '
                f'y2="{_num(mid + 7)}" stroke="{color}" stroke-width="2"/>'
            )
        for index, r in enumerate(calls):
            if r.latency_ms is None:
                continue
            jitter = ((index * 7) % 11 - 5) * 0.9
            cx, cy = _num(x(r.latency_ms)), _num(mid + jitter)
            tip = (
                f"<title>{_e(r.case_id)} run {r.repeat}: {ms(r.latency_ms, ' ms')}, "
                f"{'correct' if r.correct else 'wrong'}</title>"
            )
            if r.correct:
                parts.append(
                    f'<circle cx="{cx}" cy="{cy}" r="3" fill="{color}" fill-opacity="0.8">'
                    f"{tip}</circle>"
                )
            else:
                parts.append(
                    f'<circle cx="{cx}" cy="{cy}" r="3.5" fill="none" stroke="{_WRONG}" '
                    f'stroke-width="1.5">{tip}</circle>'
                )
    parts.append("</svg>")
    return "".join(parts)


_PALETTE = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#6e7781")


def concurrency_chart(ranking: TaskRanking) -> str | None:
    """An SVG line chart: each model's p50 (dashed) and p95 (solid) latency against the
    requests in flight, at 1 (the correctness sweep, one at a time) and at the load
    phase's concurrency; ``None`` when the task ran no load phase or no model has both.
    """
    load = ranking.at_load
    if load is None:
        return None
    serial = {s.model: s.latency for s in ranking.standings}
    lines: list[tuple[str, list[tuple[int, float, float]], bool]] = []
    for s in load.standings:
        alone = serial.get(s.model)
        if s.skipped is not None or alone is None or s.p50_ms is None or s.p95_ms is None:
            continue
        points = [(1, alone.p50, alone.p95), (load.concurrency, s.p50_ms, s.p95_ms)]
        lines.append((s.model, points, s.flag is not None))
    if not lines:
        return None
    width, top, left, right, bottom = 560, 16, 56, 190, 42
    height = 300
    highest = max(p95 for _, points, _ in lines for _, _, p95 in points)
    ticks_y = _ticks(0.0, highest * 1.1)
    y = _Scale(0.0, ticks_y[-1], height - bottom, top)
    levels = sorted({1, load.concurrency})
    x = _Scale(1.0, float(max(levels[-1], 2)), left + 20, width - right - 20)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart concurrency" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_e(ranking.task)}: latency against requests in flight">'
    ]
    for tick in ticks_y:
        ty = _num(y(tick))
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ty}" y2="{ty}"/>'
            f'<text x="{left - 6}" y="{ty}" text-anchor="end" dy="4">{_ms_label(tick)}</text>'
        )
    base = height - bottom
    for level in levels:
        tx = _num(x(level))
        label = "1 (alone)" if level == 1 else f"{level} (load)"
        parts.append(f'<text x="{tx}" y="{base + 15}" text-anchor="middle">{label}</text>')
    parts.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{base}" y2="{base}"/>'
        f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{base}"/>'
        f'<text x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">'
        "requests in flight</text>"
        f'<text transform="translate(14 {(top + base) / 2}) rotate(-90)" '
        'text-anchor="middle">latency (ms)</text>'
    )
    for index, (model, points, flagged) in enumerate(lines):
        color = _PALETTE[index % len(_PALETTE)]
        for which, dash in ((2, ""), (1, ' stroke-dasharray="5 4"')):
            coords = " ".join(f"{_num(x(p[0]))},{_num(y(p[which]))}" for p in points)
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"{dash}/>'
            )
            for point in points:
                name = ("p50", "p95")[which - 1]
                where = "alone" if point[0] == 1 else f"x{point[0]} in flight"
                parts.append(
                    f'<circle cx="{_num(x(point[0]))}" cy="{_num(y(point[which]))}" r="4" '
                    f'fill="{color}"><title>{_e(model)}: {name} {ms(point[which], " ms")} '
                    f"{where}</title></circle>"
                )
        ly = top + 8 + index * 18
        name = model if len(model) <= 24 else model[:23] + "…"
        parts.append(
            f'<line x1="{width - right + 12}" x2="{width - right + 32}" y1="{ly}" y2="{ly}" '
            f'stroke="{color}" stroke-width="2"/>'
            f'<text x="{width - right + 38}" y="{ly + 4}"><title>{_e(model)}</title>'
            f"{_e(name)}{' (flagged)' if flagged else ''}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _load_section(ranking: TaskRanking) -> list[str]:
    """The task's load table and its latency against concurrency, when it ran a load phase."""
    load = ranking.at_load
    if load is None:
        return []
    headers = load_headers(load)
    numeric = set(range(1, len(headers) - 1))
    champion = f"<b>{_e(load.champion)}</b>" if load.champion else "none"
    out = [
        "<h3>Under load</h3>",
        f'<p class="stats">{_e(load_caption(load))} · champion at load: {champion}</p>',
        _table(headers, load_rows(load, _e, _e), numeric),
    ]
    chart = concurrency_chart(ranking)
    if chart is not None:
        out.append(
            f"<figure>{chart}<figcaption>p95 (solid) and p50 (dashed) latency of each model "
            "one request at a time (the correctness sweep) and with "
            f"{load.concurrency} in flight (the load phase).</figcaption></figure>"
        )
    return out


def _status(s: ModelStanding) -> str:
    return f'<span class="st-{_e(s.status)}">{_e(s.status)}</span>'


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    numeric: set[int],
    output: int | None = None,
) -> str:
    """Cells are already HTML (escaped by the caller); ``output`` is a model-answer column."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{c}</td>'
            if i in numeric
            else (f'<td class="out">{c}</td>' if i == output else f"<td>{c}</td>")
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def task_section(
    data: ReportData,
    ranking: TaskRanking,
    anchor: str,
    *,
    answer: Callable[[str], str] = _e,
    all_results: bool = True,
) -> list[str]:
    """One task's part of the report (also the ranking on ``llmbench view``'s run page).

    :param answer: shows a model's answer as HTML (escaped; ``llmbench view`` also clips it).
    :param all_results: end with every result in a collapsed table.
    """
    task = ranking.task
    results = data.results_of(task)
    tested = len(ranking.standings)
    out = [f'<section class="task" id="{_e(anchor)}">', f"<h2>Task: {_e(task)}</h2>"]
    if data.descriptions.get(task):
        out.append(f"<p>{_e(data.descriptions[task])}</p>")
    champion, runner_up = ranking.champion, ranking.runner_up
    lead = (
        f"Champion: <b>{_e(champion.model)}</b> ({ms(champion.mean_ms, ' ms')} mean)"
        + (
            f"; runner-up: <b>{_e(runner_up.model)}</b> ({ms(runner_up.mean_ms, ' ms')} mean)"
            if runner_up
            else "; runner-up: none"
        )
        if champion
        else "Champion: none, no model qualified"
    )
    out.append(
        f'<p class="stats">Models tested: {tested} · qualified: {len(ranking.qualified)} of '
        f"{tested} · cases: {data.cases(task)} · policy: {_e(ranking.policy)}"
        + (f" · ranked by: {_e(ranked_by(ranking))}" if ranking.latency != "mean" else "")
        + "</p>"
        f"<p>{lead}</p>"
    )
    out.append(
        '<div class="charts">'
        f"<figure>{accuracy_chart(ranking)}<figcaption>Mean latency against the share of "
        "correct runs, one point per model.</figcaption></figure>"
        f"<figure>{latency_chart(ranking, results)}<figcaption>Latency of every call: box "
        "from the 25th to the 75th percentile, median line, whisker from fastest to "
        "slowest; hollow red rings are wrong answers.</figcaption></figure></div>"
    )
    out.append("<h3>Top results</h3>")
    if ranking.qualified:
        rows = top_results_rows(data, ranking, model=_e, status=_status)
        out.append(_table(TOP_RESULTS_HEADERS, rows, {0, 2, 3, 4, 5, 6}))
    else:
        out.append("<p>No model was correct on every case and every run.</p>")
    streamed = streamed_rows(ranking, model=_e)
    if streamed:
        out.append("<h3>Streamed timings</h3>")
        out.append(_table(STREAMED_HEADERS, streamed, {1, 2, 3, 4, 5}))
    out.extend(_load_section(ranking))
    out.append("<h3>Failed to qualify</h3>")
    if ranking.disqualified:
        rows = []
        for s in ranking.disqualified:
            why = [f"<b>{_e(w.describe())}</b>" for w in (s.incomplete, s.eliminated) if w]
            why += [
                f"<b>{_e(m.describe())}</b>: expected {_e(m.expected)}, got "
                f"<code>{answer(m.got)}</code>" + (f" ({_e(m.reason)})" if adds_reason(m) else "")
                for m in s.misses
            ]
            misses = "<br>".join(why)
            name = _e(s.model + combination_mark(s))
            rows.append([name, correctness(s), ms(s.mean_ms, " ms"), misses or "-"])
        out.append(_table(["model", "correctness", "mean latency", "failed cases"], rows, {1, 2}))
    else:
        out.append("<p>Every model tested qualified.</p>")
    found = notes(data, ranking)
    out.append("<h3>Notes</h3><ul>")
    out.extend(f"<li>{_e(n)}</li>" for n in found or ["Nothing stood out."])
    out.append("</ul>")
    rows = [
        [
            _e(r.case_id),
            _e(r.candidate),
            str(r.repeat),
            _e(r.expected),
            answer(r.got),
            "yes" if r.correct else f"no ({_e(r.direction)})",
            ms(r.latency_ms, " ms"),
            _e(r.error or r.reason),
        ]
        for r in results
    ]
    if not all_results:
        out.append("</section>")
        return out
    out.append(
        f"<details><summary>All {len(results)} results</summary>"
        + _table(
            ["case", "model", "run", "expected", "answer", "correct", "latency", "reason"],
            rows,
            {2, 6},
            output=4,
        )
        + "</details>"
    )
    out.append("</section>")
    return out


def html_report(data: ReportData) -> str:
    """The whole report as one HTML document."""
    run = data.run
    title = f"LLM benchmark report, {run_date(run)}"
    facts = [
        f"{label}: {_e(value)}"
        for label, value in (
            ("run", run.get("id")),
            ("commit", str(run.get("git_commit") or "")[:12]),
            ("host", run.get("host")),
            ("pytest-llmbench", run.get("plugin_version")),
        )
        if value
    ]
    models = data.models()
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{" · ".join(facts)}</p>',
        f'<p class="meta">Models tested ({len(models)}): {_e(", ".join(models))}</p>',
    ]
    note = partial_note(run)
    if note:
        out.append(f'<p class="meta"><strong>{_e(note)}</strong></p>')
    rows = []
    anchors: dict[str, str] = {}
    for index, ranking in enumerate(data.rankings):
        anchor = f"task-{index}"
        anchors[ranking.task] = anchor
        champion, runner_up = ranking.champion, ranking.runner_up
        rows.append(
            [
                f'<a href="#{anchor}">{_e(ranking.task)}</a>',
                str(data.cases(ranking.task)),
                f"{len(ranking.qualified)} of {len(ranking.standings)}",
                f"{_e(champion.model)} ({ms(champion.mean_ms, ' ms')})" if champion else "none",
                f"{_e(runner_up.model)} ({ms(runner_up.mean_ms, ' ms')})" if runner_up else "none",
            ]
        )
    out.append(_table(["task", "cases", "qualified", "champion", "runner-up"], rows, {1, 2}))
    for ranking in data.rankings:
        out.extend(task_section(data, ranking, anchors[ranking.task]))
    out.append(
        '<p class="meta">Correctness: correct runs of all runs; a model qualifies only at '
        "100%. Latency: wall time of one call, model load excluded. Speed score: 100 for the "
        "champion, 100 x the champion's mean latency / the model's for the others.</p>"
    )
    out.append("</body></html>")
    return "\n".join(out) + "\n"
