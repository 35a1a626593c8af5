"""Hooks of pytest-llmbench, for a ``conftest.py`` or a plugin to customise.

The default behaviour is itself an implementation of these hooks (in
:mod:`pytest_llmbench.plugin.defaults`, registered ``trylast``), so an implementation in
your conftest runs first; return ``None`` to fall back to the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_llmbench.analysis.ranking import TaskRanking
    from pytest_llmbench.cases.records import Case, Task
    from pytest_llmbench.execution.results import Result
    from pytest_llmbench.execution.scoring import Score
    from pytest_llmbench.providers.base import ModelInfo
    from pytest_llmbench.providers.registry import ProviderRegistry


def pytest_llmbench_register_providers(registry: ProviderRegistry, config: pytest.Config) -> None:
    """Add providers to the registry (called once, before model discovery).

    The default adds one ``OpenAIProvider`` per OpenAI-compatible endpoint in config
    (``llm_openai_endpoints``, ``--llm-endpoint``), then every provider of the
    ``pytest_llmbench.providers`` entry-point group.  Example, a provider defined in
    a conftest::

        def pytest_llmbench_register_providers(registry, config):
            registry.add(MyProvider(registry.settings_for("mine")))

    :param registry: the registry; ``registry.add(provider)`` replaces a provider of
        the same ``name``; ``registry.settings_for(name)`` gives a provider the general
        settings and its own ``llm_provider_options`` (not the built-in providers').
    :param config: the pytest config.
    """


@pytest.hookspec(firstresult=True)
def pytest_llmbench_select_models(
    config: pytest.Config, spec: str, available: Sequence[ModelInfo]
) -> list[ModelInfo] | None:
    """Choose the models to run, from everything the providers offer.

    The default reads ``--llm-models`` (``all``, ``provider``, ``provider/name``,
    globs such as ``ollama/qwen*``, comma-separated, or ``@file``).  Example,
    keep only models whose name says ``instruct``::

        def pytest_llmbench_select_models(config, spec, available):
            return [m for m in available if "instruct" in m.name]

    :param spec: the value of ``--llm-models``.
    :param available: every model every reachable provider offers.
    :return: the models to run, in run order; ``None`` to use the default.
        Raise ``pytest.UsageError`` for a bad spec.
    """


@pytest.hookspec(firstresult=True)
def pytest_llmbench_score(task: Task, case: Case, answer: str) -> Score | None:
    """Score one model answer.

    The default parses the answer by the task's output kind (verdict, json, text)
    and applies the case's ``expected`` checks.  Example, a custom check for one
    task::

        from pytest_llmbench import Score

        def pytest_llmbench_score(task, case, answer):
            if task.name != "reformat":
                return None
            ok = answer.count("\\n- ") >= 3
            return Score(ok, answer[:40], "" if ok else "fewer than 3 bullets")

    :param task: the task (its ``output`` says how answers are read).
    :param case: the gold case (its ``expected`` says what is right).
    :param answer: the model's raw answer text.
    :return: a :class:`pytest_llmbench.Score`; ``None`` to use the default.
    """


@pytest.hookspec(firstresult=True)
def pytest_llmbench_rank(
    config: pytest.Config,
    task: str,
    results: Sequence[Result],
    expected: Sequence[tuple[str, int]],
) -> TaskRanking | None:
    """Rank the models of one task at the end of the session (controller only).

    The default (:func:`pytest_llmbench.rank_task`) first fails generic answers
    (``--llm-generic-threshold``), then ranks by the task's policy (``--llm-rank`` or the
    case file's ``ranking.policy``): strict, where a model qualifies when every case and
    every repeat is correct and qualified models are ordered by latency (the mean, or the
    task's ``ranking.latency`` / ``--llm-rank-latency``: p50, p95, ttft_p50, ttft_p95), or weighted
    (``quality * mean_score + speed * speed_norm``, the mean score of 0-1 results
    scores). A model that did not make every run of
    ``expected`` and of ``results`` (a run stopped by ``-x`` or Ctrl-C, a ``-k`` that left
    out some of its cases) counts those runs as not correct. It adds the cost per 1,000
    requests (``--llm-prices``), suspect gold labels and latency ties.

    :param task: the task name.
    :param results: every result record of this task, all models.
    :param expected: the (case id, repeat) runs collected for this task, all models (a
        model owes every one); pass it on, e.g. ``rank_strict(task, results,
        expected=expected)``.
    :return: a :class:`pytest_llmbench.TaskRanking`; ``None`` to use the default.
    """
