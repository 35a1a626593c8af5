"""``docs/reference/hooks.md``, made from :mod:`pytest_llmbench.plugin.hookspec`.

``python -m pytest_llmbench.plugin.reference [PATH]`` writes it (``python -m
pytest_llmbench.cli.reference --all`` writes every reference page);
``tests/unit/plugin/test_hooks_reference.py`` fails when it is stale or a hook has no
docstring."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from pytest_llmbench.cases.reference import write
from pytest_llmbench.plugin import hookspec

PAGE = Path("docs/reference/hooks.md")
HEADER = """\
# Hooks reference

<!-- Generated from pytest_llmbench/plugin/hookspec.py by
     `python -m pytest_llmbench.plugin.reference`; do not edit by hand. -->

""" + (inspect.getdoc(hookspec) or "")


def hooks() -> dict[str, str]:
    """Every hook of the hookspec, in file order: its name and docstring."""
    found = inspect.getmembers(hookspec, inspect.isfunction)
    found.sort(key=lambda pair: pair[1].__code__.co_firstlineno)
    return {name: inspect.getdoc(f) or "" for name, f in found if name.startswith("pytest_")}


def render() -> str:
    """The page: a section per hook with its signature and docstring."""
    lines = [HEADER]
    for name, doc in hooks().items():
        hook = getattr(hookspec, name)
        firstresult = (getattr(hook, "pytest_spec", None) or {}).get("firstresult")
        sig = inspect.signature(hook)
        params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
        signature = f"def {name}({params}) -> {sig.return_annotation}"
        lines += ["", f"## `{name}`", "", "```python", signature, "```", ""]
        lines += ["The first non-`None` result wins.", ""] if firstresult else []
        lines.append(doc)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(write(Path(sys.argv[1]) if sys.argv[1:] else PAGE, render()))
