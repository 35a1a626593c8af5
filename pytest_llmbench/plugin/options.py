"""Every ``--llm-*`` option and ``llm_*`` ini key: declared, parsed and checked here.

:func:`add_options` declares them (``pytest_addoption``); each value that can be wrong
is checked by a ``parse_*`` function, used both as the option's ``type=`` (a bad value
fails at parse time) and for the ini value, so each is checked once, the same way.
:meth:`Options.from_config` turns the config into one frozen :class:`Options` that the
rest of the plugin reads.

Light on purpose (imported with the entry point): the layers it needs to build the
option values (selection rules, prices, endpoints) are imported in ``from_config``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pytest_llmbench.execution.prices import PriceTable
    from pytest_llmbench.providers.endpoints import Endpoint
    from pytest_llmbench.selection.rules import Rules

__all__ = [
    "DIST_MODES",
    "FAIL_ON",
    "GENERIC_OFF",
    "Options",
    "add_options",
    "allowed_file_roots",
    "option_path",
    "parse_dist_mode",
    "parse_threshold",
    "registry_path",
]

DIST_MODES = ("model", "xdist")
FAIL_ON = ("case", "champion")
DEFAULT_REGISTRY_PATH = "__default__"
"""What ``--llm-update-registry`` holds when given without a path."""

GENERIC_OFF = math.inf
"""What ``parse_threshold("off")`` returns: a similarity no answer reaches."""


# -- parsing: one function per kind of value, raising a usage error that names the option


MAX_REPEAT = 1000
"""The most repeats ``--llm-repeat`` (and a case file's ``repeat:``) may ask for."""
MAX_TIMEOUT_S = 86400.0
"""The longest ``--llm-timeout``: one day."""
MAX_RETRIES = 10
"""The most retries ``llm_retries`` may ask for."""


def parse_timeout(value: str, name: str = "--llm-timeout") -> float:
    """A positive, finite number of seconds, at most :data:`MAX_TIMEOUT_S`."""
    try:
        number = float(value)
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a number of seconds, got {value!r}") from None
    if not math.isfinite(number):
        raise pytest.UsageError(
            f"{name}: expected a finite number of seconds, got {value!r} "
            f"(at most {MAX_TIMEOUT_S:g})"
        )
    if number <= 0:
        raise pytest.UsageError(f"{name}: expected a positive number of seconds, got {value!r}")
    if number > MAX_TIMEOUT_S:
        raise pytest.UsageError(
            f"{name}: expected at most {MAX_TIMEOUT_S:g} seconds (one day), got {value!r}"
        )
    return number


_HOSTNAME = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$|^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$"
)


def parse_ollama_host(value: str, name: str = "--llm-ollama-host") -> str:
    """An Ollama server: ``[http[s]://]HOST[:PORT][/path]`` with a port from 1 to 65535."""
    import urllib.parse

    from pytest_llmbench.safety.redaction import redact, register_secret

    text = value.strip()
    shown = redact(text)
    example = "give it as http://HOST:PORT, e.g. http://127.0.0.1:11434"
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
    if scheme.lower() not in ("http", "https"):
        raise pytest.UsageError(
            f"{name}: {shown!r} is not an Ollama server URL: Ollama speaks http or https, "
            f"not {scheme}; {example}"
        )
    split = urllib.parse.urlsplit(f"{scheme}://{rest}")
    register_secret(split.password)  # masked wherever it would show
    if not _HOSTNAME.match(split.hostname or ""):
        raise pytest.UsageError(f"{name}: {shown!r} has no valid host name; {example}")
    try:
        port = split.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise pytest.UsageError(
            f"{name}: {shown!r} has a bad port; a port is a number from 1 to 65535"
        )
    return text


def parse_repeat(value: str, name: str = "--llm-repeat") -> int:
    """A whole number from 1 to :data:`MAX_REPEAT`."""
    try:
        number = int(value)
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a whole number, got {value!r}") from None
    if number < 1:
        raise pytest.UsageError(f"{name}: expected a whole number of at least 1, got {value!r}")
    if number > MAX_REPEAT:
        raise pytest.UsageError(
            f"{name}: expected at most {MAX_REPEAT} repeats, got {value!r} "
            "(split a longer benchmark into several runs)"
        )
    return number


