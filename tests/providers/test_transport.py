"""The transport-error taxonomy (``providers.transport``): the lean client's failures and
the SDK clients' (``ollama``, ``openai``) are the same kind, read the same way, and so
word the same message, over real sockets on loopback."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pytest_llmbench.providers.deadline import DeadlinePassed
from pytest_llmbench.providers.ollama.errors import classify, discovery_failure, failure
from pytest_llmbench.providers.openai.errors import sdk_errors, status_error
from pytest_llmbench.providers.transport import (
    HttpStatus,
    Kind,
    TransportError,
    connect_reason,
    from_httpx,
    one_line,
    seconds,
)
from pytest_llmbench.providers.wire import (
    ChatWire,
    ConnectFailed,
    ConnectTimedOut,
    Disconnected,
    JsonWire,
    ReadFailed,
    ReadTimedOut,
    WireError,
    WriteFailed,
    WriteTimedOut,
)
from pytest_llmbench.safety.redaction import register_secret

MODEL = "m:1b"
REFUSED = "[Errno 111] Connection refused"
BROKEN = "[Errno 32] Broken pipe"
GONE = "Server disconnected without sending a response."
RESET = "[Errno 104] Connection reset by peer"


def _dead_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class _OneReply:
    """A loopback HTTP server that answers every request with one canned reply
    (``b""``: reads the request and closes the connection, answering nothing)."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                if self.reply:
                    conn.sendall(self.reply)

    def close(self) -> None:
        self._listener.close()


def _status_reply(status: int, payload: Any) -> bytes:
    body = json.dumps(payload).encode()
    return (
        f"HTTP/1.1 {status} Oops\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nServer: canned/1\r\nConnection: close\r\n\r\n"
    ).encode() + body


@pytest.fixture
def serve() -> Iterator[Callable[[bytes], _OneReply]]:
    servers: list[_OneReply] = []

    def start(reply: bytes) -> _OneReply:
        server = _OneReply(reply)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _lean_failure(url: str, path: str = "/api/chat") -> TransportError:
    wire = ChatWire(url, timeout_s=5.0, connect_timeout_s=2.0)
    try:
        with pytest.raises(TransportError) as caught:
            wire.post(path, {"model": MODEL, "messages": []})
    finally:
        wire.close()
    return caught.value


def _ollama_failure(url: str) -> TransportError:
    import ollama

    client = ollama.Client(host=url, timeout=5.0)
    raised: Exception | None = None
    try:
        client.chat(model=MODEL, messages=[])
    except Exception as exc:  # whatever the ollama client raises
        raised = exc
    finally:
        client.close()  # type: ignore[no-untyped-call]
    assert raised is not None
    found = classify(raised)
    assert found is not None, raised
    return found


def _openai_failure(url: str) -> TransportError:
    import openai

    client = openai.OpenAI(base_url=url, api_key="sk-no-key-required", max_retries=0, timeout=5.0)
    try:
        with pytest.raises(TransportError) as caught, sdk_errors():
            client.chat.completions.create(model=MODEL, messages=[])
    finally:
        client.close()
    return caught.value


def _lean_openai_failure(url: str) -> TransportError:
    wire = JsonWire(url, headers={}, timeout_s=5.0, connect_timeout_s=2.0)
    try:
        reply = wire.request("POST", "/chat/completions", {"model": MODEL, "messages": []})
    except TransportError as exc:
        return exc
    finally:
        wire.close()
    return status_error(reply)


def _ollama_message(exc: BaseException, url: str) -> str:
    return str(failure(exc, host=url, model=MODEL, action="generate", timeout_s=5.0, connect_s=2.0))


# -- the same failure, both transports: the same kind and message ----------------------


def test_a_refused_connection_is_connect_on_every_transport() -> None:
    url = _dead_url()
    found = [_lean_failure(url), _ollama_failure(url), _openai_failure(url)]
    assert [exc.kind for exc in found] == [Kind.CONNECT] * 3
    assert {connect_reason(exc) for exc in found} == {"connection refused"}
    assert {connect_reason(exc, detail=False) for exc in found} == {"connection refused"}
    expected = (
        f"Ollama is not reachable at {url} (connection refused): start it with `ollama serve`"
    )
    assert {_ollama_message(exc, url) for exc in found[:2]} == {expected}
    assert {discovery_failure(exc, "/api/tags", 2.0) for exc in found[:2]} == {
        (True, "connection refused")
    }


def test_a_connection_closed_without_an_answer_is_cut_on_every_transport(
    serve: Callable[[bytes], _OneReply],
) -> None:
    url = serve(b"").url
    lean, sdk = _lean_failure(url), _ollama_failure(url)
    assert (lean.kind, sdk.kind) == (Kind.CUT, Kind.CUT)
    assert str(lean) == str(sdk) == "Server disconnected without sending a response."
    assert (
        _ollama_message(lean, url)
        == _ollama_message(sdk, url)
        == (
            f"ollama at {url} closed the connection during generate of ollama/{MODEL} "
            "(did the server stop or crash?)"
        )
    )
    assert _openai_failure(url).kind is Kind.CUT  # openai wraps httpx's error: read through
    assert _lean_openai_failure(url).kind is Kind.CUT


def test_an_ollama_error_status_reads_the_same_on_both_transports(
    serve: Callable[[bytes], _OneReply],
) -> None:
    url = serve(_status_reply(500, {"error": "model runner crashed"})).url
    lean, sdk = _lean_failure(url), _ollama_failure(url)
    assert isinstance(lean, HttpStatus)
    assert isinstance(sdk, HttpStatus)
    assert (lean.status, lean.error, str(lean)) == (sdk.status, sdk.error, str(sdk))
    assert str(lean) == "model runner crashed (status code: 500)"
    assert (
        _ollama_message(lean, url)
        == _ollama_message(sdk, url)
        == (f"ollama at {url} answered HTTP 500 to generate ollama/{MODEL}: model runner crashed")
    )
    assert discovery_failure(lean, "/api/tags", 2.0) == (False, "HTTP 500: model runner crashed")


