"""Every ``--llm-*`` option and ``llm_*`` ini key, declared once in :data:`OPTIONS`.

Each :class:`Spec` of the table gives a flag and/or an ini key, how its value is parsed
and checked (a ``parse_*`` function: the option's ``type=``, so a bad value fails at
parse time, and the ini value's check, so each is checked once, the same way), its
default, its help and the :class:`~pytest_llmbench.plugin.options.Options` attribute it
sets. From the table are made: the pytest options and ini keys (:func:`add_options`),
the ``Options`` record (``Options.from_config``) and ``docs/reference/options.md``
(:mod:`pytest_llmbench.plugin.options_reference`).

Light on purpose (imported with the entry point): plain tuples and functions; what a
value needs (selection rules, prices, endpoints) is imported when it is parsed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

__all__ = ["DEFAULT_REGISTRY_PATH", "GENERIC_OFF", "OPTIONS", "Spec", "add_options", "spec"]

DIST_MODES = ("model", "xdist")
FAIL_ON = ("case", "champion")
DEFAULT_REGISTRY_PATH = "__default__"
"""What ``--llm-update-registry`` holds when given without a path."""
GENERIC_OFF = math.inf
"""What ``parse_threshold("off")`` returns: a similarity no answer reaches."""
MAX_REPEAT = 1000
"""The most repeats ``--llm-repeat`` (and a case file's ``repeat:``) may ask for."""
MAX_TIMEOUT_S = 86400.0
"""The longest ``--llm-timeout``: one day."""
MAX_RETRIES = 10
"""The most retries ``llm_retries`` may ask for."""


# -- parsing: one function per kind of value, raising a usage error that names the option


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


def parse_prefetch(value: str, name: str = "--llm-prefetch") -> str:
    if value not in ("on", "off"):
        raise pytest.UsageError(f"{name} must be on or off, got {value!r}")
    return value


def _bounded(value: str, name: str, kind: type[float], low: float, high: float) -> float:
    """A number of ``kind`` from ``low`` to ``high`` (an ini value)."""
    text = value.strip()
    try:
        number = kind(text)
    except ValueError:
        raise pytest.UsageError(f"{name}: expected a number, got {text!r}") from None
    if not math.isfinite(number):
        raise pytest.UsageError(f"{name}: expected a finite number, got {text!r}")
    if number < low:
        raise pytest.UsageError(f"{name}: expected at least {low:g}, got {text!r}")
    if number > high:
        raise pytest.UsageError(f"{name}: expected at most {high:g}, got {text!r}")
    return number


def parse_retries(value: str, name: str = "llm_retries") -> int:
    """A whole number of retries from 0 to :data:`MAX_RETRIES`."""
    return int(_bounded(value, name, int, 0, MAX_RETRIES))


def parse_backoff(value: str, name: str = "llm_retry_backoff") -> float:
    """Seconds from 0 to 60."""
    return _bounded(value, name, float, 0.0, 60.0)


def parse_provider_options(lines: Iterable[str]) -> dict[str, dict[str, str]]:
    """``llm_provider_options`` lines: ``NAME key=value [key=value ...]``."""
    found: dict[str, dict[str, str]] = {}
    for line in lines:
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


def _flatten(lists: Iterable[Iterable[str]]) -> tuple[str, ...]:
    return tuple(name for names in lists for name in names)


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


# -- the table


class Spec(NamedTuple):
    """One option: its flag and/or ini key, how its value is read, and its documentation.

    The value is the option's, else the ini key's, else the environment variable's,
    else ``default`` (an empty ini value counts as not given); a ``merge`` spec takes
    the ini lines, then the option's values. ``convert`` makes it the ``field``.
    """

    flag: str | None  # --llm-*; None: an ini key only
    field: str | None  # the Options attribute set from the value; None: built or read elsewhere
    section: str  # the reference page's section
    help: str  # the option's help (or the ini key's, for an ini key only)
    ini: str | None = None
    ini_help: str | None = None  # None: "default for FLAG"
    ini_type: str | None = None  # "linelist" or "bool"; None: a string
    parse: Callable[..., Any] | None = None  # parse_*(text, name): the type= and the ini check
    metavar: str | None = None
    default: Any = None  # the value when nothing is given
    shown_default: str | None = None  # the default as the reference page shows it
    action: str | None = None  # "append" (repeatable) or "store_true"
    const: str | None = None  # nargs="?": the value of the bare flag
    choices: tuple[str, ...] | None = None
    option_default: Any = None  # argparse's default (what the history records)
    merge: bool = False
    env: str | None = None
    errors_as: str | None = None  # the name an ini value's usage error gives (else the key)
    cwd_path: bool = False  # a path relative to where pytest was started
    convert: Callable[[Any], Any] | None = None
    reference: str = ""  # more than the help says, for the reference page

    @property
    def dest(self) -> str | None:
        return self.flag[2:].replace("-", "_") if self.flag else None


_MODELS = "Models"
_PROVIDERS = "Providers and calls"
_CASES = "Cases"
_RANKING = "Ranking"
_OUTPUTS = "Outputs"
_STATE = "State, cache and resume"
_GATE = "Registry, baseline and alerts"
_ONE_A_LINE = "one a line"

# fmt: off
OPTIONS: tuple[Spec, ...] = (
    Spec(
        "--llm-models", "models", _MODELS,
        "models to run: 'all', a provider ('llamacpp'), provider/name, globs "
        "('ollama/qwen*'), comma-separated, or @FILE (one a line); 'registry': each task's "
        "registered models; 'new': per task, only models the history lacks on its prompt. "
        "Default: the llm_models ini value, else 'all'.",
        ini="llm_models", metavar="SPEC", default="all",
    ),
    Spec(
        "--llm-ollama-host", "ollama_hosts", _PROVIDERS,
        "Ollama server (repeatable). Default: $OLLAMA_HOST, else http://127.0.0.1:11434.",
        ini="llm_ollama_hosts", ini_help="default Ollama servers, one a line",
        ini_type="linelist", parse=parse_ollama_host, metavar="URL", action="append",
        default=("http://127.0.0.1:11434",), env="OLLAMA_HOST", convert=tuple,
        shown_default="$OLLAMA_HOST, else http://127.0.0.1:11434",
        reference="Several servers share the models' runs: under xdist with --llm-dist=model "
        "the workers are spread over them.",
    ),
    Spec(
        "--llm-timeout", "timeout_s", _PROVIDERS, "timeout of one model call. Default: 120.",
        ini="llm_timeout", ini_help="default for --llm-timeout (seconds)",
        parse=parse_timeout, metavar="SECONDS", default=120.0,
        reference=f"Seconds, at most {MAX_TIMEOUT_S:g} (one day).",
    ),
    Spec(
        "--llm-repeat", "repeat", _CASES,
        "run every case N times (overrides a task's 'repeat'). Default: 1.",
        parse=parse_repeat, metavar="N", shown_default="each task's repeat, else 1",
        reference=f"At most {MAX_REPEAT}.",
    ),
    Spec(
        "--llm-prompt", "prompt_versions", _CASES,
        "run only these prompt versions of tasks with 'prompts:' (repeatable, "
        "comma-separated: v2 or v1,v3). Default: every version.",
        parse=parse_prompt_versions, metavar="VERSION", action="append", default=(),
        convert=_flatten, shown_default="every version",
    ),
    Spec(
        "--llm-json", "json_path", _OUTPUTS,
        "write every result and the ranking per task to PATH as JSON.",
        metavar="PATH", convert=_path_or_none,
    ),
    Spec(
        "--llm-gguf", None, _MODELS,
        "add a GGUF file as embedded model llamacpp/NAME (repeatable); "
        "'NAME=PATH chat_format=FORMAT' also sets its llama-cpp-python chat format.",
        ini="llm_gguf", ini_help="extra embedded GGUF models, NAME=PATH [chat_format=FORMAT] "
        "one a line", ini_type="linelist", metavar="NAME=PATH", action="append", merge=True,
        reference="A relative PATH is relative to the rootdir. The ini lines come first.",
    ),
    Spec(
        "--llm-exclude", None, _MODELS,
        "leave out models matching GLOB (provider/name or name; repeatable, "
        "comma-separated) from 'all', provider and glob selections. Default: none.",
        ini="llm_exclude", ini_help="default for --llm-exclude, one a line",
        ini_type="linelist", metavar="GLOB", action="append", merge=True,
        reference="The ini lines and the options add up.",
    ),
    Spec(
        "--llm-max-size", None, _MODELS,
        "leave out models bigger than SIZE (8GB, 500MB, 7.5G; decimal like Ollama) "
        "from 'all', provider and glob selections. Default: no limit.",
        ini="llm_max_size", parse=parse_max_size, metavar="SIZE", shown_default="no limit",
    ),
    Spec(
        None, None, _MODELS,
        "globs of code-only model names/families left out of wide selections, one a line "
        "(replaces the defaults)",
        ini="llm_code_patterns", ini_type="linelist", shown_default="built-in globs",
    ),
    Spec(
        None, None, _MODELS,
        "globs of vision-only model names/families left out of wide selections, one a line "
        "(replaces the defaults)",
        ini="llm_vision_patterns", ini_type="linelist", shown_default="built-in globs",
    ),
    Spec(
        "--llm-prefetch", "prefetch", _PROVIDERS,
        "on: while pytest records a remote model's answer (Ollama, OpenAI-compatible), "
        "its next request is already sent, one in flight at a time, so the server never "
        "idles between cases; off: strictly one call after the other. Default: on.",
        ini="llm_prefetch", ini_help="default for --llm-prefetch (on or off)",
        parse=parse_prefetch, choices=("on", "off"), default="on",
        errors_as="--llm-prefetch", convert="on".__eq__,
    ),
    Spec(
        "--llm-keep-loaded", "keep_loaded", _PROVIDERS,
        "do not unload a model after its last case (Ollama keeps it 30 min). "
        "Default: unload it.",
        ini="llm_keep_loaded", ini_type="bool", action="store_true", default=False,
        convert=bool,
    ),
    Spec(
        None, "lean_http", _PROVIDERS,
        "requests to Ollama and OpenAI-compatible endpoints over the plugin's lean HTTP/1.1 "
        "client on plain-http URLs without a proxy (false: always through the ollama and "
        "openai clients)",
        ini="llm_ollama_lean_http", ini_type="bool", default=True, convert=bool,
    ),
    Spec(
        None, "retries", _PROVIDERS, "retries after HTTP 503 or a connection reset (default 3)",
        ini="llm_retries", parse=parse_retries, default=3,
        reference=f"At most {MAX_RETRIES}.",
    ),
    Spec(
        None, "retry_backoff_s", _PROVIDERS,
        "seconds before the first retry; doubles for each next one (default 0.5)",
        ini="llm_retry_backoff", parse=parse_backoff, default=0.5,
        reference="At most 60 seconds.",
    ),
    Spec(
        None, "provider_options", _PROVIDERS,
        "a third-party provider's own options, 'NAME key=value [key=value ...]' one a line "
        "(it gets these and the general settings, not the built-in providers')",
        ini="llm_provider_options", ini_type="linelist", default=(),
        convert=parse_provider_options, shown_default="none",
    ),
    Spec(
        "--llm-rank", "rank_policy", _RANKING,
        "rank every task by POLICY: strict (all correct, then fastest) or weighted "
        "(quality and speed weights). Default: each task's ranking.policy, else strict.",
        parse=parse_policy, metavar="POLICY", shown_default="each task's ranking.policy",
    ),
    Spec(
        "--llm-generic-threshold", "generic_threshold", _CASES,
        "fail json/text answers at least this similar (0-1) to the same model's answer "
        "to another case; 'off' to disable. Default: the llm_generic_threshold ini, else 0.9.",
        ini="llm_generic_threshold", parse=parse_threshold, metavar="RATIO", default=0.9,
        convert=lambda ratio: None if ratio == GENERIC_OFF else ratio,
    ),
    Spec(
        "--llm-prices", None, _OUTPUTS,
        "YAML price table (pattern: {input: $/M, output: $/M} or {hourly: $}) for the "
        "cost per 1,000 requests; before the llm_prices ini lines.",
        metavar="FILE", reference="A relative FILE is relative to where pytest was started.",
    ),
    Spec(
        None, None, _OUTPUTS,
        "prices, one a line: 'PATTERN = INPUT OUTPUT' ($ per million tokens) "
        "or 'PATTERN = hourly PRICE'",
        ini="llm_prices", ini_type="linelist", shown_default="none",
        reference="The first price whose pattern matches a model wins.",
    ),
    Spec(
        "--llm-endpoint", None, _PROVIDERS,
        "add an OpenAI-compatible endpoint as provider NAME (repeatable): "
        "'NAME=URL [key_env=VAR] [models=a,b] [structured=auto|json_schema|json_object|none]'. "
        "The key is read from $VAR, never given here.",
        ini="llm_openai_endpoints",
        ini_help="OpenAI-compatible endpoints, 'NAME = URL [key_env=VAR] [models=a,b]' one a line",
        ini_type="linelist", metavar="NAME=URL", action="append", merge=True,
        reference="The ini lines come first; a later NAME wins.",
    ),
    Spec(
        "--llm-cache", "cache_mode", _STATE,
        "response cache: off, read (answers from the cache only, no model called), "
        "write (store live answers) or readwrite. Default: off.",
        ini="llm_cache", parse=parse_cache_mode, metavar="MODE", default="off",
    ),
    Spec(
        "--llm-cache-dir", None, _STATE,
        "where the response cache lives. Default: .llmbench/cache under the rootdir.",
        ini="llm_cache_dir", metavar="PATH", shown_default="cache/ in the state directory",
        reference="Relative to the rootdir.",
    ),
    Spec(
        "--llm-dist", "dist", _STATE,
        "under xdist (-n): 'model' keeps each model's items on one worker (loaded once) "
        "and spreads the workers over the Ollama hosts; 'xdist' leaves it to --dist (a model "
        "may then be loaded by several workers at once). Default: the llm_dist ini, else model.",
        ini="llm_dist", ini_help="default for --llm-dist (model or xdist)",
        parse=parse_dist_mode, metavar="MODE", default="model",
    ),
    Spec(
        "--llm-report", "report_md", _OUTPUTS,
        "write a Markdown report (summary, top results, failed to qualify, notes).",
        metavar="PATH.md", cwd_path=True,
    ),
    Spec(
        "--llm-html", "report_html", _OUTPUTS,
        "write a self-contained HTML report with charts (no network needed to view it).",
        metavar="PATH", cwd_path=True,
    ),
    Spec(
        "--llm-history", None, _STATE,
        "SQLite file every run is appended to. Default: .llmbench/history.sqlite "
        "under the rootdir.",
        metavar="PATH", shown_default="history.sqlite in the state directory",
        reference="--llm-baseline last reads it even with --llm-no-history.",
    ),
    Spec(
        "--llm-no-history", None, _STATE, "do not append this run to the history.",
        action="store_true", option_default=False, shown_default="append",
    ),
    Spec(
        "--llm-state-dir", None, _STATE,
        "where the run journals (runs/), the history and the response cache live. "
        "Default: the llm_state_dir ini, else .llmbench under the rootdir.",
        ini="llm_state_dir", metavar="PATH", default=".llmbench",
        reference="The option is relative to where pytest was started, the ini key to "
        "the rootdir.",
    ),
    Spec(
        "--llm-no-journal", "journal", _STATE,
        "do not journal finished items (a run stopped early cannot be resumed then).",
        action="store_true", option_default=False, convert=lambda off: not off,
        shown_default="journal",
    ),
    Spec(
        "--llm-registry", None, _GATE,
        "the champion registry read by --llm-models=registry. "
        "Default: llmbench-registry.yaml at the rootdir.",
        metavar="PATH", shown_default="llmbench-registry.yaml at the rootdir",
    ),
    Spec(
        "--llm-update-registry", None, _GATE,
        "write each task's champion and runner-up with the evidence to the registry "
        "(PATH, else --llm-registry, else llmbench-registry.yaml at the rootdir).",
        parse=parse_registry_file, metavar="PATH", const=DEFAULT_REGISTRY_PATH,
        shown_default="not written",
    ),
    Spec(
        "--llm-changed-since", "changed_since", _CASES,
        "run only the tasks whose case file, prompt or referenced files changed "
        "against git REF (committed, staged, unstaged or untracked).",
        metavar="REF", shown_default="every task",
    ),
    Spec(
        "--llm-baseline", "baseline", _GATE,
        "fail the session when a task lost its champion, the champion lost "
        "correctness or got slower than --llm-max-slowdown, against a --llm-json file, "
        "a run of the history, or 'last' (the latest run with these tasks).",
        metavar="PATH|last|RUN", shown_default="no comparison",
    ),
    Spec(
        "--llm-max-slowdown", "max_slowdown", _GATE,
        "the champion latency growth --llm-baseline allows. Default: 20%%.",
        parse=parse_percent, metavar="PERCENT", default=0.2, convert=float,
        shown_default="20%",
    ),
    Spec(
        "--llm-fail-on", "fail_on", _RANKING,
        "'case': a wrong answer fails its test (default); 'champion': wrong answers "
        "are xfailed and only a task without a champion fails the session.",
        metavar="case|champion", choices=FAIL_ON, option_default="case", default="case",
    ),
    Spec(
        "--llm-benchmark-table", None, _OUTPUTS,
        "with pytest-benchmark: also print its terminal table of the case items' calls "
        "(they are always in --benchmark-json and --benchmark-autosave). Default: not printed.",
        action="store_true", option_default=False, shown_default="not printed",
    ),
    Spec(
        "--llm-eliminate", None, _RANKING,
        "on: under the strict policy, a model's remaining runs of a task are skipped "
        "after its first wrong one (it can no longer qualify); runs go round by round, the "
        "cases likeliest to eliminate first (history failure rate, gold FAIL, hard). "
        "Default: on with --llm-fail-on champion, else off.",
        metavar="on|off", const="on", choices=("on", "off"),
        shown_default="on with --llm-fail-on champion, else off",
    ),
    Spec(
        "--llm-resume", "resume", _STATE,
        "continue an interrupted run: skip the items its journal "
        "(.llmbench/runs/RUN.jsonl) has, with the same prompt and model. "
        "Default RUN: the latest.",
        parse=parse_run_ref, metavar="RUN", const="latest", shown_default="a new run",
    ),
    Spec(
        "--llm-consensus-pairs", "consensus_pairs", _RANKING,
        "how many consensus combinations a task with 'consensus:' ranks: pairs of its "
        "best models (the registry's, then this run's). Default: llm_consensus_pairs, else 1.",
        ini="llm_consensus_pairs", parse=parse_repeat, metavar="N", default=1,
        errors_as="--llm-repeat",
    ),
    Spec(
        "--llm-max-p95", "max_p95_ms", _GATE,
        "fail the session when a task's champion or runner-up has a p95 latency above "
        "MS (a case file's alerts: max_p95_ms wins for its task). Default: no limit.",
        ini="llm_max_p95", ini_help="default for --llm-max-p95 (milliseconds)",
        parse=parse_max_ms, metavar="MS", shown_default="no limit",
    ),
    Spec(
        "--llm-max-error-rate", "max_error_rate", _GATE,
        "fail the session when a task's champion or runner-up failed more than PCT%% "
        "of its calls (errors, timeouts; a case file's alerts: max_error_rate wins for its "
        "task). Default: no limit.",
        ini="llm_max_error_rate", ini_help="default for --llm-max-error-rate (percent)",
        parse=parse_rate, metavar="PCT", shown_default="no limit",
    ),
    Spec(
        None, None, _CASES,
        "directories outside the rootdir that case files may read with {file:}, one a line "
        "(relative to the rootdir)",
        ini="llm_allowed_file_roots", ini_type="linelist", shown_default="none",
    ),
)
# fmt: on
"""Every option and ini key; ``pytest --help`` lists the options in this order."""


def spec(name: str) -> Spec:
    """The spec of a flag's dest (``llm_timeout``) or, for an ini key only, of the key."""
    return next(one for one in OPTIONS if (one.dest or one.ini) == name)


# -- declaring


def add_options(parser: pytest.Parser) -> None:
    """Declare every option and ini key of the plugin (``pytest_addoption``)."""
    group = parser.getgroup("llmbench", "pytest-llmbench: benchmark LLMs on YAML gold cases")
    for one in OPTIONS:
        if one.flag:
            group.addoption(one.flag, **_argparse(one))
        if one.ini:
            ini_help = one.ini_help or (f"default for {one.flag}" if one.flag else one.help)
            parser.addini(one.ini, ini_help, type=one.ini_type, default=_ini_default(one))  # type: ignore[arg-type]


def _ini_default(one: Spec) -> Any:
    """What ``getini`` gives for a key not set: the default, as the ini file would write it."""
    if one.ini_type == "linelist":
        return []
    if one.ini_type == "bool":
        return one.default
    if one.default is None:
        return ""
    return f"{one.default:g}" if isinstance(one.default, float) else str(one.default)


def _argparse(one: Spec) -> dict[str, Any]:
    """``addoption``'s keywords for ``one``."""
    kwargs: dict[str, Any] = {"default": one.option_default}
    if one.action:
        kwargs["action"] = one.action
    if one.metavar:
        kwargs["metavar"] = one.metavar
    if one.const is not None:
        kwargs.update(nargs="?", const=one.const)
    if one.choices:
        kwargs["choices"] = one.choices
    elif one.parse:
        kwargs["type"] = one.parse
    kwargs["help"] = one.help
    return kwargs


# -- reading


def resolve(config: pytest.Config, one: Spec) -> Any:
    """``one``'s value: the option's, else the ini key's, else the environment's, else default."""
    given = config.getoption(one.dest) if one.dest else None
    if one.merge:
        return [*(_ini(config, one) or ()), *(given or ())]
    if not _unset(given):
        return given
    if one.ini and not _unset(value := _ini(config, one)):
        return value
    if one.env and one.parse and os.environ.get(one.env):
        value = one.parse(os.environ[one.env], one.env)
        return [value] if one.action == "append" else value
    return one.default


def _ini(config: pytest.Config, one: Spec) -> Any:
    """The ini value, checked by ``one.parse`` (``None`` when empty)."""
    assert one.ini is not None
    value = config.getini(one.ini)
    name = one.errors_as or one.ini
    if one.ini_type == "linelist":
        return [one.parse(line, name) for line in value] if one.parse else list(value)
    if one.ini_type == "bool":
        return value
    text = str(value).strip()
    return (one.parse(text, name) if one.parse else text) if text else None


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str | list) and not value)
