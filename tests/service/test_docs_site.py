"""The docs site: ``mkdocs build --strict`` passes, and one page works in a real browser.

The site is built from ``mkdocs.yml`` into a temporary folder (the test skips when
MkDocs is not installed: ``pip install -e '.[docs]'``), served on 127.0.0.1, and its
quick-start page opened in Debian's headless chromium (playwright; no browser download):
the page renders its heading and code, the navigation names every section of
``mkdocs.yml``'s nav, the search box is there and answers a query, and the page asks
no other server for anything.
"""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.view_history import CHROMIUM, CHROMIUM_ARGS, chromium_ready

ROOT = Path(__file__).resolve().parents[2]


def _nav_titles(nav: list[Any]) -> list[str]:
    """The section titles of mkdocs.yml's nav (top level; a group's pages too)."""
    titles = []
    for entry in nav:
        for title, target in entry.items():
            titles.append(title)
            if isinstance(target, list):
                titles += _nav_titles(target)
    return titles


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="needs MkDocs: pip install -e '.[docs]'")
    pytest.importorskip("material", reason="needs mkdocs-material: pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return out


def test_the_site_builds_strictly_with_every_page(site: Path) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text("utf-8"))
    pages: list[str] = []

    def walk(nav: list[Any]) -> None:
        for entry in nav:
            for target in entry.values():
                if isinstance(target, list):
                    walk(target)
                else:
                    pages.append(target)

    walk(config["nav"])
    assert "quick-start.md" in pages
    for page in pages:
        built = site / ("index.html" if page == "index.md" else page[:-3] + "/index.html")
        assert built.is_file(), f"{page} was not built"
    assert (site / "search" / "search_index.json").is_file()


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.skipif(not chromium_ready(), reason=f"needs {CHROMIUM}")
def test_the_quick_start_page_in_a_browser(served: str) -> None:
    from playwright.sync_api import sync_playwright

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text("utf-8"))
    sections = _nav_titles(config["nav"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            requests: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(f"{served}/quick-start/", wait_until="load")
            assert page.locator("article h1").inner_text().startswith("Quick start")
            assert page.locator("article pre code").count() >= 1
            nav = page.locator("nav.md-nav--primary").inner_text()
            missing = [title for title in sections if title not in nav]
            assert missing == []
            search = page.locator("input.md-search__input")
            assert search.count() == 1
            search.click()
            search.type("champion", delay=20)  # key by key, as Material listens for keys
            page.wait_for_selector(".md-search-result__item", timeout=10_000)
            assert page.locator(".md-search-result__item").count() >= 1
            assert errors == []
            # Nothing from another server (no font CDN, no analytics).
            assert [url for url in requests if not url.startswith(served)] == []
        finally:
            browser.close()
