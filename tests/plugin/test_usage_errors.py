"""Usage errors: a bad option, ini key or environment value is one line on stderr, exit
status 4 (pytest's usage error), before any call, with no traceback and no secret.

One table, every option group: the options of the case files, models and endpoints
(``OPTIONS``, with the exact message), the settings from the environment and the ini
file (``SETTINGS``), and the limits, gate, statistics, provider, timeout, pipeline,
registry and resume options (``ERRORS``, fnmatch patterns).  Bad case files are in
``test_case_files.py`` and ``test_bad_input.py`` (collection errors, not usage errors).
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

NO_BENCHMARK = ("-p", "no:benchmark")
MODELS = "--llm-models=fake/right,fake/slowright"


class UsageError(NamedTuple):
    args: tuple[str, ...]
    ini: str
    environment: dict[str, str]
    stderr: str
    """An fnmatch pattern of the error line."""


def _exact(line: str) -> str:
    """An fnmatch pattern matching ``line`` itself (``*`` stays a wildcard)."""
    return line.replace("[", "[[]").replace("?", "[?]")


OPTIONS: dict[str, tuple[str, str]] = {
    "repeat-huge": (
        "--llm-repeat=1000000000",
        "ERROR: --llm-repeat: expected at most 1000 repeats, got '1000000000' "
        "(split a longer benchmark into several runs)",
    ),
    "repeat-not-a-number": (
        "--llm-repeat=many",
        "ERROR: --llm-repeat: expected a whole number, got 'many'",
    ),
    "timeout-nan": (
        "--llm-timeout=nan",
        "ERROR: --llm-timeout: expected a finite number of seconds, got 'nan' (at most 86400)",
    ),
    "timeout-inf": (
        "--llm-timeout=inf",
        "ERROR: --llm-timeout: expected a finite number of seconds, got 'inf' (at most 86400)",
    ),
    "timeout-words": (
        "--llm-timeout=soon",
        "ERROR: --llm-timeout: expected a number of seconds, got 'soon'",
    ),
    "host-not-a-url": (
        "--llm-ollama-host=::not a url::",
        "ERROR: --llm-ollama-host: '::not a url::' has no valid host name; give it as "
        "http://HOST:PORT, e.g. http://127.0.0.1:11434",
    ),
    "host-port-out-of-range": (
        "--llm-ollama-host=http://127.0.0.1:99999",
        "ERROR: --llm-ollama-host: 'http://127.0.0.1:99999' has a bad port; a port is a "
        "number from 1 to 65535",
    ),
    "host-ftp": (
        "--llm-ollama-host=ftp://127.0.0.1",
        "ERROR: --llm-ollama-host: 'ftp://127.0.0.1' is not an Ollama server URL: Ollama "
        "speaks http or https, not ftp; give it as http://HOST:PORT, e.g. http://127.0.0.1:11434",
    ),
    "host-password-masked-in-the-error": (
        "--llm-ollama-host=http://admin:hunter22@127.0.0.1:0",
        "ERROR: --llm-ollama-host: 'http://admin:***@127.0.0.1:0' has a bad port; a port is a "
        "number from 1 to 65535",
    ),
    "gguf-missing": (
        "--llm-gguf=mine=models/missing.gguf",
        "ERROR: --llm-gguf mine: no GGUF file at */models/missing.gguf; give the path of a "
        ".gguf file (relative to the rootdir)",
    ),
    "cache-mode": (
        "--llm-cache=sometimes",
        "ERROR: --llm-cache must be one of off, read, write, readwrite, got 'sometimes'",
    ),
    "max-slowdown-nan": (
        "--llm-max-slowdown=nan",
        "ERROR: --llm-max-slowdown: expected 0 or more, got 'nan'",
    ),
    "models-unknown": (
        "--llm-models=fake/nope",
        "ERROR: unknown model 'fake/nope' in --llm-models; available models: fake/right, "
        "fake/slowright, fake/lenient, fake/strict, fake/garbage",
    ),
    "resume-unknown-run": (
        "--llm-resume=nope",
        "ERROR: --llm-resume: no journal */.llmbench/runs/nope.jsonl; runs: none",
    ),
}

SETTINGS: dict[str, tuple[dict[str, str], str, str]] = {
    # name -> (environment, ini file, message)
    "ollama-host-in-the-environment": (
        {"OLLAMA_HOST": "http://localhost:70000"},
        "",
        "ERROR: OLLAMA_HOST: 'http://localhost:70000' has a bad port; a port is a number "
        "from 1 to 65535",
    ),
    "ollama-host-in-the-ini-file": (
        {},
        "[pytest]\nllm_ollama_hosts = gopher://127.0.0.1\n",
        "ERROR: llm_ollama_hosts: 'gopher://127.0.0.1' is not an Ollama server URL: Ollama "
        "speaks http or https, not gopher; give it as http://HOST:PORT, e.g. "
        "http://127.0.0.1:11434",
    ),
    "too-many-retries": (
        {},
        "[pytest]\nllm_retries = 1000\n",
        "ERROR: llm_retries: expected at most 10, got '1000'",
    ),
    "bad-price-line": ({}, "[pytest]\nllm_prices = fake/* = cheap 2\n", "ERROR: *'cheap'*"),
}


ERRORS: dict[str, UsageError] = {
    "max-p95-not-a-number": UsageError(
        ("evals", MODELS, *NO_BENCHMARK, "--llm-max-p95=fast"),
        "",
        {},
        "*--llm-max-p95: expected milliseconds such as 1500*",
    ),
    "max-p95-zero": UsageError(
        ("evals", MODELS, *NO_BENCHMARK, "--llm-max-p95=0"),
        "",
        {},
        "*--llm-max-p95: expected a positive number of milliseconds*",
    ),
    "max-error-rate-above-100": UsageError(
        ("evals", MODELS, *NO_BENCHMARK, "--llm-max-error-rate=150"),
        "",
        {},
        "*expected a percentage from 0 to 100, got '150'*",
    ),
    "max-error-rate-in-the-ini-file": UsageError(
        ("evals", MODELS, *NO_BENCHMARK),
        "[pytest]\nllm_max_error_rate = lots\n",
        {},
        "*llm_max_error_rate: expected a percentage such as 5*",
    ),
    "max-slowdown-not-a-number": UsageError(
        ("evals", "--llm-models=fake/right", "--llm-max-slowdown=fast"),
        "",
        {},
        "*--llm-max-slowdown: expected a percentage*",
    ),
    "max-slowdown-negative": UsageError(
        ("evals", "--llm-models=fake/right", "--llm-max-slowdown=-5"),
        "",
        {},
        "*--llm-max-slowdown: expected 0 or more*",
    ),
    "fail-on-unknown": UsageError(
        ("evals", "--llm-models=fake/right", "--llm-fail-on=never"),
        "",
        {},
        "*--llm-fail-on: invalid choice: 'never'*",
    ),
    "baseline-missing": UsageError(
        ("evals", "--llm-models=fake/right", "--llm-baseline=missing.json"),
        "",
        {},
        "*--llm-baseline missing.json: not a file, nor a run*",
    ),
    "rank-unknown": UsageError(
        ("evals", "--llm-rank=fastest"),
        "",
        {},
        "ERROR: --llm-rank: expected strict or weighted, got 'fastest'",
    ),
    "rank-latency-unknown": UsageError(
        ("evals", "--llm-rank-latency=p99"),
        "",
        {},
        "ERROR: --llm-rank-latency: expected one of mean, p50, p95, ttft_p50, ttft_p95, got 'p99'",
    ),
    "generic-threshold-above-1": UsageError(
        ("evals", "--llm-generic-threshold=1.5"),
        "",
        {},
        "ERROR: --llm-generic-threshold: expected a similarity above 0 and at most 1, "
        "or 'off', got '1.5'",
    ),
    "generic-threshold-zero": UsageError(
        ("evals", "--llm-generic-threshold=0"),
        "",
        {},
        "*expected a similarity above 0 and at most 1*",
    ),
    "prices-file-missing": UsageError(
        ("evals", "--llm-prices=missing.yaml"),
        "",
        {},
        "ERROR: --llm-prices: cannot read *missing.yaml*",
    ),
    "generic-threshold-in-the-ini-file": UsageError(
        ("evals",),
        "[pytest]\nllm_generic_threshold = high\n",
        {},
        "ERROR: llm_generic_threshold: expected a similarity above 0 and at most 1, "
        "or 'off', got 'high'",
    ),
    "price-line-in-the-ini-file": UsageError(
        ("evals",),
        "[pytest]\nllm_prices =\n    openai/* = cheap\n",
        {},
        "ERROR: llm_prices line 'openai/* = cheap': expected 'PATTERN = INPUT OUTPUT' "
        "($ per million tokens) or 'PATTERN = hourly PRICE'",
    ),
    "provider-option-malformed": UsageError(
        ("evals",),
        "[pytest]\nllm_provider_options =\n    mine greeting\n",
        {},
        "*llm_provider_options: expected NAME key=value ..., got 'mine greeting'*",
    ),
    "timeout-in-the-ini-file": UsageError(
        ("evals", "--llm-models=fake", *NO_BENCHMARK),
        "[pytest]\nllm_timeout = soon\n",
        {},
        "ERROR: llm_timeout: expected a number of seconds, got 'soon'",
    ),
    "prefetch-in-the-ini-file": UsageError(
        ("evals",),
        "[pytest]\nllm_prefetch = sometimes\n",
        {},
        "*--llm-prefetch must be on or off, got 'sometimes'*",
    ),
    "update-registry-swallowing-a-test-path": UsageError(
        ("--llm-models=fake/right", "--llm-update-registry", "evals"),
        "",
        {},
        "*--llm-update-registry: 'evals' is not a .yaml file; write --llm-update-registry=*",
    ),
    "resume-swallowing-a-test-path": UsageError(
        ("--llm-models=fake", "--llm-resume", "evals"),
        "",
        {},
        "*--llm-resume: 'evals' is a path, not a run id*",
    ),
}
ERRORS.update(
    {
        kind: UsageError(("evals", option), "", {}, _exact(message))
        for kind, (option, message) in OPTIONS.items()
    }
)
ERRORS.update(
    {
        kind: UsageError(("evals", "--llm-models=fake/right"), ini, environment, _exact(message))
        for kind, (environment, ini, message) in SETTINGS.items()
    }
)


@pytest.mark.parametrize("kind", list(ERRORS))
def test_a_bad_option_or_setting_is_one_usage_error(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    error = ERRORS[kind]
    for name, value in error.environment.items():
        monkeypatch.setenv(name, value)
    if error.ini:
        suite.makeini(error.ini)
    result = suite.runpytest(*error.args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([error.stderr])
    assert "Traceback" not in result.stderr.str()
    assert "hunter22" not in result.stderr.str() + result.stdout.str()  # a URL's password
    assert "model(s):" not in result.stdout.str()  # no "0 model(s): none" before the error
