"""``llmbench view`` on a large history: every page's first paint under 1 s, memory bounded.

The history: 1,000 runs x 20 models x 50 cases (two verdict tasks of 25 cases), one
million result records, written run by run through the history's own writer
(:func:`pytest_llmbench.storage.history.record_run`, as the plugin writes it).
``LLMBENCH_VIEW_BENCH_SCALE=runs,models,cases`` sets another size;
``LLMBENCH_VIEW_BENCH_HISTORY=PATH`` keeps the generated file there and reuses it.

The app runs as the command does (``llmbench view --port N`` in its own process, so its
memory is its own); Debian's headless chromium (playwright) opens each page once, cold:
the runs list, the newest run (its ranking and its 50 x 20 grid), one case, a task over
the 1,000 runs and the compare of two runs no page read before.  Per page:

- server: the navigation's ``responseStart - requestStart`` (the request, the SQLite
  reads and the rendering, until the first byte);
- first paint: the ``first-contentful-paint`` entry, from the navigation's start, so it
  includes the server time, the transfer and the browser's parse and layout.

Target: first paint under 1,000 ms for every page; the server's peak resident memory
(``VmHWM``) under 400 MB (it reads one or two runs at a time, never the history).
The figures are printed beside the targets with the load average (2 cores shared with
other jobs).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from tests.benchmarks.perf_table import readme_row
from tests.support.view_history import (
    CHROMIUM,
    CHROMIUM_ARGS,
    big_history,
    chromium_ready,
    free_port,
)

pytestmark = [
    pytest.mark.performance,
    pytest.mark.skipif(not chromium_ready(), reason=f"needs {CHROMIUM}"),
]

ROOT = Path(__file__).resolve().parents[2]
TARGET_PAINT_MS = 1000.0
TARGET_MEMORY_MB = 400.0


def scale() -> tuple[int, int, int]:
    raw = os.environ.get("LLMBENCH_VIEW_BENCH_SCALE", "1000,20,50")
    runs, models, cases = (int(part) for part in raw.split(","))
    return runs, models, cases


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs, models, cases = scale()
    kept = os.environ.get("LLMBENCH_VIEW_BENCH_HISTORY")
    path = Path(kept) if kept else tmp_path_factory.mktemp("bench") / "history.sqlite"
    if not path.is_file():
        started = time.perf_counter()
        big_history(path, runs, models, cases)
        print(
            f"\nhistory of {runs} runs x {models} models x {cases} cases written in "
            f"{time.perf_counter() - started:.0f} s ({path.stat().st_size / 1e6:,.0f} MB)"
        )
    return path


@pytest.fixture(scope="module")
def server(history: Path) -> Iterator[tuple[str, int]]:
    """``llmbench view`` in its own process: (base URL, process id)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_llmbench.cli", "--history", str(history), "view",
         "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                why = process.communicate()[1]
                raise RuntimeError(f"llmbench view did not start: {why!r}") from None
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.communicate(timeout=10)  # closes the pipe


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


_TIMING = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return {server: nav.responseStart - nav.requestStart, paint: paint ? paint.startTime : null,
          bytes: nav.transferSize || nav.encodedBodySize};
}"""


def test_every_page_paints_within_a_second_on_a_large_history(
    server: tuple[str, int], benchmark: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pytest_benchmark")
    base, pid = server
    runs, models, cases = scale()
    last = f"run-{runs - 1:05d}"
    # two runs no page read before: the compare page reads both cold
    older, newer = f"run-{runs - 3:05d}", f"run-{runs - 2:05d}"
    pages = {
        "runs": "/",
        "run": f"/runs/{last}",
        "case": f"/cases/{last}/grading/GRADING_FAIL_000",
        "task": "/tasks/grading",
        "compare": f"/compare/{older}/{newer}",
    }
    start_mb = memory_mb(pid, "VmRSS")
    figures: dict[str, dict[str, float]] = {}

    def visit_all() -> None:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, path in pages.items():
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                response = page.goto(base + path, wait_until="load")
                assert response is not None
                assert response.status == 200, name
                page.wait_for_function(
                    "() => performance.getEntriesByName('first-contentful-paint').length > 0",
                    timeout=10_000,
                )
                figures[name] = page.evaluate(_TIMING)
                context.close()
            browser.close()

    benchmark.pedantic(visit_all, rounds=1, iterations=1, warmup_rounds=0)
    peak_mb = memory_mb(pid, "VmHWM")
    load = os.getloadavg()
    lines = [
        f"llmbench view on {runs} runs x {models} models x {cases} cases "
        f"(load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, {os.cpu_count()} cores):"
    ]
    for name, f in figures.items():
        verdict = "ok" if f["paint"] < TARGET_PAINT_MS else "ABOVE TARGET"
        lines.append(
            f"  {name:<8} server {f['server']:6.0f} ms   first paint {f['paint']:6.0f} ms   "
            f"target < {TARGET_PAINT_MS:,.0f} ms  {verdict}   ({f['bytes'] / 1000:,.0f} kB)"
        )
        benchmark.extra_info[f"{name}_server_ms"] = round(f["server"], 1)
        benchmark.extra_info[f"{name}_first_paint_ms"] = round(f["paint"], 1)
    memory_verdict = "ok" if peak_mb < TARGET_MEMORY_MB else "ABOVE TARGET"
    lines.append(
        f"  server memory: {start_mb:.0f} MB at start, peak {peak_mb:.0f} MB   "
        f"target < {TARGET_MEMORY_MB:.0f} MB  {memory_verdict}"
    )
    benchmark.extra_info["server_peak_mb"] = round(peak_mb, 1)
    benchmark.extra_info["load_average_1m"] = round(load[0], 2)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    slowest = max(figures.items(), key=lambda kv: kv[1]["paint"])
    readme_row(
        benchmark,
        "view-first-paint",
        what=f"`llmbench view` on {runs:,} runs x {models} models x {cases} cases: first paint "
        "of each page in headless chromium (server time included), the server's peak memory",
        target=f"every page < {TARGET_PAINT_MS:,.0f} ms; < {TARGET_MEMORY_MB:.0f} MB",
        measured=", ".join(f"{name} **{f['paint']:,.0f} ms**" for name, f in figures.items())
        + f"; peak {peak_mb:.0f} MB",
    )
    assert slowest[1]["paint"] < TARGET_PAINT_MS, lines
    assert peak_mb < TARGET_MEMORY_MB, lines
