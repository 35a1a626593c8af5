"""Which host serves a model that several hosts have (pure: no I/O)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from pytest_llmbench.providers.base import ModelInfo

__all__ = ["assign_hosts", "model_host"]


def assign_hosts(presence: Mapping[str, Sequence[str]], hosts: Sequence[str]) -> dict[str, str]:
    """Which host serves each model: ``presence`` maps a model to the hosts that have it.

    A model on one host is served there.  A model on several goes to the one of them
    that serves the fewest models so far (ties: the earlier host in ``hosts``), models
    taken by name, so every process that sees the same servers decides the same way
    (xdist workers and the controller each decide on their own).
    """
    rank = {host: i for i, host in enumerate(hosts)}
    served: Counter[str] = Counter()
    chosen: dict[str, str] = {}
    for name in sorted(presence):
        where = presence[name]
        if len(where) == 1:
            chosen[name] = where[0]
            served[where[0]] += 1
    for name in sorted(presence):
        where = presence[name]
        if len(where) > 1:
            host = min(where, key=lambda h: (served[h], rank.get(h, len(rank))))
            chosen[name] = host
            served[host] += 1
    return chosen


def model_host(model: ModelInfo) -> str | None:
    """The host that serves ``model`` (``details["host"]``), or ``None`` (no host)."""
    host = model.details.get("host")
    return host if isinstance(host, str) else None
