"""Selection rules: which discovered models a wide selection leaves out, and why.

Pure module.  A *wide* selection is ``--llm-models=all``, a provider (``ollama``) or
a glob (``ollama/qwen*``); a model named exactly is always run.  The rules, in the
order they are checked (the first that applies gives the reason):

1. ``--llm-exclude`` globs, matched against ``provider/name`` and ``name``;
2. embedding-only models: the server's capabilities say ``embedding`` and not
   ``completion``; without capabilities, the name or family matches an embedding
   pattern (``*embed*``, ``*bert*``...);
3. code-only models: the name or family matches a code pattern (``*coder*``...);
4. vision-only models: the name or family matches a vision pattern (``llava*``...);
5. models over ``--llm-max-size`` (a model of unknown size is kept).

Patterns are shell globs, matched case-insensitively against the name without its
tag (``qwen2.5-coder`` of ``qwen2.5-coder:7b``), the whole name, the family and each
of the families the server lists.  Reasons are plain strings the header prints:
``embedding-only``, ``code-only (name matches *coder*)``,
``over --llm-max-size 8GB (9.1 GB)``, ``excluded by --llm-exclude 'x*'``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.safety.sanitising import has_controls

__all__ = [
    "DEFAULT_CODE_PATTERNS",
    "DEFAULT_EMBEDDING_PATTERNS",
    "DEFAULT_VISION_PATTERNS",
    "LeftOut",
    "Rules",
    "SizeError",
    "format_size",
    "leave_out_reason",
    "parse_size",
    "rules_from",
]

DEFAULT_CODE_PATTERNS: tuple[str, ...] = (
    "*coder*",
    "*code*",
    "starcoder*",
    "codellama*",
    "codegemma*",
    "codestral*",
)
DEFAULT_VISION_PATTERNS: tuple[str, ...] = (
    "*-vision*",
    "llava*",
    "bakllava*",
    "moondream*",
    "minicpm-v*",
    "*-vl*",
    "qwen*vl*",
    "mllama",
    "clip",
)
DEFAULT_EMBEDDING_PATTERNS: tuple[str, ...] = (
    "*embed*",
    "*bert*",
    "all-minilm*",
    "bge-*",
)
"""Used only when the server did not say what a model can do (no capabilities)."""

_UNITS = {
    "": None,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


class SizeError(ValueError):
    """A size that cannot be read; ``str()`` says what is expected."""


def parse_size(text: str) -> int:
    """``8GB`` -> 8_000_000_000 bytes.

    Units are decimal like Ollama's sizes (``KB``, ``MB``, ``GB``, ``TB``; the ``B`` may
    be left out: ``7.5G``); ``KiB``, ``MiB``, ``GiB``, ``TiB`` are binary.  A number
    without a unit is an error (bytes or gigabytes? say which).
    """
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    scale = _UNITS.get(unit) if match else None
    if match is None or scale is None:
        raise SizeError(f"expected a size such as 8GB, 500MB or 7.5G, got {text!r}")
    value = float(match.group(1)) * scale
    if value <= 0:
        raise SizeError(f"expected a size above zero, got {text!r}")
    return int(value)


def format_size(size_bytes: int) -> str:
    """Bytes as Ollama prints them: ``9.1 GB``, ``274 MB``."""
    for unit, scale in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if size_bytes >= scale:
            value = size_bytes / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{size_bytes} B"


@dataclass(frozen=True)
class Rules:
    """The selection rules of one run (from the options and the ini file)."""

    exclude: tuple[str, ...] = ()
    max_size_bytes: int | None = None
    max_size_text: str = ""
    """``--llm-max-size`` as the user wrote it (for the reason text)."""
    code_patterns: tuple[str, ...] = DEFAULT_CODE_PATTERNS
    vision_patterns: tuple[str, ...] = DEFAULT_VISION_PATTERNS
    embedding_patterns: tuple[str, ...] = DEFAULT_EMBEDDING_PATTERNS


NO_RULES = Rules(code_patterns=(), vision_patterns=(), embedding_patterns=())
"""Rules that leave nothing out."""


@dataclass(frozen=True)
class LeftOut:
    """A model a wide selection left out, and why."""

    model: ModelInfo
    reason: str

    def describe(self) -> str:
        return f"{self.model.id}: {self.reason}"


def _names(model: ModelInfo) -> list[tuple[str, str]]:
    """(what, value) pairs the patterns are matched against, lower case."""
    base = model.name.rsplit(":", 1)[0] if ":" in model.name.rsplit("/", 1)[-1] else model.name
    pairs = [("name", base.lower()), ("name", model.name.lower())]
    families: list[str] = []
    if model.family:
        families.append(model.family)
    extra = model.details.get("families")
    if isinstance(extra, Iterable) and not isinstance(extra, str):
        families.extend(str(f) for f in extra if f)
    pairs.extend(("family", f.lower()) for f in families)
    return pairs


def _match(model: ModelInfo, patterns: Sequence[str]) -> str | None:
    """``name matches *coder*`` for the first pattern that matches, else ``None``."""
    pairs = _names(model)
    for pattern in patterns:
        low = pattern.lower()
        for what, value in pairs:
            if fnmatch.fnmatchcase(value, low):
                return f"{what} matches {pattern}"
    return None


def _capabilities(model: ModelInfo) -> list[str] | None:
    caps = model.details.get("capabilities")
    if isinstance(caps, Iterable) and not isinstance(caps, str):
        return [str(c) for c in caps]
    return None


def leave_out_reason(model: ModelInfo, rules: Rules) -> str | None:
    """Why a wide selection leaves ``model`` out, or ``None`` to keep it."""
    if has_controls(model.name):
        return "its name holds control characters (a hostile server?); rename it on the server"
    for glob in rules.exclude:
        if fnmatch.fnmatchcase(model.id, glob) or fnmatch.fnmatchcase(model.name, glob):
            return f"excluded by --llm-exclude {glob!r}"
    caps = _capabilities(model)
    if caps is not None:
        if "embedding" in caps and "completion" not in caps:
            return "embedding-only"
    else:
        why = _match(model, rules.embedding_patterns)
        if why:
            return f"embedding-only ({why})"
    why = _match(model, rules.code_patterns)
    if why:
        return f"code-only ({why})"
    why = _match(model, rules.vision_patterns)
    if why:
        return f"vision-only ({why})"
    limit = rules.max_size_bytes
    if limit is not None and model.size_bytes is not None and model.size_bytes > limit:
        given = rules.max_size_text or format_size(limit)
        return f"over --llm-max-size {given} ({format_size(model.size_bytes)})"
    return None


def rules_from(
    exclude: Iterable[str],
    max_size: str,
    code_patterns: Sequence[str] | None,
    vision_patterns: Sequence[str] | None,
) -> Rules:
    """The rules the options give: ``exclude`` entries (each comma-separated), the size
    limit as given (``""``: none), the code and vision patterns (``None``/empty: defaults)."""
    names = [part.strip() for entry in exclude for part in entry.split(",") if part.strip()]
    return Rules(
        exclude=tuple(names),
        max_size_bytes=parse_size(max_size) if max_size else None,
        max_size_text=max_size,
        code_patterns=tuple(code_patterns or DEFAULT_CODE_PATTERNS),
        vision_patterns=tuple(vision_patterns or DEFAULT_VISION_PATTERNS),
    )
