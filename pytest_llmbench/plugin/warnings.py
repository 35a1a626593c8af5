"""The plugin's warning category.

Everything the plugin warns about goes through :func:`warnings.warn` with
:class:`LLMBenchWarning`, so users can filter it like any pytest warning::

    pytest -W error::pytest_llmbench.LLMBenchWarning        # make every one an error
    filterwarnings = ignore::pytest_llmbench.LLMBenchWarning  # or silence them (ini)
"""

from __future__ import annotations

import pytest

__all__ = ["LLMBenchWarning"]


class LLMBenchWarning(pytest.PytestWarning):
    """A pytest-llmbench warning: the run goes on, but something deserves a look."""

    __module__ = "pytest_llmbench"
