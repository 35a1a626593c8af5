"""pytest-llmbench: find the fastest correct LLM for each task.

A pytest plugin: YAML gold cases x every model, timed, scored and ranked
(champion and runner-up per task).

The public names are loaded on first use (PEP 562), so that production code doing
``from pytest_llmbench import best_model`` (or ``Router``) imports neither pytest,
jsonschema nor a provider SDK, and the pytest entry point (:mod:`pytest_llmbench.plugin`)
stays light.

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pytest_llmbench._version import __version__

_PUBLIC: dict[str, str] = {
    "Case": "pytest_llmbench.cases.records",
    "CaseFileError": "pytest_llmbench.cases.problems",
    "Expected": "pytest_llmbench.cases.records",
    "OutputSpec": "pytest_llmbench.cases.records",
    "Task": "pytest_llmbench.cases.records",
    "load_task": "pytest_llmbench.cases.load",
    "GenerateOptions": "pytest_llmbench.cases.options",
    "Discovery": "pytest_llmbench.providers.base",
    "ModelInfo": "pytest_llmbench.providers.base",
    "ModelNotFound": "pytest_llmbench.providers.base",
    "Provider": "pytest_llmbench.providers.base",
    "ProviderError": "pytest_llmbench.providers.base",
    "ProviderSettings": "pytest_llmbench.providers.base",
    "Request": "pytest_llmbench.providers.base",
    "Response": "pytest_llmbench.providers.base",
    "ScriptedProvider": "pytest_llmbench.providers.scripted",
    "ModelStanding": "pytest_llmbench.analysis.ranking",
    "TaskRanking": "pytest_llmbench.analysis.ranking",
    "rank_strict": "pytest_llmbench.analysis.ranking",
    "rank_task": "pytest_llmbench.analysis.ranking",
    "rank_weighted": "pytest_llmbench.analysis.ranking",
    "RegistryError": "pytest_llmbench.storage.champions",
    "Router": "pytest_llmbench.router.core",
    "RouterError": "pytest_llmbench.router.results",
    "RouterResult": "pytest_llmbench.router.results",
    "best_model": "pytest_llmbench.storage.champions",
    "Result": "pytest_llmbench.execution.results",
    "Score": "pytest_llmbench.execution.scoring",
    "LLMBenchWarning": "pytest_llmbench.plugin.warnings",
}

__all__ = [
    "Case",
    "CaseFileError",
    "Discovery",
    "Expected",
    "GenerateOptions",
    "LLMBenchWarning",
    "ModelInfo",
    "ModelNotFound",
    "ModelStanding",
    "OutputSpec",
    "Provider",
    "ProviderError",
    "ProviderSettings",
    "RegistryError",
    "Request",
    "Response",
    "Result",
    "Router",
    "RouterError",
    "RouterResult",
    "Score",
    "ScriptedProvider",
    "Task",
    "TaskRanking",
    "__version__",
    "best_model",
    "load_task",
    "rank_strict",
    "rank_task",
    "rank_weighted",
]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup does not come here
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from pytest_llmbench.analysis.ranking import (
        ModelStanding,
        TaskRanking,
        rank_strict,
        rank_task,
        rank_weighted,
    )
    from pytest_llmbench.cases.load import load_task
    from pytest_llmbench.cases.options import GenerateOptions
    from pytest_llmbench.cases.problems import CaseFileError
    from pytest_llmbench.cases.records import Case, Expected, OutputSpec, Task
    from pytest_llmbench.execution.results import Result
    from pytest_llmbench.execution.scoring import Score
    from pytest_llmbench.plugin.warnings import LLMBenchWarning
    from pytest_llmbench.providers.base import (
        Discovery,
        ModelInfo,
        ModelNotFound,
        Provider,
        ProviderError,
        ProviderSettings,
        Request,
        Response,
    )
    from pytest_llmbench.providers.scripted import ScriptedProvider
    from pytest_llmbench.router.core import Router
    from pytest_llmbench.router.results import RouterError, RouterResult
    from pytest_llmbench.storage.champions import RegistryError, best_model
