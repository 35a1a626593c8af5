"""The default implementations of pytest-llmbench's own hooks.

Registered ``trylast``, so an implementation in a conftest or plugin runs first
and may return ``None`` to fall back to these.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pytest_llmbench.analysis.ranking import TaskRanking, rank_task
from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.execution import scoring
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import Score
from pytest_llmbench.plugin.session import get_bench
from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.providers.registry import ProviderRegistry, register_entry_points
from pytest_llmbench.selection.spec import choose


@pytest.hookimpl(trylast=True)
def pytest_llmbench_register_providers(registry: ProviderRegistry, config: pytest.Config) -> None:
    # One provider per OpenAI-compatible endpoint in config (llm_openai_endpoints,
    # --llm-endpoint): the entry-point group makes one instance per class, so the
    # endpoints are added here, alongside.  The entry point ``openai`` is the default
    # endpoint (or the one configured under that name).
    if registry.settings.openai_endpoints:
        from pytest_llmbench.providers.openai import OpenAIProvider

        for endpoint in registry.settings.openai_endpoints:
            if endpoint.name not in registry:
                registry.add(OpenAIProvider(registry.settings, endpoint))
    register_entry_points(registry)


@pytest.hookimpl(trylast=True)
def pytest_llmbench_select_models(
    config: pytest.Config, spec: str, available: Sequence[ModelInfo]
) -> list[ModelInfo]:
    bench = get_bench(config)
    catalogue = bench.catalogue
    selection = choose(catalogue.entries(), catalogue.discoveries, bench.options.rules)
    catalogue.leave_out(selection.left_out)
    return list(selection.models)


@pytest.hookimpl(trylast=True)
def pytest_llmbench_score(task: Task, case: Case, answer: str) -> Score:
    return scoring.score(task, case, answer)


@pytest.hookimpl(trylast=True)
def pytest_llmbench_rank(
    config: pytest.Config,
    task: str,
    results: Sequence[Result],
    expected: Sequence[tuple[str, int]],
) -> TaskRanking:
    bench = get_bench(config)
    how = bench.ledger.rank_settings(task, bench.options.rank_policy, bench.options.rank_latency)
    return rank_task(
        task,
        results,
        policy=how.policy,
        weights=how.weights,
        latency=how.latency,
        generic_threshold=bench.options.generic_threshold,
        prices=bench.options.prices,
        expected=expected,
        models=bench.ledger.models_owing(task),
        min_lead=bench.options.min_lead,
        min_correct=how.min_correct,
    )
