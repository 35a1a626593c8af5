"""A plain text table, as ``tabulate(..., tablefmt="simple", disable_numparse=True)``
draws it, without importing ``tabulate`` for the common case.

Pure module.  Importing ``tabulate`` costs a few milliseconds of every run's start-up
(its module and its package metadata, read for its version); the ranking table is
drawn here the same way for cells of printable ASCII, and by ``tabulate`` itself
otherwise (wide characters, escape codes, line breaks; no rows), so the output is the same.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["simple_table"]

_PADDING = 2
"""``tabulate.MIN_PADDING``: a column is at least its header's width plus this."""


def simple_table(
    rows: Sequence[Sequence[str]], headers: Sequence[str], colalign: Sequence[str]
) -> list[str]:
    """The table's lines: the headers, a rule of dashes, a line per row; columns two
    spaces apart, each aligned ``"left"`` or ``"right"`` as ``colalign`` says; no
    trailing spaces."""
    cells = [[str(c) for c in row] for row in rows]
    if (
        not cells  # tabulate aligns the headers of an empty table its own way
        or any(a not in ("left", "right") for a in colalign)
        or not all(_plain(c) for c in (*headers, *(c for row in cells for c in row)))
    ):
        from tabulate import tabulate

        text = tabulate(
            cells,
            headers=list(headers),
            colalign=tuple(colalign),
            tablefmt="simple",
            disable_numparse=True,
        )
        return text.splitlines()
    cells = [[c.strip() for c in row] for row in cells]
    widths = [
        max([len(h) + _PADDING, *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if a == "left" else v.rjust(w)
            for v, w, a in zip(values, widths, colalign, strict=True)
        ).rstrip()

    drawn = [line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in cells)]
    return "\n".join(drawn).splitlines()  # as tabulate's text is split: no empty last line


def _plain(text: str) -> bool:
    """Printable ASCII only: one column a character, nothing ``tabulate`` treats apart."""
    return text.isascii() and text.isprintable()
