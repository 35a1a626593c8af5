"""docs/reference/hooks.md: made from plugin/hookspec.py, every hook with its docstring."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.plugin import hookspec
from pytest_llmbench.plugin.reference import PAGE, hooks, render

ROOT = Path(__file__).resolve().parents[3]
DECLARED = sorted(name for name in vars(hookspec) if name.startswith("pytest_llmbench_"))


def test_the_hooks_reference_is_up_to_date() -> None:
    committed = (ROOT / PAGE).read_text(encoding="utf-8")
    assert committed == render(), (
        f"{PAGE} is stale: run `python -m pytest_llmbench.cli.reference --all` "
        "at the repository root and commit the page"
    )


@pytest.mark.parametrize("name", DECLARED)
def test_every_hook_has_a_docstring_and_a_section(name: str) -> None:
    assert hooks()[name].strip(), f"{name}: no docstring in hookspec.py"
    page = render()
    assert f"## `{name}`" in page
    assert hooks()[name].splitlines()[0] in page
    assert "def " + name + "(" in page


def test_the_page_marks_first_result_hooks() -> None:
    page = render()
    section = page.split("## `pytest_llmbench_score`")[1].split("## ")[0]
    assert "The first non-`None` result wins." in section
    section = page.split("## `pytest_llmbench_register_providers`")[1].split("## ")[0]
    assert "first non-`None`" not in section
