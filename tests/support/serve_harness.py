"""``llmbench serve``'s application on a loopback port, in a background thread: what the
service tests and the service benchmark start (real HTTP, real uvicorn)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from pytest_llmbench.router import Router
from pytest_llmbench.service.serve.app import Served, create_app
from pytest_llmbench.service.serve.server import bind, server
from pytest_llmbench.storage.champions import Evidence, RegistryEntry, registry_text

__all__ = ["CHAMPION", "GRADING", "RUNNER_UP", "Service", "project", "right", "write_registry"]

CHAMPION, RUNNER_UP = "ollama/qwen2.5:7b", "ollama/llama3.2:3b"

GRADING = """\
task: grading
system: You grade job postings for {team}.
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
options: {temperature: 0, seed: 7, max_tokens: 16}
vars: {team: the hiring team}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    vars: {posting: GOOD posting}
  - id: GRADE_FAIL_001
    expected: {verdict: FAIL}
    vars: {posting: BAD posting}
"""


def right(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
    """The emulated models' answer: PASS for a GOOD posting."""
    return json.dumps({"verdict": "PASS" if "GOOD" in messages[-1]["content"] else "FAIL"})


def registry(champion: str, runner_up: str | None) -> str:
    """A registry text with the one task ``grading``."""
    run = "20250601T091500Z-3fa2c1"
    entry = RegistryEntry(
        "grading",
        Evidence(champion, 2, 2, 100.0, 120.0, run, "2025-06-01"),
        Evidence(runner_up, 2, 2, 200.0, 230.0, run, "2025-06-01") if runner_up else None,
        case_file="evals/grading.yaml",
    )
    return registry_text({"grading": entry})


def write_registry(root: Path, champion: str, runner_up: str | None) -> Path:
    path = root / "llmbench-registry.yaml"
    path.write_text(registry(champion, runner_up))
    return path


def project(root: Path, champion: str = CHAMPION, runner_up: str | None = RUNNER_UP) -> Path:
    """``root`` with ``evals/grading.yaml`` and a registry; the registry's path."""
    (root / "evals").mkdir(exist_ok=True)
    (root / "evals" / "grading.yaml").write_text(GRADING)
    return write_registry(root, champion, runner_up)


class Service:
    """``with Service(router, per_model=8) as service: service.url``."""

    def __init__(self, router: Router, **options: Any) -> None:
        self.served = Served(router, **options)
        self._server = server(create_app(self.served), graceful_s=5)
        self._sock = bind("127.0.0.1", 0)
        self.port = int(self._sock.getsockname()[1])
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Service:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Graceful: no new connection, the calls in flight finish, the router closes."""
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
