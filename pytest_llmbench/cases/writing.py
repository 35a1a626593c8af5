"""Write candidate cases as a case file a human labels.

The file is the task's own case file (its prompt, output, options: everything but the
cases, with ``{file:}`` paths made relative to the new file) followed by the candidates,
each with its variables and ``expected`` (``{}`` with a hint when it has no label yet: such
a file is refused until every case has one, see :func:`.schema.unlabelled_problem`).
Written piece by piece (:func:`case_file_pieces`), so a large import is never whole in
memory.  Pure module apart from reading the task's case file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_llmbench.cases.encoding import decode_utf8
from pytest_llmbench.cases.importing import Candidate

__all__ = ["case_file_pieces", "label_hint", "task_header"]


def task_header(
    task: str, case_file: Path | None, out: Path, variables: Sequence[str]
) -> dict[str, Any]:
    """Everything of the task's case file but its cases (``{file:}`` paths rebased onto
    the folder of ``out``); without a case file a plain one: a prompt of the variables,
    output kind text.

    :raises OSError: when the case file cannot be read; :raises ValueError: not a mapping.
    """
    if case_file is None:
        return {
            "task": task,
            "prompt": "\n\n".join(f"{{{name}}}" for name in variables) or "{input}",
            "output": {"kind": "text"},
        }
    import yaml

    data = yaml.safe_load(decode_utf8(case_file.read_bytes()).removeprefix("\ufeff"))
    if not isinstance(data, dict):
        raise ValueError(f"{case_file} is not a case file (not a mapping)")
    header = {key: value for key, value in data.items() if key != "cases"}
    rebased: dict[str, Any] = _rebase(header, case_file.parent, out.parent)
    rebased["task"] = task
    return rebased


def _rebase(value: Any, source: Path, target: Path) -> Any:
    """``value`` with every ``{file: path}`` relative to ``target`` instead of ``source``."""
    if isinstance(value, dict):
        if set(value) == {"file"} and isinstance(value["file"], str):
            absolute = os.path.abspath(source / value["file"])
            try:
                moved = os.path.relpath(absolute, os.path.abspath(target))
            except ValueError:  # another drive
                moved = absolute
            return {"file": Path(moved).as_posix()}
        return {key: _rebase(item, source, target) for key, item in value.items()}
    if isinstance(value, list):
        return [_rebase(item, source, target) for item in value]
    return value


def label_hint(header: Mapping[str, Any]) -> str:
    """How ``expected`` is written for this task's output kind."""
    output = header.get("output") or {}
    kind = output.get("kind", "text") if isinstance(output, Mapping) else "text"
    if kind == "verdict":
        labels = output.get("labels") or ["PASS", "FAIL"]
        return f"{{verdict: {labels[0]}}} (labels: {', '.join(map(str, labels))})"
    if kind == "json":
        return "{json: {...}} (the JSON a correct answer holds)"
    return "{contains: [...]} or {regex: ...} (what a correct answer holds)"


def case_file_pieces(
    header: Mapping[str, Any], cases: Iterable[Candidate], comment: str = ""
) -> Iterator[str]:
    """The case file's text, piece by piece: a comment, the header, then each case."""
    import yaml

    hint = label_hint(header)
    if comment:
        yield "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines())
    yield _dump(dict(header))
    yield "cases:\n"
    for case in cases:
        body: dict[str, Any] = {"id": case.id}
        if case.vars:
            body["vars"] = dict(case.vars)
        text = _dump([body])  # "- id: ...\n  vars: ...\n"
        first, _, rest = text.partition("\n")
        lines = [f"  {first}"]
        lines += [f"    # {note}".rstrip() for item in case.notes for note in item.splitlines()]
        if case.expected is None:
            lines.append(f"    expected: {{}}  # label me: {hint}")
        else:
            expected = yaml.safe_dump(
                dict(case.expected),
                default_flow_style=True,
                allow_unicode=True,
                width=10**9,
                sort_keys=False,
            ).strip()
            lines.append(f"    expected: {expected}")
        lines += [f"  {line}" for line in rest.splitlines()]
        yield "\n".join(lines) + "\n\n"


def _dump(value: Any) -> str:
    import yaml

    return yaml.dump(
        value,
        Dumper=_literal_dumper(),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


_DUMPER: Any = None


def _literal_dumper() -> Any:
    """A safe dumper writing text with newlines as ``|`` blocks (PyYAML falls back to a
    quoted form when a block cannot hold it: trailing spaces, special characters)."""
    global _DUMPER
    if _DUMPER is None:
        import yaml

        class LiteralDumper(yaml.SafeDumper):
            pass

        def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
            style = "|" if "\n" in value else None
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

        LiteralDumper.add_representer(str, text)
        _DUMPER = LiteralDumper
    return _DUMPER
