"""The emulators' parallel slots: N requests served at once, the others queued in order."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.openai_emulator import OpenAIEmulator
from tests.support.slots import Slots


def _chat(url: str, model: str) -> float:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hi"}]})
    request = urllib.request.Request(
        f"{url}/chat/completions", body.encode(), {"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as reply:
        reply.read()
    return time.perf_counter() - start


@pytest.mark.deadline
def test_openai_slots_queue_the_requests_beyond_them() -> None:
    with OpenAIEmulator(
        ["one", "four"], slots={"one": 1, "four": 4}, service_s={"one": 0.1, "four": 0.1}
    ) as server:
        with ThreadPoolExecutor(4) as pool:
            one = sorted(pool.map(lambda _: _chat(server.url, "one"), range(4)))
        with ThreadPoolExecutor(4) as pool:
            four = sorted(pool.map(lambda _: _chat(server.url, "four"), range(4)))
    assert one[-1] >= 0.38  # the fourth waited for three before it
    assert four[-1] < 0.3  # all four at once


def test_slots_are_handed_out_first_come_first_served() -> None:
    slots = Slots(1)
    slots.acquire()
    order: list[int] = []

    def wait(i: int) -> None:
        slots.acquire()
        order.append(i)
        slots.release()

    with ThreadPoolExecutor(3) as pool:
        for i in range(3):
            pool.submit(wait, i)
            time.sleep(0.02)  # each asks after the one before
        slots.release()
    assert order == [0, 1, 2]
