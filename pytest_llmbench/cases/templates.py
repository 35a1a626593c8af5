"""Prompt templates: ``{name}`` placeholders filled by name, ``{{`` and ``}}`` literal braces.

Only plain names are filled (no attribute or index access, no format spec, no code);
:func:`non_name_placeholders` finds what ``str.format`` would have read otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = [
    "JUDGE_PLACEHOLDERS",
    "TemplateError",
    "non_name_placeholders",
    "placeholders",
    "render",
]

JUDGE_PLACEHOLDERS = ("rubric", "answer", "inputs", "question")
"""What a judge prompt may use: the rubric, the answer judged, the case's variables and
the prompt the candidate answered."""


class TemplateError(ValueError):
    """Values that do not fit a task's template (a variable without a value, or unknown)."""


_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(template: str) -> list[str]:
    """The variable names a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in _TOKEN.finditer(template):
        if match.group(1):
            seen.setdefault(match.group(1))
    return list(seen)


_NON_NAME = re.compile(r"(?<!\{)\{[A-Za-z_][A-Za-z0-9_]*[.\[:!][^{}\n]*\}")


def non_name_placeholders(template: str) -> list[str]:
    """Placeholders that are not a plain name: ``{x.attr}``, ``{x[0]}``, ``{x:>9}``, ``{x!r}``.

    ``str.format`` would read them as attribute or index access or a format spec;
    :func:`render` fills names only, so they are errors rather than literal text.
    """
    return list(dict.fromkeys(m.group(0) for m in _NON_NAME.finditer(template.replace("{{", ""))))


def render(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders by name; ``{{`` and ``}}`` are literal braces.

    Only plain names are filled: no attribute or index access, no code.
    Raises ``KeyError`` for a name without a value.
    """

    def sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return values[match.group(1)]

    return _TOKEN.sub(sub, template)
