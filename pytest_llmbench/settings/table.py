"""Every ``--llm-*`` option and ``llm_*`` ini key, declared once in :data:`OPTIONS`.

Each :class:`Spec` gives a flag and/or an ini key, how its value is parsed and checked
(a ``parse_*`` function of :mod:`pytest_llmbench.settings.values`: the option's
``type=``, so a bad value fails at parse time, and the ini value's check, so each is
checked once, the same way), its default, its help and the
:class:`~pytest_llmbench.settings.options.Options` attribute it sets. From the table are
made: the pytest options and ini keys (:func:`pytest_llmbench.plugin.declare.add_options`),
the ``Options`` record (``plugin.options.read_options``) and ``docs/reference/options.md``
(:mod:`pytest_llmbench.settings.reference`).

Light on purpose (imported with the pytest entry point): plain tuples and functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pytest_llmbench.settings.values import (
    DEFAULT_REGISTRY_PATH,
    FAIL_ON,
    GENERIC_OFF,
    MAX_REPEAT,
    MAX_RETRIES,
    MAX_TIMEOUT_S,
    flatten,
    parse_backoff,
    parse_cache_mode,
    parse_consensus_pairs,
    parse_dist_mode,
    parse_load,
    parse_max_ms,
    parse_max_size,
    parse_min_lead,
    parse_ollama_host,
    parse_percent,
    parse_policy,
    parse_prefetch,
    parse_prompt_versions,
    parse_provider_options,
    parse_rank_latency,
    parse_rate,
    parse_registry_file,
    parse_repeat,
    parse_retries,
    parse_run_ref,
    parse_threads,
    parse_threshold,
    parse_timeout,
    path_or_none,
)

__all__ = ["OPTIONS", "Spec", "spec"]


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

    @property
    def ini_default(self) -> Any:
        """What ``getini`` gives for a key not set: the default, as the ini file would write it."""
        if self.ini_type == "linelist":
            return []
        if self.ini_type == "bool":
            return self.default
        if self.default is None:
            return ""
        return f"{self.default:g}" if isinstance(self.default, float) else str(self.default)


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
        "--llm-load", "load_concurrency", _CASES,
        "after the correctness sweep, replay every task's cases with N requests in flight "
        "per qualified model and rank by goodput (a case file's load: sets it per task).",
        ini="llm_load", parse=parse_load, metavar="CONCURRENCY",
        shown_default="off (each task's load:)",
        reference="See *Load phase and goodput* in docs/running.md: each task replays "
        "max(4 x N, its cases) requests unless its `load: {requests: ...}` says otherwise.",
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
        convert=flatten, shown_default="every version",
    ),
    Spec(
        "--llm-json", "json_path", _OUTPUTS,
        "write every result and the ranking per task to PATH as JSON.",
        metavar="PATH", convert=path_or_none,
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
        "--llm-threads", "embedded_threads", _PROVIDERS,
        "CPU threads per embedded llama.cpp model. Default: the cores this process may use, "
        "shared among xdist workers (threads x workers <= cores), fewer when cores are busy.",
        ini="llm_threads", parse=parse_threads, metavar="N", env="LLMBENCH_THREADS",
        shown_default="cores / workers, at most the idle cores",
        reference="llama.cpp's threads spin at a barrier after every step of a token: more "
        "threads than free cores is many times slower, never faster. The chosen count is "
        "recorded in the run's `embedded_threads` (JSON `run`, history).",
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
        "--llm-rank-latency", "rank_latency", _RANKING,
        "rank every task's models by LATENCY: mean, p50 or p95 of the end-to-end time, or "
        "ttft_p50 / ttft_p95 (time to first token, for chat UIs). "
        "Default: each task's ranking.latency, else mean.",
        parse=parse_rank_latency, metavar="LATENCY",
        shown_default="each task's ranking.latency, else mean",
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
        "--llm-min-lead", "min_lead", _RANKING,
        "the smallest paired latency lead that separates two models: a model faster "
        "than another by less (or within the noise) is tied with it, for the summary, the "
        "gate and the registry succession. Default: 0%%.",
        ini="llm_min_lead", parse=parse_min_lead, metavar="PERCENT", default=0.0,
        convert=float, shown_default="0%",
        reference="The lead is the share of time the faster model saves, over the (case, "
        "repeat) calls both answered warm: 1 - 1 / the geometric mean of the latency "
        "ratios, with a seeded bootstrap 95% interval (see docs/statistics.md). With "
        "--llm-min-lead 5 a newcomer must save at least 5% of the champion's time, beyond "
        "the noise, to replace it.",
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
        "--llm-race", None, _RANKING,
        "on: with --llm-eliminate, stop timing a model once, after 6 paired warm calls, it "
        "is slower beyond the noise than both the champion and the runner-up of the models "
        "done so far: its repeats are skipped, each case still runs once (serial runs only; "
        "off under xdist). Default: on with --llm-eliminate.",
        metavar="on|off", const="on", choices=("on", "off"),
        shown_default="on with --llm-eliminate",
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
        ini="llm_consensus_pairs", parse=parse_consensus_pairs, metavar="N", default=1,
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
