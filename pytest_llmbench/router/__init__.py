"""Production side: each task's champion behind one call, with fall-over to the
runner-up and further fallbacks, a circuit breaker, consensus between models and a
feedback log.  Light to import: no pytest, no provider SDK until a call needs it.

    from pytest_llmbench import Router

    router = Router.from_registry("llmbench-registry.yaml")
    answer = router.run("grading", posting=posting, summary=summary)
    answer = await router.arun("grading", posting=posting, summary=summary)
"""

from pytest_llmbench.router.breaker import CircuitBreaker
from pytest_llmbench.router.core import Router, default_settings
from pytest_llmbench.router.results import (
    Attempt,
    BadValues,
    ConsensusDetails,
    NoAnswer,
    RouterError,
    RouterResult,
    UnknownTask,
)
from pytest_llmbench.router.shadow import ShadowOptions

__all__ = [
    "Attempt",
    "BadValues",
    "CircuitBreaker",
    "ConsensusDetails",
    "NoAnswer",
    "Router",
    "RouterError",
    "RouterResult",
    "ShadowOptions",
    "UnknownTask",
    "default_settings",
]
