"""The pytest entry point: options, markers and thin hooks that delegate."""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis.notes import annotate
from pytest_llmbench.analysis.ranking import POLICIES
from pytest_llmbench.cases.model import looks_like_case_file
from pytest_llmbench.execution.cache import MODES
from pytest_llmbench.execution.results import Result
from pytest_llmbench.plugin import defaults, hookspec
from pytest_llmbench.plugin import persistence as tracking
from pytest_llmbench.plugin.distribute import Crash, parse_case_id
from pytest_llmbench.plugin.items import NEXT_KEY, RESULT_KEY, RESUMED_KEY, CaseFile, CaseItem
from pytest_llmbench.plugin.session import (
    BENCH_KEY,
    BenchSession,
    get_bench,
    parse_dist_mode,
    parse_threshold,
)
from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.providers.redaction import redact_data
from pytest_llmbench.reporting.terminal import detail_lines, summary_lines
from pytest_llmbench.selection.rules import SizeError, parse_size
from pytest_llmbench.storage.json_report import json_document

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
WORKER_KEY = "llmbench"


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


def _size(value: str) -> str:
    """Check ``--llm-max-size`` at parse time; the text is kept for the header."""
    try:
        parse_size(value)
    except SizeError as exc:
        raise pytest.UsageError(f"--llm-max-size: {exc}") from None
    return value


def _cache_mode(value: str) -> str:
    if value not in MODES:
        raise pytest.UsageError(f"--llm-cache must be one of {', '.join(MODES)}, got {value!r}")
    return value


