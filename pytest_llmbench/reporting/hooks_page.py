"""The hooks reference page, ``docs/reference/hooks.md``: every hook of
``plugin/hookspec.py`` with its signature and docstring.

The hookspec is read as source (``ast``), not imported: it imports pytest, which only
``plugin/`` may, and nothing imports ``plugin/``. ``python -m
pytest_llmbench.reporting.hooks_page [PATH]`` writes the page (``python -m
pytest_llmbench.cli.reference --all`` writes every reference page);
``tests/unit/plugin/test_hooks_reference.py`` fails when it is stale, when a hook has no
docstring and when the page and the imported hookspec disagree."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

from pytest_llmbench.cases.reference import write

PAGE = Path("docs/reference/hooks.md")
HOOKSPEC = Path(__file__).resolve().parents[1] / "plugin" / "hookspec.py"
HEADER = """\
# Hooks reference

<!-- Generated from pytest_llmbench/plugin/hookspec.py by
     `python -m pytest_llmbench.reporting.hooks_page`; do not edit by hand. -->

"""


@dataclass(frozen=True)
class Hook:
    """One hook: its name, signature, docstring and whether the first result wins."""

    name: str
    signature: str
    doc: str
    firstresult: bool


def hooks(source: str | None = None) -> list[Hook]:
    """Every ``pytest_*`` function of the hookspec, in file order."""
    tree = ast.parse(HOOKSPEC.read_text(encoding="utf-8") if source is None else source)
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("pytest_"):
            params = ", ".join(
                f"{arg.arg}: {ast.unparse(arg.annotation)}" if arg.annotation else arg.arg
                for arg in node.args.args
            )
            returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
            first = any(
                isinstance(d, ast.Call)
                and any(
                    k.arg == "firstresult" and ast.unparse(k.value) == "True" for k in d.keywords
                )
                for d in node.decorator_list
            )
            signature = f"def {node.name}({params}){returns}"
            found.append(Hook(node.name, signature, ast.get_docstring(node) or "", first))
    return found


def render(source: str | None = None) -> str:
    """The page: the hookspec's docstring, then a section per hook."""
    text = HOOKSPEC.read_text(encoding="utf-8") if source is None else source
    lines = [HEADER + (ast.get_docstring(ast.parse(text)) or "")]
    for hook in hooks(text):
        lines += ["", f"## `{hook.name}`", "", "```python", hook.signature, "```", ""]
        lines += ["The first non-`None` result wins.", ""] if hook.firstresult else []
        lines.append(hook.doc)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(write(Path(sys.argv[1]) if sys.argv[1:] else PAGE, render()))
