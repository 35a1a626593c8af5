"""Regular expressions from case files, run under a deadline.

``expected.regex`` comes from an untrusted case file and is run against an answer
that a model wrote: a pattern with nested quantifiers (``^(a+)+$``) backtracks for
ever on the wrong answer with Python's ``re``.  The ``regex`` package takes a timeout;
a match that runs out of time is a failed check with that reason, never a hang.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["REGEX_TIMEOUT_S", "RegexTimeout", "regex_search"]

REGEX_TIMEOUT_S = 1.0
"""How long one ``expected.regex`` may search one answer."""


class RegexTimeout(Exception):
    """The search ran out of time; ``str()`` is the reason shown for the failed case."""


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    import regex  # imported on first use: most runs have no regex check

    return regex.compile(pattern, flags=regex.VERSION0)


def regex_search(pattern: str, text: str, timeout_s: float = REGEX_TIMEOUT_S) -> bool:
    """Whether ``pattern`` matches somewhere in ``text`` (``re.search`` semantics).

    :raises RegexTimeout: when the search takes longer than ``timeout_s``.
    """
    try:
        return _compiled(pattern).search(text, timeout=timeout_s) is not None
    except TimeoutError:
        raise RegexTimeout(
            f"the regular expression /{pattern}/ did not finish within {timeout_s:g} s on "
            "this answer (catastrophic backtracking?); simplify the pattern"
        ) from None
