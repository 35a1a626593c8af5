"""``llmbench view`` in a real browser: Debian's headless chromium driven by playwright,
over the app served on 127.0.0.1 and over the ``--static`` files.

Each page renders (a screenshot of each is kept in the test's tmp dir, and copied to
docs/images/view-*.png when ``LLMBENCH_DOCS_IMAGES=1``), the grid's filters work, the
compare page shows the planted flip, hostile answers stay inert and the huge one is
clipped with a way to see it whole, and no page asks for anything but its own server.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, sync_playwright

from pytest_llmbench import cli
from tests.support.view_history import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FLAKY,
    FLIP,
    HUGE,
    HUGE_MARK,
    RUNS,
    SUSPECT,
    chromium_ready,
    serving,
    small_history,
)

pytestmark = pytest.mark.skipif(not chromium_ready(), reason=f"needs {CHROMIUM}")

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_history(tmp_path_factory.mktemp("view") / "history.sqlite")


@pytest.fixture(scope="module")
def base(history: Path) -> Iterator[str]:
    with serving(history) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Visit:
    """A browser page that records every request it makes and every dialog it opens."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def pwned(self) -> object:
        return self.page.evaluate("window.__pwned")


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield Visit(context.new_page())
    context.close()


def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """Keep a screenshot of the page in the test's tmp dir (and in docs/images when asked)."""
    shot = tmp_path / f"view-{name}.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 5_000
    if os.environ.get("LLMBENCH_DOCS_IMAGES") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS_IMAGES / shot.name)
    return shot


def shown_rows(page: Page, table: str) -> list[str]:
    """The ``data-case`` (or first cell) of every visible row of the table ``table``."""
    rows = page.locator(f"#{table} tbody tr:visible")
    return [
        rows.nth(i).get_attribute("data-case") or rows.nth(i).locator("td").first.inner_text()
        for i in range(rows.count())
    ]


def only_local(visit: Visit, base: str) -> None:
    assert visit.requests
    assert all(url.startswith(base + "/") for url in visit.requests), visit.requests
    assert visit.dialogs == []
    assert visit.errors == []
    assert visit.pwned() is None


# --------------------------------------------------------------------------- pages


def test_runs_page_lists_every_run_and_filters_by_task_and_model(
    visit: Visit, base: str, tmp_path: Path
) -> None:
    page = visit.page
    page.goto(base + "/")
    assert page.title() == "LLM benchmark history"
    assert page.locator("#runs tbody tr").count() == 3
    first = page.locator("#runs tbody tr").first  # newest first
    assert RUNS[2] in first.inner_text()
    assert "careful" in first.inner_text()  # its grading champion
    assert "exit 1 (failed)" in first.inner_text()
    assert "cache only" in page.locator("#runs tbody tr").nth(1).inner_text()
    assert "main" in first.inner_text()  # the branch
    screenshot(page, tmp_path, "runs")
    page.select_option("select[data-key=tasks]", "summary")
    assert len(shown_rows(page, "runs")) == 2
    assert page.locator("form.filters .count").inner_text() == "2 of 3 shown"
    page.select_option("select[data-key=tasks]", "")
    page.select_option("select[data-key=models]", "ollama/hostile")
    assert len(shown_rows(page, "runs")) == 2
    page.select_option("select[data-key=models]", "ollama/fast")
    assert len(shown_rows(page, "runs")) == 3
    only_local(visit, base)


