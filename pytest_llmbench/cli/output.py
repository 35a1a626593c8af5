"""How every ``llmbench`` subcommand prints: the answer on stdout, a note or one error
line on stderr, masked (secrets) and with control characters escaped."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

__all__ = ["answer", "cases_command", "failure"]


def answer(lines: Sequence[str], note: str = "") -> int:
    """Print a command's answer, masked and with control characters escaped (older
    history files may hold what is masked now: a host URL's password, escapes), and the
    note on stderr; exit status 0."""
    from pytest_llmbench.safety.redaction import register_environment_secrets
    from pytest_llmbench.safety.sanitising import shown

    register_environment_secrets()
    print(shown("\n".join(lines)))
    if note:
        print(shown(note), file=sys.stderr)
    return 0


def failure(prefix: str, error: BaseException | str, status: int) -> int:
    """``PREFIX: what went wrong`` as one line on stderr (never a traceback); ``status``."""
    from pytest_llmbench.safety.sanitising import shown

    print(shown(f"{prefix}: {error}"), file=sys.stderr)
    return status


def cases_command(name: str, produce: Callable[[], Sequence[str]]) -> int:
    """Print what a command that runs cases (``ab``, ``optimize``) produces; on failure one
    line ``llmbench NAME: ...``: status 2 for bad usage or a bad or missing case file, 1
    when a provider fails."""
    from pytest_llmbench.cases.problems import CaseFileError
    from pytest_llmbench.cli.options import UsageError
    from pytest_llmbench.providers.base import ProviderError

    try:
        lines = produce()
    except (UsageError, CaseFileError, FileNotFoundError) as exc:
        return failure(f"llmbench {name}", exc, 2)
    except ProviderError as exc:
        return failure(f"llmbench {name}", exc, 1)
    return answer(lines)
