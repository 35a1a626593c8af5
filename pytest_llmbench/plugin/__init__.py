"""The pytest entry point (``pytest11: llmbench = pytest_llmbench.plugin``)."""

from pytest_llmbench.plugin.main import (
    pytest_addhooks,
    pytest_addoption,
    pytest_collect_file,
    pytest_configure,
    pytest_report_collectionfinish,
    pytest_runtest_makereport,
)

__all__ = [
    "pytest_addhooks",
    "pytest_addoption",
    "pytest_collect_file",
    "pytest_configure",
    "pytest_report_collectionfinish",
    "pytest_runtest_makereport",
]
