"""Fixtures every test folder uses: no hosted OpenAI, and the scripted ``suite`` project.

Shared code (emulators, case data, the ``Result`` factory) lives in ``tests/support/``.
"""

from __future__ import annotations

import contextlib
import importlib

import pytest

from tests.support.casedata import FAKE_CONFTEST, GRADING_YAML
from tests.support.clock import FakeClock

# openai's HTTP stack (httpx2) imports its transport package (httpcore2) lazily, inside
# functions.  pytester's in-process runs drop the modules first imported during a run, so
# a later import would make a second copy with other exception classes, and httpx2 would
# no longer recognise a refused connection or a timeout.  Import it once, up front.
# The same for yaml (cases/yaml_lines.py imports it when first needed): libyaml's parser, a C
# extension that is never imported twice, would go on making the nodes and raising the
# errors of the first copy, which the second copy's isinstance and except do not know.
for _module in ("httpcore2", "httpcore", "yaml"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_module)


@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under ``pytest -n``, the runs a test starts (pytester in-process or in a subprocess)
    are runs of their own, not workers of this one: without the worker's id in the
    environment, pytest-benchmark does not turn itself off in them and an inner ``-n`` run's
    controller does not take itself for a worker.  (``PYTEST_XDIST_WORKER_COUNT`` stays:
    the embedded models of this worker choose their threads by it.)"""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_TESTRUNUID", raising=False)


@pytest.fixture(autouse=True)
def _no_hosted_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches the hosted OpenAI API, whatever the developer's environment holds."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The call timer of this process, a clock that emulators given it advance by their
    scripted durations: latencies are those durations exactly (calls made one at a time)."""
    clock = FakeClock()
    # The modules as sys.modules has them now: an in-process pytester run of an earlier
    # test drops the modules it imported, so the package's attribute may name an old copy
    # that nothing uses any more (a dotted-name setattr would patch that one).
    for name in ("pytest_llmbench.execution.call", "pytest_llmbench.providers.streaming"):
        monkeypatch.setattr(importlib.import_module(name), "clock", clock)
    return clock


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with the scripted provider and the grading task in evals/."""
    pytester.makeconftest(FAKE_CONFTEST)
    evals = pytester.mkdir("evals")
    (evals / "grading.yaml").write_text(GRADING_YAML)
    return pytester


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave the benchmarks (marker ``performance``) out unless the ``-m`` expression names
    them: the functional suite stays fast, ``.ci/run`` runs them as their own step."""
    if "performance" in (config.getoption("markexpr", "") or ""):
        return
    kept: list[pytest.Item] = []
    benchmarks: list[pytest.Item] = []
    for item in items:
        (benchmarks if item.get_closest_marker("performance") else kept).append(item)
    if benchmarks:
        config.hook.pytest_deselected(items=benchmarks)
        items[:] = kept
