"""docs/reference/hooks.md: made from plugin/hookspec.py, every hook with its docstring."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from pytest_llmbench.plugin import hookspec
from pytest_llmbench.reporting.hooks_page import PAGE, hooks, render

ROOT = Path(__file__).resolve().parents[3]
DECLARED = sorted(name for name in vars(hookspec) if name.startswith("pytest_llmbench_"))


def test_the_hooks_reference_is_up_to_date() -> None:
    committed = (ROOT / PAGE).read_text(encoding="utf-8")
    assert committed == render(), (
        f"{PAGE} is stale: run `python -m pytest_llmbench.cli.reference --all` "
        "at the repository root and commit the page"
    )


def test_the_page_has_every_hook_the_plugin_declares() -> None:
    assert sorted(hook.name for hook in hooks()) == DECLARED


@pytest.mark.parametrize("name", DECLARED)
def test_every_hook_has_a_docstring_and_a_section(name: str) -> None:
    hook = next(one for one in hooks() if one.name == name)
    assert hook.doc.strip(), f"{name}: no docstring in hookspec.py"
    assert hook.doc == inspect.getdoc(getattr(hookspec, name))
    spec = getattr(getattr(hookspec, name), "pytest_spec", None) or {}
    assert hook.firstresult == bool(spec.get("firstresult"))
    page = render()
    assert f"## `{name}`" in page
    assert f"def {name}(" in page
    assert hook.doc in page


def test_a_hook_without_a_docstring_is_found() -> None:
    [hook] = hooks(
        "@pytest.hookspec(firstresult=True)\ndef pytest_llmbench_new(x: int) -> None: ..."
    )
    assert (hook.name, hook.doc, hook.firstresult) == ("pytest_llmbench_new", "", True)
    assert hook.signature == "def pytest_llmbench_new(x: int) -> None"
