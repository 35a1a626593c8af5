"""``llmbench serve`` over real HTTP on loopback (uvicorn in a thread), in front of
emulated Ollama hosts: the official ``openai`` client and ``curl``, the task endpoint,
one-line errors, the champion's backend killed under load, the registry rewritten under
load, the concurrency limit, the token, a graceful stop and the command itself."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from pytest_llmbench.providers.base import BuiltinSettings
from pytest_llmbench.router import Router
from pytest_llmbench.safety.atomic import write_atomic
from pytest_llmbench.storage.feedback import read_feedback
from tests.support.ollama_emulator import OllamaEmulator
from tests.support.serve_harness import CHAMPION, RUNNER_UP, Service, project, registry, right

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hosts() -> Iterator[tuple[OllamaEmulator, OllamaEmulator]]:
    """The champion on one host, the runner-up on another."""
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
        # the connect timeout too: when the champion dies, every worker thread connects
        # to the runner-up's emulator at once, whose listen backlog is 5: a dropped SYN
        # is sent again after 1 s
        discovery_timeout_s=5.0,
        retries=0,
    )
    return Router.from_registry(project(root), settings=settings, **options)


@pytest.fixture
def service(tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]) -> Iterator[Service]:
    with Service(make_router(tmp_path, hosts), reload_s=0.05) as running:
        yield running


OPEN: list[Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


class Client:
    """A kept-alive HTTP/1.1 connection to the service."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.port = int(url.rsplit(":", 1)[1])
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.token = token
        OPEN.append(self)

    def request(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None
    ) -> tuple[int, dict[str, str], Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self.conn.request(method, path, data, headers)
        response = self.conn.getresponse()
        text = response.read()
        got = {k.lower(): v for k, v in response.getheaders()}
        kind = got.get("content-type", "")
        return response.status, got, json.loads(text) if "json" in kind else text.decode()

    def task(self, posting: str, **extra: Any) -> tuple[int, dict[str, str], Any]:
        return self.request("POST", "/v1/tasks/grading", {"vars": {"posting": posting}, **extra})

    def close(self) -> None:
        self.conn.close()


def wait_in_flight(service: Service, count: int) -> None:
    """Until the champion has ``count`` calls in flight (at most 10 s)."""
    deadline = time.monotonic() + 10
    while service.served.in_flight.get(CHAMPION, 0) < count:
        assert time.monotonic() < deadline, service.served.in_flight
        time.sleep(0.01)


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# ---------------------------------------------------------------------- the endpoints


def test_the_task_endpoint_answers_with_the_router_s_result(service: Service) -> None:
    client = Client(service.url)
    status, headers, body = client.task("GOOD posting")
    assert status == 200
    assert body["value"] == "PASS"
    assert body["text"] == '{"verdict": "PASS"}'
    assert (body["model"], body["fell_over_from"]) == (CHAMPION, [])
    assert body["latency_ms"] > 0
    assert body["total_ms"] >= body["latency_ms"]
    assert float(headers["x-llmbench-overhead-ms"]) >= 0.0
    status, _, body = client.task("BAD posting", consensus=False)
    assert (status, body["value"]) == (200, "FAIL")
    status, headers, health = client.request("GET", "/healthz")
    assert status == 200
    assert health["tasks"] == {"grading": [CHAMPION, RUNNER_UP]}
    assert health["breakers"] == {CHAMPION: "closed", RUNNER_UP: "closed"}
    assert "x-llmbench-overhead-ms" in headers


def test_healthz_shows_whether_each_champion_s_model_changed(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    """The registry records the champion's digest; ``ollama pull`` then replaces its
    weights: ``/healthz`` says so, with both digests (a model with none recorded: null)."""
    from dataclasses import replace

    from pytest_llmbench.router.identity import ModelChanged, forget
    from pytest_llmbench.storage.champions import load_registry, write_registry

    path = project(tmp_path)
    entry = load_registry(path)["grading"]
    benchmarked = hosts[0].models["qwen2.5:7b"].digest
    champion = replace(entry.champion, identity=benchmarked)
    write_registry(path, {"grading": replace(entry, champion=champion)})
    settings = BuiltinSettings(ollama_hosts=(hosts[0].url, hosts[1].url), retries=0)
    forget()  # this test is a fresh process as far as the checks go
    try:
        with Service(Router.from_registry(path, settings=settings)) as running:
            client = Client(running.url)
            health = client.request("GET", "/healthz")[2]
            assert health["champions"] == {
                "grading": {
                    "model": CHAMPION,
                    "changed": False,
                    "registry": benchmarked,
                    "now": benchmarked,
                }
            }
        forget()
        now = hosts[0].repull("qwen2.5:7b")
        router = Router.from_registry(path, settings=settings)
        with Service(router) as running, pytest.warns(ModelChanged):
            health = Client(running.url).request("GET", "/healthz")[2]
        assert health["champions"]["grading"] == {
            "model": CHAMPION,
            "changed": True,
            "registry": benchmarked,
            "now": now,
        }
    finally:
        forget()


def test_the_openai_client_gets_answers_streamed_and_not(service: Service) -> None:
    client = openai.OpenAI(base_url=f"{service.url}/v1", api_key="unused", max_retries=0)
    completion = client.chat.completions.create(
        model="task:grading",
        messages=[{"role": "user", "content": "Posting: GOOD posting\nAnswer PASS or FAIL."}],
    )
    assert completion.choices[0].message.content == '{"verdict": "PASS"}'
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == CHAMPION
    stream = client.chat.completions.create(
        model="task:grading",
        messages=[
            {"role": "system", "content": "You grade."},
            {"role": "user", "content": "Posting: BAD posting"},
        ],
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == '{"verdict": "FAIL"}'
    with pytest.raises(openai.NotFoundError, match="model 'gpt-4o' is not a task: use model"):
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hello"}]
        )


def test_the_chat_request_carries_the_task_s_options_and_format(
    service: Service, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    status, _, _ = Client(service.url).request(
        "POST",
        "/v1/chat/completions",
        {"model": "task:grading", "messages": [{"role": "user", "content": "GOOD"}]},
    )
    assert status == 200
    sent = hosts[0].bodies("/api/chat")[-1]
    assert sent["options"]["temperature"] == 0
    assert sent["options"]["seed"] == 7
    assert sent["format"]["properties"]["verdict"]["enum"] == ["PASS", "FAIL"]
    assert sent["messages"][0] == {
        "role": "system",
        "content": "You grade job postings for the hiring team.",
    }
    assert sent["messages"][-1] == {"role": "user", "content": "GOOD"}


def curl(*args: str) -> str:
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


@pytest.mark.skipif(not Path("/usr/bin/curl").exists(), reason="no curl")
def test_curl_gets_answers_streamed_and_not(service: Service) -> None:
    ask = {"model": "task:grading", "messages": [{"role": "user", "content": "Posting: GOOD"}]}
    url = f"{service.url}/v1/chat/completions"
    plain = json.loads(curl("-H", "Content-Type: application/json", "-d", json.dumps(ask), url))
    assert plain["choices"][0]["message"]["content"] == '{"verdict": "PASS"}'
    assert plain["object"] == "chat.completion"
    events = curl("-N", "-d", json.dumps({**ask, "stream": True}), url).split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == (
        '{"verdict": "PASS"}'
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    answer = json.loads(
        curl("-d", '{"vars": {"posting": "BAD"}}', f"{service.url}/v1/tasks/grading")
    )
    assert answer["value"] == "FAIL"


@pytest.mark.parametrize(
    ("path", "raw", "status", "error"),
    [
        ("/v1/tasks/grading", b"{not json", 400, "the request body is not JSON: "),
        ("/v1/tasks/grading", b"[1]", 400, "the request body is a JSON list, not an object"),
        ("/v1/tasks/grading", b'{"vars": [1]}', 400, '"vars" is a JSON list, not an object'),
        (
            "/v1/tasks/grading",
            b'{"vars": {"postin": "x"}}',
            400,
            "task grading: no value for posting; unknown variable postin (the prompt uses "
            "posting, team)",
        ),
        ("/v1/tasks/grading", b'{"consensus": "yes"}', 400, '"consensus" is "yes", not true'),
        ("/v1/tasks/nope", b"{}", 404, "task 'nope' is not in registry "),
        ("/v1/tasks", b"{}", 404, "no such endpoint: POST /v1/tasks"),
        ("/v1/chat/completions", b'{"model": "task:grading"}', 400, '"messages" must be'),
        (
            "/v1/chat/completions",
            b'{"model": "task:grading", "messages": [{"role": "assistant", "content": "x"}]}',
            400,
            "the last message (but system ones) must be the user's",
        ),
        (
            "/v1/chat/completions",
            b'{"model": "task:nope", "messages": [{"role": "user", "content": "x"}]}',
            404,
            "task 'nope' is not in registry ",
        ),
    ],
)
def test_a_bad_request_is_a_4xx_with_one_line(
    service: Service, path: str, raw: bytes, status: int, error: str
) -> None:
    got, headers, body = Client(service.url).request("POST", path, raw=raw)
    assert got == status
    message = body["error"]["message"] if "chat" in path else body["error"]
    assert message.startswith(error)
    assert "\n" not in message
    assert "x-llmbench-overhead-ms" in headers


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/v1/tasks/grading", 405, "method not allowed: GET /v1/tasks/grading"),
        ("PUT", "/v1/chat/completions", 405, "method not allowed: PUT /v1/chat/completions"),
        ("POST", "/v1/tasks/grading/x", 404, "no such endpoint: POST /v1/tasks/grading/x"),
        ("POST", "/v1/tasks/", 404, "no such endpoint: POST /v1/tasks/"),
    ],
)
def test_the_model_endpoints_take_only_post_on_their_own_paths(
    service: Service, method: str, path: str, status: int, error: str
) -> None:
    got, headers, body = Client(service.url).request(method, path, raw=b"{}")
    assert (got, body) == (status, {"error": error})
    assert "x-llmbench-overhead-ms" in headers


@pytest.mark.parametrize("path", ["/v1/tasks/grading", "/v1/chat/completions"])
def test_a_client_gone_before_its_body_is_read_gets_no_answer_and_costs_no_call(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator], path: str
) -> None:
    from pytest_llmbench.service.serve.app import Served, create_app

    served = Served(make_router(tmp_path, hosts), reload_s=0)
    app = create_app(served)
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"40")],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:  # the connection closed: ASGI's disconnect
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent == []
    counted = [
        line
        for line in served.metrics.text().decode().splitlines()
        if line.startswith("llmbench_requests_total{")
    ]
    assert counted
    assert all(line.endswith(" 0.0") for line in counted), counted
    assert [sum(h.requests.values()) for h in hosts] == [0, 0]
    served.router.close()


