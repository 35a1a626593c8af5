"""Text made safe to print or write: control characters escaped, secrets masked.

:func:`escape_controls` shows control characters escaped (``\\x1b``): model output
and model names from a server may carry terminal escape sequences.  :func:`shown`
also masks secrets (:func:`pytest_llmbench.safety.redaction.redact`), for every string
the plugin prints or writes as text.  Pure module.
"""

from __future__ import annotations

import re

from pytest_llmbench.safety.redaction import redact

__all__ = ["escape_controls", "has_controls", "shown"]

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 control characters but tab and newline, DEL, and C1 (ESC is ``\\x1b``)."""


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a control character :func:`escape_controls` would escape."""
    return _CONTROLS.search(text) is not None


def escape_controls(text: str) -> str:
    """``text`` with control characters (but newline and tab) shown as ``\\xNN``."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def shown(text: str) -> str:
    """``text`` ready to print or write: secrets masked, control characters escaped."""
    return escape_controls(redact(text))
