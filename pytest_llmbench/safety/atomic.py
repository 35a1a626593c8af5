"""Files written whole or not at all.

:func:`write_atomic` writes text as it comes (a streamed document is never whole in
memory) into a temporary file beside the target, and renames it over the target only
once everything is written: a failure (disk full, an error while the text is made)
leaves the target as it was and no temporary file behind.  One writer for every file
the plugin keeps: the ``--llm-json`` document, response cache entries, the endpoint
capabilities in the state directory, the champions registry.  Pure module.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, pieces: Iterable[str]) -> None:
    """Write the concatenated ``pieces`` to ``path`` (UTF-8), all or nothing."""
    # per process and thread: two writers of the same file never share a temporary one
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        with partial.open("w", encoding="utf-8") as out:
            out.writelines(pieces)
        os.replace(partial, path)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
