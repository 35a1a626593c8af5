"""The streamed timings of one call as the result record keeps them."""

from __future__ import annotations

from pathlib import Path

from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.cases.records import Case, Expected, OutputSpec, Task
from pytest_llmbench.execution.call import Call, first_token_ms, make_result
from pytest_llmbench.execution.scoring import Score
from pytest_llmbench.providers.base import ModelInfo, Response


def test_the_time_to_first_token_leaves_out_a_load_the_server_reported() -> None:
    assert first_token_ms(Response("ok", ttft_ms=900.0, load_ms=700.0)) == 200.0
    assert first_token_ms(Response("ok", ttft_ms=90.0)) == 90.0
    assert first_token_ms(Response("ok", ttft_ms=50.0, load_ms=80.0)) == 0.0  # never negative


def test_no_stream_no_time_to_first_token() -> None:
    assert first_token_ms(Response("ok")) is None
    assert first_token_ms(None) is None


def test_a_cached_answer_was_not_timed_now() -> None:
    case = Case(id="c1", expected=Expected(), prompt="p")
    task = Task("t", Path("t.yaml"), OutputSpec(), GenerateOptions(), (case,))
    response = Response("ok", ttft_ms=5.0, itl_ms=1.0)
    score = Score(True, "ok", "")
    live = make_result(task, case, ModelInfo("p", "m"), 1, Call(response, 20.0), score)
    cached = make_result(
        task, case, ModelInfo("p", "m"), 1, Call(response, None, cached=True), score
    )
    assert (live.ttft_ms, live.itl_ms) == (5.0, 1.0)
    assert (cached.ttft_ms, cached.itl_ms) == (None, None)
