"""Embedded prefix reuse (``providers.llamacpp.PrefixCache``) on the real GGUF models.

A task's cases share the start of their prompt; the embedded provider evaluates it
once per model and restores its KV state before each case.  What must hold: the
answers are those of a full evaluation from an empty context, whatever ran before,
in any order, in a fresh process, and with prefix reuse off.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="needs pip install 'pytest-llmbench[embedded]'")

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.cases.records import Task
from pytest_llmbench.execution.call import build_request, prompt_head
from pytest_llmbench.providers import llamacpp
from pytest_llmbench.providers.base import BuiltinSettings, ModelInfo, Request, Response
from pytest_llmbench.providers.llamacpp import LlamaCppProvider, prompt_tokens
from tests.support.casedata import COMPANY_SCHEMA, company_request

pytestmark = pytest.mark.embedded

GRADING = Path(__file__).resolve().parents[2] / "evals" / "grading.yaml"
MODELS = ("smollm2-135m", "gemma3-270m")
CASES = 2
"""Grading cases per check (each is a ~550-token prompt: a few seconds on a small CPU);
two are enough to answer them in another order."""


@pytest.fixture(scope="module")
def grading() -> Task:
    return load_task(GRADING)


@pytest.fixture(scope="module")
def with_reuse(grading: Task) -> dict[str, tuple[LlamaCppProvider, list[tuple[str, int | None]]]]:
    """Per model: a provider with prefix reuse and its answers to the cases in order, after
    another task's request (whatever ran before in this process); computed once, checked
    against other orders, no reuse, and a fresh process."""
    out = {}
    for model in MODELS:
        provider = LlamaCppProvider(BuiltinSettings(prefix_reuse=True))
        provider.generate(company_request(model))
        computed = llamacpp._PREFIXES.computed
        out[model] = (provider, answers(provider, requests_for(grading, model)))
        assert llamacpp._PREFIXES.computed <= computed + 1  # one prefix per model and task
    return out


def requests_for(task: Task, model: str, count: int = CASES) -> list[Request]:
    info = ModelInfo("llamacpp", model)
    return [build_request(task, case, info, 120.0) for case in task.cases[:count]]


def answers(provider: LlamaCppProvider, requests: list[Request]) -> list[tuple[str, int | None]]:
    replies: list[Response] = [provider.generate(r) for r in requests]
    return [(r.text, r.prompt_tokens) for r in replies]


def test_the_head_is_what_every_case_of_the_task_starts_with(grading: Task) -> None:
    head = prompt_head(grading)
    assert head.startswith("You check an AI-written summary of a job posting.")
    assert head.endswith("POSTING:\n")
    assert all(case.prompt.startswith(head) for case in grading.cases)
    assert prompt_head(grading) is head  # once per task


# Gemma 3 (sliding-window attention) keeps no prefix state: see the last test.
@pytest.mark.parametrize("model", ["smollm2-135m"])
def test_the_prefix_is_a_token_prefix_of_every_case(grading: Task, model: str) -> None:
    provider = LlamaCppProvider(BuiltinSettings())
    provider.load(model)
    llm = llamacpp._LOADED[str(provider._path(model))]
    chat = provider._chat_format(model, llm)
    llm.chat_format = chat.handler
    requests = requests_for(grading, model, len(grading.cases))
    rendered = [prompt_tokens(llm, llamacpp._messages(chat, r.system, r.prompt)) for r in requests]
    cache = llamacpp.PrefixCache()
    head = requests[0].prompt_head
    key = ("test", chat.handler, None, head)
    shared = cache.restore(llm, key, lambda text: llamacpp._messages(chat, None, head + text))
    state = cache._states[key]
    assert state is not None
    assert shared == len(state.tokens)
    # the chat template's opening, the instructions, up to the posting
    text = llm.detokenize(state.tokens, special=True).decode()
    assert "You check an AI-written summary" in text
    assert text.rstrip().endswith("POSTING:")
    for tokens in rendered:
        assert tokens is not None
        assert tokens[:shared] == state.tokens
        assert len(tokens) > shared + 100  # the posting and the summary are evaluated per case
    cache.restore(llm, key, lambda text: pytest.fail("computed twice"))
    assert cache.computed == 1


@pytest.mark.parametrize("model", MODELS)
def test_answers_are_the_same_in_any_order_and_without_reuse(
    grading: Task,
    model: str,
    with_reuse: dict[str, tuple[LlamaCppProvider, list[tuple[str, int | None]]]],
) -> None:
    reuse, in_order = with_reuse[model]
    requests = requests_for(grading, model)
    order = list(reversed(range(CASES)))
    again = dict(zip(order, answers(reuse, [requests[i] for i in order]), strict=True))
    without = answers(LlamaCppProvider(BuiltinSettings(prefix_reuse=False)), requests)
    assert [again[i] for i in range(CASES)] == in_order
    assert without == in_order
    assert all(text for text, _ in in_order)


FRESH = """
import json, sys
from pathlib import Path
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.execution.call import build_request
from pytest_llmbench.providers.base import ModelInfo, BuiltinSettings
from pytest_llmbench.providers.llamacpp import LlamaCppProvider

