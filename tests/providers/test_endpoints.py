"""Endpoint lines, the price table, and secrets kept out of every output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmbench.execution.prices import PriceError, PriceTable, call_cost, parse_price_line
from pytest_llmbench.providers.endpoints import Endpoint, EndpointError, parse_endpoint
from pytest_llmbench.safety.redaction import MASK, redact, redact_data, register_secret
from tests.support.casedata import COMPANY_TASK
from tests.support.openai_emulator import OpenAIEmulator

# -- endpoint lines ----------------------------------------------------------------------


def test_full_endpoint_line() -> None:
    endpoint = parse_endpoint(
        "groq = https://api.groq.com/openai/v1/ key_env=GROQ_API_KEY "
        "models=llama-3.1-8b-instant,gemma2-9b-it structured=json_object retries=4 "
        "backoff=0.5 max_wait=10"
    )
    assert endpoint == Endpoint(
        name="groq",
        base_url="https://api.groq.com/openai/v1",
        key_env="GROQ_API_KEY",
        models=("llama-3.1-8b-instant", "gemma2-9b-it"),
        structured="json_object",
        retries=4,
        backoff_s=0.5,
        max_wait_s=10.0,
    )
    assert endpoint.describe() == (
        "groq = https://api.groq.com/openai/v1 key_env=GROQ_API_KEY "
        "models=llama-3.1-8b-instant,gemma2-9b-it structured=json_object"
    )


def test_short_form_and_defaults() -> None:
    endpoint = parse_endpoint("local=http://127.0.0.1:8080/v1")
    assert (endpoint.name, endpoint.base_url, endpoint.key_env) == (
        "local",
        "http://127.0.0.1:8080/v1",
        None,
    )
    assert (endpoint.structured, endpoint.retries, endpoint.models) == ("auto", 2, ())
    assert endpoint.api_key({}) is None


def test_key_comes_from_the_named_variable_only() -> None:
    endpoint = parse_endpoint("g = https://x.example/v1 key_env=G_KEY")
    assert endpoint.api_key({"G_KEY": " sk-123456 "}) == "sk-123456"
    assert endpoint.api_key({"G_KEY": ""}) is None
    assert endpoint.api_key({"OPENAI_API_KEY": "sk-other"}) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("local", "expected 'NAME = BASE_URL"),
        ("= http://x/v1", "expected 'NAME = BASE_URL"),
        ("Local = http://x/v1", "must be lower case"),
        ("ollama = http://x/v1", "endpoint name 'ollama' is taken"),
        ("all = http://x/v1", "endpoint name 'all' is taken"),
        ("local = 127.0.0.1:8080", "base URL must start with http:// or https://"),
        ("local = http://x/v1 model=a", "unknown setting 'model=a'"),
        ("local = http://x/v1 key_env=sk-abc123", "never the key itself"),
        ("local = http://x/v1 structured=grammar", "structured= must be one of auto"),
        ("local = http://x/v1 retries=many", "retries= expects a whole number"),
        ("local = http://x/v1 backoff=-1", "backoff= must not be negative"),
    ],
)
def test_bad_endpoint_lines(line: str, message: str) -> None:
    with pytest.raises(EndpointError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_endpoint(line)


def test_bad_endpoint_is_one_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "t.yaml").write_text("task: t\nprompt: x\ncases: []\n")
    result = pytester.runpytest("--llm-endpoint=local=ftp://x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: llm endpoint: endpoint local: base URL must start with http:// or https://"]
    )
    assert "Traceback" not in result.stderr.str()


def test_default_openai_endpoint_without_key_is_noted_in_the_header_with_v(
    suite: pytest.Pytester,
) -> None:
    # Issue 13: not set up is no news in every run; -v says it.
    quiet = suite.runpytest("evals", "--llm-models=all", "--collect-only", "-q")
    assert "openai left out" not in quiet.stdout.str()
    result = suite.runpytest("evals", "--llm-models=all", "--collect-only", "-v")
    result.stdout.fnmatch_lines(
        [
            "llmbench: openai left out: $OPENAI_API_KEY is not set "
            "(set OPENAI_API_KEY in the environment to use https://api.openai.com/v1)"
        ]
    )


# -- prices ------------------------------------------------------------------------------


def test_call_cost_first_match_wins() -> None:
    lines = ["openai/gpt-4o-mini = 0.15 0.60", "openai/* = 2.5 10", "groq/* = 0.05 0.08"]
    table = PriceTable(tuple(parse_price_line(line) for line in lines))
    # 1M prompt tokens at $0.15 + 1M completion tokens at $0.60
    assert call_cost(table, "openai/gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    # (1000 * 2.5 + 100 * 10) / 1e6 = 0.0035
    assert call_cost(table, "openai/gpt-4o", 1000, 100) == pytest.approx(0.0035)
    assert call_cost(table, "local/smollm2", 1000, 100) is None
    assert call_cost(table, "groq/x", None, None) is None
    hourly = PriceTable((parse_price_line("ollama/* = hourly 0.8"),))
    assert call_cost(hourly, "ollama/qwen2.5:7b", 1000, 100) is None


@pytest.mark.parametrize("line", ["openai/x = 1", "openai/x 1 2", "x = a b", "x = -1 2"])
def test_bad_price_lines(line: str) -> None:
    with pytest.raises(PriceError):
        parse_price_line(line)


# -- redaction ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer sk-abc.def-123", "Authorization: Bearer ***"),
        ('{"authorization": "Bearer xyz123456"}', '{"authorization": "Bearer ***"}'),
        ("authorization=sometoken1", "authorization=***"),
        ("got bearer abcdef123 back", "got bearer *** back"),
        ("?api_key=abc123&x=1", "?api_key=***&x=1"),
        ('"x-api-key": "zzzzzz"', '"x-api-key": "***"'),
        ("https://bob:hunter2@host/v1", "https://bob:***@host/v1"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact_masks_credentials(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_registered_secrets_are_masked_anywhere() -> None:
    register_secret("sk-registered-secret-42")
    register_secret("abc")  # too short to mask safely: ignored
    assert redact("key sk-registered-secret-42 leaked") == f"key {MASK} leaked"
    assert redact("abc") == "abc"
    assert redact_data({"a": ["x sk-registered-secret-42", 1, None], "b": True}) == {
        "a": [f"x {MASK}", 1, None],
        "b": True,
    }


SECRET = "sk-live-TOPSECRET-9f8e7d6c5b4a"


def written_files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8", errors="replace")
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".json", ".xml", ".txt", ".md", ".jsonl")
    }


def test_api_key_never_appears_in_any_output(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is in the environment; the endpoint echoes the Authorization header in its
    errors and in one answer; nothing the plugin shows or writes may contain it."""
    monkeypatch.setenv("LLMBENCH_SECRET_KEY", SECRET)
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)

    def leaky(model: str, messages: list[dict[str, str]], fmt: object) -> str:
        company = "Acme" if "Acme" in messages[-1]["content"] else "Globex"
        return json.dumps({"company": company, "note": f"Authorization: Bearer {SECRET}"})

    with OpenAIEmulator(models=["m"], answer=leaky, require_key=SECRET, echo_auth=True) as srv:
        srv.fail_next(400, times=1)  # COMPANY_001 fails with the header echoed back
        endpoint = f"--llm-endpoint=leaky={srv.url} key_env=LLMBENCH_SECRET_KEY retries=0"
        result = pytester.runpytest(
            endpoint,
            "--llm-models=leaky/m",
            "--llm-json=out/bench.json",
            "--junitxml=out/junit.xml",
            "--llm-cache=write",
            "--llm-cache-dir=out/cache",
            "-p",
            "no:benchmark",
        )
        assert srv.received[-1].headers["authorization"] == f"Bearer {SECRET}"  # it was sent
        # A wrong key: the 401 error (echoing what was sent) is in a discovery problem
        monkeypatch.setenv("LLMBENCH_SECRET_KEY", SECRET + "-wrong")
        rejected = pytester.runpytest(endpoint, "--llm-models=leaky/m", "-p", "no:benchmark")
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "HTTP 400" in output  # the failure is reported ...
    assert "***" in output  # ... with the echoed header masked
    assert SECRET not in output
    files = written_files(pytester.path / "out")
    assert {"bench.json", "junit.xml"} <= set(files)
    assert any(name.startswith("cache/") for name in files)
    for name, text in files.items():
        assert SECRET not in text, name
        assert "TOPSECRET" not in text, name
    doc = json.loads(files["bench.json"])
    failed = next(r for r in doc["results"] if not r["correct"])
    assert failed["error"].endswith("(request headers: authorization: Bearer ***)")

    assert rejected.ret == pytest.ExitCode.USAGE_ERROR
    rejected_output = rejected.stdout.str() + rejected.stderr.str()
    assert "rejected the API key from $LLMBENCH_SECRET_KEY (HTTP 401" in rejected_output
    assert "TOPSECRET" not in rejected_output
