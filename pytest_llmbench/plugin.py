"""The pytest entry point: options, markers and thin hooks that delegate."""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path

import pytest

from . import defaults, hookspec, tracking
from .cases import looks_like_case_file
from .collect import RESULT_KEY, CaseFile
from .render import json_document, summary_lines
from .results import Result
from .session import BENCH_KEY, BenchSession, get_bench

MARKERS = (
    "llmbench: an LLM gold case run by pytest-llmbench",
    "easy: case difficulty easy (pytest-llmbench)",
    "medium: case difficulty medium (pytest-llmbench)",
    "hard: case difficulty hard (pytest-llmbench)",
    "batch(n): the case's batch number (pytest-llmbench); select with -m 'batch(n=1)'",
    "tag(name): a case tag (pytest-llmbench); each tag is also a marker of its own name",
    "should_pass: the gold verdict is the passing label (pytest-llmbench)",
    "should_fail: the gold verdict is a failing label (pytest-llmbench)",
)
CASE_SUFFIXES = (".yaml", ".yml")


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise pytest.UsageError(f"expected a number of seconds, got {value!r}") from None
    if number <= 0:
        raise pytest.UsageError(f"expected a positive number of seconds, got {value!r}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise pytest.UsageError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise pytest.UsageError(f"expected a whole number of at least 1, got {value!r}")
    return number


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmbench", "pytest-llmbench: benchmark LLMs on YAML gold cases")
    group.addoption(
        "--llm-models",
        metavar="SPEC",
        default=None,
        help="models to run: 'all', a provider ('llamacpp'), provider/name, globs "
        "('ollama/qwen*'), comma-separated, or @FILE (one a line). "
        "Default: the llm_models ini value, else 'all'.",
    )
    group.addoption(
        "--llm-ollama-host",
        metavar="URL",
        action="append",
        default=None,
        help="Ollama server (repeatable). Default: $OLLAMA_HOST, else http://127.0.0.1:11434.",
    )
    group.addoption(
        "--llm-timeout",
        metavar="SECONDS",
        type=_positive_float,
        default=None,
        help="timeout of one model call. Default: 120.",
    )
    group.addoption(
        "--llm-repeat",
        metavar="N",
        type=_positive_int,
        default=None,
        help="run every case N times (overrides a task's 'repeat'). Default: 1.",
    )
    group.addoption(
        "--llm-json",
        metavar="PATH",
        default=None,
        help="write every result and the ranking per task to PATH as JSON.",
    )
    group.addoption(
        "--llm-gguf",
        metavar="NAME=PATH",
        action="append",
        default=None,
        help="add a GGUF file as embedded model llamacpp/NAME (repeatable).",
    )
    tracking.add_options(group)
    parser.addini("llm_models", "default for --llm-models", default="all")
    parser.addini(
        "llm_ollama_hosts", "default Ollama servers, one a line", type="linelist", default=[]
    )
    parser.addini("llm_timeout", "default for --llm-timeout (seconds)", default="120")
    parser.addini(
        "llm_gguf", "extra embedded GGUF models, NAME=PATH one a line", type="linelist", default=[]
    )


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspec)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.pluginmanager.register(defaults, "llmbench-defaults")
    bench = BenchSession(config)
    config.stash[BENCH_KEY] = bench
    config.pluginmanager.register(RunHooks(bench), "llmbench-run")
    config.pluginmanager.register(tracking.Tracker(config, bench), "llmbench-tracking")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    if file_path.suffix not in CASE_SUFFIXES:
        return None
    try:
        text = file_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not looks_like_case_file(text):
        return None
    return CaseFile.from_parent(parent, path=file_path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    bench = get_bench(config)
    if bench.selection_error:
        raise pytest.UsageError(bench.selection_error)
    # One model's items run together (a model stays loaded; Ollama never swaps).
    order = {m.id: i for i, m in enumerate(bench.all_models())} if bench.case_counts else {}
    if order:
        items.sort(key=lambda it: order.get(getattr(getattr(it, "model", None), "id", ""), -1))


def pytest_report_collectionfinish(config: pytest.Config) -> list[str]:
    bench = get_bench(config)
    return bench.header_lines() if bench.case_counts else []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "call" and RESULT_KEY in item.stash:
        report.llmbench_result = item.stash[RESULT_KEY].to_dict()  # type: ignore[attr-defined]
    return report


class RunHooks:
    """Hooks bound to one run's :class:`BenchSession` (registered per config)."""

    def __init__(self, bench: BenchSession) -> None:
        self.bench = bench

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "llmbench_result", None)
        if report.when == "call" and isinstance(record, dict):
            self.bench.add_result(Result.from_dict(record))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config = session.config
        if hasattr(config, "workerinput"):
            return
        bench = self.bench
        bench.rankings = [
            config.hook.pytest_llmbench_rank(
                config=config, task=task, results=[r for r in bench.results if r.task == task]
            )
            for task in bench.task_names()
        ]
        if bench.options.json_path is not None:
            doc = json_document(bench.run_info(int(exitstatus)), bench.results, bench.rankings)
            path = bench.options.json_path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        bench = self.bench
        if not bench.rankings:
            return
        terminalreporter.section("llmbench ranking")
        for line in summary_lines(bench.rankings, bench.case_counts):
            terminalreporter.write_line(line)
        if bench.options.json_path is not None:
            terminalreporter.write_line(f"llmbench: results written to {bench.options.json_path}")
