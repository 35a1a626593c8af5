"""The response cache: keys, entries, modes, and what cached results mean for the ranking."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_llmbench.analysis.notes import annotate, run_notes
from pytest_llmbench.analysis.ranking import rank_strict
from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.execution.cache import ResponseCache, cache_key
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import ModelInfo, Request, Response
from tests.support import factories

REQUEST = Request(
    model="qwen2.5:7b",
    prompt="Grade this.",
    system="Be strict.",
    options=GenerateOptions(temperature=0.0, seed=42, max_tokens=64),
    json_schema={"type": "object"},
    timeout_s=120.0,
)


MODEL = ModelInfo("ollama", "qwen2.5:7b", details={"digest": "sha256:abc"})


def test_key_is_stable_and_ignores_the_timeout() -> None:
    assert cache_key(MODEL, REQUEST) == cache_key(MODEL, replace(REQUEST, timeout_s=5.0))
    assert len(cache_key(MODEL, REQUEST)) == 64


def test_each_repeat_has_its_own_key() -> None:
    keys = {cache_key(MODEL, REQUEST, "0.1.0", repeat) for repeat in (1, 2, 3)}
    assert len(keys) == 3
    assert cache_key(MODEL, REQUEST, "0.1.0", 1) == cache_key(MODEL, REQUEST, "0.1.0")


@pytest.mark.parametrize(
    ("model", "request_", "version"),
    [
        (replace(MODEL, provider="other"), REQUEST, "0.1.0"),
        (replace(MODEL, name="llama3.2:3b"), REQUEST, "0.1.0"),
        (replace(MODEL, details={"digest": "sha256:def"}), REQUEST, "0.1.0"),
        (MODEL, replace(REQUEST, prompt="Grade that."), "0.1.0"),
        (MODEL, replace(REQUEST, system=None), "0.1.0"),
        (MODEL, replace(REQUEST, options=GenerateOptions(seed=43, max_tokens=64)), "0.1.0"),
        (MODEL, replace(REQUEST, options=GenerateOptions(extra={"num_ctx": 4096})), "0.1.0"),
        (MODEL, replace(REQUEST, json_schema=None), "0.1.0"),
        (MODEL, REQUEST, "0.2.0"),
    ],
)
def test_key_changes_with_everything_that_changes_the_answer(
    model: ModelInfo, request_: Request, version: str
) -> None:
    assert cache_key(model, request_, version) != cache_key(MODEL, REQUEST, "0.1.0")


def test_put_then_get_round_trips_the_response(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "readwrite")
    response = Response(
        text='{"verdict": "PASS"}', eval_ms=12.5, prompt_tokens=40, completion_tokens=5
    )
    path = cache.put(MODEL, REQUEST, response, latency_ms=99.0)
    assert path.parent.parent == tmp_path
    entry = cache.get(MODEL, REQUEST)
    assert entry is not None
    assert entry.response == response
    assert entry.latency_ms == 99.0
    assert entry.digest == "sha256:abc"
    assert cache.get(replace(MODEL, details={}), REQUEST) is None
    stored = json.loads(path.read_text())
    assert stored["request"]["prompt"] == "Grade this."
    assert "timeout_s" not in json.dumps(stored["request"])
    assert list(tmp_path.rglob("*.part")) == []


def test_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, "read")
    path = cache.put(MODEL, REQUEST, Response(text="x"), None)
    path.write_text("{not json")
    assert cache.get(MODEL, REQUEST) is None


def test_read_mode_discovery_lists_the_cached_models(tmp_path: Path) -> None:
    writer = ResponseCache(tmp_path, "write")
    writer.put(MODEL, REQUEST, Response(text="x"), None)
    writer.put(replace(MODEL, name="a:1b", details={}), REQUEST, Response(text="x"), None)
    old = ResponseCache(tmp_path, "write", version="0.0.1")
    old.put(replace(MODEL, name="stale:1b"), REQUEST, Response(text="x"), None)
    found = ResponseCache(tmp_path, "read").discovery("ollama")
    assert [m.name for m in found.models] == ["a:1b", "qwen2.5:7b"]
    assert found.models[1].details["digest"] == "sha256:abc"
    empty = ResponseCache(tmp_path, "read").discovery("llamacpp")
    assert empty.models == ()
    assert empty.problem == f"no cached answers in {tmp_path}"


def test_bad_mode_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="off, read, write, readwrite"):
        ResponseCache(tmp_path, "sometimes")


def result(model: str, case: str, latency: float | None, *, cached: bool = False) -> Result:
    return factories.result(
        model,
        case,
        task="t",
        latency_ms=latency,
        completion_tokens=10,
        eval_ms=100.0 if latency is not None else None,
        cached=cached,
    )


def test_cached_latencies_are_excluded_from_ranking() -> None:
    results = [
        # a cached record that (wrongly) carries a latency must still not count
        result("p/fast-but-cached", "A", 1.0, cached=True),
        result("p/fast-but-cached", "B", 1.0, cached=True),
        result("p/mixed", "A", 300.0),
        result("p/mixed", "B", 5.0, cached=True),
        result("p/timed", "A", 200.0),
        result("p/timed", "B", 200.0),
    ]
    ranking = rank_strict("t", results)
    by_model = {s.model: s for s in ranking.standings}
    assert by_model["p/mixed"].mean_ms == 300.0
    assert by_model["p/fast-but-cached"].mean_ms is None
    assert by_model["p/fast-but-cached"].tokens_per_s is None
    # timed models first, fastest first; the all-cached model has no timing and comes last
    assert [s.model for s in ranking.qualified] == ["p/timed", "p/mixed", "p/fast-but-cached"]
    assert ranking.champion is not None
    assert ranking.champion.model == "p/timed"


def test_notes_say_what_came_from_the_cache() -> None:
    results = [
        result("p/cached", "A", None, cached=True),
        result("p/mixed", "A", 300.0),
        result("p/mixed", "B", None, cached=True),
    ]
    assert run_notes(results) == [
        "answers from the response cache (not timed, latency not ranked): "
        "p/cached 1 of 1, p/mixed 1 of 2",
        "no timing (cached): p/cached, ranked after the timed models",
    ]
    every = [result("p/a", "A", None, cached=True), result("p/b", "A", None, cached=True)]
    annotated = annotate(rank_strict("t", every), every)
    assert annotated.notes == (
        "all 2 answers came from the response cache: no timing (cached), "
        "so qualified models are listed by name, not by speed",
    )
    plain = rank_strict("t", [result("p/a", "A", 5.0)])
    assert annotate(plain, [result("p/a", "A", 5.0)]) is plain