def _policy(value: str) -> str:
    if value not in POLICIES:
        raise pytest.UsageError(f"--llm-rank: expected strict or weighted, got {value!r}")
    return value


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
        help="add a GGUF file as embedded model llamacpp/NAME (repeatable); "
        "'NAME=PATH chat_format=FORMAT' also sets its llama-cpp-python chat format.",
    )
    group.addoption(
        "--llm-exclude",
        metavar="GLOB",
        action="append",
        default=None,
        help="leave out models matching GLOB (provider/name or name; repeatable, "
        "comma-separated) from 'all', provider and glob selections. Default: none.",
    )
    group.addoption(
        "--llm-max-size",
        metavar="SIZE",
        type=_size,
        default=None,
        help="leave out models bigger than SIZE (8GB, 500MB, 7.5G; decimal like Ollama) "
        "from 'all', provider and glob selections. Default: no limit.",
    )
    group.addoption(
        "--llm-prefetch",
        choices=("on", "off"),
        default=None,
        help="on: while pytest records a remote model's answer (Ollama, OpenAI-compatible), "
        "its next request is already sent, one in flight at a time, so the server never "
        "idles between cases; off: strictly one call after the other. Default: on.",
    )
    group.addoption(
        "--llm-keep-loaded",
        action="store_true",
        default=None,
        help="do not unload a model after its last case (Ollama keeps it 30 min). "
        "Default: unload it.",
    )
    group.addoption(
        "--llm-rank",
        metavar="POLICY",
        type=_policy,
        default=None,
        help="rank every task by POLICY: strict (all correct, then fastest) or weighted "
        "(quality and speed weights). Default: each task's ranking.policy, else strict.",
    )
    group.addoption(
        "--llm-generic-threshold",
        metavar="RATIO",
        type=parse_threshold,
        default=None,
        help="fail json/text answers at least this similar (0-1) to the same model's answer "
        "to another case; 'off' to disable. Default: the llm_generic_threshold ini, else 0.9.",
    )
    group.addoption(
        "--llm-prices",
        metavar="FILE",
        default=None,
        help="YAML price table (pattern: {input: $/M, output: $/M} or {hourly: $}) for the "
        "cost per 1,000 requests; before the llm_prices ini lines.",
    )
    group.addoption(
        "--llm-endpoint",
        metavar="NAME=URL",
        action="append",
        default=None,
        help="add an OpenAI-compatible endpoint as provider NAME (repeatable): "
        "'NAME=URL [key_env=VAR] [models=a,b] [structured=auto|json_schema|json_object|none]'. "
        "The key is read from $VAR, never given here.",
    )
    group.addoption(
        "--llm-cache",
        metavar="MODE",
        type=_cache_mode,
        default=None,
        help="response cache: off, read (answers from the cache only, no model called), "
        "write (store live answers) or readwrite. Default: off.",
    )
    group.addoption(
        "--llm-cache-dir",
        metavar="PATH",
        default=None,
        help="where the response cache lives. Default: .llmbench/cache under the rootdir.",
    )
    group.addoption(
        "--llm-dist",
        metavar="MODE",
        type=parse_dist_mode,
        default=None,
        help="under xdist (-n): 'model' keeps each model's items on one worker (loaded once) "
        "and spreads the workers over the Ollama hosts; 'xdist' leaves it to --dist (a model "
        "may then be loaded by several workers at once). Default: the llm_dist ini, else model.",
    )
    tracking.add_options(group)
    parser.addini("llm_models", "default for --llm-models", default="all")
    parser.addini(
        "llm_openai_endpoints",
        "OpenAI-compatible endpoints, 'NAME = URL [key_env=VAR] [models=a,b]' one a line",
        type="linelist",
        default=[],
    )
    parser.addini("llm_cache", "default for --llm-cache", default="off")
    parser.addini("llm_cache_dir", "default for --llm-cache-dir", default="")
    parser.addini("llm_exclude", "default for --llm-exclude, one a line", type="linelist")
    parser.addini("llm_max_size", "default for --llm-max-size", default="")
    parser.addini("llm_keep_loaded", "default for --llm-keep-loaded", type="bool", default=False)
    parser.addini("llm_prefetch", "default for --llm-prefetch (on or off)", default="on")
    parser.addini(
        "llm_ollama_lean_http",
        "Ollama generation over the plugin's lean HTTP/1.1 client on plain-http hosts without "
        "a proxy (false: always through the ollama client)",
        type="bool",
        default=True,
    )
    parser.addini(
        "llm_code_patterns",
        "globs of code-only model names/families left out of wide selections, one a line "
        "(replaces the defaults)",
        type="linelist",
    )
    parser.addini(
        "llm_vision_patterns",
        "globs of vision-only model names/families left out of wide selections, one a line "
        "(replaces the defaults)",
        type="linelist",
    )
    parser.addini(
        "llm_retries", "retries after HTTP 503 or a connection reset (default 3)", default="3"
    )
    parser.addini(
        "llm_retry_backoff",
        "seconds before the first retry; doubles for each next one (default 0.5)",
        default="0.5",
    )
    parser.addini(
        "llm_ollama_hosts", "default Ollama servers, one a line", type="linelist", default=[]
    )
    parser.addini("llm_timeout", "default for --llm-timeout (seconds)", default="120")
    parser.addini(
        "llm_gguf",
        "extra embedded GGUF models, NAME=PATH [chat_format=FORMAT] one a line",
        type="linelist",
        default=[],
    )
    parser.addini("llm_generic_threshold", "default for --llm-generic-threshold", default="0.9")
    parser.addini("llm_dist", "default for --llm-dist (model or xdist)", default="model")
    parser.addini(
        "llm_prices",
        "prices, one a line: 'PATTERN = INPUT OUTPUT' ($ per million tokens) "
        "or 'PATTERN = hourly PRICE'",
        type="linelist",
        default=[],
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
    if report.skipped and isinstance(item, CaseItem):
        bench = get_bench(item.config)
        if _without_result(item):
            # Skipped (a skip mark, a model the server lacks): nobody owes this run for it.
            bench.skip(item.task.name, item.case.id, item.repeat, item.model.id)
        # A model the server does not have: one "SKIPPED [n]" line per task file and
        # reason (at the task's line), not one per case, nor one pointing into the plugin.
        reason = bench.unavailable.get(item.model.id)
        if reason is not None:
            report.longrepr = (os.fspath(item.path), item.task.line, f"Skipped: {reason}")
    return report


def _without_result(item: CaseItem) -> bool:
    """No answer was recorded for it, nor taken over from an interrupted run's journal."""
    return RESULT_KEY not in item.stash and RESUMED_KEY not in item.stash


def _host(model: ModelInfo) -> str | None:
    host = model.details.get("host")
    return host if isinstance(host, str) else None


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class RunHooks:
    """Hooks bound to one run's :class:`BenchSession` (registered per config)."""

    def __init__(self, bench: BenchSession) -> None:
        self.bench = bench

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> Generator[None, None, None]:
        bench = self.bench
        if bench.selection_error:
            raise pytest.UsageError(bench.selection_error)
        yield
        # One model's items run together (a model stays loaded; Ollama never swaps), in
        # the selection's order, which every xdist worker computes the same way.  The
        # outermost wrapper (registered after the cache plugin's --ff/--nf wrappers),
        # so it sorts last: a stable sort keeps their order within a model.
        order = {m.id: i for i, m in enumerate(bench.all_models())} if bench.case_counts else {}
        if order:
            items.sort(key=lambda it: order.get(getattr(getattr(it, "model", None), "id", ""), -1))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        # After every deselection (-k, -m, --lf): the runs each model of a task owes.
        for item in session.items:
            if isinstance(item, CaseItem):
                self.bench.expect(item.task.name, item.case.id, item.repeat, item.model.id)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = getattr(report, "llmbench_result", None)
        if report.when == "call" and isinstance(record, dict):
            self.bench.add_result(Result.from_dict(record))
            worker = getattr(report, "worker_id", None)  # set by xdist on the controller
            if isinstance(worker, str):
                self.bench.distribution.record(str(record.get("model")), worker)

    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        if getattr(report, "llmbench_crash", False):
            return "error", "E", "ERROR"  # the case did not fail: its worker died
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # The item may send its successor's request ahead (see pipeline): tell it which.
        if isinstance(item, CaseItem) and isinstance(nextitem, CaseItem):
            item.stash[NEXT_KEY] = nextitem

    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # Unload a model after its last item on this process (the next one is another's).
        model = getattr(item, "model", None)
        if isinstance(model, ModelInfo) and model.id in self.bench.loaded:
            following = getattr(nextitem, "model", None)
            if not isinstance(following, ModelInfo) or following.id != model.id:
                self.bench.release(model)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config = session.config
        self.bench.release_all()
        if hasattr(config, "workerinput"):
            config.workeroutput[WORKER_KEY] = self.bench.worker_output()  # type: ignore[attr-defined]
            return
        bench = self.bench
        bench.results.extend(bench.distribution.crash_results(bench.task_facts))
        bench.rankings = [
            config.hook.pytest_llmbench_rank(
                config=config,
                task=task,
                results=[r for r in bench.results if r.task == task],
                expected=bench.expected_runs(task),
            )
            for task in bench.task_names()
        ]
        # Cache use and structured-output fallbacks, whatever policy ranked the task.
        bench.rankings = [
            annotate(ranking, [r for r in bench.results if r.task == ranking.task])
            for ranking in bench.rankings
        ]
        if session.exitstatus == pytest.ExitCode.OK and bench.generic_failures():
            # Every item passed its own checks, but some answers fail the session-level
            # generic-answer check: the run must not look green.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if bench.options.json_path is not None:
            run = bench.run_info(int(session.exitstatus))
            doc = redact_data(json_document(run, bench.results, bench.rankings))
            path = bench.options.json_path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    # -- xdist (controller) --------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        from pytest_llmbench.plugin.scheduler import make_scheduler

        bench = self.bench

        def hosts() -> dict[str, str | None]:
            # The controller collects nothing: it asks the providers itself where each
            # model is served (the same answer every worker computes).
            return {m.id: _host(m) for m in bench.models()}

        return make_scheduler(
            config,
            log,
            mode=bench.options.dist,
            providers=bench.registry.names(),
            hosts=hosts,
            distribution=bench.distribution,
            report=self._say,
        )

    def _say(self, lines: list[str]) -> None:
        reporter = self.bench.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for line in lines:
                reporter.write_line(line, yellow="WARNING" in line)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """xdist controller: take in what a worker collected (case counts, policies, loads)."""
        worker = str(node.gateway.id)
        if error is not None:
            self.bench.distribution.down[worker] = _one_line(error)
        data = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if isinstance(data, dict):
            self.bench.merge_worker_output(data, worker)

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        """A worker died while running ``crashitem``: an error with the reason, and a record."""
        bench = self.bench
        worker = str(report.node.gateway.id)
        reason = bench.distribution.down.get(worker, "it went down")
        case = parse_case_id(crashitem, bench.registry.names(), bench.distribution.hosts.keys())
        crash = Crash(worker, crashitem, reason, case)
        bench.distribution.crashes.append(crash)
        if case is None:
            return
        report.llmbench_crash = True  # type: ignore[attr-defined]
        report.longrepr = crash.message()
        report.location = (case.path, None, crashitem.split("::", 1)[-1])

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        bench = self.bench
        if not bench.rankings:
            return
        terminalreporter.section("llmbench ranking")
        for line in summary_lines(bench.rankings, bench.case_counts):
            terminalreporter.write_line(line)
        if terminalreporter.verbosity > 0:
            for line in detail_lines(bench.rankings):
                terminalreporter.write_line(line)
        for line in bench.distribution.summary_lines(bench.results):
            terminalreporter.write_line(line, yellow="WARNING" in line or "crashed" in line)
        failures = bench.generic_failures()
        if failures:
            terminalreporter.write_line(
                f"llmbench: {failures} run(s) failed the generic-answer check (see above), "
                "so the run fails",
                red=True,
            )
        if bench.options.json_path is not None:
            terminalreporter.write_line(f"llmbench: results written to {bench.options.json_path}")