def test_a_body_over_1_mib_is_413(service: Service) -> None:
    big = json.dumps({"vars": {"posting": "x" * (1024 * 1024)}}).encode()
    status, _, body = Client(service.url).request("POST", "/v1/tasks/grading", raw=big)
    assert (status, body) == (413, {"error": "the request body is larger than 1048576 bytes"})


def test_a_consensus_call_says_how_it_decided(service: Service) -> None:
    status, _, body = Client(service.url).task("GOOD", consensus=True)
    assert status == 200
    assert body["value"] == "PASS"
    assert body["consensus"]["accepted"] is True
    assert body["consensus"]["agreed"] == [CHAMPION, RUNNER_UP]


def test_no_model_answering_is_502_then_503_with_retry_after(
    service: Service, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    for host in hosts:
        host.die()
    client = Client(service.url)
    status, _, body = client.task("GOOD")
    assert status == 502
    assert body["error"].startswith(f"no model answered task grading: {CHAMPION}: error (")
    for _ in range(2):
        client.task("GOOD")
    status, headers, body = client.task("GOOD")  # both circuits open now
    assert status == 503
    assert int(headers["retry-after"]) >= 1
    assert body["error"].startswith("no model can answer task grading now: every circuit is open")


def test_a_model_at_its_limit_answers_503_with_retry_after(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    hosts[0].latency_s = 0.5
    with Service(make_router(tmp_path, hosts), per_model=2, reload_s=0) as running:
        with ThreadPoolExecutor(3) as pool:
            slow = [pool.submit(Client(running.url).task, "GOOD") for _ in range(2)]
            wait_in_flight(running, 2)
            status, headers, body = Client(running.url).task("GOOD")
            assert [f.result()[0] for f in slow] == [200, 200]
        assert (status, headers["retry-after"]) == (503, "1")
        assert body["error"] == (
            f"{CHAMPION} has 2 calls in flight, its limit (--concurrency); retry in 1 s"
        )
        _, _, text = Client(running.url).request("GET", "/metrics")
        assert metric(text, "llmbench_rejected_total", model=CHAMPION) == 1


def test_the_token_is_required_and_never_shown(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator], capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-token-0123456789"
    with Service(make_router(tmp_path, hosts), token=secret, reload_s=0) as running:
        status, headers, body = Client(running.url).task("GOOD")
        assert (status, headers["www-authenticate"]) == (401, "Bearer")
        assert body == {
            "error": "unauthorized: this service needs its token (--token-env), sent as a "
            "bearer in the Authorization header"
        }
        assert Client(running.url, token="wrong").task("GOOD")[0] == 401
        assert Client(running.url, token=secret).task("GOOD")[0] == 200
        assert Client(running.url).request("GET", "/healthz")[0] == 200
        assert Client(running.url).request("GET", "/metrics")[0] == 401
    out, err = capfd.readouterr()
    assert secret not in out + err


# ---------------------------------------------------------------------- under load


def load(url: str, total: int, clients: int, during: Any = None) -> list[tuple[int, Any]]:
    """``total`` task requests from ``clients`` kept-alive connections; request ``i``
    asks about posting ``GOOD #i``; ``during(done)`` is called as answers come."""
    answers: list[tuple[int, Any]] = [(0, None)] * total
    counter = iter(range(total))
    lock = threading.Lock()
    done = [0]

    def worker() -> None:
        client = Client(url)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            status, _, body = client.task(f"GOOD #{i}")
            answers[i] = (status, body)
            with lock:
                done[0] += 1
                count = done[0]
            if during is not None:
                during(count)
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def answered_once(hosts: tuple[OllamaEmulator, ...], total: int) -> Counter[str]:
    """How many answers the backends sent for each request (by its posting)."""
    count: Counter[str] = Counter()
    for host in hosts:
        for received in list(host.received):
            if received.path == "/api/chat" and received.answered:
                found = re.search(r"GOOD #(\d+)", received.body["messages"][-1]["content"])
                if found:
                    count[found.group(1)] += 1
    return count


def test_the_champion_killed_under_load_the_runner_up_answers_every_request(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    total, clients = 1000, 16
    now = [1000.0]  # the breaker's clock: moved by hand past the cool-down
    router = make_router(tmp_path, hosts, cool_down_s=60.0, clock=lambda: now[0])
    killed = threading.Event()

    def kill(done: int) -> None:
        if done == 200 and not killed.is_set():
            killed.set()
            hosts[0].die()

    with Service(router, reload_s=0) as running:
        answers = load(running.url, total, clients, kill)
        assert killed.is_set()
        assert [(s, b) for s, b in answers if s != 200] == []
        models = Counter(body["model"] for _, body in answers)
        assert set(models) == {CHAMPION, RUNNER_UP}
        assert models[RUNNER_UP] >= total - 200 - clients
        assert {body["value"] for _, body in answers} == {"PASS"}
        count = answered_once(hosts, total)  # none answered twice, none lost
        assert set(count.values()) == {1}
        assert len(count) == total
        client = Client(running.url)
        _, _, text = client.request("GET", "/metrics")
        assert metric(text, "llmbench_breaker_opens_total", model=CHAMPION) == 1
        failures = metric(text, "llmbench_model_failures_total", model=CHAMPION)
        assert 3 <= failures <= 3 + clients - 1  # 3 in a row, or those already in flight
        assert metric(text, "llmbench_fallovers_total", model=CHAMPION) == failures
        skipped = metric(text, "llmbench_model_calls_total", model=CHAMPION, outcome="circuit_open")
        assert skipped > 0
        assert client.request("GET", "/healthz")[2]["breakers"][CHAMPION] == "open"

        hosts[0].revive()  # back: after the cool-down a trial call closes the circuit
        assert client.task("GOOD before")[2]["model"] == RUNNER_UP
        now[0] += 60.0
        status, _, body = client.task("GOOD again")
        assert (status, body["model"]) == (200, CHAMPION)
        assert client.request("GET", "/healthz")[2]["breakers"][CHAMPION] == "closed"
    records, bad = read_feedback(tmp_path / ".llmbench" / "feedback.jsonl")
    assert bad == 0
    ok_by_call = Counter(r.call for r in records if r.ok)
    assert len(ok_by_call) == total + 2
    assert set(ok_by_call.values()) == {1}


def test_the_registry_rewritten_under_load_fails_no_request(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    router = make_router(tmp_path, hosts)
    path = router.registry
    stop = threading.Event()
    rewrites = [0]

    def rewrite() -> None:
        order = [(RUNNER_UP, CHAMPION), (CHAMPION, RUNNER_UP)]
        while not stop.is_set():
            champion, runner_up = order[rewrites[0] % 2]
            write_atomic(path, [registry(champion, runner_up)])
            rewrites[0] += 1
            stop.wait(0.07)

    with Service(router, reload_s=0.02) as running:
        writer = threading.Thread(target=rewrite)
        writer.start()
        try:
            answers = load(running.url, 600, 8)
        finally:
            stop.set()
            writer.join()
        assert [status for status, _ in answers] == [200] * 600
        # no fall-over: each answer is the champion's, of the old registry or the new one
        assert all(body["fell_over_from"] == [] for _, body in answers)
        models = Counter(body["model"] for _, body in answers)
        assert set(models) == {CHAMPION, RUNNER_UP}  # each answer from the old or new one
        _, _, text = Client(running.url).request("GET", "/metrics")
        assert metric(text, "llmbench_registry_reloads_total", result="ok") >= 2
        assert metric(text, "llmbench_registry_reloads_total", result="failed") == 0
    assert rewrites[0] >= 3


def test_a_stop_finishes_the_calls_in_flight_and_writes_the_log(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    hosts[0].latency_s = 0.5
    running = Service(make_router(tmp_path, hosts, feedback=tmp_path / "log.jsonl"), reload_s=0)
    with running, ThreadPoolExecutor(1) as pool:
        slow = pool.submit(Client(running.url).task, "GOOD")
        wait_in_flight(running, 1)
        running.stop()
        status, _, body = slow.result(timeout=10)
    assert (status, body["model"]) == (200, CHAMPION)
    lines = (tmp_path / "log.jsonl").read_text().splitlines()  # written at the stop
    assert [json.loads(line)["outcome"] for line in lines] == ["ok"]


def test_shadow_checks_of_served_calls_reach_the_log_by_the_stop(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    from pytest_llmbench.router import ShadowOptions

    hosts[1].latency_s = 0.2  # the runner-up checks after each answer, slower than it
    router = make_router(
        tmp_path, hosts, feedback=tmp_path / "log.jsonl", shadow=ShadowOptions(rate=1.0)
    )
    running = Service(router, reload_s=0)
    with running:
        client = Client(running.url)
        for posting in ("GOOD", "BAD", "GOOD"):
            assert client.task(posting)[0] == 200
        running.stop()  # the stop waits for the checks pending
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [(x["model"], x["shadow"]["model"], x["shadow"]["agreed"]) for x in lines] == [
        (CHAMPION, RUNNER_UP, True)
    ] * 3
    assert hosts[1].requests["llama3.2:3b"] == 3
    scraped = running.served.metrics.text().decode()
    assert metric(scraped, "llmbench_shadow_sampled_total") == 3
    assert metric(scraped, "llmbench_shadow_checked_total") == 3
    assert metric(scraped, "llmbench_shadow_dropped_total") == 0
    assert metric(scraped, "llmbench_shadow_pending") == 0


# ---------------------------------------------------------------------- the command


def test_llmbench_serve_binds_loopback_answers_and_stops_on_sigterm(
    tmp_path: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    registry_file = project(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SERVE_TOKEN": "tok-123456789abcdef"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest_llmbench.cli",
            "serve",
            "--registry",
            str(registry_file),
            "--port",
            "0",
            "--token-env",
            "SERVE_TOKEN",
            "--ollama-host",
            hosts[0].url,
            "--ollama-host",
            hosts[1].url,
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = re.fullmatch(
            rf"llmbench serve: 1 task\(s\) of {re.escape(str(registry_file))} on "
            r"http://127\.0\.0\.1:(\d+) \(bearer token from \$SERVE_TOKEN\)\n",
            line,
        )
        assert found, line
        url = f"http://127.0.0.1:{found.group(1)}"
        for _ in range(100):
            try:
                status, _, body = Client(url, token="tok-123456789abcdef").task("GOOD")
                break
            except ConnectionError:
                time.sleep(0.05)
        assert (status, body["value"]) == (200, "PASS")
        process.send_signal(signal.SIGTERM)
        # uvicorn stops gracefully, then ends as the signal asks (systemd: a clean stop)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        rest = process.stderr.read()
        assert "tok-123456789abcdef" not in line + rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    flushed = (tmp_path / ".llmbench" / "feedback.jsonl").read_text().splitlines()
    assert len(flushed) == 1


def test_llmbench_serve_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_llmbench.cli.main import main

    registry_file = project(tmp_path)
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    args = ["serve", "--registry", str(registry_file), "--token-env", "NO_SUCH_TOKEN"]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "llmbench serve: --token-env NO_SUCH_TOKEN: $NO_SUCH_TOKEN is not set\n"
    )
    assert main(["serve", "--registry", str(tmp_path / "none.yaml")]) == 1
    assert capsys.readouterr().err == (
        f"llmbench serve: no registry at {tmp_path / 'none.yaml'}; write one with "
        f"pytest --llm-update-registry={tmp_path / 'none.yaml'}\n"
    )
    assert main(["serve", "--registry", str(registry_file), "--concurrency", "0"]) == 2
    assert capsys.readouterr().err == "llmbench serve: --concurrency must be at least 1, got 0\n"
