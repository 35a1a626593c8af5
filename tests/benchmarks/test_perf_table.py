"""``tests/benchmarks/perf_table.py``: the docs' performance table from benchmark JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks import perf_table
from tests.benchmarks.perf_table import END, START, main, readme_row

HERE = Path(__file__).resolve().parent

README = f"""# Project

Some prose before.

## Performance

How the figures are made.

{START}

| what | target | measured |
|---|---|---|
| a row typed by hand | < 1 s | 0.5 s |
| <!-- perf:memory-json 2026-01-01 abc1234 --> memory with json | <= 250 MiB | **300 MiB** |

{END}

**Notes.** Prose after the table | with a pipe.

## Development
"""


def _bench(key: str, measured: str, what: str = "a figure") -> dict[str, Any]:
    row = {"key": key, "what": what, "target": "< 1 ms", "measured": measured}
    return {"name": f"test_{key}", "extra_info": {"readme": row, "other": 1}}


def _doc(*benchmarks: dict[str, Any]) -> dict[str, Any]:
    return {
        "datetime": "2026-11-25T19:00:00.000000+00:00",
        "commit_info": {"id": "611aa40f00", "dirty": True},
        "benchmarks": [*benchmarks, {"name": "test_without_a_row", "extra_info": {}}],
    }


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    return readme, tmp_path / "bench.json"


def _run(readme: Path, bench: Path, doc: dict[str, Any]) -> int:
    bench.write_text(json.dumps(doc))
    return main([str(bench), "--readme", str(readme)])


def test_the_table_is_rewritten_between_the_markers_and_nothing_else(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    readme, bench = files
    doc = _doc(
        _bench("startup-cpu", "**+0.12 s** | ok"),
        _bench("collection", "**1.9 s**", what="collecting\n  20,000 items"),
        _bench("a-new-one", "42"),
    )
    assert _run(readme, bench, doc) == 0
    text = readme.read_text()
    before, rest = text.split(START + "\n")
    table, after = rest.split(END + "\n")
    assert before == README.split(START + "\n")[0]
    assert after == README.split(END + "\n")[1]
    assert table.splitlines() == [
        "",
        "| what | target | measured |",
        "|---|---|---|",
        # in the module's ORDER; a key it does not know last; every cell on one line
        "| <!-- perf:collection 2026-11-25 611aa40 --> collecting 20,000 items | < 1 ms | "
        "**1.9 s** |",
        "| <!-- perf:startup-cpu 2026-11-25 611aa40 --> a figure | < 1 ms | **+0.12 s** \\| ok |",
        # a row no benchmark of this JSON wrote stays as it was
        "| <!-- perf:memory-json 2026-01-01 abc1234 --> memory with json | <= 250 MiB | "
        "**300 MiB** |",
        "| <!-- perf:a-new-one 2026-11-25 611aa40 --> a figure | < 1 ms | 42 |",
        "",
    ]
    assert capsys.readouterr().out.splitlines() == [
        "added: startup-cpu",
        "added: collection",
        "added: a-new-one",
        "kept: memory-json",
        "dropped (no key): | a row typed by hand | < 1 s | 0.5 s |",
    ]
    # Again with the same JSON: the same file.
    assert _run(readme, bench, doc) == 0
    assert readme.read_text() == text


def test_a_row_from_the_json_replaces_the_row_with_its_key(files: tuple[Path, Path]) -> None:
    readme, bench = files
    assert _run(readme, bench, _doc(_bench("memory-json", "**200 MiB**"))) == 0
    rows = [line for line in readme.read_text().splitlines() if "perf:memory-json" in line]
    assert rows == [
        "| <!-- perf:memory-json 2026-11-25 611aa40 --> a figure | < 1 ms | **200 MiB** |"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no table\n", f"no {START} and {END} line"),
        (f"{START}\n| a | b | c |\n", f"no {END} line"),
        (f"{END}\n{START}\n", "one <!-- perf-table:start --> line, then one"),
        (f"{START}\n{END}\n{START}\n{END}\n", "one <!-- perf-table:start --> line, then one"),
    ],
)
def test_missing_or_misplaced_markers_are_one_clear_error(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    readme, bench = files
    readme.write_text(text)
    assert _run(readme, bench, _doc(_bench("collection", "1 s"))) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"perf_table: {readme}: ")
    assert message in err
    assert err.count("\n") == 1
    assert readme.read_text() == text  # untouched


def test_a_json_without_rows_or_unreadable_is_an_error(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    readme, bench = files
    assert _run(readme, bench, _doc()) == 2
    assert "no benchmark row to write" in capsys.readouterr().err
    bench.write_text("{not json")
    assert main([str(bench), "--readme", str(readme)]) == 2
    assert f"cannot read {bench}" in capsys.readouterr().err
    assert readme.read_text() == README


def test_readme_row_keeps_the_row_with_the_load_average(monkeypatch: pytest.MonkeyPatch) -> None:
    figures: list[tuple[str, str, str, float]] = []
    monkeypatch.setattr(perf_table, "FIGURES", figures)  # not in this run's summary

    class Bench:
        def __init__(self) -> None:
            self.extra_info: dict[str, Any] = {}

    bench = Bench()
    readme_row(bench, "collection", what="w", target="t", measured="**1 s**")
    row = bench.extra_info["readme"]
    assert row["key"] == "collection"
    assert row["measured"].startswith("**1 s** (load average ")
    assert [figure[:3] for figure in figures] == [("collection", "**1 s**", "t")]


def test_the_command_runs_as_a_script(files: tuple[Path, Path]) -> None:
    readme, bench = files
    bench.write_text(json.dumps(_doc(_bench("collection", "**1.9 s**"))))
    done = subprocess.run(
        [sys.executable, str(HERE / "perf_table.py"), str(bench), "--readme", str(readme)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "perf:collection" in readme.read_text()


def test_the_table_lives_in_the_docs_performance_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The repository's page has the markers around keyed rows only.
    page = HERE.parents[1] / "docs" / "performance.md"
    _, table, _ = perf_table._split(page.read_text("utf-8"))
    keyed, unkeyed = perf_table._kept_rows(table)
    assert keyed
    assert unkeyed == []
    # Without --readme the command rewrites docs/performance.md where it is started.
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "performance.md").write_text(README)
    (tmp_path / "bench.json").write_text(json.dumps(_doc(_bench("collection", "**1.9 s**"))))
    monkeypatch.chdir(tmp_path)
    assert main(["bench.json"]) == 0
    assert "perf:collection" in (tmp_path / "docs" / "performance.md").read_text()
