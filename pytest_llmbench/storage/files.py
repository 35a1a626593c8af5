"""Output files written whole or not at all.

:func:`write_atomic` writes text as it comes (a streamed document is never whole in
memory) into a temporary file beside the target, and renames it over the target only
once everything is written: a failure (disk full, an error while the text is made)
leaves the target as it was and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, pieces: Iterable[str]) -> None:
    """Write the concatenated ``pieces`` to ``path`` (UTF-8), all or nothing."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with partial.open("w", encoding="utf-8") as out:
            out.writelines(pieces)
        os.replace(partial, path)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
