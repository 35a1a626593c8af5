"""Inline SVG charts of the view (no script, no library): a task's latency across runs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

from pytest_llmbench.service.view.markup import text

__all__ = ["PALETTE", "timeline_chart"]

PALETTE = (
    "#0969da", "#1a7f37", "#cf222e", "#8250df", "#bf8700", "#1b7c83", "#e16f24", "#6e7781",
    "#a40e26", "#0550ae", "#116329", "#6639ba", "#953800", "#3192aa", "#d4a72c", "#57606a",
)  # fmt: skip

MAX_POINTS = 240
"""At most this many points per line: a longer series is cut into as many buckets, each
drawn at its median (p50) or its highest value (p95)."""


def _ticks(high: float, count: int = 5) -> list[float]:
    high = high if high > 0 else 1.0
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(step * len(ticks), 9))
    return ticks


def _buckets(values: Sequence[float | None], size: int, pick: str) -> list[tuple[float, float]]:
    """(x index, value) points, ``size`` runs a bucket; ``pick`` is ``median`` or ``max``."""
    points: list[tuple[float, float]] = []
    for start in range(0, len(values), size):
        chunk = [v for v in values[start : start + size] if v is not None]
        if not chunk:
            continue
        if pick == "max":
            value = max(chunk)
        else:
            ordered = sorted(chunk)
            value = ordered[len(ordered) // 2]
        points.append((start + (min(size, len(values) - start) - 1) / 2, value))
    return points


def timeline_chart(
    labels: Sequence[str],
    series: Mapping[str, tuple[Sequence[float | None], Sequence[float | None]]],
    *,
    title: str,
) -> str:
    """p50 (solid) and p95 (dashed) latency per model, one x position per run.

    :param labels: one label per run (its date), oldest first.
    :param series: model -> (p50 per run, p95 per run), ``None`` where it did not run.
    """
    width, height = 960, 340
    left, right, top, bottom = 60, 190, 16, 40
    runs = len(labels)
    size = max(1, math.ceil(runs / MAX_POINTS))
    highs = [v for p50, p95 in series.values() for v in (*p50, *p95) if v is not None]
    ticks = _ticks(max(highs) * 1.05 if highs else 1.0)
    y_top = ticks[-1] or 1.0

    def sx(index: float) -> float:
        return left + (index / max(runs - 1, 1)) * (width - left - right)

    def sy(value: float) -> float:
        return top + (1 - value / y_top) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart timeline" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title, quote=True)}">'
    ]
    for tick in ticks:
        ty = f"{sy(tick):.1f}"
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{ty}" y2="{ty}"/>'
            f'<text x="{left - 6}" y="{ty}" dy="4" text-anchor="end">{tick:,.0f}</text>'
        )
    base = height - bottom
    parts.append(f'<line class="axis" x1="{left}" x2="{width - right}" y1="{base}" y2="{base}"/>')
    for index in sorted({0, runs // 2, runs - 1} if runs else set()):
        parts.append(
            f'<text x="{sx(index):.1f}" y="{base + 15}" text-anchor="middle">'
            f"{text(labels[index])}</text>"
        )
    parts.append(
        f'<text transform="translate(14 {(top + base) / 2}) rotate(-90)" '
        'text-anchor="middle">latency (ms)</text>'
        f'<text x="{(left + width - right) / 2}" y="{height - 4}" text-anchor="middle">'
        f"runs, oldest to newest ({runs}); solid p50, dashed p95</text>"
    )
    for number, (model, (p50, p95)) in enumerate(series.items()):
        color = PALETTE[number % len(PALETTE)]
        for values, pick, dash in ((p50, "median", ""), (p95, "max", ' stroke-dasharray="4 3"')):
            points = _buckets(values, size, pick)
            if not points:
                continue
            path = " ".join(f"{sx(x):.1f},{sy(v):.1f}" for x, v in points)
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5"{dash} '
                f'points="{path}"><title>{text(model)} {"p50" if not dash else "p95"}'
                "</title></polyline>"
            )
        ly = top + 4 + number * 15
        if ly < height - bottom:
            name = model if len(model) <= 28 else model[:27] + "…"
            parts.append(
                f'<line x1="{width - right + 10}" x2="{width - right + 26}" y1="{ly}" '
                f'y2="{ly}" stroke="{color}" stroke-width="3"/>'
                f'<text x="{width - right + 30}" y="{ly + 4}">{text(name)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
