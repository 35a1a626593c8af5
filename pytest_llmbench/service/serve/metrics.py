"""What ``GET /metrics`` says, in the Prometheus text format (``prometheus_client``).

Per task and model: calls by outcome (``ok``, ``error``, ``timeout``, ``unparseable``,
``circuit_open``), failures, fall-overs (failed calls the router went on from), the
latency of the calls that answered; per model: breaker opens, requests refused at the
concurrency limit; the service's own overhead per request; and the shadow checks
(sampled, made, dropped on a full queue, pending).  One registry per
application (not the process-wide default), so two services in one process do not mix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from pytest_llmbench.router import Attempt
from pytest_llmbench.router.shadow import ShadowChecks

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1)


class Metrics:
    """The service's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.requests = Counter(
            "llmbench_requests", "HTTP requests answered", ["endpoint", "status"], registry=r
        )
        self.calls = Counter(
            "llmbench_model_calls",
            "Model calls by outcome (circuit_open: skipped by its open circuit)",
            ["task", "model", "outcome"],
            registry=r,
        )
        self.failures = Counter(
            "llmbench_model_failures",
            "Model calls that failed (error, timeout, unparseable)",
            ["task", "model"],
            registry=r,
        )
        self.fallovers = Counter(
            "llmbench_fallovers",
            "Failed model calls after which the router went on to the next model",
            ["task", "model"],
            registry=r,
        )
        self.latency = Histogram(
            "llmbench_model_latency_seconds",
            "Latency of the model calls that answered",
            ["task", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.breaker_opens = Counter(
            "llmbench_breaker_opens", "Times a model's circuit opened", ["model"], registry=r
        )
        self.rejected = Counter(
            "llmbench_rejected",
            "Requests refused with 503: the model had its limit of calls in flight",
            ["model"],
            registry=r,
        )
        self.overhead = Histogram(
            "llmbench_overhead_seconds",
            "The service's own time per request, outside the model calls",
            buckets=_OVERHEAD_BUCKETS,
            registry=r,
        )
        self.reloads = Counter(
            "llmbench_registry_reloads", "Registry reloads by result", ["result"], registry=r
        )

        self._answered: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def attempts(self, task: str, attempts: Iterable[Attempt]) -> None:
        """Count one router call's attempts."""
        tried = tuple(attempts)
        passed_on = {m for a in tried for m in a.fell_over_from}
        for a in tried:
            if a.ok:  # the hot path: the label lookups made once per task and model
                key = (task, a.model)
                children = self._answered.get(key)
                if children is None:
                    children = (self.calls.labels(task, a.model, "ok"), self.latency.labels(*key))
                    self._answered[key] = children
                children[0].inc()
                if a.latency_ms is not None:
                    children[1].observe(a.latency_ms / 1000.0)
                continue
            self.calls.labels(task, a.model, a.outcome).inc()
            if a.outcome != "circuit_open":
                self.failures.labels(task, a.model).inc()
                if a.model in passed_on:
                    self.fallovers.labels(task, a.model).inc()

    def watch_shadow(self, checks: Callable[[], ShadowChecks]) -> None:
        """Report the shadow checks ``checks()`` gives (the serving router's) at each scrape."""
        self.registry.register(_ShadowCollector(checks))

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _ShadowCollector(Collector):
    """The router's shadow-check counters, read at each scrape."""

    def __init__(self, checks: Callable[[], ShadowChecks]) -> None:
        self._checks = checks

    def collect(self) -> Iterator[Metric]:
        checks = self._checks()
        for name, text, value in (
            ("llmbench_shadow_sampled", "Calls chosen for a shadow check", checks.sampled),
            ("llmbench_shadow_checked", "Shadow checks made (errors included)", checks.checked),
            (
                "llmbench_shadow_dropped",
                "Shadow checks dropped: the queue was full",
                checks.dropped,
            ),
        ):
            yield CounterMetricFamily(name, text, value=value)
        yield GaugeMetricFamily(
            "llmbench_shadow_pending", "Shadow checks waiting or under way", value=checks.pending
        )
