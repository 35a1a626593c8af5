"""The ``llmbench`` command: the run history, the champion registry, production calls.

    llmbench history [--task T] [--model M]   champion and latency over time
    llmbench show RUN                         one run: its ranking per task
    llmbench compare RUN_A RUN_B              what changed, per task, model and case
    llmbench view [--port N] [--static OUT]   the history as pages (runs, run, task, compare)
    llmbench rankings [--task T]              the registry: champion, runner-up, evidence, age
    llmbench run TASK --var name=value ...    one production call through the router
    llmbench feedback [--task T]              the router's calls: success, latency, fall-overs
    llmbench feedback --check                 exit 1 when production drifted from the benchmark
    llmbench feedback --export-cases T --out F   captured calls as candidate cases to label
    llmbench import DATA --task T --out F     a JSONL or CSV file as candidate cases of a task
    llmbench ab CASES.yaml --a v1 --b v2      A/B of two prompt versions (see ``ab``)
    llmbench optimize CASES.yaml --model M --interviewer I   the interviewer loop
    llmbench serve [--port 8080]              the champions over HTTP (the serve extra)

RUN is a run id, a unique prefix of one, ``last`` or ``last~N``.  The history is
``.llmbench/history.sqlite`` in the working directory unless ``--history PATH``; the
registry ``llmbench-registry.yaml`` in the working directory or a parent unless
``--registry PATH``.

One module per subcommand, named after it (:mod:`.history`, :mod:`.show`, ...;
:mod:`.import_` for ``import``, a Python keyword), each
with the same two functions:

- ``add_parser(commands)`` declares the subcommand: its name, help and arguments.  The
  module imports at its top only what the parser needs (argparse, :mod:`.options`), so
  that ``llmbench --help`` and parsing load no subcommand's implementation;
- ``run(args) -> int`` imports the implementation, runs it, prints the answer
  (:mod:`.output`) and returns the exit status: 0 on success, 1 when it cannot answer,
  2 for bad usage.

:mod:`.main` builds the parser from the list of subcommands and dispatches to ``run``.
The report lines themselves are pure functions in :mod:`pytest_llmbench.reporting`.
"""

from __future__ import annotations

from pytest_llmbench.cli.main import main

__all__ = ["main"]
