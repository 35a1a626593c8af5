"""The Markdown and HTML reports a run writes (facts, rendering: unit/reporting/test_reports.py)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.execution.results import Result
from pytest_llmbench.reporting.facts import ReportData
from pytest_llmbench.reporting.html import STATUS_COLORS
from tests.support import factories

NO_BENCHMARK = ("-p", "no:benchmark")


def test_report_options_write_both_files(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "evals", "--llm-models=fake", *NO_BENCHMARK, "--llm-report=out/r.md", "--llm-html=r.html"
    )
    result.stdout.fnmatch_lines(
        [
            # relative to where pytest was started (the pytester directory)
            "llmbench: Markdown report written to out/r.md",
            "llmbench: HTML report written to r.html",
        ]
    )
    text = (suite.path / "out" / "r.md").read_text()
    assert "## Task: grading" in text
    assert "Grade a posting." in text
    assert "| `fake/lenient` | 50% (1/2) |" in text
    assert "too lenient on GRADE\\_FAIL\\_001: expected FAIL, got PASS" in text
    page = (suite.path / "r.html").read_text()
    assert page.count("<svg") == 2


CHROMIUM = Path("/usr/bin/chromium")


def chromium(page: Path, shot: Path, profile: Path) -> list[str]:
    """Render ``page`` headless; return the console lines Chromium logged."""
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            "--window-size=1200,900",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shot.exists(), done.stderr[-2000:]
    return [
        line
        for line in done.stderr.splitlines()
        if "CONSOLE" in line or "Uncaught" in line or "Content Security Policy" in line
    ]


SIZES = {"p/a": 1_000_000_000, "p/b": 4_700_000_000, "p/c": 500_000_000}


def res(model: str, case: str, correct: bool, latency: float, **kw: Any) -> Result:
    expected = "FAIL" if case.startswith("FAIL") else "PASS"
    said = expected if correct else "PASS"
    return factories.verdict(
        model, case, said, gold=expected, correct=correct, latency_ms=latency, **kw
    )


RESULTS = [
    res("p/a", "PASS1", True, 100.0),
    res("p/a", "FAIL1", True, 300.0),
    res("p/b", "PASS1", True, 1000.0),
    res("p/b", "FAIL1", True, 1500.0),
    res("p/c", "PASS1", True, 50.0),
    res("p/c", "FAIL1", False, 70.0, got="PASS | <b>sure</b>\nreally", got_label="PASS"),
]


RUN = {
    "id": "20250101T120000Z-abcdef",
    "started_at": "2025-01-01T12:00:00+00:00",
    "git_commit": "0123456789abcdef0123",
    "host": "ci-1",
    "plugin_version": "0.1.0",
}


def data(**kw: Any) -> ReportData:
    values: dict[str, Any] = {
        "run": RUN,
        "results": RESULTS,
        "rankings": [rank_strict("grading", RESULTS)],
        "case_counts": {"grading": 2},
        "descriptions": {"grading": "Grade a summary."},
        "model_sizes": SIZES,
    }
    values.update(kw)
    return ReportData(**values)


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of RGB(A) bytes of an 8-bit, non-interlaced PNG (stdlib only)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8
    assert interlace == 0
    channels = {2: 3, 6: 4}[color]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                pa, pb, pc = abs(guess - left), abs(guess - up), abs(guess - corner)
                best = left if pa <= pb and pa <= pc else (up if pb <= pc else corner)
                line[i] = (line[i] + best) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [bytes(r[i : i + 3]) for r in rows for i in range(0, stride, channels)]


@pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None,
    reason="Debian's chromium is not installed (/usr/bin/chromium): apt-get install chromium",
)
def test_html_report_in_headless_chromium(suite: pytest.Pytester, tmp_path: Path) -> None:
    suite.runpytest("evals", "--llm-models=fake", *NO_BENCHMARK, "--llm-html=report.html")
    page = suite.path / "report.html"
    # A control page proves that console errors and blocked requests would be seen.
    control = tmp_path / "control.html"
    control.write_text(
        page.read_text().replace(
            "</body>", '<img src="https://example.invalid/x.png"><script>throw 1</script></body>'
        )
    )
    assert chromium(control, tmp_path / "control.png", tmp_path / "profile-control")

    assert chromium(page, tmp_path / "report.png", tmp_path / "profile") == []
    width, height, pixels = read_png(tmp_path / "report.png")
    assert (width, height) == (1200, 900)
    background = pixels[0]
    assert background == b"\xff\xff\xff"
    drawn = sum(1 for p in pixels if p != background)
    assert drawn > 5_000  # text, tables and charts
    champion = bytes.fromhex(STATUS_COLORS["champion"][1:])
    chart_points = sum(1 for p in pixels if p == champion)
    assert chart_points > 100  # the champion's point and legend swatch in the SVG chart