def test_run_page_shows_the_report_ranking_and_a_filterable_grid(
    visit: Visit, base: str, tmp_path: Path
) -> None:
    page = visit.page
    page.goto(f"{base}/runs/{RUNS[2]}")
    grading = page.locator("section.task").first
    assert "Task: grading" in grading.inner_text()
    assert "Champion: ollama/careful" in grading.inner_text()  # the report's own sentence
    assert page.locator("section.task svg.chart").count() == 4  # two charts per task
    assert shown_rows(page, "grid-0") == [
        "GRADE_PASS_001",
        "GRADE_PASS_002",
        "GRADE_PASS_003",
        "GRADE_FAIL_001",
        "GRADE_FAIL_002",
        "GRADE_FAIL_003",
    ]
    header = page.locator("#grid-0 thead").inner_text()
    assert "ollama/careful" in header
    assert "gold" in header
    cell = page.locator('#grid-0 tr[data-case="GRADE_FAIL_002"] td.fail').first
    assert "too lenient" in cell.inner_text()
    assert "ms" in cell.inner_text()
    assert "score 0.00" in cell.inner_text()
    screenshot(page, tmp_path, "run")
    form = page.locator('form[data-target="grid-0"]')
    form.locator("input[data-flag=flaky]").check()
    assert shown_rows(page, "grid-0") == [FLAKY[1]]
    form.locator("input[data-flag=flaky]").uncheck()
    form.locator("input[data-flag=failing]").check()
    failing = shown_rows(page, "grid-0")
    assert "GRADE_FAIL_003" not in failing
    assert {"GRADE_PASS_001", "GRADE_FAIL_002"} <= set(failing)
    page.locator("h3", has_text="Cases x models").first.evaluate("e => e.scrollIntoView()")
    screenshot(page, tmp_path, "grid")
    form.locator("input[data-flag=failing]").uncheck()
    summary = page.locator('form[data-target="grid-1"]')
    summary.locator("input[data-flag=generic]").check()
    assert shown_rows(page, "grid-1") == ["SUM_001", "SUM_002", "SUM_003"]
    summary.locator("input[data-flag=suspect]").check()
    assert shown_rows(page, "grid-1") == []
    only_local(visit, base)


def test_suspect_gold_filter_on_the_run_that_has_one(visit: Visit, base: str) -> None:
    page = visit.page
    page.goto(f"{base}/runs/{RUNS[1]}")
    page.locator('form[data-target="grid-0"] input[data-flag=suspect]').check()
    assert shown_rows(page, "grid-0") == [SUSPECT]
    assert "suspect gold" in page.locator(f'#grid-0 tr[data-case="{SUSPECT}"] th').inner_text()
    assert "cache" in page.locator("p.meta strong").inner_text()  # the cache-only note


def test_one_click_from_the_grid_to_a_case_with_every_answer_side_by_side(
    visit: Visit, base: str, tmp_path: Path
) -> None:
    page = visit.page
    page.goto(f"{base}/runs/{RUNS[2]}")
    page.locator('#grid-0 tr[data-case="GRADE_PASS_001"] th a').click()
    page.wait_for_url(f"**/cases/{RUNS[2]}/grading/GRADE_PASS_001")
    assert page.locator("h1").inner_text() == "Case GRADE_PASS_001"
    answers = page.locator(".side > div.answer")
    assert answers.count() == 10  # 5 models x 2 repeats
    assert "ollama/careful" in page.locator(".side").inner_text()
    prompt = page.locator("div.prompt").inner_text()
    assert "As sent in this run" in prompt  # read back from the case file, same hash
    assert "Nordhafen Bank, Hamburg: Data Engineer (1)" in prompt
    assert "<script>window.__pwned = 1</script>" in page.inner_text(".side")  # as text
    boxes = [answers.nth(i).bounding_box() for i in range(2)]
    assert boxes[0] is not None
    assert boxes[1] is not None
    assert boxes[0]["y"] == boxes[1]["y"]  # side by side
    screenshot(page, tmp_path, "case")
    only_local(visit, base)


def test_task_page_has_champions_per_run_a_latency_chart_and_the_succession(
    visit: Visit, base: str, tmp_path: Path
) -> None:
    page = visit.page
    page.goto(f"{base}/tasks/grading")
    assert page.locator("#timeline tbody tr").count() == 3
    newest = page.locator("#timeline tbody tr").first.inner_text()
    assert "ollama/careful" in newest
    assert "ollama/fast" in newest  # the runner-up
    chart = page.locator("svg.timeline")
    assert chart.count() == 1
    assert chart.locator("polyline").count() == 2 * 5  # p50 and p95 of each model
    succession = page.locator("h2:has-text('Succession') + ul").inner_text()
    assert "ollama/careful" in succession
    assert "replaced ollama/fast" in succession
    screenshot(page, tmp_path, "task")
    only_local(visit, base)


