"""YAML with lines: a case file parsed to plain data plus a :class:`LineMap` from each
place in the document (``("cases", 2, "id")``) to its line, for messages that name it.

Safe YAML only (a tag such as ``!!python/object`` is refused), duplicate keys are
problems, and aliases are never expanded to walk them: their expanded size is counted
against :data:`MAX_ALIAS_NODES`.  PyYAML is imported when a file is first parsed.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from pytest_llmbench.cases.problems import CaseFileError, KeyPath, Problem, key_of

if TYPE_CHECKING:
    import yaml

__all__ = ["MAX_ALIAS_NODES", "LineMap", "parse_yaml"]

MAX_ALIAS_NODES = 100_000
"""A file whose aliases expand it to more YAML nodes than this is refused (alias bomb)."""


class LineMap:
    """Maps a path inside the document (``("cases", 2, "id")``) to its 1-based line.

    Each node is walked once: a node reached again through an alias is not walked
    again (its lines are those of its first place), so aliases are never expanded.
    Their expanded size is counted (memoised per node) against :data:`MAX_ALIAS_NODES`.
    """

    def __init__(self) -> None:
        import yaml

        self.lines: dict[KeyPath, int] = {(): 1}
        self.duplicates: list[Problem] = []
        self._open: set[int] = set()
        self._mapping, self._sequence = yaml.MappingNode, yaml.SequenceNode
        self._sizes: dict[int, int] = {}
        self.aliased = False

    def walk(self, node: yaml.Node, path: KeyPath) -> int:
        """Walk ``node``; return the number of nodes it expands to."""
        if id(node) in self._open:  # an alias of one of its own ancestors
            line = node.start_mark.line + 1
            raise CaseFileError("", [Problem(line, key_of(path), "recursive YAML alias")])
        known = self._sizes.get(id(node))
        if known is not None:  # reached again through an alias
            self.aliased = True
            return known
        self._open.add(id(node))
        try:
            size = self._walk(node, path)
        finally:
            self._open.discard(id(node))
        self._sizes[id(node)] = size
        if self.aliased and size > MAX_ALIAS_NODES:
            raise CaseFileError(
                "",
                [
                    Problem(
                        node.start_mark.line + 1,
                        key_of(path),
                        f"YAML aliases expand this to more than {MAX_ALIAS_NODES:,} nodes "
                        "(an alias bomb?); write the repeated values out instead",
                    )
                ],
            )
        return size

    def _walk(self, node: yaml.Node, path: KeyPath) -> int:
        size = 1
        if isinstance(node, self._mapping):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = self._key_line(seen, key, key_node, path)
                self.lines.setdefault(path + (key,), line)
                size += self.walk(key_node, path + (key,)) + self.walk(value_node, path + (key,))
        elif isinstance(node, self._sequence):
            for index, item in enumerate(node.value):
                self.lines.setdefault(path + (index,), item.start_mark.line + 1)
                size += self.walk(item, path + (index,))
        return size

    def _key_line(self, seen: dict[str, int], key: str, key_node: yaml.Node, path: KeyPath) -> int:
        """The line of a mapping key; a key already ``seen`` in its mapping is a problem."""
        line: int = key_node.start_mark.line + 1
        if key in seen:
            message = f"duplicate key '{key}' (first at line {seen[key]})"
            self.duplicates.append(Problem(line, key_of(path + (key,)), message))
        seen[key] = line
        return line

    def walk_plain(self, node: yaml.Node, path: KeyPath) -> None:
        """:meth:`walk` for a document without anchors, where no node is reached twice
        (no alias to expand or to loop): lines and duplicate keys only, scalars skipped."""
        collections = (self._mapping, self._sequence)
        lines = self.lines
        if isinstance(node, self._mapping):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                line = self._key_line(seen, key, key_node, path)
                sub = path + (key,)
                lines.setdefault(sub, line)
                if isinstance(key_node, collections):
                    self.walk_plain(key_node, sub)
                if isinstance(value_node, collections):
                    self.walk_plain(value_node, sub)
        elif isinstance(node, self._sequence):
            for index, item in enumerate(node.value):
                sub = path + (index,)
                lines.setdefault(sub, item.start_mark.line + 1)
                if isinstance(item, collections):
                    self.walk_plain(item, sub)

    def line(self, path: KeyPath) -> int:
        """The line of ``path``, or of its nearest enclosing place that has one."""
        while path not in self.lines:
            path = path[:-1]
        return self.lines[path]


@functools.cache
def _loader() -> type[yaml.SafeLoader]:
    """libyaml's C parser when PyYAML was built with it (about 10x faster), same results."""
    import yaml

    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def parse_yaml(text: str, display: str) -> tuple[Any, LineMap]:
    """The data of one YAML document and the lines of its places.

    :raises CaseFileError: for an empty file, a YAML error (at the line it starts), a
        refused tag, a duplicate key, a recursive alias or an alias bomb.
    """
    import yaml

    loader = _loader()(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise CaseFileError(display, [Problem(1, "", "the file is empty")])
        lines = _walk_lines(node, text, display)
        data = loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:  # !!python/object and other tags
        raise CaseFileError(display, [_refused_tag(exc)]) from None
    except yaml.MarkedYAMLError as exc:
        raise CaseFileError(display, [_syntax_error(exc)]) from None
    except yaml.YAMLError as exc:
        raise CaseFileError(display, [Problem(1, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if lines.duplicates:
        raise CaseFileError(display, lines.duplicates)
    return data, lines


def _walk_lines(node: yaml.Node, text: str, display: str) -> LineMap:
    lines = LineMap()
    try:
        if "&" in text:  # an anchor, maybe aliases: counted against the alias budget
            lines.walk(node, ())
        else:  # no anchor, no alias: every node is reached once
            lines.walk_plain(node, ())
    except CaseFileError as exc:
        raise CaseFileError(display, exc.problems) from None
    return lines


def _refused_tag(exc: yaml.constructor.ConstructorError) -> Problem:
    line = exc.problem_mark.line + 1 if exc.problem_mark else 1
    tag = re.search(r"'([^']*)'", str(exc.problem or ""))
    what = f"YAML tag {tag.group(1)!r}" if tag else "a YAML tag"
    refused = f"{what} refused: case files are plain YAML data (text, numbers, lists, mappings)"
    return Problem(line, "", refused)


def _syntax_error(exc: yaml.MarkedYAMLError) -> Problem:
    """An unclosed construct is reported where it starts (context), the parser's
    confusion (problem) is named in the message."""
    problem_line = exc.problem_mark.line + 1 if exc.problem_mark else None
    context_line = exc.context_mark.line + 1 if exc.context_mark else None
    line = context_line or problem_line or 1
    what = str(exc.problem or "")
    if exc.context:
        what = f"{exc.context}: {what}"
    if problem_line and problem_line != line:
        what += f" (at line {problem_line})"
    return Problem(line, "", f"YAML syntax error: {what}")
