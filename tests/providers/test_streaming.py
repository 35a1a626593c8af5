"""Streamed timings on the wire: time to first token, time between tokens, prefill and
generation, measured against the emulators' scripted durations on a fake clock.

Acceptance (issue 23): within 5% of the scripted values, on both transports of both
HTTP providers; the answer is the same streamed or not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.cases.records import Case, Expected, OutputSpec, Task
from pytest_llmbench.execution.call import call_provider, make_result
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import Score
from pytest_llmbench.providers.base import BuiltinSettings, ModelInfo, Request
from pytest_llmbench.providers.endpoints import Endpoint
from pytest_llmbench.providers.ollama import OllamaProvider
from pytest_llmbench.providers.openai import OpenAIProvider
from tests.support.clock import FakeClock
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator
from tests.support.openai_emulator import OpenAIEmulator

MODEL = "qwen2.5:7b"
ANSWER = "one two three four five six seven eight nine ten eleven twelve"
TOKENS = 12
PREFILL_S = 0.8
TOKEN_S = 0.05


def answer(*_: object) -> str:
    return ANSWER


def timed_result(provider: OllamaProvider | OpenAIProvider, model: str) -> Result:
    """One call through the harness's own timing, made into the result record."""
    call = call_provider(provider, Request(model=model, prompt="count to twelve"))
    assert call.error is None, call.error
    case = Case(id="c1", expected=Expected(), prompt="count")
    task = Task(
        name="count",
        path=Path("count.yaml"),
        output=OutputSpec(),
        options=GenerateOptions(),
        cases=(case,),
    )
    info = ModelInfo(provider.name, model)
    return make_result(task, task.cases[0], info, 1, call, Score(True, ANSWER, ""))


def assert_scripted(result: Result, *, load_s: float = 0.0) -> None:
    """TTFT = prefill + one token, ITL = one token, prefill and generation as scripted."""
    assert result.got == ANSWER
    assert result.ttft_ms == pytest.approx((PREFILL_S + TOKEN_S) * 1000, rel=0.05)
    assert result.itl_ms == pytest.approx(TOKEN_S * 1000, rel=0.05)
    assert result.prefill_ms == pytest.approx(PREFILL_S * 1000, rel=0.05)
    assert result.generation_ms == pytest.approx(TOKEN_S * TOKENS * 1000, rel=0.05)
    end_to_end = (PREFILL_S + TOKEN_S * TOKENS) * 1000
    assert result.latency_ms == pytest.approx(end_to_end, rel=0.05)
    assert result.ttft_ms is not None
    assert result.latency_ms is not None
    assert result.ttft_ms < result.latency_ms


@pytest.mark.parametrize("lean_http", [True, False], ids=["lean-http", "ollama-client"])
def test_ollama_streamed_timings_are_the_scripted_ones(
    fake_clock: FakeClock, lean_http: bool
) -> None:
    model = EmulatedModel(MODEL, prompt_latency_s=PREFILL_S, token_latency_s=TOKEN_S)
    with OllamaEmulator(models=[model], answer=answer, clock=fake_clock, load_latency_s=2.0) as srv:
        provider = OllamaProvider(BuiltinSettings(ollama_hosts=(srv.url,), lean_http=lean_http))
        try:
            first = timed_result(provider, MODEL)  # loads the model: the load is left out
            second = timed_result(provider, MODEL)
        finally:
            provider.close()
    assert first.load_ms == pytest.approx(2000.0)
    assert_scripted(first)
    assert_scripted(second)
    assert srv.last_request["stream"] is True


