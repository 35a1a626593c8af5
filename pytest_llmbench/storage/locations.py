"""Where storage keeps its files unless told otherwise.

A leaf module (``pathlib`` only): the ``llmbench`` parser names these defaults in its
help without importing the stores themselves.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_HISTORY", "DEFAULT_REGISTRY"]

DEFAULT_HISTORY = Path(".llmbench") / "history.sqlite"
"""The run history (SQLite), relative to the working directory."""

DEFAULT_REGISTRY = "llmbench-registry.yaml"
"""The champions file (:mod:`~pytest_llmbench.storage.champions`), at the rootdir."""