_VERSION_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def parse_prompt_versions(value: str) -> list[str]:
    """Comma-separated prompt version names (``v2`` or ``v1,v3``)."""
    names = [part.strip() for part in value.split(",") if part.strip()]
    bad = [name for name in names if not _VERSION_NAME.fullmatch(name)]
    if not names or bad:
        raise pytest.UsageError(f"expected prompt version names such as v2 or v1,v3, got {value!r}")
    return names


def parse_max_size(value: str, name: str = "--llm-max-size") -> str:
    """A size such as ``8GB`` (checked here; the text is kept for the header)."""
    from pytest_llmbench.selection.rules import SizeError, parse_size

    try:
        parse_size(value)
    except SizeError as exc:
        raise pytest.UsageError(f"{name}: {exc}") from None
    return value


def parse_cache_mode(value: str, name: str = "--llm-cache") -> str:
    from pytest_llmbench.execution.cache import MODES

    if value not in MODES:
        raise pytest.UsageError(f"{name} must be one of {', '.join(MODES)}, got {value!r}")
    return value


def parse_policy(value: str) -> str:
    from pytest_llmbench.analysis.ranking import POLICIES

    if value not in POLICIES:
        raise pytest.UsageError(f"--llm-rank: expected strict or weighted, got {value!r}")
    return value


def parse_dist_mode(value: str, name: str = "--llm-dist") -> str:
    """``--llm-dist``: ``model`` or ``xdist``."""
    mode = value.strip().casefold()
    if mode not in DIST_MODES:
        raise pytest.UsageError(f"{name}: expected model or xdist, got {value!r}")
    return mode


def parse_threshold(value: str, name: str = "--llm-generic-threshold") -> float:
    """``--llm-generic-threshold``: a similarity in (0, 1], or ``off``."""
    if value.strip().casefold() == "off":
        return GENERIC_OFF
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0 < number <= 1:
        raise pytest.UsageError(
            f"{name}: expected a similarity above 0 and at most 1, or 'off', got {value!r}"
        )
    return number


def parse_percent(value: str) -> float:
    """``--llm-max-slowdown``: a percentage (``20`` or ``20%``) as a fraction."""
    text = value.strip().removesuffix("%")
    try:
        number = float(text)
    except ValueError:
        raise pytest.UsageError(
            f"--llm-max-slowdown: expected a percentage such as 20 or 20%, got {value!r}"
        ) from None
    if not math.isfinite(number) or number < 0:
        raise pytest.UsageError(f"--llm-max-slowdown: expected 0 or more, got {value!r}")
    return number / 100.0


def _number(value: str, name: str, suffix: str, example: str) -> float:
    """``value`` as a number, ``suffix`` (a unit) allowed after it."""
    try:
        return float(value.strip().removesuffix(suffix).strip())
    except ValueError:
        raise pytest.UsageError(f"{name}: expected {example}, got {value!r}") from None


def parse_max_ms(value: str, name: str = "--llm-max-p95") -> float:
    """A positive number of milliseconds (``1500`` or ``1500ms``)."""
    number = _number(value, name, "ms", "milliseconds such as 1500")
    if not number > 0 or math.isinf(number):
        raise pytest.UsageError(
            f"{name}: expected a positive number of milliseconds, got {value!r}"
        )
    return number


def parse_rate(value: str, name: str = "--llm-max-error-rate") -> float:
    """A percentage from 0 to 100 (``5`` or ``5%``) as a fraction."""
    number = _number(value, name, "%", "a percentage such as 5 or 5%")
    if not 0 <= number <= 100:
        raise pytest.UsageError(f"{name}: expected a percentage from 0 to 100, got {value!r}")
    return number / 100.0


