"""pytest-llmbench: find the fastest correct LLM for each task.

A pytest plugin: YAML gold cases x every model, timed, scored and ranked
(champion and runner-up per task).

PYTEST_DONT_REWRITE
"""

from __future__ import annotations

__version__ = "0.1.0"

from .cases import Case, CaseFileError, Expected, OutputSpec, Task, load_task
from .providers.base import (
    Discovery,
    GenerateOptions,
    ModelInfo,
    ModelNotFound,
    Provider,
    ProviderError,
    ProviderSettings,
    Request,
    Response,
)
from .ranking import ModelStanding, TaskRanking, rank_strict, rank_task, rank_weighted
from .registry import RegistryError, best_model
from .results import Result
from .scoring import Score

__all__ = [
    "Case",
    "CaseFileError",
    "Discovery",
    "Expected",
    "GenerateOptions",
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
    "Score",
    "Task",
    "TaskRanking",
    "__version__",
    "best_model",
    "load_task",
    "rank_strict",
    "rank_task",
    "rank_weighted",
]
