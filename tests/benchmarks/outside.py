"""The plugin's cost measured from outside, as a user runs it.

``python -m tests.benchmarks.outside [--rounds 5] [--sizes 20,200] [--wait-ms 5] [--no-bytecode]``

A user's run is ``pytest`` in a project folder with the plugin installed, nothing
switched off: the journal and the history on (their defaults), pytest's cache provider
and terminal summary on, pytest-benchmark loaded if it is installed, bytecode cached
after the first run.  This script makes such runs in fresh project folders and measures
each one's CPU (user + system of the child, from ``os.wait4``):

- per call: an N-case run against an emulated server (Ollama in this process, and an
  OpenAI-compatible one) at two sizes, minus the same at the other size, divided by the
  difference in calls; the same for a bare ``@pytest.mark.parametrize`` test of N items
  with ``-p no:llmbench``; the plugin's own = the two slopes' difference.  With
  ``--wait-ms`` the servers take that long per answer and the bare items sleep as long:
  a process that waits every call (as with any real model) spends more CPU per call than
  one that never waits (its caches go cold), the bare item's too;
- start-up: a 10-case Ollama run against the same folder's plain test run with
  ``-p no:llmbench`` (the case file is then not collected), and an embedded-only
  ``--collect-only`` against the reference's ``--collect-only``.

Each folder is a new project (``.llmbench`` starts empty: the history a run reads at
its start holds at most the warm-up run).  Rounds are interleaved and the median of each
kind is taken.  ``--no-bytecode`` runs every child with ``PYTHONDONTWRITEBYTECODE=1``
and an empty ``PYTHONPYCACHEPREFIX`` (every module compiled on every run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests.support.casedata import right_answer, verdict_yaml

ROOT = Path(__file__).resolve().parents[2]


def child_env(bytecode: bool, pyc_prefix: Path | None = None) -> dict[str, str]:
    """The child's environment: this one's, the worktree on the path, and the bytecode
    setting asked for."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH", "")])])
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "OLLAMA_HOST", "OPENAI_API_KEY"):
        env.pop(name, None)
    env["PY_COLORS"] = "0"
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONPYCACHEPREFIX", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        assert pyc_prefix is not None
        env["PYTHONPYCACHEPREFIX"] = str(pyc_prefix)
    return env