def parse_registry_file(value: str) -> str:
    """``--llm-update-registry PATH``: a YAML file, not a test path swallowed by the option."""
    if value != DEFAULT_REGISTRY_PATH and not value.endswith((".yaml", ".yml")):
        raise pytest.UsageError(
            f"--llm-update-registry: {value!r} is not a .yaml file; write "
            "--llm-update-registry=PATH.yaml, or put the option after the test paths"
        )
    return value


def parse_run_ref(value: str) -> str:
    """``--llm-resume RUN``: a run id, not a test path swallowed by the option."""
    if value != "latest" and ("/" in value or os.sep in value or os.path.exists(value)):
        raise pytest.UsageError(
            f"--llm-resume: {value!r} is a path, not a run id; write --llm-resume=RUN, "
            "or put the option after the test paths"
        )
    return value


def parse_prefetch(value: str) -> str:
    if value not in ("on", "off"):
        raise pytest.UsageError(f"--llm-prefetch must be on or off, got {value!r}")
    return value


def _ini_number(
    config: pytest.Config,
    name: str,
    kind: type[int] | type[float],
    low: float,
    high: float = math.inf,
) -> Any:
    text = str(config.getini(name)).strip()
    try:
        value = kind(text)
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise pytest.UsageError(f"{name}: expected a finite number, got {text!r}")
    if value < low:
        raise pytest.UsageError(f"{name}: expected at least {low:g}, got {text!r}")
    if value > high:
        raise pytest.UsageError(f"{name}: expected at most {high:g}, got {text!r}")
    return value


# -- declaring


