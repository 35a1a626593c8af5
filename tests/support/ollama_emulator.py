"""An emulated Ollama server: real HTTP on loopback, Ollama's real wire protocol.

Use it as a context manager (or from a fixture)::

    with OllamaEmulator(models=["qwen2.5:7b", EmulatedModel("llama3.2:3b", latency_s=0.05)]) as srv:
        client = ollama.Client(host=srv.url, timeout=5)
        ...
        assert srv.requests["qwen2.5:7b"] == 1
        assert srv.last_request["options"]["num_predict"] == 64

What it speaks (paths, methods, JSON field names and types, status codes, error
bodies) follows Ollama's own server and docs:

* ``docs/api.md`` of ollama/ollama (endpoints, request and reply examples, "all
  durations are returned in nanoseconds", streaming as one JSON object per line with
  the timing fields on the final ``done: true`` line, load/unload by empty request);
* ``server/routes.go`` (status codes: 404 ``{"error": "model 'x' not found"}``, 400
  ``{"error": "model is required"}`` / ``"missing request body"``, 500 for option
  type errors, 503 "server busy" when the queue is full; ``done_reason`` ``load`` and
  ``unload``; ``application/x-ndjson`` for streams; ``/api/version``; ``GET /`` ->
  ``Ollama is running``; load replies carry no timing fields);
* ``api/types.go`` (metrics are ``omitempty``: a zero count or duration is left out,
  which is why clients must treat every metric as optional);
* ollama-python's ``_types.py``/``_client.py`` (what the official client sends and
  parses: it always sends ``stream``, drops ``None`` fields, and ``format`` is
  ``"json"`` or a JSON Schema object).

The reply *shapes* are data: ``fixtures/ollama/*.json`` and ``*.ndjson`` hold one
recorded reply of each kind, and every reply here is that shape with its values
replaced (:func:`fill`): the emulator cannot invent a field the recorded shape lacks.

Behaviour that tests can configure, per server and per model:

* models (:class:`EmulatedModel`: name, size, family, capabilities, latencies);
* ``answer(model, messages, format, options) -> str``: the text a model answers;
* ``latency_s`` (generation, reported as ``eval_duration``; or ``token_latency_s``
  per token of the answer), ``prompt_latency_s``
  (reported as ``prompt_eval_duration``), ``load_latency_s`` (reported as
  ``load_duration`` on the request that had to load the model): real sleeps, so the
  reported durations are measured, as on a real server; or, given ``clock=``
  (a :class:`~tests.support.clock.FakeClock`), no sleep at all: the emulator advances
  the clock by them, and a call timed on that clock takes exactly those durations
  (a streamed answer's chunks go out in step with the client: each is timed on the
  clock before it moves on, so the client's time to first token is the load, the
  prompt and one token's time, and its time between tokens one token's time).
  They are deadlines, not extra time: prompt evaluation ends ``prompt_latency_s``
  after the model was ready and generation ``latency_s`` after that, the emulator's
  own work (JSON, the ``answer`` function) included, as a real server's time is all
  inside its durations;
* ``resident_slots``: how many models fit in memory at once; asking for a model
  that is not resident loads it (and evicts the least recently used one);
* ``EmulatedModel.slots``: parallel slots per model (``OLLAMA_NUM_PARALLEL``): at most
  that many of the model's requests are served at once, the rest queue (first come,
  first served) and their service time (``latency_s``) starts when a slot frees, so a
  request's end-to-end time is its wait plus its service.  Slots are real-time: requests
  in flight together need real concurrency, and a :class:`FakeClock` advanced by each of
  them would add their durations up instead of overlapping them;
* ``timings`` / ``omit_fields``: force exact metric values, or leave fields out;
* failure injection: :meth:`~OllamaEmulator.fail_next` (HTTP error, e.g. 503),
  :meth:`~OllamaEmulator.drop_next` (close the connection without an answer),
  :meth:`~OllamaEmulator.hang_next` (answer late, or never),
  :meth:`~OllamaEmulator.malformed_next` (a broken body),
  :meth:`~OllamaEmulator.die_next` / :meth:`~OllamaEmulator.die` (the server dies).

Counters (all per canonical model name, e.g. ``llama3.2:latest``): ``loads``,
``unloads``, ``evictions``, ``requests`` (answered generations), ``path_hits`` (per
URL path), plus ``received`` (every request), ``replies`` (every final inference
reply), ``resident``, ``active`` and ``max_concurrent``; ``errors`` keeps any
exception raised inside the emulator itself (it answers 500 then), so a fixture can
assert that the emulator, not only the code under test, behaved.

Not emulated yet (later issues): several models answering in parallel inside one
memory budget (a resident model is never evicted while busy), queueing limits, tool
calls, thinking, images, embeddings, pull/create/delete.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.clock import FakeClock
from tests.support.slots import Slots

__all__ = [
    "FIXTURES",
    "OMIT",
    "AnswerFn",
    "EmulatedModel",
    "OllamaEmulator",
    "ReceivedRequest",
    "default_answer",
    "example_for_schema",
    "fill",
    "load_shape",
]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ollama"
"""Where the recorded reply shapes live."""

AnswerFn = Callable[[str, list[dict[str, Any]], Any, dict[str, Any]], str]
"""``answer(model, messages, format, options) -> str``."""

HANG_FOREVER = 300.0
"""How long "never" is for :meth:`OllamaEmulator.hang_next` (closing the server ends it)."""

_PRECISE_MARGIN_S = 0.002
"""How long before a reply is due the emulator stops sleeping and yields instead."""

_METRICS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)

# Ollama's Options struct (api/types.go): the JSON type each known option must have.
_INT_OPTIONS = frozenset(
    {
        "num_keep",
        "seed",
        "num_predict",
        "top_k",
        "repeat_last_n",
        "mirostat",
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
    }
)
_FLOAT_OPTIONS = frozenset(
    {
        "top_p",
        "min_p",
        "typical_p",
        "temperature",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "mirostat_tau",
        "mirostat_eta",
        "tfs_z",
    }
)
_BOOL_OPTIONS = frozenset(
    {"penalize_newline", "numa", "low_vram", "use_mmap", "use_mlock", "vocab_only"}
)


# -- shapes ------------------------------------------------------------------------


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
"""A value for :func:`fill` that removes the field (Go's ``omitempty``)."""

_shape_cache: dict[str, Any] = {}
_shape_lock = threading.Lock()


def load_shape(name: str) -> Any:
    """A recorded reply from ``fixtures/ollama`` (a fresh copy each time).

    ``name`` is a file name; ``.ndjson`` files give a list, one item per line.
    """
    with _shape_lock:
        if name not in _shape_cache:
            text = (FIXTURES / name).read_text(encoding="utf-8")
            if name.endswith(".ndjson"):
                _shape_cache[name] = [json.loads(line) for line in text.splitlines() if line]
            else:
                _shape_cache[name] = json.loads(text)
        return copy.deepcopy(_shape_cache[name])


def fill(shape: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``shape`` with ``values`` put in, keeping the shape's field order.

    A value that is a mapping fills a nested shape; :data:`OMIT` removes the field.
    A key the shape does not have is an error: replies only carry recorded fields.
    """
    unknown = set(values) - set(shape)
    if unknown:
        raise KeyError(f"fields not in the recorded shape: {sorted(unknown)}")
    out: dict[str, Any] = {}
    for key, template in shape.items():
        if key not in values:
            out[key] = copy.deepcopy(template)
            continue
        value = values[key]
        if value is OMIT:
            continue
        if isinstance(value, Mapping) and isinstance(template, Mapping) and template:
            out[key] = fill(template, value)
        else:
            out[key] = value
    return out


def _rfc3339(moment: datetime | None = None) -> str:
    """Go's ``time.Time`` JSON form (RFC 3339, fraction without trailing zeros)."""
    moment = moment or datetime.now(timezone.utc)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    offset = moment.strftime("%z")
    if offset in ("", "+0000"):
        return text + "Z"
    return f"{text}{offset[:3]}:{offset[3:]}"


# -- models and answers ------------------------------------------------------------


def _canonical(name: str) -> str:
    """``llama3.2`` -> ``llama3.2:latest`` (Ollama's default tag)."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _default_parameter_size(name: str) -> str:
    match = re.search(r":(\d+(?:\.\d+)?)([bm])\b", name.lower())
    if not match:
        return "1.0B"
    return f"{float(match.group(1)):.1f}{match.group(2).upper()}"


def _parameters(parameter_size: str) -> int:
    match = re.match(r"(\d+(?:\.\d+)?)\s*([KMB]?)", parameter_size.upper())
    if not match:
        return 1_000_000_000
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "": 1.0}[match.group(2)]
    return int(float(match.group(1)) * scale)


@dataclass
class EmulatedModel:
    """One model the emulated server has pulled.

    Everything but ``name`` has a plausible default: the family is the name's
    leading letters, the parameter size comes from a ``:7b``-style tag, the size is
    what a Q4_K_M file of that many parameters weighs.  ``latency_s``,
    ``load_latency_s``, ``prompt_latency_s`` and ``token_latency_s`` override the
    server's values for this model.
    """

    name: str
    size: int | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str = "Q4_K_M"
    capabilities: tuple[str, ...] = ("completion",)
    context_length: int = 32768
    digest: str | None = None
    latency_s: float | None = None
    load_latency_s: float | None = None
    slots: int | None = None
    """Requests this model answers at once (Ollama's ``OLLAMA_NUM_PARALLEL``); the others
    wait in a queue, first come first served, and their wait counts in their end-to-end
    time.  ``None``: no limit (each request is served at once)."""
    prompt_latency_s: float | None = None
    token_latency_s: float | None = None
    """Time per generated token: generation takes this times the answer's tokens
    (instead of ``latency_s``)."""

    def __post_init__(self) -> None:
        self.name = _canonical(self.name)
        if self.family is None:
            match = re.match(r"[a-z]+", self.name.rsplit("/", 1)[-1].lower())
            self.family = match.group(0) if match else "llama"
        if self.families is None:
            self.families = [self.family]
        if self.parameter_size is None:
            self.parameter_size = _default_parameter_size(self.name)
        if self.size is None:
            self.size = int(_parameters(self.parameter_size) * 0.6)
        if self.digest is None:
            self.digest = hashlib.sha256(self.name.encode()).hexdigest()
        self.capabilities = tuple(self.capabilities)

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": list(self.families or []),
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }


def example_for_schema(schema: Any) -> Any:
    """A small value that satisfies a (simple) JSON Schema, as a constrained model would give."""
    if not isinstance(schema, Mapping):
        return {}
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {key: example_for_schema(sub) for key, sub in props.items()}
    if kind == "array":
        minimum = int(schema.get("minItems", 0))
        return [example_for_schema(schema.get("items", {})) for _ in range(minimum)]
    if kind == "string":
        return "text"
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return {}


def default_answer(
    model: str, messages: list[dict[str, Any]], fmt: Any, options: dict[str, Any]
) -> str:
    """The emulator's default model: valid JSON when a format is asked for, else a sentence."""
    if isinstance(fmt, Mapping):
        return json.dumps(example_for_schema(fmt))
    if fmt == "json":
        return "{}"
    return f"This is {model} answering."


def _tokens(text: str) -> list[str]:
    """Split text into "tokens": words with their leading whitespace (for streaming/counts)."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        if pieces:
            pieces[-1] += tail
        else:
            pieces = [tail]
    return pieces


def _count_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """Prompt tokens: the words of every message plus a few for the chat template."""
    total = 0
    for message in messages:
        content = message.get("content")
        total += 4 + (len(_tokens(content)) if isinstance(content, str) else 0)
    return total


def _keep_alive_is_zero(value: Any) -> bool:
    """``keep_alive`` of ``0``, ``"0"``, ``"0s"``, ``"0m"``...: unload now."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value == 0
    if isinstance(value, str):
        return re.fullmatch(r"\s*0+(\.0*)?\s*(ns|us|µs|ms|s|m|h)?\s*", value) is not None
    return False


def _go_json_error(raw: bytes) -> str:
    """Roughly what Go's encoding/json says about a body that is not JSON."""
    text = raw.decode("utf-8", "replace").lstrip()
    if not text:
        return "unexpected EOF"
    first = text[0]
    if first not in '{["-0123456789tfn':
        return f"invalid character '{first}' looking for beginning of value"
    return "unexpected EOF"


def _option_error(options: Mapping[str, Any]) -> str | None:
    """Ollama's error for an option of the wrong JSON type (``Options.FromMap``)."""
    for key, value in options.items():
        if value is None:
            continue
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in _INT_OPTIONS and not is_number:
            return f'option "{key}" must be of type integer'
        if key in _FLOAT_OPTIONS and not is_number:
            return f'option "{key}" must be of type float32'
        if key in _BOOL_OPTIONS and not isinstance(value, bool):
            return f'option "{key}" must be of type boolean'
        if key == "stop" and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            return f'option "{key}" must be of type array'
    return None


# -- requests, faults --------------------------------------------------------------


@dataclass
class ReceivedRequest:
    """One request as the emulator received it (``body`` is parsed JSON, or ``None``)."""

    method: str
    path: str
    body: Any
    headers: Mapping[str, str]
    raw: bytes = b""
    at: float = 0.0
    """``time.perf_counter()`` when the request had been read."""
    answered: float = 0.0
    """``time.perf_counter()`` when its reply had been sent (0: no reply, or not yet)."""


@dataclass
class _Fault:
    kind: str  # "fail" | "drop" | "hang" | "malformed" | "die" | "trickle"
    remaining: int
    path: str | None
    status: int = 503
    error: str | None = None
    seconds: float = HANG_FOREVER
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    after: int = 0
    """Matching requests to let through before the fault applies (``die_after``)."""

    def matches(self, path: str) -> bool:
        return self.remaining > 0 and (self.path is None or self.path == path)


class _Abort(Exception):
    """The server is going away: drop the connection without an answer."""


# -- HTTP plumbing -----------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True  # server_close() joins the handler threads
    allow_reuse_address = True
    emulator: OllamaEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that go away mid-answer are normal here: no traceback on stderr."""
        self.emulator.handler_errors += 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ollama-emulator"
    sys_version = ""
    timeout = 60.0  # idle keep-alive connections give up eventually
    # Buffered writes, sent at each flush(): headers and body of a reply go out in one
    # write, as Go's server sends a small reply (two writes cost the client an extra
    # wake-up and, in process, a GIL hand-off).
    wbufsize = 1 << 16
    server: _Server
    arrived: float = 0.0
    """``time.perf_counter()`` when the current request had been read."""
    trickle_s: float = 0.0
    """Seconds between the bytes of the current reply's body (``trickle_next``)."""

    def setup(self) -> None:
        super().setup()
        # Go's net package sets TCP_NODELAY on every connection; without it, a reply
        # written as headers + body waits ~40 ms for the client's delayed ACK.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.emulator._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.emulator._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the emulator records requests instead of logging them."""

    def do_GET(self) -> None:
        self.server.emulator._dispatch(self, "GET")

    def do_HEAD(self) -> None:
        self.server.emulator._dispatch(self, "HEAD")

    def do_POST(self) -> None:
        self.server.emulator._dispatch(self, "POST")

    def do_DELETE(self) -> None:
        self.server.emulator._dispatch(self, "DELETE")

    # writing -----------------------------------------------------------------

    def send_body(
        self, status: int, body: bytes, content_type: str, *, head_only: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        trickle = getattr(self, "trickle_s", 0.0)
        if trickle and not head_only:  # a valid reply, a byte at a time (trickle_next)
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(trickle)
            except OSError:  # the client gave up: nothing more to send
                self.close_connection = True
            self.trickle_s = 0.0
            return
        if not head_only:
            self.wfile.write(body)
        self.wfile.flush()

    def send_json(self, status: int, obj: Any, *, head_only: bool = False) -> None:
        body = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self.send_body(status, body, "application/json; charset=utf-8", head_only=head_only)

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def send_line(self, obj: Any) -> None:
        data = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        data += b"\n"
        self._stream_write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")

    def end_stream(self) -> None:
        self._stream_write(b"0\r\n\r\n")
        self.trickle_s = 0.0

    def _stream_write(self, data: bytes) -> None:
        trickle = getattr(self, "trickle_s", 0.0)
        if not trickle:
            self.wfile.write(data)
            self.wfile.flush()
            return
        try:  # a valid stream, a byte at a time (trickle_next)
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(trickle)
        except OSError:  # the client gave up: nothing more to send
            self.close_connection = True
            self.trickle_s = 0.0
            raise _Abort from None

    def drop(self) -> None:
        """Close the connection without a word, as a crashing server would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


# -- the emulator ------------------------------------------------------------------


class OllamaEmulator:
    """An Ollama server on ``127.0.0.1:<free port>``, in a background thread.

    Parameters (all can also be changed on the instance while it runs):

    ``models``
        :class:`EmulatedModel` objects or plain names.
    ``answer``
        ``answer(model, messages, format, options) -> str``; the default gives valid
        JSON for a JSON Schema ``format`` and a short sentence otherwise.  ``model`` is
        the canonical name; ``messages`` are the chat messages (for ``/api/generate``,
        made from ``system`` and ``prompt``).
    ``latency_s``, ``prompt_latency_s``, ``load_latency_s``
        Seconds of real sleep for generating, reading the prompt and loading a model
        (with ``clock``: seconds the clock is advanced by, no sleep).
    ``clock``
        A :class:`~tests.support.clock.FakeClock` for the scripted durations, measured
        and reported on it instead of slept; ``None`` (default): real time.  Faults
        (:meth:`hang_next`, :meth:`trickle_next`) stay real sleeps: they test deadlines.
    ``resident_slots``
        How many models can be loaded at once (``None``: no limit).
    ``timings``
        Metric fields to report with exactly these values (``None`` leaves one out).
    ``omit_fields``
        Fields to leave out of the final inference reply (``prompt_eval_count``...).
    ``version``
        What ``/api/version`` says (default: the recorded shape's).
    ``rotate_tags``
        List the models in a different order on every ``/api/tags`` call (rotated by
        one each time), as a server whose models are being pulled would.
    """

    def __init__(
        self,
        models: Iterable[EmulatedModel | str] = ("qwen2.5:7b",),
        *,
        answer: AnswerFn | None = None,
        latency_s: float = 0.0,
        prompt_latency_s: float = 0.0,
        load_latency_s: float = 0.0,
        token_latency_s: float | None = None,
        resident_slots: int | None = 1,
        timings: Mapping[str, int | None] | None = None,
        omit_fields: Iterable[str] = (),
        version: str | None = None,
        rotate_tags: bool = False,
        host: str = "127.0.0.1",
        clock: FakeClock | None = None,
    ) -> None:
        self.clock = clock
        self._lock = threading.RLock()
        self.models: dict[str, EmulatedModel] = {}
        for model in models:
            self.add_model(model)
        self.answer: AnswerFn = answer or default_answer
        self.latency_s = latency_s
        self.prompt_latency_s = prompt_latency_s
        self.load_latency_s = load_latency_s
        self.token_latency_s = token_latency_s
        self.resident_slots = resident_slots
        self._slots: dict[str, Slots] = {}
        """Per model with ``slots``, its free slots (see :meth:`_slot`)."""
        self.timings: dict[str, int | None] = dict(timings or {})
        self.omit_fields: set[str] = set(omit_fields)
        self.version = version or str(load_shape("version.json")["version"])
        self.rotate_tags = rotate_tags
        self._tags_calls = 0

        # counters and records
        self.loads: Counter[str] = Counter()
        self.unloads: Counter[str] = Counter()
        self.evictions: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.path_hits: Counter[str] = Counter()
        self.received: list[ReceivedRequest] = []
        self.replies: list[dict[str, Any]] = []
        self.active = 0
        self.max_concurrent = 0
        self.handler_errors = 0
        self.errors: list[Exception] = []
        """Exceptions raised inside the emulator (its own bugs); a test may assert it is empty."""

        self._host = host
        self._resident: list[str] = []  # least recently used first
        self._faults: list[_Fault] = []
        self._load_lock = threading.Lock()  # Ollama loads one model at a time
        self._stop = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._dead = False
        self._port = 0

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> OllamaEmulator:
        """Bind a free port and serve in a background thread."""
        if self._server is not None:
            return self
        self._serve(self._host, 0)
        return self

    def _serve(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (0: any free port) and serve in a background thread."""
        server = _Server((host, port), _Handler)
        server.emulator = self
        self._server = server
        self._port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"ollama-emulator-{self._port}",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving, wake every sleeping handler, close every connection, join threads."""
        self._stop.set()
        self._shutdown_listener()
        self._kill_connections()
        server, self._server = self._server, None
        if server is not None:
            server.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> OllamaEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: what to give ``--llm-ollama-host`` or the client."""
        if not self._port:
            raise RuntimeError("the emulator is not started (use it as a context manager)")
        return f"http://{self._host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def alive(self) -> bool:
        return self._server is not None and not self._dead

    def die(self) -> None:
        """Crash: stop listening (new connections are refused) and drop every connection.

        Requests in progress are cut off (their sleeps end at once).  :meth:`close`
        still has to be called (the context manager does it).
        """
        self._dead = True
        self._stop.set()
        self._shutdown_listener()
        self._kill_connections()

    def revive(self) -> None:
        """Come back after :meth:`die`, on the same port, as a restarted server: nothing loaded."""
        if not self._dead:
            return
        old, thread = self._server, self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        if old is not None:
            old.server_close()  # joins the old handler threads
        with self._lock:
            self._resident.clear()
        self._stop.clear()
        self._dead = False
        self._serve(self._host, self._port)

    def _shutdown_listener(self) -> None:
        server = self._server
        if server is None:
            return
        if threading.current_thread() is not self._thread:
            server.shutdown()
        with contextlib.suppress(OSError):
            server.socket.close()

    def _kill_connections(self, keep: socket.socket | None = None) -> None:
        with self._lock:
            connections = [c for c in self._connections if c is not keep]
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- models ------------------------------------------------------------------

    def add_model(self, model: EmulatedModel | str) -> EmulatedModel:
        """Make a model available (as ``ollama pull`` would)."""
        entry = model if isinstance(model, EmulatedModel) else EmulatedModel(model)
        with self._lock:
            self.models[entry.name] = entry
        return entry

    def repull(self, name: str, digest: str | None = None) -> str:
        """New weights under the same tag (as ``ollama pull`` of an updated model would):
        the model's digest changes (to ``digest``, else a new one); returns it."""
        model = self.resolve(name)
        if model is None:
            raise KeyError(name)
        with self._lock:
            old = model.digest or ""
            model.digest = digest or hashlib.sha256(f"{old}:repulled".encode()).hexdigest()
            return model.digest

    def remove_model(self, name: str) -> None:
        """Forget a model (as ``ollama rm`` would); it is unloaded too."""
        with self._lock:
            canonical = _canonical(name)
            self.models.pop(canonical, None)
            if canonical in self._resident:
                self._resident.remove(canonical)

    def resolve(self, name: str) -> EmulatedModel | None:
        """The model a request's name refers to (``llama3.2`` = ``llama3.2:latest``)."""
        canonical = _canonical(name)
        with self._lock:
            found = self.models.get(canonical)
            if found is None:
                for key, model in self.models.items():
                    if key.lower() == canonical.lower():
                        return model
        return found

    def load_model(self, name: str) -> None:
        """Load a model as another client's request would (evicting the least recently used)."""
        model = self.resolve(name)
        if model is None:
            raise KeyError(name)
        self._ensure_loaded(model)

    @property
    def resident(self) -> tuple[str, ...]:
        """The loaded models, least recently used first."""
        with self._lock:
            return tuple(self._resident)

    # -- records -----------------------------------------------------------------

    @property
    def last_request(self) -> dict[str, Any]:
        """The body of the last ``/api/chat`` or ``/api/generate`` request."""
        for item in reversed(self.received):
            if item.path in ("/api/chat", "/api/generate") and isinstance(item.body, dict):
                return item.body
        raise LookupError("no inference request received yet")

    @property
    def last_reply(self) -> dict[str, Any]:
        """The last final inference reply sent (the ``done: true`` object)."""
        if not self.replies:
            raise LookupError("no inference reply sent yet")
        return self.replies[-1]

    def bodies(self, path: str) -> list[Any]:
        """The bodies of every request to ``path``, oldest first."""
        return [item.body for item in self.received if item.path == path]

    def reset_counters(self) -> None:
        with self._lock:
            for counter in (self.loads, self.unloads, self.evictions, self.requests):
                counter.clear()
            self.path_hits.clear()
            self.received.clear()
            self.replies.clear()
            self.max_concurrent = self.active

    # -- failure injection ---------------------------------------------------------

    def fail_next(
        self, n: int = 1, *, status: int = 503, error: str | None = None, path: str | None = None
    ) -> None:
        """Answer the next ``n`` requests (to ``path``, or any) with an HTTP error.

        The body is ``{"error": ...}``; the default text is the recorded one for the
        status (503 "server busy...", 500 "llama runner process has terminated...",
        400 "invalid format...", 404 "model ... not found").
        """
        self._add_fault(_Fault("fail", n, path, status=status, error=error))

    def drop_next(self, n: int = 1, *, path: str | None = None) -> None:
        """Close the connection of the next ``n`` requests without answering."""
        self._add_fault(_Fault("drop", n, path))

    def hang_next(
        self, n: int = 1, *, seconds: float = HANG_FOREVER, path: str | None = None
    ) -> None:
        """Sit on the next ``n`` requests for ``seconds`` before answering them normally.

        The default is "longer than any client waits"; :meth:`close` ends the wait.
        """
        self._add_fault(_Fault("hang", n, path, seconds=seconds))

    def malformed_next(
        self,
        n: int = 1,
        *,
        body: bytes | str = b'{"model": "broken", "created_at": ',
        status: int = 200,
        content_type: str = "application/json; charset=utf-8",
        path: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with ``body`` as is (default: truncated JSON)."""
        raw = body.encode("utf-8") if isinstance(body, str) else body
        self._add_fault(
            _Fault("malformed", n, path, status=status, body=raw, content_type=content_type)
        )

    def trickle_next(self, n: int = 1, *, seconds: float, path: str | None = None) -> None:
        """Answer the next ``n`` requests normally, but one byte of the body every ``seconds``."""
        self._add_fault(_Fault("trickle", n, path, seconds=seconds))

    def die_next(self, *, path: str | None = None) -> None:
        """Crash when the next request (to ``path``, or any) arrives: see :meth:`die`."""
        self._add_fault(_Fault("die", 1, path))

    def die_after(self, n: int, *, path: str | None = None) -> None:
        """Serve the next ``n`` requests (to ``path``, or any), then crash when one more
        arrives (it is received, never answered): see :meth:`die`."""
        self._add_fault(_Fault("die", 1, path, after=n))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_fault(self, fault: _Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path):
                    if fault.after > 0:  # not yet: this request is served
                        fault.after -= 1
                        continue
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    # -- dispatch ----------------------------------------------------------------

    def _dispatch(self, h: _Handler, method: str) -> None:
        path = h.path.split("?", 1)[0]
        try:
            raw = self._read_body(h)
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            arrived = time.perf_counter()
            h.arrived = arrived
            record = ReceivedRequest(method, path, body, dict(h.headers.items()), raw, arrived)
            with self._lock:
                self.received.append(record)
                self.path_hits[path] += 1
            fault = self._take_fault(path)
            if fault is not None and self._apply_fault(h, fault):
                return
            if self._stop.is_set() or self._dead:
                raise _Abort
            self._route(h, method, path, raw, body)
            record.answered = time.perf_counter()
        except _Abort:
            h.drop()
        except OSError:  # the client went away (timeout, reset): nothing to answer
            h.close_connection = True
        except Exception as exc:  # a bug in the emulator: answer 500 and keep it for the test
            with self._lock:
                self.errors.append(exc)
            with contextlib.suppress(OSError):
                self._error(h, 500, f"emulator error: {exc!r}")
            h.close_connection = True

    @staticmethod
    def _read_body(h: _Handler) -> bytes:
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    h.rfile.readline()
                    break
                chunks.append(h.rfile.read(size))
                h.rfile.readline()
            return b"".join(chunks)
        length = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(length) if length > 0 else b""

    def _apply_fault(self, h: _Handler, fault: _Fault) -> bool:
        """Carry out a fault; ``True`` when the request is dealt with."""
        if fault.kind == "fail":
            error = fault.error or self._recorded_error(fault.status)
            h.send_json(fault.status, fill(load_shape("error_busy.json"), {"error": error}))
            return True
        if fault.kind == "drop":
            h.drop()
            return True
        if fault.kind == "malformed":
            h.send_body(fault.status, fault.body, fault.content_type)
            return True
        if fault.kind == "die":
            self.die()  # stops listening first, then cuts every connection, this one too
            h.close_connection = True
            return True
        if fault.kind == "hang":
            self._sleep(fault.seconds)
            return False
        if fault.kind == "trickle":
            h.trickle_s = fault.seconds
            return False
        raise AssertionError(fault.kind)  # pragma: no cover

    @staticmethod
    def _recorded_error(status: int) -> str:
        shape = {
            400: "error_bad_request.json",
            404: "error_not_found.json",
            500: "error_server.json",
            503: "error_busy.json",
        }.get(status, "error_server.json")
        return str(load_shape(shape)["error"])

    def _sleep(self, seconds: float) -> None:
        """A real sleep that ends early (and aborts the request) when the server closes."""
        if seconds > 0 and self._stop.wait(seconds):
            raise _Abort

    def _now_ns(self) -> int:
        """Now on the clock of the scripted durations (the fake clock, if given)."""
        return self.clock.ns() if self.clock is not None else time.perf_counter_ns()

    def _take(self, seconds: float) -> None:
        """A scripted duration: slept, or with a fake clock, the clock advanced by it."""
        if self.clock is None:
            self._sleep(seconds)
            return
        if self._stop.is_set():
            raise _Abort
        self.clock.advance(seconds)

    def _sleep_until(self, moment: float, *, precise: bool = False) -> None:
        """Sleep until ``time.perf_counter()`` reaches ``moment`` (at once if it has).

        A timed wait wakes up to a millisecond late on a busy or virtual machine;
        ``precise`` sleeps until just before ``moment`` and yields the rest of the way,
        so that an answer is as long as it was configured, not longer.  With a fake
        clock, ``moment`` is on that clock, which is advanced to it: no sleep.
        """
        if self.clock is not None:
            if self._stop.is_set():
                raise _Abort
            self.clock.advance_to_ns(int(moment * 1e9))
            return
        if not precise:
            self._sleep(moment - time.perf_counter())
            return
        self._sleep(moment - time.perf_counter() - _PRECISE_MARGIN_S)
        while time.perf_counter() < moment:
            if self._stop.is_set():
                raise _Abort
            time.sleep(0)

    def _route(self, h: _Handler, method: str, path: str, raw: bytes, body: Any) -> None:
        routes: dict[str, dict[str, Callable[[], None]]] = {
            "/": {
                "GET": lambda: h.send_body(200, b"Ollama is running", "text/plain; charset=utf-8"),
                "HEAD": lambda: h.send_body(
                    200, b"Ollama is running", "text/plain; charset=utf-8", head_only=True
                ),
            },
            "/api/version": {
                "GET": lambda: h.send_json(200, self._version()),
                "HEAD": lambda: h.send_json(200, self._version(), head_only=True),
            },
            "/api/tags": {
                "GET": lambda: h.send_json(200, self._tags()),
                "HEAD": lambda: h.send_json(200, self._tags(), head_only=True),
            },
            "/api/ps": {"GET": lambda: h.send_json(200, self._ps())},
            "/api/show": {"POST": lambda: self._show(h, raw, body)},
            "/api/chat": {"POST": lambda: self._inference(h, raw, body, "chat")},
            "/api/generate": {"POST": lambda: self._inference(h, raw, body, "generate")},
        }
        methods = routes.get(path)
        if methods is None:
            h.send_body(404, b"404 page not found", "text/plain")
        elif method not in methods:
            h.send_body(405, b"405 method not allowed", "text/plain")
        else:
            methods[method]()

    # -- simple endpoints ----------------------------------------------------------

    def _version(self) -> dict[str, Any]:
        return fill(load_shape("version.json"), {"version": self.version})

    def _tags(self) -> dict[str, Any]:
        shape = load_shape("tags.json")
        entry_shape = shape["models"][0]
        with self._lock:
            models = list(self.models.values())
            if self.rotate_tags and models:
                shift = self._tags_calls % len(models)
                models = models[shift:] + models[:shift]
            self._tags_calls += 1
        entries = [
            fill(
                entry_shape,
                {
                    "name": m.name,
                    "model": m.name,
                    "size": m.size,
                    "digest": m.digest,
                    "details": m.details(),
                },
            )
            for m in models
        ]
        return fill(shape, {"models": entries})

    def _ps(self) -> dict[str, Any]:
        shape = load_shape("ps.json")
        entry_shape = shape["models"][0]
        expires = _rfc3339(datetime.now(timezone.utc) + timedelta(minutes=5))
        entries = []
        for name in reversed(self.resident):  # most recently used first
            m = self.models.get(name)
            if m is None:
                continue
            entries.append(
                fill(
                    entry_shape,
                    {
                        "name": m.name,
                        "model": m.name,
                        "size": m.size,
                        "digest": m.digest,
                        "details": m.details(),
                        "expires_at": expires,
                        "size_vram": m.size,
                        "context_length": m.context_length,
                    },
                )
            )
        return fill(shape, {"models": entries})

    def _error(self, h: _Handler, status: int, message: str) -> None:
        h.send_json(status, fill(load_shape("error_not_found.json"), {"error": message}))

    def _bad_body(self, h: _Handler, raw: bytes, body: Any) -> bool:
        """Ollama's 400s for a missing or non-JSON body; ``True`` when answered."""
        if not raw.strip():
            self._error(h, 400, "missing request body")
            return True
        if body is None and raw.strip() != b"null":
            self._error(h, 400, _go_json_error(raw))
            return True
        if not isinstance(body, dict):
            kind = type(body).__name__
            self._error(h, 400, f"json: cannot unmarshal {kind} into Go value of type api.Request")
            return True
        return False

    def _show(self, h: _Handler, raw: bytes, body: Any) -> None:
        if self._bad_body(h, raw, body):
            return
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name:
            self._error(h, 400, "model is required")
            return
        model = self.resolve(name)
        if model is None:
            self._error(h, 404, f"model '{name}' not found")
            return
        shape = load_shape("show.json")
        recorded_arch = str(shape["model_info"].get("general.architecture", ""))
        info: dict[str, Any] = {}
        for key, value in shape["model_info"].items():
            if recorded_arch and key.startswith(recorded_arch + "."):
                key = f"{model.family}.{key[len(recorded_arch) + 1 :]}"
            info[key] = value
        info["general.architecture"] = model.family
        info["general.parameter_count"] = _parameters(model.parameter_size or "1B")
        info[f"{model.family}.context_length"] = model.context_length
        reply = fill(shape, {"details": model.details(), "capabilities": list(model.capabilities)})
        reply["model_info"] = info  # keys depend on the architecture: replaced whole
        h.send_json(200, reply)

    # -- scheduling ----------------------------------------------------------------

    def _ensure_loaded(self, model: EmulatedModel) -> None:
        """Make ``model`` resident, loading it (and evicting others) when it is not."""
        with self._load_lock:
            with self._lock:
                if model.name in self._resident:
                    self._resident.remove(model.name)
                    self._resident.append(model.name)
                    return
                slots = self.resident_slots
                while slots is not None and self._resident and len(self._resident) >= slots:
                    evicted = self._resident.pop(0)
                    self.evictions[evicted] += 1
            latency = model.load_latency_s
            self._take(self.load_latency_s if latency is None else latency)
            with self._lock:
                self._resident.append(model.name)
                self.loads[model.name] += 1

    def _unload(self, model: EmulatedModel) -> None:
        with self._lock:
            if model.name in self._resident:
                self._resident.remove(model.name)
            self.unloads[model.name] += 1

    # -- inference -----------------------------------------------------------------

    def _inference(self, h: _Handler, raw: bytes, body: Any, kind: str) -> None:
        """``/api/chat`` and ``/api/generate``: one code path, two reply shapes."""
        if self._bad_body(h, raw, body):
            return
        name = body.get("model")
        if not isinstance(name, str) or not name:
            self._error(h, 400, "model is required")
            return
        model = self.resolve(name)
        if model is None:
            self._error(h, 404, f"model '{name}' not found")
            return

        messages: list[dict[str, Any]]
        if kind == "chat":
            given = body.get("messages")
            if given is None:
                given = []
            if not isinstance(given, list) or not all(isinstance(m, dict) for m in given):
                self._error(
                    h,
                    400,
                    "json: cannot unmarshal value into Go struct field "
                    "ChatRequest.messages of type []api.Message",
                )
                return
            messages = given
            empty = not messages
        else:
            prompt = body.get("prompt") or ""
            system = body.get("system")
            messages = []
            if isinstance(system, str) and system:
                messages.append({"role": "system", "content": system})
            messages.append({"role": "user", "content": prompt})
            empty = prompt == ""

        keep_alive_zero = _keep_alive_is_zero(body.get("keep_alive"))
        if empty and keep_alive_zero:
            self._unload(model)
            h.send_json(200, self._load_reply(kind, name, "unload"))
            return

        if "completion" not in model.capabilities:
            verb = "chat" if kind == "chat" else "generate"
            self._error(h, 400, f'"{name}" does not support {verb}')
            return

        fmt = body.get("format")
        if fmt not in (None, "", "json") and not isinstance(fmt, dict):
            self._error(h, 400, str(load_shape("error_bad_request.json")["error"]))
            return
        options = body.get("options") or {}
        if not isinstance(options, dict):
            self._error(h, 400, "json: cannot unmarshal options into map[string]interface {}")
            return
        problem = _option_error(options)
        if problem:
            self._error(h, 500, problem)
            return
        stream = body.get("stream") is not False

        with self._lock:
            self.active += 1
            self.max_concurrent = max(self.max_concurrent, self.active)
        settled = False

        def settle() -> None:
            """Bookkeeping for the end of a request: runs before its last byte is sent,
            so that a client that has its answer also sees the counters updated."""
            nonlocal settled
            if settled:
                return
            settled = True
            with self._lock:
                self.active -= 1
            if keep_alive_zero:
                self._unload(model)

        slot = self._slot(model) if not empty else None
        try:
            if slot is not None:
                slot.acquire()  # queued until one of the model's slots is free
                h.arrived = time.perf_counter()  # its service time starts now
            self._answer(h, kind, name, model, messages, fmt, options, stream, empty, settle)
        finally:
            settle()
            if slot is not None:
                slot.release()

    def _slot(self, model: EmulatedModel) -> Slots | None:
        """The model's slots (``EmulatedModel.slots``), one semaphore per model."""
        if model.slots is None:
            return None
        with self._lock:
            slot = self._slots.get(model.name)
            if slot is None:
                slot = self._slots[model.name] = Slots(model.slots)
            return slot

    def _load_reply(self, kind: str, name: str, reason: str) -> dict[str, Any]:
        shape = load_shape("chat_load.json" if kind == "chat" else "generate_load.json")
        return fill(shape, {"model": name, "created_at": _rfc3339(), "done_reason": reason})

    def _answer(
        self,
        h: _Handler,
        kind: str,
        name: str,
        model: EmulatedModel,
        messages: list[dict[str, Any]],
        fmt: Any,
        options: dict[str, Any],
        stream: bool,
        empty: bool,
        settle: Callable[[], None],
    ) -> None:
        started = self._now_ns()
        self._ensure_loaded(model)
        loaded = self._now_ns()
        if empty:  # a load request: Ollama answers without any timing field
            settle()
            h.send_json(200, self._load_reply(kind, name, "load"))
            return

        try:
            text = self.answer(model.name, copy.deepcopy(messages), copy.deepcopy(fmt), options)
        except Exception as exc:  # a broken answer() in a test: say so over the wire
            self._error(h, 500, f"emulator answer() raised {exc!r}")
            return
        tokens = _tokens(text)
        done_reason = "stop"
        limit = options.get("num_predict")
        if (
            isinstance(limit, (int, float))
            and not isinstance(limit, bool)
            and 0 < int(limit) < len(tokens)
        ):
            tokens = tokens[: int(limit)]
            done_reason = "length"
        prompt_tokens = _count_tokens(messages)

        # The durations are deadlines counted from the request's arrival (plus the load,
        # if there was one): the emulator's own work (parsing, the answer function,
        # building the reply) happens inside them, as a real server's does, instead of
        # adding Python's overhead on top.  Never before now: what is done took its time.
        arrived = int(h.arrived * 1e9) if h.arrived and self.clock is None else started
        load_ns = loaded - started
        latency = self.latency_s if model.latency_s is None else model.latency_s
        per_token = self.token_latency_s if model.token_latency_s is None else model.token_latency_s
        if per_token is not None:
            latency = per_token * len(tokens)
        prompt_s = (
            self.prompt_latency_s if model.prompt_latency_s is None else model.prompt_latency_s
        )
        prompt_due = arrived + load_ns + int(prompt_s * 1e9)
        prompt_done = max(prompt_due, self._now_ns())
        chunk_shape, final_shape = load_shape(
            "chat_stream.ndjson" if kind == "chat" else "generate_stream.ndjson"
        )
        if stream:
            self._sleep_until(prompt_done / 1e9)
            h.start_stream()
            step = latency / max(1, len(tokens))
            for i, token in enumerate(tokens, 1):
                self._sleep_until(prompt_done / 1e9 + i * step)
                seen = self.clock.reads() if self.clock is not None else 0
                h.send_line(self._chunk(kind, chunk_shape, name, token, False, {}))
                if self.clock is not None and token:  # the client times it before time moves on
                    self.clock.await_read(seen)
            finished = self._now_ns()
        else:  # the reply is ready before its time, and sent on the dot
            finished = max(prompt_due + int(latency * 1e9), self._now_ns() + 1)

        # Generation takes its configured time; the emulator's own work counts as
        # reading the prompt (never reported as zero: a real server's never is).
        eval_ns = min(int(latency * 1e9), finished - arrived) if not stream else 0
        eval_ns = eval_ns or finished - prompt_done
        metrics: dict[str, Any] = {
            "total_duration": finished - arrived,
            "load_duration": load_ns,
            "prompt_eval_count": prompt_tokens,
            "prompt_eval_duration": max(1, finished - arrived - load_ns - eval_ns),
            "eval_count": len(tokens),
            "eval_duration": eval_ns,
        }
        metrics.update(self.timings)
        for key in _METRICS:  # Go's omitempty: zero (or forced None) is left out
            if not metrics.get(key):
                metrics[key] = OMIT
        extra: dict[str, Any] = {"done_reason": done_reason, **metrics}
        if kind == "generate":
            extra["context"] = list(range(1, prompt_tokens + len(tokens) + 1))
        for key in self.omit_fields:
            extra[key] = OMIT

        if stream:
            final = self._chunk(kind, final_shape, name, "", True, extra)
        else:
            shape = load_shape("chat.json" if kind == "chat" else "generate.json")
            final = self._chunk(kind, shape, name, "".join(tokens), True, extra)
            body = json.dumps(final, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            self._sleep_until(finished / 1e9, precise=True)
        with self._lock:
            self.requests[model.name] += 1
            self.replies.append(final)
        settle()
        if stream:
            h.send_line(final)
            h.end_stream()
        else:
            h.send_body(200, body, "application/json; charset=utf-8")

    @staticmethod
    def _chunk(
        kind: str,
        shape: dict[str, Any],
        name: str,
        content: str,
        done: bool,
        extra: Mapping[str, Any],
    ) -> dict[str, Any]:
        values: dict[str, Any] = {"model": name, "created_at": _rfc3339(), "done": done}
        if kind == "chat":
            values["message"] = {"role": "assistant", "content": content}
        else:
            values["response"] = content
        values.update({k: v for k, v in extra.items() if k in shape})
        return fill(shape, values)
