"""Work that only adds long-lived objects, done with Python's cyclic collector paused.

Importing the run's modules and reading a case file allocate tens of thousands of
objects that live as long as the run: each automatic pass of the collector on the way
walks them again and frees nothing (measured: about 20 ms of CPU a small run, of the
plugin's start-up).  Reference counting still frees everything else meanwhile; only
cycles wait for the collector, which runs again at the end of the block.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause automatic garbage collection for the block, unless it is off already
    (then it stays off: the user's choice)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