def add_options(parser: pytest.Parser) -> None:
    """Declare every option and ini key of the plugin (``pytest_addoption``)."""
    group = parser.getgroup("llmbench", "pytest-llmbench: benchmark LLMs on YAML gold cases")
    group.addoption(
        "--llm-models",
        metavar="SPEC",
        default=None,
        help="models to run: 'all', a provider ('llamacpp'), provider/name, globs "
        "('ollama/qwen*'), comma-separated, or @FILE (one a line); 'registry': each task's "
        "registered models; 'new': per task, only models the history lacks on its prompt. "
        "Default: the llm_models ini value, else 'all'.",
    )
    group.addoption(
        "--llm-ollama-host",
        metavar="URL",
        action="append",
        default=None,
        type=parse_ollama_host,
        help="Ollama server (repeatable). Default: $OLLAMA_HOST, else http://127.0.0.1:11434.",
    )
    group.addoption(
        "--llm-timeout",
        metavar="SECONDS",
        type=parse_timeout,
        default=None,
        help="timeout of one model call. Default: 120.",
    )
    group.addoption(
        "--llm-repeat",
        metavar="N",
        type=parse_repeat,
        default=None,
        help="run every case N times (overrides a task's 'repeat'). Default: 1.",
    )
    group.addoption(
        "--llm-prompt",
        metavar="VERSION",
        type=parse_prompt_versions,
        action="append",
        default=None,
        help="run only these prompt versions of tasks with 'prompts:' (repeatable, "
        "comma-separated: v2 or v1,v3). Default: every version.",
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
        type=parse_max_size,
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
        type=parse_policy,
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
        type=parse_cache_mode,
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
    group.addoption(
        "--llm-report",
        metavar="PATH.md",
        default=None,
        help="write a Markdown report (summary, top results, failed to qualify, notes).",
    )
    group.addoption(
        "--llm-html",
        metavar="PATH",
        default=None,
        help="write a self-contained HTML report with charts (no network needed to view it).",
    )
    group.addoption(
        "--llm-history",
        metavar="PATH",
        default=None,
        help="SQLite file every run is appended to. Default: .llmbench/history.sqlite "
        "under the rootdir.",
    )
    group.addoption(
        "--llm-no-history",
        action="store_true",
        default=False,
        help="do not append this run to the history.",
    )
    group.addoption(
        "--llm-state-dir",
        metavar="PATH",
        default=None,
        help="where the run journals (runs/), the history and the response cache live. "
        "Default: the llm_state_dir ini, else .llmbench under the rootdir.",
    )
    group.addoption(
        "--llm-no-journal",
        action="store_true",
        default=False,
        help="do not journal finished items (a run stopped early cannot be resumed then).",
    )
    group.addoption(
        "--llm-registry",
        metavar="PATH",
        default=None,
        help="the champion registry read by --llm-models=registry. "
        "Default: llmbench-registry.yaml at the rootdir.",
    )
    group.addoption(
        "--llm-update-registry",
        metavar="PATH",
        nargs="?",
        const=DEFAULT_REGISTRY_PATH,
        type=parse_registry_file,
        default=None,
        help="write each task's champion and runner-up with the evidence to the registry "
        "(PATH, else --llm-registry, else llmbench-registry.yaml at the rootdir).",
    )
    group.addoption(
        "--llm-changed-since",
        metavar="REF",
        default=None,
        help="run only the tasks whose case file, prompt or referenced files changed "
        "against git REF (committed, staged, unstaged or untracked).",
    )
    group.addoption(
        "--llm-baseline",
        metavar="PATH|last|RUN",
        default=None,
        help="fail the session when a task lost its champion, the champion lost "
        "correctness or got slower than --llm-max-slowdown, against a --llm-json file, "
        "a run of the history, or 'last' (the latest run with these tasks).",
    )
    group.addoption(
        "--llm-max-slowdown",
        metavar="PERCENT",
        type=parse_percent,
        default=None,
        help="the champion latency growth --llm-baseline allows. Default: 20%%.",
    )
    group.addoption(
        "--llm-fail-on",
        metavar="case|champion",
        choices=FAIL_ON,
        default="case",
        help="'case': a wrong answer fails its test (default); 'champion': wrong answers "
        "are xfailed and only a task without a champion fails the session.",
    )
    group.addoption(
        "--llm-benchmark-table",
        action="store_true",
        default=False,
        help="with pytest-benchmark: also print its terminal table of the case items' calls "
        "(they are always in --benchmark-json and --benchmark-autosave). Default: not printed.",
    )
    group.addoption(
        "--llm-eliminate",
        metavar="on|off",
        nargs="?",
        const="on",
        choices=("on", "off"),
        default=None,
        help="on: under the strict policy, a model's remaining runs of a task are skipped "
        "after its first wrong one (it can no longer qualify); runs go round by round, the "
        "cases likeliest to eliminate first (history failure rate, gold FAIL, hard). "
        "Default: on with --llm-fail-on champion, else off.",
    )
    group.addoption(
        "--llm-resume",
        metavar="RUN",
        nargs="?",
        const="latest",
        type=parse_run_ref,
        default=None,
        help="continue an interrupted run: skip the items its journal "
        "(.llmbench/runs/RUN.jsonl) has, with the same prompt and model. "
        "Default RUN: the latest.",
    )
    group.addoption(
        "--llm-consensus-pairs",
        metavar="N",
        type=parse_repeat,
        default=None,
        help="how many consensus combinations a task with 'consensus:' ranks: pairs of its "
        "best models (the registry's, then this run's). Default: llm_consensus_pairs, else 1.",
    )
    group.addoption(
        "--llm-max-p95",
        metavar="MS",
        type=parse_max_ms,
        default=None,
        help="fail the session when a task's champion or runner-up has a p95 latency above "
        "MS (a case file's alerts: max_p95_ms wins for its task). Default: no limit.",
    )
    group.addoption(
        "--llm-max-error-rate",
        metavar="PCT",
        type=parse_rate,
        default=None,
        help="fail the session when a task's champion or runner-up failed more than PCT%% "
        "of its calls (errors, timeouts; a case file's alerts: max_error_rate wins for its "
        "task). Default: no limit.",
    )

    parser.addini("llm_models", "default for --llm-models", default="all")
    parser.addini("llm_consensus_pairs", "default for --llm-consensus-pairs", default="1")
    parser.addini("llm_max_p95", "default for --llm-max-p95 (milliseconds)", default="")
    parser.addini("llm_max_error_rate", "default for --llm-max-error-rate (percent)", default="")
    parser.addini(
        "llm_allowed_file_roots",
        "directories outside the rootdir that case files may read with {file:}, one a line "
        "(relative to the rootdir)",
        type="linelist",
        default=[],
    )
    parser.addini(
        "llm_openai_endpoints",
        "OpenAI-compatible endpoints, 'NAME = URL [key_env=VAR] [models=a,b]' one a line",
        type="linelist",
        default=[],
    )
    parser.addini("llm_cache", "default for --llm-cache", default="off")
    parser.addini("llm_cache_dir", "default for --llm-cache-dir", default="")
    parser.addini("llm_state_dir", "default for --llm-state-dir", default="")
    parser.addini("llm_exclude", "default for --llm-exclude, one a line", type="linelist")
    parser.addini("llm_max_size", "default for --llm-max-size", default="")
    parser.addini("llm_keep_loaded", "default for --llm-keep-loaded", type="bool", default=False)
    parser.addini("llm_prefetch", "default for --llm-prefetch (on or off)", default="on")
    parser.addini(
        "llm_ollama_lean_http",
        "requests to Ollama and OpenAI-compatible endpoints over the plugin's lean HTTP/1.1 "
        "client on plain-http URLs without a proxy (false: always through the ollama and "
        "openai clients)",
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
        "llm_provider_options",
        "a third-party provider's own options, 'NAME key=value [key=value ...]' one a line "
        "(it gets these and the general settings, not the built-in providers')",
        type="linelist",
        default=[],
    )
    parser.addini(
        "llm_prices",
        "prices, one a line: 'PATTERN = INPUT OUTPUT' ($ per million tokens) "
        "or 'PATTERN = hourly PRICE'",
        type="linelist",
        default=[],
    )


# -- reading


def option_path(config: pytest.Config, value: str | None) -> Path | None:
    """A path option as given, relative to where pytest was started."""
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else config.invocation_params.dir / path


def _ini_path(config: pytest.Config, name: str, default: str, given: str | None = None) -> Path:
    """``given`` (an option), else the ini value, else ``default``: relative to the rootdir."""
    path = Path(given or str(config.getini(name)).strip() or default).expanduser()
    return path if path.is_absolute() else config.rootpath / path


def allowed_file_roots(config: pytest.Config) -> tuple[Path, ...]:
    """``llm_allowed_file_roots``: trusted directories outside the rootdir, absolute."""
    return tuple(
        config.rootpath / Path(line.strip()).expanduser()
        for line in config.getini("llm_allowed_file_roots")
        if line.strip()
    )


def registry_path(config: pytest.Config) -> Path:
    """``--llm-registry``, else ``llmbench-registry.yaml`` at the rootdir."""
    from pytest_llmbench.storage.champions import DEFAULT_REGISTRY

    return option_path(config, config.getoption("llm_registry", default=None)) or (
        config.rootpath / DEFAULT_REGISTRY
    )


@dataclass(frozen=True)
class Options:
    """The plugin's command-line and ini options, parsed and checked."""

    rules: Rules
    """The selection rules (``--llm-exclude``, ``--llm-max-size``, code/vision patterns)."""
    prices: PriceTable
    cache_dir: Path
    registry_path: Path
    """``--llm-registry``: the champions file ``--llm-models=registry`` reads."""
    models: str = "all"
    ollama_hosts: tuple[str, ...] = ()
    lean_http: bool = True
    """``llm_ollama_lean_http``: Ollama generation over the plugin's own HTTP client."""
    provider_options: dict[str, dict[str, str]] = field(default_factory=dict)
    """``llm_provider_options``: provider name -> its own options."""
    timeout_s: float = 120.0
    json_path: Path | None = None
    repeat: int | None = None
    gguf: dict[str, str] = field(default_factory=dict)
    gguf_chat_formats: dict[str, str] = field(default_factory=dict)
    """``chat_format=FORMAT`` given with ``--llm-gguf``: name -> format."""
    keep_loaded: bool = False
    retries: int = 3
    retry_backoff_s: float = 0.5
    rank_policy: str | None = None
    """``--llm-rank``: the policy for every task (``None``: each task's own)."""
    generic_threshold: float | None = None
    """``None`` switches the generic-answer check off."""
    endpoints: tuple[Endpoint, ...] = ()
    cache_mode: str = "off"
    dist: str = "model"
    """``--llm-dist``: ``model`` (one worker per model, hosts spread) or ``xdist``."""
    prefetch: bool = True
    """``--llm-prefetch``: send a remote model's next request while pytest records an answer."""
    report_md: Path | None = None
    report_html: Path | None = None
    history: Path | None = None
    """``None`` with ``--llm-no-history``."""
    history_read: Path | None = None
    """Where ``--llm-baseline last`` looks, even with ``--llm-no-history``."""
    update_registry: Path | None = None
    changed_since: str | None = None
    baseline: str | None = None
    max_slowdown: float = 0.2
    fail_on: str = "case"
    eliminate: bool = False
    """``--llm-eliminate``: skip a model's runs of a strict task after its first wrong one."""
    resume: str | None = None
    state_dir: Path = Path(".llmbench")
    """``--llm-state-dir``: the journals (``runs/``), and by default the history and cache."""
    journal: bool = True
    """``False`` with ``--llm-no-journal``."""

    @property
    def runs_dir(self) -> Path:
        """Where the run journals are (``--llm-resume`` reads them)."""
        return self.state_dir / "runs"

    prompt_versions: tuple[str, ...] = ()
    """``--llm-prompt``: the prompt versions to run (empty: all)."""
    consensus_pairs: int = 1
    """``--llm-consensus-pairs``: combinations ranked per task that declares consensus."""
    max_p95_ms: float | None = None
    """``--llm-max-p95``: the alert limit on a production model's p95 (``None``: none)."""
    max_error_rate: float | None = None
    """``--llm-max-error-rate`` as a fraction (``None``: none)."""

    @classmethod
    def from_config(cls, config: pytest.Config) -> Options:
        from pytest_llmbench.providers.base import DEFAULT_OLLAMA_HOST

        hosts: list[str] = list(config.getoption("llm_ollama_host") or [])
        if not hosts:
            hosts = [
                parse_ollama_host(h, "llm_ollama_hosts") for h in config.getini("llm_ollama_hosts")
            ]
        if not hosts and os.environ.get("OLLAMA_HOST"):
            hosts = [parse_ollama_host(os.environ["OLLAMA_HOST"], "OLLAMA_HOST")]
        gguf, chat_formats = _gguf(config)
        json_path = config.getoption("llm_json")
        timeout = config.getoption("llm_timeout")
        keep = config.getoption("llm_keep_loaded")
        cache_mode = parse_cache_mode(
            config.getoption("llm_cache") or str(config.getini("llm_cache")).strip(), "llm_cache"
        )
        state_dir = option_path(config, config.getoption("llm_state_dir")) or _ini_path(
            config, "llm_state_dir", ".llmbench"
        )
        cache_dir = _ini_path(
            config, "llm_cache_dir", str(state_dir / "cache"), config.getoption("llm_cache_dir")
        )
        threshold = config.getoption("llm_generic_threshold")
        if threshold is None:
            ini = str(config.getini("llm_generic_threshold"))
            threshold = parse_threshold(ini, "llm_generic_threshold")
        dist = config.getoption("llm_dist")
        if dist is None:
            dist = parse_dist_mode(str(config.getini("llm_dist")), "llm_dist")
        prefetch = config.getoption("llm_prefetch") or parse_prefetch(
            str(config.getini("llm_prefetch")).strip()
        )
        history_path = option_path(config, config.getoption("llm_history")) or (
            state_dir / "history.sqlite"
        )
        if not config.getoption("llm_no_history"):
            _check_history(history_path)
        registry = registry_path(config)
        update = config.getoption("llm_update_registry")
        slowdown = config.getoption("llm_max_slowdown")
        return cls(
            models=config.getoption("llm_models") or str(config.getini("llm_models")),
            ollama_hosts=tuple(hosts) or (DEFAULT_OLLAMA_HOST,),
            lean_http=bool(config.getini("llm_ollama_lean_http")),
            provider_options=_provider_options(config),
            timeout_s=(
                timeout
                if timeout is not None
                else parse_timeout(str(config.getini("llm_timeout")), "llm_timeout")
            ),
            json_path=Path(json_path) if json_path else None,
            repeat=config.getoption("llm_repeat"),
            gguf=gguf,
            gguf_chat_formats=chat_formats,
            rules=_rules(config),
            keep_loaded=bool(keep if keep is not None else config.getini("llm_keep_loaded")),
            retries=_ini_number(config, "llm_retries", int, 0, MAX_RETRIES),
            retry_backoff_s=_ini_number(config, "llm_retry_backoff", float, 0.0, 60.0),
            rank_policy=config.getoption("llm_rank"),
            generic_threshold=None if threshold == GENERIC_OFF else threshold,
            prices=_prices(config),
            endpoints=_endpoints(config),
            cache_mode=cache_mode,
            cache_dir=cache_dir,
            dist=str(dist),
            prefetch=prefetch == "on",
            report_md=option_path(config, config.getoption("llm_report")),
            report_html=option_path(config, config.getoption("llm_html")),
            history=None if config.getoption("llm_no_history") else history_path,
            history_read=history_path,
            registry_path=registry,
            update_registry=(
                registry if update == DEFAULT_REGISTRY_PATH else option_path(config, update)
            ),
            changed_since=config.getoption("llm_changed_since"),
            baseline=config.getoption("llm_baseline"),
            max_slowdown=0.2 if slowdown is None else float(slowdown),
            fail_on=config.getoption("llm_fail_on") or "case",
            eliminate=_eliminate(config),
            resume=config.getoption("llm_resume"),
            state_dir=state_dir,
            journal=not config.getoption("llm_no_journal"),
            prompt_versions=tuple(
                name for names in config.getoption("llm_prompt") or () for name in names
            ),
            consensus_pairs=config.getoption("llm_consensus_pairs")
            or parse_repeat(str(config.getini("llm_consensus_pairs")).strip() or "1"),
            max_p95_ms=_ini_or_option(config, "llm_max_p95", parse_max_ms),
            max_error_rate=_ini_or_option(config, "llm_max_error_rate", parse_rate),
        )

    def record(self, config: pytest.Config) -> dict[str, Any]:
        """The plugin's options as given (``llm_*``), JSON-ready, for the history."""
        return {
            key: (str(value) if isinstance(value, os.PathLike) else value)
            for key, value in sorted(vars(config.option).items())
            if key.startswith("llm_")
        }


def _ini_or_option(
    config: pytest.Config, name: str, parse: Callable[[str, str], float]
) -> float | None:
    """The option's value, else the ini key's (checked by ``parse``), else ``None``."""
    value = config.getoption(name)
    if value is not None:
        return float(value)
    text = str(config.getini(name)).strip()
    return parse(text, name) if text else None


def _eliminate(config: pytest.Config) -> bool:
    """``--llm-eliminate``: as given, else on exactly when ``--llm-fail-on champion``."""
    given = config.getoption("llm_eliminate")
    if given is None:
        return bool(config.getoption("llm_fail_on") == "champion")
    return bool(given == "on")


def _provider_options(config: pytest.Config) -> dict[str, dict[str, str]]:
    """``llm_provider_options`` lines: ``NAME key=value [key=value ...]``."""
    found: dict[str, dict[str, str]] = {}
    for line in config.getini("llm_provider_options"):
        if not line.strip() or line.strip().startswith("#"):
            continue
        name, *pairs = line.split()
        own = found.setdefault(name, {})
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise pytest.UsageError(
                    f"llm_provider_options: expected NAME key=value ..., got {line.strip()!r}"
                )
            own[key] = value
    return found


def _check_history(path: Path) -> None:
    from pytest_llmbench.storage.history import HistoryError, check_history

    try:
        check_history(path)
    except HistoryError as exc:
        raise pytest.UsageError(f"--llm-history: {exc}") from None


def _gguf(config: pytest.Config) -> tuple[dict[str, str], dict[str, str]]:
    """``--llm-gguf`` and ``llm_gguf``: name -> path, and name -> chat format."""
    gguf: dict[str, str] = {}
    chat_formats: dict[str, str] = {}
    for entry in [*config.getini("llm_gguf"), *(config.getoption("llm_gguf") or [])]:
        name, _, path = entry.partition("=")
        path, chat_format = _gguf_chat_format(path.strip())
        if not name.strip() or not path or chat_format == "":
            raise pytest.UsageError(
                f"--llm-gguf expects NAME=PATH [chat_format=FORMAT], got {entry!r}"
            )
        target = Path(path).expanduser()
        if not target.is_absolute():
            target = config.rootpath / target
        if not target.is_file():
            raise pytest.UsageError(
                f"--llm-gguf {name.strip()}: no GGUF file at {target}; give the path of a "
                ".gguf file (relative to the rootdir)"
            )
        gguf[name.strip()] = str(target)
        if chat_format is not None:
            chat_formats[name.strip()] = chat_format
    return gguf, chat_formats


def _gguf_chat_format(value: str) -> tuple[str, str | None]:
    """``PATH [chat_format=FORMAT]`` -> (path, format or ``None``; ``""`` when left empty)."""
    path, _, last = value.rpartition(" ")
    if path.strip() and last.startswith("chat_format="):
        return path.strip(), last.removeprefix("chat_format=")
    return value, None


def _endpoints(config: pytest.Config) -> tuple[Endpoint, ...]:
    """``llm_openai_endpoints`` lines, then ``--llm-endpoint`` (a later NAME wins).

    Every key the endpoints name is registered for redaction at once, so that no
    message of this process can show it.
    """
    from pytest_llmbench.providers.endpoints import (
        EndpointError,
        default_openai_endpoint,
        parse_endpoint,
    )
    from pytest_llmbench.safety.redaction import register_secret

    found: dict[str, Endpoint] = {}
    lines = [
        *config.getini("llm_openai_endpoints"),
        *(config.getoption("llm_endpoint") or []),
    ]
    for line in lines:
        if not line.strip() or line.strip().startswith("#"):
            continue
        try:
            endpoint = parse_endpoint(line)
        except EndpointError as exc:
            raise pytest.UsageError(f"llm endpoint: {exc}") from None
        found[endpoint.name] = endpoint
    for endpoint in (*found.values(), default_openai_endpoint()):
        register_secret(endpoint.api_key())
    return tuple(found.values())


def _rules(config: pytest.Config) -> Rules:
    """The selection rules from ``--llm-exclude``, ``--llm-max-size`` and the ini file."""
    from pytest_llmbench.selection.rules import (
        DEFAULT_CODE_PATTERNS,
        DEFAULT_VISION_PATTERNS,
        Rules,
        parse_size,
    )

    exclude: list[str] = []
    for entry in [*config.getini("llm_exclude"), *(config.getoption("llm_exclude") or [])]:
        exclude.extend(part.strip() for part in entry.split(",") if part.strip())
    size_text = config.getoption("llm_max_size") or str(config.getini("llm_max_size")).strip()
    if size_text:
        parse_max_size(size_text, "llm_max_size")
    code = tuple(config.getini("llm_code_patterns")) or DEFAULT_CODE_PATTERNS
    vision = tuple(config.getini("llm_vision_patterns")) or DEFAULT_VISION_PATTERNS
    return Rules(
        exclude=tuple(exclude),
        max_size_bytes=parse_size(size_text) if size_text else None,
        max_size_text=size_text,
        code_patterns=code,
        vision_patterns=vision,
    )


def _prices(config: pytest.Config) -> PriceTable:
    """``--llm-prices FILE`` entries, then the ``llm_prices`` ini lines (first match wins)."""
    from pytest_llmbench.execution.prices import (
        PriceError,
        PriceTable,
        load_price_file,
        parse_price_line,
    )

    try:
        prices = []
        path = config.getoption("llm_prices")
        if path:
            prices.extend(load_price_file(config.invocation_params.dir / Path(path)))
        prices.extend(parse_price_line(line) for line in config.getini("llm_prices"))
    except PriceError as exc:
        raise pytest.UsageError(str(exc)) from None
    return PriceTable(tuple(prices))