model, path, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
task = load_task(path)
provider = LlamaCppProvider(BuiltinSettings(prefix_reuse=False))
info = ModelInfo("llamacpp", model)
replies = [provider.generate(build_request(task, c, info, 120.0)) for c in task.cases[:count]]
print(json.dumps([[r.text, r.prompt_tokens] for r in replies]))
"""


@pytest.mark.parametrize("model", MODELS)
def test_answers_are_those_of_a_fresh_process_without_reuse(
    model: str, with_reuse: dict[str, tuple[LlamaCppProvider, list[tuple[str, int | None]]]]
) -> None:
    _, here = with_reuse[model]  # after another request in this process, with reuse
    fresh = subprocess.run(
        [sys.executable, "-c", FRESH, model, str(GRADING), str(CASES)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    assert [tuple(pair) for pair in json.loads(fresh.stdout.splitlines()[-1])] == here


def test_a_prompt_longer_than_a_batch_gives_the_same_answer() -> None:
    # llama-cpp-python evaluates a prompt in batches of 512 tokens: with the prefix
    # restored, the batches are cut elsewhere.  The answer must not change.
    postings = sorted((GRADING.parent.parent / "fixtures" / "postings").glob("*.txt"))
    long_text = "\n\n".join(p.read_text() for p in postings[:3])
    request = Request(
        model="smollm2-135m",
        system="You extract facts.",
        prompt=f"Postings:\n{long_text}\nWhich company is hiring first? Answer as JSON.",
        prompt_head="Postings:\n",
        options=GenerateOptions(temperature=0.0, seed=42, max_tokens=16),
        json_schema=COMPANY_SCHEMA,
    )
    reused = LlamaCppProvider(BuiltinSettings(prefix_reuse=True)).generate(request)
    assert reused.prompt_tokens is not None
    assert reused.prompt_tokens > 600
    full = LlamaCppProvider(BuiltinSettings(prefix_reuse=False)).generate(request)
    assert (reused.text, reused.prompt_tokens) == (full.text, full.prompt_tokens)


def test_a_sliding_window_model_reads_its_whole_prompt() -> None:
    # Gemma 3 attends through a sliding window: a prefix evaluated apart changed an
    # answer (COMPANY_006: "H&P Logistics" instead of "Harbor & Pine Logistics").
    task = load_task(GRADING.with_name("company_extraction.yaml"))
    gemma = ModelInfo("llamacpp", "gemma3-270m")
    requests = [build_request(task, c, gemma, 600.0) for c in task.cases if c.id == "COMPANY_006"]
    assert requests[0].prompt_head  # the task has a shared head that could be reused
    before = llamacpp._PREFIXES.computed
    reuse = answers(LlamaCppProvider(BuiltinSettings(prefix_reuse=True)), requests)
    assert llamacpp._PREFIXES.computed == before  # no prefix state for this model
    assert reuse == answers(LlamaCppProvider(BuiltinSettings(prefix_reuse=False)), requests)
    assert "Harbor & Pine Logistics" in reuse[0][0]