def test_compare_page_shows_the_planted_flip(visit: Visit, base: str, tmp_path: Path) -> None:
    page = visit.page
    page.goto(f"{base}/compare/{RUNS[1]}/{RUNS[2]}")
    champions = page.locator("#champions tbody tr").first.inner_text()
    assert "ollama/fast" in champions
    assert "ollama/careful" in champions
    assert "changed" in champions
    broke = page.locator('#flips tr[data-flip="broke"]')
    texts = [broke.nth(i).inner_text() for i in range(broke.count())]
    model, case = FLIP
    assert any(model in t and case in t for t in texts), texts
    fixed = page.locator('#flips tr[data-flip="fixed"]').all_inner_texts()
    assert any(SUSPECT in t for t in fixed)  # the suspect gold case of run 2 came right
    latency = page.locator("#latency tbody").inner_text()
    assert "ollama/fast" in latency
    assert "%" in latency
    prompts = page.locator("#prompts tbody").inner_text()
    assert "v1" in prompts
    assert "v2" in prompts
    assert "3 of 3" in prompts  # every summary case has a new prompt
    screenshot(page, tmp_path, "compare")
    # also by the names `llmbench` takes: last~1 and last
    page.goto(f"{base}/compare/last~1/last")
    assert page.locator('#flips tr[data-flip="broke"]').count() == broke.count()
    only_local(visit, base)


def test_an_unknown_run_is_a_404_page(visit: Visit, base: str) -> None:
    response = visit.page.goto(f"{base}/runs/nope")
    assert response is not None
    assert response.status == 404
    assert "no run 'nope'" in visit.page.inner_text("body")


# --------------------------------------------------------------------------- hostile answers


def test_hostile_answers_are_inert_and_the_huge_one_is_clipped(visit: Visit, base: str) -> None:
    page = visit.page
    response = page.goto(f"{base}/runs/{RUNS[2]}")
    assert response is not None
    headers = response.headers
    assert "script-src 'sha256-" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    body = page.inner_text("body")
    assert "<script>window.__pwned = 1</script>PASS"[:40] in body  # shown as text
    assert "\\x1b[31mPASS" in body  # the terminal escape, shown escaped
    assert page.locator("script").count() == 1  # the page's own
    assert page.locator("img").count() == 0
    assert len(page.content()) < 400_000  # the 1 MB answer is not on the run page
    page.goto(f"{base}/cases/{RUNS[2]}/grading/GRADE_FAIL_002")
    hostile = page.locator(".side > div.answer", has_text="ollama/hostile").first
    assert len(hostile.locator("pre.clipped").inner_text()) < 5_000
    whole = hostile.locator("details.whole")
    assert f"{HUGE:,} characters" in whole.locator("summary").inner_text()
    assert not whole.locator("pre").is_visible()
    whole.locator("summary").click()
    assert HUGE_MARK in whole.locator("pre").inner_text()
    page.goto(f"{base}/cases/{RUNS[2]}/grading/GRADE_FAIL_001")
    assert page.locator("img").count() == 0
    assert '<img src=x onerror="window.__pwned = 2">' in page.inner_text("body")
    only_local(visit, base)


# --------------------------------------------------------------------------- --static


def test_static_pages_work_from_disk(
    visit: Visit, history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    assert cli.main(["--history", str(history), "view", "--static", str(out)]) == 0
    assert "page(s) written" in capsys.readouterr().out
    page = visit.page
    page.goto((out / "index.html").as_uri())
    assert page.locator("#runs tbody tr").count() == 3
    page.locator(f"#runs a:text('{RUNS[2]}')").click()
    page.wait_for_url("**/runs/*.html")
    page.locator('form[data-target="grid-0"] input[data-flag=flaky]').check()
    assert shown_rows(page, "grid-0") == [FLAKY[1]]  # the script runs from a file too
    page.locator(f'#grid-0 tr[data-case="{FLAKY[1]}"] th a').click()
    assert page.locator("h1").inner_text() == f"Case {FLAKY[1]}"
    page.goto((out / "tasks" / "grading.html").as_uri())
    page.locator("#timeline a:text('vs previous')").first.click()
    assert page.locator('#flips tr[data-flip="broke"]').count() >= 1
    assert all(url.startswith("file://") for url in visit.requests)
    assert visit.errors == []


def test_view_without_a_history_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.sqlite"
    assert cli.main(["view", "--history", str(missing), "--static", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err.startswith("llmbench view: no history at")
    assert cli.main(["view", "--history", str(missing)]) == 1
