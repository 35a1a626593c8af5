"""``llmbench serve``'s application on a loopback port, in a background thread: what the
service tests and the service benchmark start (real HTTP, real uvicorn)."""

from __future__ import annotations

import threading
import time
from typing import Any

from pytest_llmbench.router import Router
from pytest_llmbench.service.serve.app import Served, create_app
from pytest_llmbench.service.serve.server import bind, server

__all__ = ["Service"]


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
