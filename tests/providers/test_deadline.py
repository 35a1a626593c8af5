"""``--llm-timeout`` is a deadline for the whole call (issue 12, point 8).

The Ollama paths are tested in providers/test_ollama.py and plugin/test_faults.py, the embedded
provider in e2e/test_llamacpp.py; here: the helper the SDK paths use, and the OpenAI SDK
path against a server that sends a valid reply one byte at a time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pytest_llmbench.providers.base import BuiltinSettings, ProviderError, Request
from pytest_llmbench.providers.deadline import DeadlinePassed, call_within
from pytest_llmbench.providers.endpoints import Endpoint
from pytest_llmbench.providers.openai import OpenAIProvider

CHAT = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
).encode()


@pytest.mark.deadline
def test_call_within_returns_raises_or_gives_up_at_the_deadline() -> None:
    assert call_within(1.0, lambda: 42) == 42
    with pytest.raises(KeyError):
        call_within(1.0, lambda: {"a": 1}["missing"])
    abandoned = threading.Event()
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(DeadlinePassed, match=r"^no complete answer within 0.1 s$"):
        call_within(0.1, release.wait, abandon=abandoned.set)
    assert time.monotonic() - started < 1.0
    assert abandoned.is_set()
    release.set()


@pytest.fixture
def trickling() -> Iterator[str]:
    """An OpenAI-compatible URL whose chat replies arrive one byte every 0.05 s (~15 s)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(CHAT)}"
            )
            conn.sendall(head.encode() + b"\r\n\r\n")
            for i in range(len(CHAT)):
                if stop.wait(0.05):
                    return
                try:
                    conn.sendall(CHAT[i : i + 1])
                except OSError:  # the client gave up: as it should
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    listener.close()


@pytest.mark.deadline
def test_openai_sdk_call_has_a_deadline_for_the_whole_call(trickling: str) -> None:
    settings = BuiltinSettings(timeout_s=0.5, discovery_timeout_s=2.0)
    provider = OpenAIProvider(settings, Endpoint(name="local", base_url=trickling, retries=0))
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        provider.generate(Request(model="gpt-4o-mini", prompt="hi", timeout_s=0.5))
    assert time.monotonic() - started < 5.0  # not the ~12 s the trickle takes
    assert str(info.value) == f"no answer from local/gpt-4o-mini within 0.5 s ({trickling})"
