"""``Router.arun`` against emulated Ollama hosts (real HTTP on loopback): the answers,
fall-overs, breaker and feedback of ``run``, from many tasks and threads at once, on
kept-alive connections; and the feedback log kept open and buffered."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.cases.hashing import prompt_hash
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.providers.base import BuiltinSettings
from pytest_llmbench.router import BadValues, NoAnswer, Router, UnknownTask
from pytest_llmbench.storage.feedback import (
    FeedbackLog,
    FeedbackRecord,
    flush_feedback,
    read_feedback,
)
from tests.support.ollama_emulator import OllamaEmulator
from tests.support.serve_harness import CHAMPION, RUNNER_UP, project, right


@pytest.fixture
def hosts() -> Iterator[tuple[OllamaEmulator, OllamaEmulator]]:
    with (
        OllamaEmulator(models=["qwen2.5:7b"], answer=right) as first,
        OllamaEmulator(models=["llama3.2:3b"], answer=right) as second,
    ):
        yield first, second
    assert first.errors == second.errors == []


def make_router(root: Path, hosts: tuple[OllamaEmulator, OllamaEmulator], **options: Any) -> Router:
    settings = BuiltinSettings(
        ollama_hosts=(hosts[0].url, hosts[1].url),
        timeout_s=5.0,
        discovery_timeout_s=1.0,
        retries=0,
    )
    return Router.from_registry(project(root), settings=settings, **options)


def log_lines(root: Path) -> list[dict[str, Any]]:
    flush_feedback()
    text = (root / ".llmbench" / "feedback.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_arun_answers_as_run_does(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    with make_router(tmp_path, hosts) as router:
        sync = router.run("grading", posting="GOOD posting")
        result = asyncio.run(router.arun("grading", posting="GOOD posting"))
    assert (
        (result.value, result.text, result.model, result.fell_over_from)
        == (
            sync.value,
            sync.text,
            sync.model,
            sync.fell_over_from,
        )
        == ("PASS", '{"verdict": "PASS"}', CHAMPION, ())
    )
    bodies = hosts[0].bodies("/api/chat")
    assert bodies[0] == bodies[1]  # the same request, byte for byte the benchmark's
    lines = log_lines(tmp_path)
    assert [(line["model"], line["outcome"]) for line in lines] == [(CHAMPION, "ok")] * 2


def test_arun_falls_over_opens_the_breaker_and_logs_as_run_does(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    hosts[0].die()
    with make_router(tmp_path, hosts) as router:

        async def calls() -> list[Any]:
            return [await router.arun("grading", posting=f"BAD {i}") for i in range(5)]

        results = asyncio.run(calls())
        assert router.breaker.state(CHAMPION) == "open"
    assert {r.model for r in results} == {RUNNER_UP}
    assert [r.fell_over_from for r in results] == [(CHAMPION,)] * 3 + [()] * 2
    outcomes = [(line["model"], line["outcome"]) for line in log_lines(tmp_path)]
    assert (
        outcomes
        == [(CHAMPION, "error"), (RUNNER_UP, "ok")] * 3
        + [
            (CHAMPION, "circuit_open"),
            (RUNNER_UP, "ok"),
        ]
        * 2
    )


def test_arun_errors_are_the_router_s(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    hosts[0].die()
    hosts[1].die()
    with make_router(tmp_path, hosts) as router:
        with pytest.raises(
            UnknownTask, match=r"task 'nope' is not in registry .* \(tasks: grading\)"
        ):
            asyncio.run(router.arun("nope"))
        with pytest.raises(BadValues, match="task grading: no value for posting"):
            asyncio.run(router.arun("grading"))
        with pytest.raises(NoAnswer, match="no model answered task grading: "):
            asyncio.run(router.arun("grading", posting="GOOD"))


def test_many_tasks_and_threads_at_once_share_the_breaker_the_log_and_connections(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[int] = []
    track = hosts[0]._track

    def counting(conn: Any, add: bool) -> None:
        if add:
            opened.append(1)
        track(conn, add)

    monkeypatch.setattr(hosts[0], "_track", counting)
    router = make_router(tmp_path, hosts, workers=4)

    async def many(offset: int) -> list[Any]:
        return await asyncio.gather(
            *(router.arun("grading", posting=f"GOOD {offset + i}") for i in range(50))
        )

    def in_a_thread(offset: int) -> list[Any]:  # each thread its own event loop
        return asyncio.run(many(offset))

    with ThreadPoolExecutor(3) as pool:
        batches = list(pool.map(in_a_thread, (0, 1000, 2000)))
    sync = [router.run("grading", posting=f"GOOD {3000 + i}") for i in range(10)]
    router.close()
    results = [r for batch in batches for r in batch] + sync
    assert len(results) == 160
    assert {(r.value, r.model) for r in results} == {("PASS", CHAMPION)}
    lines = log_lines(tmp_path)
    assert len(lines) == 160 == len({line["call"] for line in lines})  # whole lines, one each
    assert len(opened) <= 5  # kept alive: one connection per worker thread (and this one)


def test_a_template_is_hashed_as_before(tmp_path: Path) -> None:
    project(tmp_path)
    task = load_task(tmp_path / "evals" / "grading.yaml")
    for posting in ("GOOD", "BAD one"):
        case = task.fill({"posting": posting})
        system = "You grade job postings for the hiring team."
        expected = prompt_hash(system, case.prompt, task.options, task.output.request_schema())
        assert case.prompt_hash == expected
    asked = task.prompted("Posting: GOOD", None)
    assert asked.prompt_hash == prompt_hash(
        None, "Posting: GOOD", task.options, task.output.request_schema()
    )


# ------------------------------------------------------------------- the buffered log


def record(n: int) -> FeedbackRecord:
    return FeedbackRecord("2025-06-01T09:15:00.000Z", f"call{n:08d}", "grading", CHAMPION, "ok")


def test_the_log_is_written_on_its_bound_on_flush_and_on_close(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "feedback.jsonl"
    log = FeedbackLog(path, flush_bytes=1000, flush_s=60)
    log.append([record(0)])
    assert path.read_text() == ""  # opened at once (a log that cannot be written says so)
    for n in range(1, 20):
        log.append([record(n)])
    written = len(path.read_text().splitlines())
    assert 0 < written < 20  # the bound: about 1000 bytes at a time
    log.flush()
    assert len(path.read_text().splitlines()) == 20
    log.append([record(20)])
    log.close()
    records, bad = read_feedback(path)
    assert ([r.call for r in records], bad) == ([f"call{n:08d}" for n in range(21)], 0)


def test_the_log_is_written_after_flush_s_and_when_dropped(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    log = FeedbackLog(path, flush_s=0.05)
    log.append([record(1)])
    done = threading.Event()
    for _ in range(100):
        if path.read_text():
            done.set()
            break
        done.wait(0.02)
    assert done.is_set()
    other = tmp_path / "other.jsonl"
    dropped = FeedbackLog(other, flush_s=60)
    dropped.append([record(2)])
    del dropped
    assert len(other.read_text().splitlines()) == 1


def test_a_rotated_log_is_opened_anew(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    log = FeedbackLog(path, flush_s=60)
    log.append([record(1)])
    log.flush()
    path.rename(tmp_path / "feedback.jsonl.1")
    log.append([record(2)])
    log.flush()
    assert [json.loads(x)["call"] for x in path.read_text().splitlines()] == ["call00000002"]


def test_nothing_is_lost_at_a_normal_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "feedback.jsonl"
    code = (
        "from pathlib import Path\n"
        "from pytest_llmbench.storage.feedback import FeedbackLog, FeedbackRecord\n"
        f"log = FeedbackLog(Path({str(path)!r}), flush_s=60)\n"
        "for n in range(100):\n"
        "    log.append([FeedbackRecord('t', f'c{n}', 'grading', 'm', 'ok')])\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert len(path.read_text().splitlines()) == 100


# ------------------------------------------------------------- a backend's Retry-After


def test_a_backend_s_retry_after_opens_its_circuit_for_that_long(tmp_path: Path) -> None:
    from pytest_llmbench.router import default_settings
    from tests.support.openai_emulator import OpenAIEmulator

    def verdict(model: str, messages: list[dict[str, Any]], response_format: Any) -> str:
        return json.dumps({"verdict": "PASS"})

    now = [1000.0]
    with (
        OpenAIEmulator(models=["m"], answer=verdict) as fast,
        OllamaEmulator(models=["llama3.2:3b"], answer=right) as slow,
    ):
        settings = default_settings(
            5.0, (slow.url,), endpoints=[f"fast={fast.url} models=m retries=0"]
        )
        registry = project(tmp_path, "fast/m", RUNNER_UP)
        router = Router.from_registry(
            registry, settings=settings, feedback=False, clock=lambda: now[0]
        )
        fast.fail_next(429, headers={"Retry-After": "30"})
        first = router.run("grading", posting="GOOD")
        assert (first.model, first.fell_over_from) == (RUNNER_UP, ("fast/m",))
        assert router.breaker.state("fast/m") == "open"  # after one failure: it asked
        assert router.breaker.retry_in("fast/m") == 30.0
        second = router.run("grading", posting="GOOD")
        assert [a.outcome for a in second.attempts] == ["circuit_open", "ok"]
        now[0] += 30.0
        third = router.run("grading", posting="GOOD")
        assert (third.model, router.breaker.state("fast/m")) == ("fast/m", "closed")
        assert fast.chat_requests == 2
