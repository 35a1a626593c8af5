"""git, asked about the project: the commit a run was made at, and the files changed since a ref.

No pytest.  Every question runs ``git`` in a subprocess (the only subprocess calls of
the storage layer; ``analysis/`` makes none):

- :func:`head_commit`: ``git rev-parse HEAD``, recorded with each run in the history;
- :func:`changed_files` / :func:`changed_tasks` (``--llm-changed-since``): a task
  changed when its case file, its prompt file or any ``{file:}`` it references differs
  from the ref (committed, staged or not, or new and untracked).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

__all__ = ["GitError", "changed_files", "changed_tasks", "head_commit"]


class GitError(Exception):
    """git could not answer; ``str()`` is the one-line message."""


def _git(args: Sequence[str], cwd: Path, timeout: float = 60) -> str:
    """The output of ``git ARGS`` in ``cwd``; :class:`GitError` when git fails or is missing."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    except (OSError, subprocess.SubprocessError) as exc:
        raise GitError(f"git {' '.join(args)} failed: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.strip().splitlines()
        raise GitError(f"git {' '.join(args)}: {message[-1] if message else 'failed'}")
    return done.stdout


def head_commit(directory: Path) -> str | None:
    """``git rev-parse HEAD`` in ``directory``; ``None`` without git or outside a repository."""
    try:
        commit = _git(["rev-parse", "HEAD"], directory, timeout=10).strip()
    except GitError:
        return None
    return commit or None


def changed_files(directory: Path, ref: str) -> set[Path]:
    """Files that differ from ``ref`` in the repository holding ``directory`` (resolved)."""
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], directory).strip())
    except GitError:
        raise GitError(f"--llm-changed-since: {directory} is not in a git repository") from None
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    except GitError:
        raise GitError(f"--llm-changed-since: unknown git revision {ref!r}") from None
    # -z: names as they are, without git's quoting of unusual characters
    names = _git(["diff", "--name-only", "-z", "--no-renames", ref, "--"], top).split("\0")
    names += _git(["ls-files", "-z", "--others", "--exclude-standard"], top).split("\0")
    return {(top / name).resolve() for name in names if name}


def changed_tasks(sources: Mapping[str, Iterable[Path]], changed: set[Path]) -> list[str]:
    """The tasks (in the given order) with at least one source file in ``changed``."""
    return [task for task, paths in sources.items() if any(p.resolve() in changed for p in paths)]
