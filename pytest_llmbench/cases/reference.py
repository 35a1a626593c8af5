"""``docs/reference/case-file.md``, made from the case schema (``case_schema.json``).

``python -m pytest_llmbench.cases.reference [PATH]`` writes it (run at the repository
root; ``python -m pytest_llmbench.cli.reference --all`` writes every reference page);
``tests/unit/cases/test_reference.py`` fails when the committed page is stale or a key of
the schema has no ``description``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmbench.cases.schema import case_schema

PAGE = Path("docs/reference/case-file.md")

HEADER = """\
# Case file reference

<!-- Generated from pytest_llmbench/cases/case_schema.json by
     `python -m pytest_llmbench.cases.reference`; do not edit by hand. -->

Every key of a case file (one task per YAML file). `a.b` is key `b` inside `a`; `a[]` is
an item of the list `a`; `<name>` is a key you choose. Unknown keys are errors. A text
given as `{file: PATH}` is read from PATH, relative to the case file."""


@dataclass(frozen=True)
class Key:
    """One key of a case file: where it is, what it holds, whether it must be there."""

    path: str
    kind: str
    required: bool
    description: str


def keys(schema: dict[str, Any] | None = None) -> list[Key]:
    """Every key of the schema, depth first, in the schema's order."""
    root = case_schema() if schema is None else schema
    return list(_walk(root, root, ""))


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _walk(root: dict[str, Any], node: dict[str, Any], prefix: str) -> Iterator[Key]:
    node = _resolve(root, node)
    required = set(node.get("required", ()))
    for name, child in node.get("properties", {}).items():
        child = _resolve(root, child)
        path = f"{prefix}{name}"
        yield Key(path, _kind(root, child), name in required, child.get("description", ""))
        yield from _nested(root, child, path)


def _nested(root: dict[str, Any], node: dict[str, Any], path: str) -> Iterator[Key]:
    for alternative in node.get("oneOf", node.get("anyOf", [])):
        yield from _walk(root, alternative, f"{path}.")
    yield from _walk(root, node, f"{path}.")
    items = node.get("items")
    if isinstance(items, dict) and "properties" in _resolve(root, items):
        yield from _walk(root, items, f"{path}[].")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        extra = _resolve(root, extra)
        name = f"{path}.<name>"
        yield Key(name, _kind(root, extra), False, extra.get("description", ""))
        yield from _nested(root, extra, name)


def _kind(root: dict[str, Any], node: dict[str, Any]) -> str:
    node = _resolve(root, node)
    if "enum" in node:
        return " \\| ".join(f"`{value}`" for value in node["enum"])
    alternatives = node.get("oneOf", node.get("anyOf"))
    if alternatives:
        return " or ".join(_kind(root, one) for one in alternatives)
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {_kind(root, node.get('items', {}))}"
    if kind == "object" and set(node.get("properties", {})) == {"file"}:
        return "`{file: PATH}`"
    if isinstance(kind, list):
        return " or ".join(kind)
    return "mapping" if kind == "object" else str(kind)


def render(schema: dict[str, Any] | None = None) -> str:
    """The reference page: one table row per key."""
    lines = [HEADER, "", "| Key | Type | Required | What it is |", "| --- | --- | --- | --- |"]
    for key in keys(schema):
        text = key.description.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| `{key.path}` | {key.kind} | {'yes' if key.required else ''} | {text} |")
    return "\n".join(lines) + "\n"


def write(page: Path, text: str) -> int:
    """Write ``text`` to ``page`` (its folder made) and say so."""
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(text, encoding="utf-8")
    print(f"wrote {page}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Write the page to ``argv[0]``, else :data:`PAGE`."""
    args = sys.argv[1:] if argv is None else argv
    return write(Path(args[0]) if args else PAGE, render())


if __name__ == "__main__":
    raise SystemExit(main())