def test_an_openai_error_status_reads_the_same_on_both_transports(
    serve: Callable[[bytes], _OneReply],
) -> None:
    error = {
        "error": {
            "message": "response_format json_schema is not supported",
            "type": "invalid_request_error",
            "param": "response_format",
            "code": None,
        }
    }
    url = serve(_status_reply(500, error)).url
    lean, sdk = _lean_openai_failure(url), _openai_failure(url)
    assert isinstance(lean, HttpStatus)
    assert isinstance(sdk, HttpStatus)
    assert (lean.status, lean.error, str(lean), lean.body) == (
        sdk.status,
        sdk.error,
        str(sdk),
        sdk.body,
    )
    assert lean.error == "response_format json_schema is not supported"
    assert str(lean) == "Error code: 500 - response_format json_schema is not supported"
    assert lean.headers.get("server") == sdk.headers.get("server") == "canned/1"


@pytest.mark.parametrize(
    ("lean", "sdk", "kind"),
    [
        (ConnectFailed(REFUSED), httpx.ConnectError(REFUSED), Kind.CONNECT),
        (ConnectTimedOut("timed out"), httpx.ConnectTimeout("timed out"), Kind.CONNECT_TIMEOUT),
        (WriteTimedOut("timed out"), httpx.WriteTimeout("timed out"), Kind.TIMEOUT),
        (ReadTimedOut("timed out"), httpx.ReadTimeout("timed out"), Kind.TIMEOUT),
        (WriteFailed(BROKEN), httpx.WriteError(BROKEN), Kind.CUT),
        (Disconnected(GONE), httpx.RemoteProtocolError(GONE), Kind.CUT),
        (ReadFailed(RESET), httpx.ReadError(RESET), Kind.CUT),
    ],
    ids=["connect", "connect-timeout", "write-timeout", "read-timeout", "write", "gone", "read"],
)
def test_each_lean_error_is_the_kind_of_its_httpx_twin(
    lean: WireError, sdk: Exception, kind: Kind
) -> None:
    mapped = from_httpx(sdk)
    assert mapped is not None
    assert (lean.kind, mapped.kind) == (kind, kind)
    assert mapped.origin is sdk
    assert str(lean) == str(mapped)
    assert _ollama_message(lean, "http://h") == _ollama_message(mapped, "http://h")
    assert discovery_failure(lean, "/api/tags", 2.0) == discovery_failure(mapped, "/api/tags", 2.0)


def test_timeouts_word_the_same_message_whichever_kind_of_wait_ran_out() -> None:
    timeouts = [ReadTimedOut("a"), WriteTimedOut("b"), from_httpx(DeadlinePassed("c"))]
    assert {_ollama_message(exc, "http://h") for exc in timeouts if exc} == {
        f"no answer from ollama/{MODEL} within 5 s"
    }
    connect = [ConnectTimedOut("no connection within 2 s"), from_httpx(httpx.ConnectTimeout(""))]
    assert {connect_reason(exc) for exc in connect if exc} == {"connection timed out"}
    assert {_ollama_message(exc, "http://h") for exc in connect if exc} == {
        "Ollama is not reachable at http://h (no connection within 2 s): "
        "start it with `ollama serve`"
    }


def test_a_reply_that_is_not_json_is_malformed() -> None:
    try:
        json.loads("<html>")
    except ValueError as exc:
        found = classify(exc)
    assert found is not None
    assert found.kind is Kind.MALFORMED
    assert str(found) == "not JSON (Expecting value at character 0)"
    assert discovery_failure(found, "/api/tags", 2.0) == (
        False,
        "malformed reply to /api/tags: not JSON (Expecting value at character 0)",
    )


def test_what_is_no_transport_failure_stays_itself() -> None:
    assert classify(RuntimeError("a bug")) is None
    assert from_httpx(RuntimeError("a bug")) is None
    message = _ollama_message(RuntimeError("a bug"), "http://h")
    assert message == (
        f"unexpected error from ollama at http://h (generate ollama/{MODEL}): RuntimeError: a bug"
    )


# -- the shared words -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[Errno 111] Connection refused", "connection refused"),
        ("[Errno -2] Name or service not known", "unknown host name"),
        ("[Errno -3] Temporary failure in name resolution", "host name does not resolve"),
        ("[Errno 101] Network is unreachable", "network unreachable"),
        ("something odd", "cannot connect: something odd"),
    ],
)
def test_a_connect_failure_is_named_in_a_few_words(text: str, reason: str) -> None:
    assert connect_reason(ConnectFailed(text)) == reason
    assert connect_reason(ConnectFailed(text), detail=False) == reason.partition(":")[0]


def test_the_reason_is_read_through_a_wrapping_client_error() -> None:
    try:
        try:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        except httpx.ConnectError:
            raise ConnectionError("Failed to connect to Ollama.") from None
    except ConnectionError as wrapped:
        found = classify(wrapped)
    assert found is not None
    assert found.kind is Kind.CONNECT
    assert connect_reason(found) == "connection refused"


def test_one_line_squashes_caps_and_masks_secrets() -> None:
    register_secret("sk-transport-test-secret")
    assert one_line("a\n  b\tc") == "a b c"
    assert one_line("x" * 300) == "x" * 197 + "..."
    assert one_line("key sk-transport-test-secret rejected") == "key *** rejected"
    assert seconds(2.0) == "2 s"
    assert seconds(0.25) == "0.25 s"