@pytest.mark.parametrize("lean_http", [True, False], ids=["lean-http", "openai-client"])
def test_openai_streamed_timings_are_the_scripted_ones(
    fake_clock: FakeClock, lean_http: bool
) -> None:
    with OpenAIEmulator(
        models=["smollm2"],
        answer=answer,
        clock=fake_clock,
        prompt_latency_s=PREFILL_S,
        token_latency_s=TOKEN_S,
        timings=True,  # llama.cpp's server: prefill and generation reported
    ) as srv:
        provider = OpenAIProvider(
            BuiltinSettings(lean_http=lean_http), Endpoint(name="local", base_url=srv.url)
        )
        try:
            result = timed_result(provider, "smollm2")
        finally:
            provider.close()
    assert_scripted(result)
    assert result.completion_tokens == TOKENS  # the usage of the last chunk
    assert srv.streamed == 1


def test_openai_without_server_timings_has_client_timings_only(fake_clock: FakeClock) -> None:
    with OpenAIEmulator(
        answer=answer, clock=fake_clock, prompt_latency_s=PREFILL_S, token_latency_s=TOKEN_S
    ) as srv:
        provider = OpenAIProvider(BuiltinSettings(), Endpoint(name="local", base_url=srv.url))
        result = timed_result(provider, "smollm2")
        provider.close()
    assert result.ttft_ms == pytest.approx((PREFILL_S + TOKEN_S) * 1000, rel=0.05)
    assert result.itl_ms == pytest.approx(TOKEN_S * 1000, rel=0.05)
    assert (result.prefill_ms, result.generation_ms) == (None, None)


def _ollama(url: str, stream: bool) -> OllamaProvider | OpenAIProvider:
    return OllamaProvider(BuiltinSettings(ollama_hosts=(url,), stream=stream))


def _openai(url: str, stream: bool) -> OllamaProvider | OpenAIProvider:
    return OpenAIProvider(BuiltinSettings(stream=stream), Endpoint(name="local", base_url=url))


@pytest.mark.parametrize("server", ["ollama", "openai"])
def test_the_answer_is_the_same_streamed_or_not(server: str) -> None:
    emulator = (
        OllamaEmulator(answer=answer) if server == "ollama" else OpenAIEmulator(answer=answer)
    )
    make = _ollama if server == "ollama" else _openai
    model = MODEL if server == "ollama" else "smollm2"
    with emulator:
        replies = {}
        for stream in (True, False):
            provider = make(emulator.url, stream)
            replies[stream] = provider.generate(Request(model=model, prompt="count"))
            provider.close()
    assert replies[True].text == replies[False].text == ANSWER
    assert replies[True].completion_tokens == replies[False].completion_tokens
    assert replies[True].ttft_ms is not None
    assert replies[False].ttft_ms is None
    assert replies[False].itl_ms is None


@pytest.mark.parametrize("lean_http", [True, False], ids=["lean-http", "openai-client"])
def test_an_endpoint_that_refuses_streaming_is_asked_without_it(lean_http: bool) -> None:
    """An older server refuses ``stream_options``: streamed without it, then, refusing
    ``stream`` too, answered whole; the answer is the same, and it is asked once."""
    with OpenAIEmulator(answer=answer, refuse=["stream_options"]) as srv:
        provider = OpenAIProvider(
            BuiltinSettings(lean_http=lean_http), Endpoint(name="local", base_url=srv.url)
        )
        first = provider.generate(Request(model="smollm2", prompt="count"))
        second = provider.generate(Request(model="smollm2", prompt="count"))
        srv.refuse.add("stream")
        third = provider.generate(Request(model="smollm2", prompt="count"))
        fourth = provider.generate(Request(model="smollm2", prompt="count"))
        provider.close()
    assert first.text == second.text == third.text == fourth.text == ANSWER
    assert first.ttft_ms is not None
    assert second.ttft_ms is not None
    assert second.retry_ms is None  # nothing refused any more
    assert third.ttft_ms is None
    assert fourth.ttft_ms is None
    bodies = [r.body for r in srv.received if r.path.endswith("/chat/completions")]
    sent = [("stream" in b, "stream_options" in b) for b in bodies]
    assert sent == [
        (True, True),
        (True, False),
        (True, False),
        (True, False),
        (False, False),
        (False, False),
    ]
