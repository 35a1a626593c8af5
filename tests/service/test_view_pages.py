"""``llmbench view`` without a browser: the app's answers (Starlette's test client), the
links of both modes, clipping, the Content-Security-Policy and the compare rows."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pytest_llmbench.analysis.ranking import rank_task
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.service.view import compare
from pytest_llmbench.service.view.app import create_app
from pytest_llmbench.service.view.markup import (
    CSP,
    SCRIPT,
    Links,
    answer_block,
    clipped,
    slug,
    text,
)
from pytest_llmbench.service.view.queries import run_rows, task_points
from pytest_llmbench.storage.champions import Evidence, RegistryEntry, write_registry
from pytest_llmbench.storage.history import load_run, record_run
from tests.support.view_history import (
    FLIP,
    HUGE_MARK,
    RUNS,
    START,
    SUSPECT,
    run_record,
    small_history,
    verdict,
)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_history(tmp_path_factory.mktemp("pages") / "history.sqlite")


@pytest.fixture(scope="module")
def client(history: Path) -> TestClient:
    return TestClient(create_app(history))


def test_every_page_answers_with_the_policy(client: TestClient) -> None:
    for path in (
        "/",
        f"/runs/{RUNS[2]}",
        f"/cases/{RUNS[2]}/grading/GRADE_PASS_001",
        "/tasks/grading",
        f"/compare/{RUNS[0]}/{RUNS[2]}",
        "/compare/last~1/last",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        without_namespaces = response.text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "http://" not in without_namespaces  # no URL to fetch anything from
        assert "https://" not in without_namespaces


def test_unknown_things_are_404_pages(client: TestClient) -> None:
    assert client.get("/runs/zzz").status_code == 404
    assert client.get("/tasks/nope").status_code == 404
    assert client.get(f"/cases/{RUNS[2]}/grading/NOPE").status_code == 404
    missing = client.get(f"/compare/{RUNS[0]}/zzz")
    assert missing.status_code == 404
    assert "no run &#x27;zzz&#x27;" in missing.text


def test_the_app_only_reads(client: TestClient) -> None:
    assert client.post("/").status_code == 405
    assert client.delete(f"/runs/{RUNS[0]}").status_code == 405


def test_the_policy_allows_exactly_the_page_script() -> None:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in CSP
    assert "default-src 'none'" in CSP


def test_untrusted_text_is_escaped_masked_and_clipped() -> None:
    assert text("<b>\x1b[31m") == "&lt;b&gt;\\x1b[31m"
    assert text('say "x"') == "say &quot;x&quot;"
    assert "***" in text("Authorization: Bearer sk-abcdefghijkl")
    assert clipped("a" * 100, 10) == "a" * 10 + "…"
    whole = "<i>" + "y" * 10_000 + HUGE_MARK
    block = answer_block(whole)
    assert block.count(HUGE_MARK) == 1  # only in the whole, behind the fold
    assert "<details" in block
    assert "<i>" not in block
    assert answer_block("short") == '<pre class="ans">short</pre>'


def test_links_of_the_app_and_of_the_static_files() -> None:
    app, page = Links(), Links(static=True, depth=1)
    assert app.run("r 1") == "/runs/r%201"
    assert app.case("r", "t", "a/b?c#d") == "/cases/r/t/a%2Fb%3Fc%23d"
    assert app.compare("a", "b") == "/compare/a/b"
    assert Links(static=True).home() == "index.html"
    assert page.home() == "../index.html"
    assert page.run("r1") == "../runs/r1.html"
    assert page.case("r1", "t", "C_1") == "../cases/r1--t--C_1.html"
    assert slug("../../etc/passwd").startswith("_.._etc_passwd-")
    assert slug("a/b") != slug("a_b")


def test_a_case_id_with_a_slash_has_its_page(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    small_history(path)
    stored = load_run(path, RUNS[0])
    odd = [replace(r, case_id="odd/case?#1") for r in stored.results if r.task == "grading"]
    run = {**stored.run, "id": "odd-run", "started_at": "2027-01-01T00:00:00+00:00"}
    record_run(path, run, odd, [rank_task("grading", odd)])
    client = TestClient(create_app(path))
    page = client.get("/runs/odd-run").text
    href = re.search(r'href="(/cases/odd-run/grading/[^"]+)"', page)
    assert href is not None
    response = client.get(href.group(1))
    assert response.status_code == 200
    assert "Case odd/case?#1" in response.text


def test_queries_read_the_runs_and_a_task_over_time(history: Path) -> None:
    rows = run_rows(history)
    assert [r.id for r in rows] == list(reversed(RUNS))
    assert rows[0].champions["grading"][0] == "ollama/careful"
    assert rows[1].cache_only
    assert rows[0].branch == "main"
    assert "summary" not in rows[2].tasks
    points = task_points(history, "grading")
    assert [p.run for p in points] == list(RUNS)
    champion = points[-1].holder("champion")
    assert champion is not None
    assert champion.model == "ollama/careful"
    assert champion.p50_ms is not None
    assert champion.p95_ms is not None
    assert champion.p50_ms <= champion.p95_ms


def test_compare_finds_the_flip_the_fixes_and_the_new_prompts(history: Path) -> None:
    a, b = load_run(history, RUNS[1]), load_run(history, RUNS[2])
    flips = compare.flips(a, b)
    broke = {(f.model, f.case_id) for f in flips if not f.fixed}
    fixed = {(f.model, f.case_id) for f in flips if f.fixed}
    assert FLIP in broke
    assert ("ollama/steady", SUSPECT) in fixed
    [grading] = [c for c in compare.champions(a, b) if c.task == "grading"]
    assert (grading.before, grading.after, grading.changed) == (
        "ollama/fast",
        "ollama/careful",
        True,
    )
    fast = next(
        c for c in compare.latency_changes(a, b) if c.model == "ollama/fast" and c.task == "grading"
    )
    assert fast.paired == 12
    assert fast.diff_ms is not None
    assert fast.diff_ms > 400
    [summary] = [p for p in compare.prompt_versions(a, b) if p.task == "summary"]
    assert summary.before == (("v1", "aa11"),)
    assert summary.after == (("v2", "bb22"),)
    assert len(summary.changed) == summary.cases == 3


def test_the_task_page_shows_the_registry_why(history: Path, tmp_path: Path) -> None:
    registry = tmp_path / "llmbench-registry.yaml"
    why = f"ollama/careful replaced ollama/fast as champion in run {RUNS[2]} (<b>334 ms</b>)"
    champion = Evidence("ollama/careful", 12, 12, 334.0, run=RUNS[2])
    write_registry(registry, {"grading": RegistryEntry("grading", champion, why=why)})
    page = TestClient(create_app(history, registry)).get("/tasks/grading").text
    assert "Champion <b>ollama/careful</b>" in page
    assert "(&lt;b&gt;334 ms&lt;/b&gt;)" in page  # the why, escaped
    assert "Succession of champions (1 change(s))" in page


CASE_FILE = """\
task: grading
system: You are a strict grader.
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    vars: {posting: "<b>Nordhafen Bank</b> hires a Data Engineer"}
"""


def test_a_case_page_shows_the_prompt_from_the_case_file(tmp_path: Path) -> None:
    evals = tmp_path / "evals"
    evals.mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    case_file = evals / "grading.yaml"
    case_file.write_text(CASE_FILE)
    sent = load_task(case_file, root=tmp_path).cases[0].prompt_hash
    path = tmp_path / "h.sqlite"
    results = [
        verdict("grading", "GRADE_PASS_001", model, True, 100.0, prompt_hash=sent)
        for model in ("p/a", "p/b")
    ]
    run = run_record("r1", START, ["p/a", "p/b"], rootdir=str(tmp_path), args=["evals", "-q"])
    record_run(path, run, results, [rank_task("grading", results)])
    client = TestClient(create_app(path))
    page = client.get("/cases/r1/grading/GRADE_PASS_001").text
    assert "As sent in this run" in page
    assert "Posting: &lt;b&gt;Nordhafen Bank&lt;/b&gt; hires a Data Engineer" in page
    assert "You are a strict grader." in page
    case_file.write_text(CASE_FILE.replace("PASS or FAIL", "PASS or FAIL, nothing else"))
    page = client.get("/cases/r1/grading/GRADE_PASS_001").text
    assert "The case file has changed since this run" in page
    assert "nothing else" in page
    elsewhere = TestClient(create_app(path, cases=tmp_path / "nowhere"))
    page = elsewhere.get("/cases/r1/grading/GRADE_PASS_001").text
    assert "no case file of this task was found" in page