def run_cpu(args: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    """``python -m pytest *args`` in ``cwd``: the child's user + system CPU seconds."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 5):
        tail = out.decode(errors="replace")[-3000:]
        raise RuntimeError(f"pytest {' '.join(args)} in {cwd} exited {proc.returncode}:\n{tail}")
    return usage.ru_utime + usage.ru_stime


def make_project(base: Path, name: str, cases: int, bare: int, wait_s: float = 0.0) -> Path:
    """A fresh project folder: ``evals/grading.yaml`` with ``cases`` cases (none: 0)
    and ``test_bare.py`` with ``bare`` parametrized items (each sleeping ``wait_s``)."""
    folder = base / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if cases:
        (folder / "evals").mkdir()
        (folder / "evals" / "grading.yaml").write_text(verdict_yaml(cases=cases))
    if bare:
        body = f"    time.sleep({wait_s})\n" if wait_s else "    pass\n"
        (folder / "test_bare.py").write_text(
            "import time\n\nimport pytest\n\n\n"
            f"@pytest.mark.parametrize('i', range({bare}))\n"
            f"def test_item(i):\n{body}"
        )
    return folder


@contextmanager
def servers(wait_s: float = 0.0) -> Iterator[tuple[str, str]]:
    """An emulated Ollama and OpenAI-compatible server in this process, answering at
    once or after ``wait_s``."""
    from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator
    from tests.support.openai_emulator import OpenAIEmulator

    def openai_answer(model: str, messages: list[dict[str, Any]], fmt: object) -> str:
        return right_answer(model, messages, fmt, None)

    with ExitStack() as stack:
        ollama = stack.enter_context(
            OllamaEmulator(
                models=[EmulatedModel("m:1b", latency_s=wait_s or None)], answer=right_answer
            )
        )
        openai = stack.enter_context(
            OpenAIEmulator(models=["m"], answer=openai_answer, latency_s=wait_s)
        )
        yield ollama.url, openai.url


def call_kinds(
    ollama_url: str, openai_url: str
) -> dict[str, Callable[[int], tuple[int, int, list[str]]]]:
    """kind -> (n -> (cases, bare items, arguments))."""
    return {
        "bare": lambda n: (0, n, ["-p", "no:llmbench"]),
        "ollama": lambda n: (n, 0, [f"--llm-ollama-host={ollama_url}", "--llm-models=ollama"]),
        "openai": lambda n: (
            n,
            0,
            [f"--llm-endpoint=bench={openai_url} models=m", "--llm-models=bench/m"],
        ),
    }


def per_call(
    base: Path,
    env: dict[str, str],
    sizes: tuple[int, int],
    rounds: int,
    extra: Sequence[str] = (),
    wait_s: float = 0.0,
) -> dict[str, float]:
    """Per-call CPU (ms) of each kind, the median over ``rounds`` of the slope between
    the two sizes; every measured run in a fresh project folder after one warm-up.
    ``wait_s``: each answer's time, and the bare items sleep as long."""
    small, large = sizes
    out: dict[str, list[float]] = {}
    with servers(wait_s) as (ollama_url, openai_url):
        kinds = call_kinds(ollama_url, openai_url)
        for make in kinds.values():  # warm-up: bytecode written once
            cases, bare, args = make(small)
            run_cpu([*args, *extra], make_project(base, "warm", cases, bare, wait_s), env)
        for r in range(rounds):
            for kind, make in kinds.items():
                spent = []
                for n in sizes:
                    cases, bare, args = make(n)
                    folder = make_project(base, f"{kind}-{n}-{r}", cases, bare, wait_s)
                    spent.append(run_cpu([*args, *extra], folder, env))
                    shutil.rmtree(folder)
                out.setdefault(kind, []).append((spent[1] - spent[0]) / (large - small) * 1e3)
    return {kind: statistics.median(v) for kind, v in out.items()}


def start_up(
    base: Path, env: dict[str, str], rounds: int, cases: int = 10, extra: Sequence[str] = ()
) -> dict[str, float]:
    """CPU seconds (median) of each start-up kind in one project folder with ``cases``
    cases and one plain test, the history of earlier rounds kept (a user's second run)."""
    with servers() as (ollama_url, _):
        folder = make_project(base, "startup", cases, 0)
        (folder / "test_plain.py").write_text("def test_plain():\n    assert True\n")
        ollama = [f"--llm-ollama-host={ollama_url}", "--llm-models=ollama"]
        kinds = {
            "reference": ["-p", "no:llmbench"],
            "ollama": ollama,
            "reference, collected": ["-p", "no:llmbench", "--collect-only"],
            "ollama, collected": [*ollama, "--collect-only"],
            "embedded, collected": ["--llm-models=llamacpp", "--collect-only"],
        }
        for args in kinds.values():
            run_cpu([*args, *extra], folder, env)
        spent: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(rounds):
            for kind, args in kinds.items():
                spent[kind].append(run_cpu([*args, *extra], folder, env))
    return {kind: statistics.median(v) for kind, v in spent.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="20,200")
    parser.add_argument("--no-bytecode", action="store_true")
    parser.add_argument(
        "--wait-ms",
        type=float,
        default=0.0,
        help="each answer's time (the bare items sleep as long); default 0: instant",
    )
    parser.add_argument("--only", choices=("calls", "startup"), default=None)
    parser.add_argument("extra", nargs="*", help="more pytest arguments for every run")
    args = parser.parse_args(argv)
    small, large = (int(s) for s in args.sizes.split(","))
    sizes = (small, large)
    with tempfile.TemporaryDirectory(prefix="llmbench-outside-") as tmp:
        base = Path(tmp)
        env = child_env(not args.no_bytecode, base / "no-pyc")
        setting = "no bytecode" if args.no_bytecode else "bytecode cached"
        print(f"{setting}; load average {os.getloadavg()[0]:.2f}; {args.rounds} round(s)")
        if args.only in (None, "calls"):
            calls = per_call(base, env, sizes, args.rounds, args.extra, args.wait_ms / 1000)
            bare = calls["bare"]
            print(
                f"per call ({sizes[1]} - {sizes[0]} calls, answers of {args.wait_ms:g} ms): "
                f"bare item {bare:.3f} ms"
            )
            for kind in ("ollama", "openai"):
                print(f"  {kind:<8} item {calls[kind]:.3f} ms  own {calls[kind] - bare:.3f} ms")
        if args.only in (None, "startup"):
            spent = start_up(base, env, args.rounds, extra=args.extra)
            print(f"start-up (reference {spent['reference']:.3f} s run):")
            for kind in ("ollama", "ollama, collected", "embedded, collected"):
                ref = "reference, collected" if "collected" in kind else "reference"
                print(f"  {kind:<20} {spent[kind] - spent[ref]:+.3f} s")
        print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
