"""How numbers and text are shown: one formatter for each, used by every layer.

- :func:`ms`: a duration in milliseconds, whole, with thousands separators (``1,234``);
- :func:`one_line`: text squashed onto one line, optionally capped.

Part of the bottom layer (beside :mod:`pytest_llmbench.safety`): every layer may import
it, and it imports nothing of the package.  Pure, standard library only.
"""

from __future__ import annotations

__all__ = ["ms", "one_line"]


def ms(value: float | None, suffix: str = "", *, missing: str = "-") -> str:
    """``value`` milliseconds as a whole number with thousands separators, then ``suffix``;
    ``missing`` when there is no value.

    ``ms(1234.5)`` is ``1,234`` (a table column headed ``mean ms``), ``ms(None)`` is ``-``,
    ``ms(1234.5, " ms")`` is ``1,234 ms`` (in a sentence), and
    ``ms(None, " ms mean", missing="no latency")`` is ``no latency``.
    """
    return missing if value is None else f"{value:,.0f}{suffix}"


def one_line(text: object, limit: int | None = None) -> str:
    """``str(text)`` on one line: every run of whitespace (newlines too) becomes one space,
    and the ends are stripped.

    With ``limit``, a longer line is cut to at most ``limit`` characters, ending in ``...``.
    """
    line = " ".join(str(text).split())
    if limit is not None and len(line) > limit:
        line = line[: limit - 3].rstrip() + "..."
    return line
