"""Sending a remote model's next call ahead (execution/lifecycle.py ``call_in_turn``) and
one item's prepared call (execution/call.py ``prepared_call``); no pytest items."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.records import Task
from pytest_llmbench.execution.cache import ResponseCache
from pytest_llmbench.execution.call import Call, prepared_call
from pytest_llmbench.execution.lifecycle import (
    LifecycleSettings,
    ModelLifecycle,
    Planned,
    call_in_turn,
)
from pytest_llmbench.providers.base import ModelInfo

REMOTE = ModelInfo("remote", "m")


class _Remote:
    remote = True


@pytest.fixture
def lifecycle(tmp_path: Path) -> Iterator[ModelLifecycle]:
    made = ModelLifecycle(
        lambda: {"remote": _Remote()},  # type: ignore[arg-type,return-value]
        dict,
        ResponseCache(tmp_path / "cache", "off"),
        LifecycleSettings(prefetch=True),
    )
    yield made
    made.pipeline.close()


class _Calls:
    """Planned calls that note the thread each was made on."""

    def __init__(self) -> None:
        self.made: list[tuple[str, bool]] = []
        self.built: list[str] = []

    def planned(self, key: str, model: ModelInfo = REMOTE) -> Planned:
        def fetch() -> Callable[[], Call]:
            self.built.append(key)

            def call() -> Call:
                on_main = threading.current_thread() is threading.main_thread()
                self.made.append((key, on_main))
                return Call(None, 25.0)

            return call

        return Planned(key, model, fetch)


def test_a_model_not_pipelined_is_called_inline_and_nothing_is_sent_ahead(
    tmp_path: Path,
) -> None:
    lifecycle = ModelLifecycle(
        lambda: {"remote": _Remote()},  # type: ignore[arg-type,return-value]
        dict,
        ResponseCache(tmp_path / "cache", "off"),
        LifecycleSettings(prefetch=False),
    )
    calls = _Calls()
    asked: list[bool] = []

    def following() -> Planned | None:
        asked.append(True)
        return calls.planned("next")

    call = call_in_turn(lifecycle, calls.planned("own"), following)
    assert call.latency_ms == 25.0
    assert calls.made == [("own", True)]
    assert asked == []


def test_the_next_call_of_the_same_model_is_sent_ahead_and_taken_by_its_item(
    lifecycle: ModelLifecycle,
) -> None:
    calls = _Calls()
    call_in_turn(lifecycle, calls.planned("first"), lambda: calls.planned("second"))
    assert lifecycle.pipeline.submitted == 2  # its own, then the next item's
    call_in_turn(lifecycle, calls.planned("second"), lambda: None)
    assert lifecycle.pipeline.submitted == 2  # taken, not sent again
    assert [key for key, _ in calls.made] == ["first", "second"]
    assert all(not on_main for _, on_main in calls.made)  # both on the pipeline's thread
    assert calls.built == ["first", "second"]  # the second request built once, when sent


def test_a_following_item_that_may_not_call_is_not_sent_ahead(
    lifecycle: ModelLifecycle,
) -> None:
    calls = _Calls()
    call_in_turn(lifecycle, calls.planned("first"), lambda: None)
    assert calls.built == ["first"]
    assert lifecycle.pipeline.submitted == 1


def _task(tmp_path: Path) -> Task:
    path = tmp_path / "t.yaml"
    path.write_text(
        "task: t\nprompt: 'Say {word}'\noutput: {kind: verdict, labels: [PASS, FAIL]}\n"
        "cases:\n  - id: A\n    expected: {verdict: PASS}\n    vars: {word: PASS}\n"
    )
    return load_task(path)


def test_a_prepared_call_of_a_model_whose_load_failed_answers_with_the_reason(
    tmp_path: Path,
) -> None:
    task = _task(tmp_path)
    unavailable: dict[str, Any] = {}
    call = prepared_call(
        None,  # type: ignore[arg-type]
        task,
        task.cases[0],
        REMOTE,
        1,
        timeout_s=5.0,
        cache=None,
        unavailable=unavailable,
    )
    unavailable[REMOTE.id] = "remote/m: not on the server"  # read when the call runs
    assert call() == Call(None, None, "remote/m: not on the server")
