"""The champion registry: each task's production model and runner-up, with the evidence.

A YAML file meant to be committed next to the evals (default
``llmbench-registry.yaml`` at the rootdir)::

    version: 1
    tasks:
      grading:
        case_file: evals/grading.yaml
        champion: {model: ollama/qwen2.5:7b, correct: 10, total: 10, mean_ms: 412.3,
                   p95_ms: 530.1, run: 20250101T120000Z-1a2b3c, date: '2025-01-01',
                   git_commit: 9f1c...}
        runner_up: {model: ollama/llama3.2:3b, ...}
        fallbacks: [ollama/gemma3:1b]
        why: 'ollama/qwen2.5:7b replaced ollama/llama3.1:8b as champion in run ...'

``case_file`` is the task's case file, relative to the registry (the router fills its
prompt from it); ``fallbacks`` are further models the router tries after the runner-up,
written by hand and kept when the benchmark rewrites the entry; ``why`` says what a run
with ``--llm-models=new`` changed (:mod:`~pytest_llmbench.storage.succession`).  All
three are optional.

Written by ``pytest --llm-update-registry``; read by :func:`best_model` (the model to
use in production), by the router (:mod:`pytest_llmbench.router`) and by
``--llm-models=registry`` (re-benchmark champion and
runner-up only: :mod:`pytest_llmbench.selection.registry`).  Pure module apart from
reading and writing that one file; it imports only the standard library until a
function needs more, so that ``from pytest_llmbench import best_model`` stays cheap.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_llmbench.formatting import one_line
from pytest_llmbench.storage.locations import DEFAULT_REGISTRY

if TYPE_CHECKING:
    from pytest_llmbench.analysis.at_load import TaskLoad
    from pytest_llmbench.analysis.paired import Lead
    from pytest_llmbench.analysis.ranking import ModelStanding, TaskRanking

__all__ = [
    "DEFAULT_REGISTRY",
    "Evidence",
    "RegistryEntry",
    "RegistryError",
    "best_model",
    "find_registry",
    "load_registry",
    "registered_chain",
    "registered_models",
    "registry_lock",
    "registry_text",
    "relative_case_file",
    "update_registry",
    "write_registry",
]

REGISTRY_VERSION = 1

_HEADER = """\
# pytest-llmbench champion registry: the production model of each task and its runner-up,
# with the run that proved it. Written by `pytest --llm-update-registry`; commit this file.
# Read by pytest_llmbench.best_model("task") and by `pytest --llm-models=registry`.
"""


class RegistryError(LookupError):
    """A registry file that cannot be read, or a task it cannot answer for."""


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _float(data: Mapping[str, Any], key: str) -> float | None:
    return None if data.get(key) is None else float(data[key])


@dataclass(frozen=True)
class Evidence:
    """Why a model holds its place: the run and what it measured there."""

    model: str
    correct: int
    total: int
    mean_ms: float | None
    p95_ms: float | None = None
    run: str | None = None
    date: str | None = None
    git_commit: str | None = None
    identity: str | None = None
    """The weights it was benchmarked with, where the provider reports them (Ollama's
    digest; see :mod:`pytest_llmbench.providers.identity`): ``llmbench rankings`` shows
    the model ``stale`` when the installed one differs."""
    lead_over: str | None = None
    """The model the lead below is over (the runner-up of the run, or the champion a
    newcomer replaced)."""
    lead: float | None = None
    """The share of ``lead_over``'s time this model saves (0.23: 23% faster), paired over
    the calls both answered warm when they ran together, else from the two means."""
    lead_low: float | None = None
    """The lead's 95% interval (paired leads only)."""
    lead_high: float | None = None
    paired_calls: int | None = None
    """The (case, repeat) calls the paired lead is over (``None``: not paired)."""
    at_load: Mapping[str, Any] | None = None
    """Its figures in the task's load phase (concurrency, goodput, p95 under load ...);
    ``None`` when the task had none."""
    latency: str | None = None
    """The latency the task was ranked by when it was not the mean (``p95``,
    ``ttft_p95`` ...: ``ranking.latency``, ``--llm-rank-latency``); ``None``: the mean."""
    latency_ms: float | None = None
    """The model's figure for that latency (ms)."""

    @classmethod
    def from_standing(
        cls,
        standing: ModelStanding,
        run: Mapping[str, Any],
        identity: str | None = None,
        lead: Lead | None = None,
        load: TaskLoad | None = None,
        latency: str = "mean",
    ) -> Evidence:
        """The standing's evidence; with ``lead`` (this model's paired lead over
        another), the lead and its interval; with ``latency`` other than the mean, the
        latency the task was ranked by and this model's figure for it."""
        from pytest_llmbench.analysis.ranking import rank_ms

        ranked = None if latency == "mean" else rank_ms(standing, latency)
        started = str(run.get("started_at") or "")
        interval = lead.interval if lead is not None and lead.pairs else None
        return cls(
            model=standing.model,
            correct=standing.correct,
            total=standing.total,
            mean_ms=None if standing.mean_ms is None else round(standing.mean_ms, 1),
            p95_ms=None if standing.p95_ms is None else round(standing.p95_ms, 1),
            run=run.get("id"),
            date=started[:10] or None,
            git_commit=run.get("git_commit"),
            identity=identity,
            lead_over=lead.other if lead is not None and lead.pairs else None,
            lead=_round(lead.lead) if lead is not None and lead.pairs else None,
            lead_low=_round(interval[0]) if interval else None,
            lead_high=_round(interval[1]) if interval else None,
            paired_calls=lead.pairs if lead is not None and lead.pairs else None,
            at_load=_at_load(load, standing.model) if load is not None else None,
            latency=None if latency == "mean" else latency,
            latency_ms=None if ranked is None else round(ranked, 1),
        )

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class RegistryEntry:
    task: str
    champion: Evidence
    runner_up: Evidence | None = None
    case_file: str | None = None
    """The task's case file, relative to the registry's directory (``/`` separated)."""
    fallbacks: tuple[str, ...] = ()
    """Models to try after the runner-up, in order (hand-written; kept on update)."""
    why: str | None = None
    """Why the entry changed last, when a run with ``--llm-models=new`` changed it
    (see :mod:`pytest_llmbench.storage.succession`)."""

    @property
    def models(self) -> list[str]:
        """Champion, then runner-up."""
        return [self.champion.model] + ([self.runner_up.model] if self.runner_up else [])

    @property
    def chain(self) -> list[str]:
        """Every model to try, in order: champion, runner-up, then the fallbacks."""
        return list(dict.fromkeys([*self.models, *self.fallbacks]))

    def case_path(self, registry: Path) -> Path | None:
        """The case file as a path (``None`` when the entry does not record one)."""
        return None if self.case_file is None else registry.parent / self.case_file


# --------------------------------------------------------------------------- reading


def _at_load(load: TaskLoad, model: str) -> dict[str, Any] | None:
    """A model's load-phase evidence for the registry."""
    standing = load.standing(model)
    if standing is None or standing.skipped is not None:
        return None

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    figures = {
        "concurrency": load.concurrency,
        "requests": standing.requests,
        "goodput_rps": rounded(standing.goodput_rps),
        "throughput_rps": rounded(standing.throughput_rps),
        "p95_ms": rounded(standing.p95_ms),
        "error_rate": round(standing.error_rate, 4),
        "slo_p95_ms": load.slo_p95_ms,
        "slo_ttft_ms": load.slo_ttft_ms,
    }
    return {k: v for k, v in figures.items() if v is not None}


def _evidence(data: Any, where: str) -> Evidence:
    if not isinstance(data, Mapping) or not isinstance(data.get("model"), str):
        raise RegistryError(f"{where}: expected a mapping with a 'model' string")
    try:
        return Evidence(
            model=data["model"],
            correct=int(data.get("correct", 0)),
            total=int(data.get("total", 0)),
            mean_ms=None if data.get("mean_ms") is None else float(data["mean_ms"]),
            p95_ms=None if data.get("p95_ms") is None else float(data["p95_ms"]),
            run=None if data.get("run") is None else str(data["run"]),
            date=None if data.get("date") is None else str(data["date"]),
            git_commit=None if data.get("git_commit") is None else str(data["git_commit"]),
            identity=None if data.get("identity") is None else str(data["identity"]),
            lead_over=None if data.get("lead_over") is None else str(data["lead_over"]),
            lead=_float(data, "lead"),
            lead_low=_float(data, "lead_low"),
            lead_high=_float(data, "lead_high"),
            paired_calls=None if data.get("paired_calls") is None else int(data["paired_calls"]),
            at_load=dict(data["at_load"]) if isinstance(data.get("at_load"), Mapping) else None,
            latency=None if data.get("latency") is None else str(data["latency"]),
            latency_ms=None if data.get("latency_ms") is None else float(data["latency_ms"]),
        )
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{where}: {exc}") from None


def load_registry(path: Path) -> dict[str, RegistryEntry]:
    """Every task's entry; ``{}`` when the file does not exist.

    :raises RegistryError: for a file that is not a registry.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RegistryError(f"cannot read registry {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise RegistryError(
            f"registry {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); restore it from version control or write it again with "
            "pytest --llm-update-registry"
        ) from None
    import yaml  # on first use: importing best_model stays light

    try:
        # libyaml's parser where PyYAML has it (the same data, several times faster)
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise RegistryError(f"registry {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not isinstance(data.get("tasks", {}), Mapping):
        raise RegistryError(f"registry {path}: expected 'version' and a 'tasks' mapping")
    version = data.get("version", REGISTRY_VERSION)
    if not isinstance(version, int) or version > REGISTRY_VERSION:
        raise RegistryError(
            f"registry {path} has version {version!r}; this pytest-llmbench reads up to "
            f"{REGISTRY_VERSION}"
        )
    entries: dict[str, RegistryEntry] = {}
    for task, raw in (data.get("tasks") or {}).items():
        where = f"registry {path}: tasks.{task}"
        if not isinstance(raw, Mapping) or "champion" not in raw:
            raise RegistryError(f"{where}: expected a mapping with 'champion'")
        runner = raw.get("runner_up")
        case_file = raw.get("case_file")
        if case_file is not None and not isinstance(case_file, str):
            raise RegistryError(f"{where}.case_file: expected a path, got {case_file!r}")
        fallbacks = raw.get("fallbacks") or []
        if not isinstance(fallbacks, list) or not all(isinstance(m, str) for m in fallbacks):
            raise RegistryError(f"{where}.fallbacks: expected a list of model ids")
        why = raw.get("why")
        entries[str(task)] = RegistryEntry(
            task=str(task),
            champion=_evidence(raw["champion"], f"{where}.champion"),
            runner_up=None if runner is None else _evidence(runner, f"{where}.runner_up"),
            case_file=case_file,
            fallbacks=tuple(fallbacks),
            why=None if why is None else str(why),
        )
    return entries


def _yaml_problem(exc: Exception) -> str:
    """A YAML error in one line: what is wrong and where (the parser's own is several)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return one_line(exc)


def registered_models(path: Path, quiet: bool = False) -> dict[str, list[str]]:
    """Per task, its registered models; a champions file that cannot be read is a
    selection error (``quiet``: none; a ``task:NAME`` judge then says it has none)."""
    try:
        return {task: entry.models for task, entry in load_registry(path).items()}
    except RegistryError as exc:
        if quiet:
            return {}
        from pytest_llmbench.selection.spec import SelectionError

        raise SelectionError(str(exc)) from None


def registered_chain(path: Path, task: str) -> list[str]:
    """The task's registered models (champion, runner-up, fallbacks), if the registry
    can be read (else none: this run's order alone)."""
    try:
        entry = load_registry(path).get(task) if path.is_file() else None
    except (RegistryError, OSError):
        return []
    return list(entry.chain) if entry is not None else []


def find_registry(start: Path | None = None) -> Path | None:
    """``llmbench-registry.yaml`` in ``start`` (default: the working directory) or a parent."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / DEFAULT_REGISTRY
        if candidate.is_file():
            return candidate
    return None


def best_model(
    task: str,
    path: str | os.PathLike[str] | None = None,
    available: Collection[str] | Callable[[str], bool] | None = None,
) -> str:
    """The model to use for ``task`` in production: its champion, else its runner-up
    (else the first available of its ``fallbacks``).

    :param path: the registry file; default ``llmbench-registry.yaml`` in the working
        directory or the nearest parent that has one.
    :param available: the models you can use right now (ids such as
        ``ollama/qwen2.5:7b``, or a predicate on the id).  The champion is returned
        when it is available, else the runner-up, else a fallback.  ``None``: the champion.
    :raises RegistryError: (a ``LookupError``) when there is no registry, the task has
        no entry, or neither of its models is available.

    Example::

        from pytest_llmbench import best_model

        model = best_model("grading", available={"ollama/llama3.2:3b"})
    """
    file = Path(path) if path is not None else find_registry()
    if file is None:
        raise RegistryError(
            f"no {DEFAULT_REGISTRY} in {Path.cwd()} or its parents; "
            "write one with pytest --llm-update-registry"
        )
    entries = load_registry(file)
    if task not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise RegistryError(f"task {task!r} is not in registry {file} (tasks: {known})")
    entry = entries[task]
    if available is None:
        return entry.champion.model
    usable = available if callable(available) else available.__contains__
    for model in entry.chain:
        if usable(model):
            return model
    raise RegistryError(
        f"neither model registered for {task!r} is available: {', '.join(entry.chain)}"
    )


# --------------------------------------------------------------------------- writing


def registry_text(entries: Mapping[str, RegistryEntry]) -> str:
    """The registry file for these entries (tasks sorted by name)."""
    import yaml

    tasks: dict[str, Any] = {}
    for name in sorted(entries):
        entry = entries[name]
        task: dict[str, Any] = {} if entry.case_file is None else {"case_file": entry.case_file}
        task["champion"] = entry.champion.to_dict()
        task["runner_up"] = entry.runner_up.to_dict() if entry.runner_up else None
        if entry.fallbacks:
            task["fallbacks"] = list(entry.fallbacks)
        if entry.why:
            task["why"] = entry.why
        tasks[name] = task
    body = yaml.safe_dump(
        {"version": REGISTRY_VERSION, "tasks": tasks},
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )
    return _HEADER + body


def relative_case_file(registry: Path, case_file: Path) -> str:
    """``case_file`` as the registry records it: relative to the registry's directory
    (``/`` separated), or absolute when no relative path leads there (another drive)."""
    target = Path(os.path.abspath(case_file))
    try:
        return Path(os.path.relpath(target, os.path.abspath(registry.parent))).as_posix()
    except ValueError:
        return target.as_posix()


def update_registry(
    path: Path,
    rankings: Sequence[TaskRanking],
    run: Mapping[str, Any],
    case_files: Mapping[str, Path] | None = None,
    identities: Mapping[str, str] | None = None,
) -> tuple[list[str], list[str]]:
    """Write each ranked task's champion and runner-up; other tasks keep their entry.

    A task where no model qualified keeps its previous entry (a run that proves
    nothing does not remove the production model).  An updated entry keeps its
    ``fallbacks``, and its ``case_file`` unless ``case_files`` names the task's file.

    :param case_files: the case file of each task, recorded relative to the registry.
    :param identities: ``{model id: identity}`` of the benchmarked models (see
        :func:`pytest_llmbench.providers.identity.model_identities`), recorded with each.
    :return: (tasks updated, tasks left as they were because no model qualified).
    """
    with registry_lock(path):  # read, change, write: no other writer in between
        return _update_registry(
            path, rankings, run, case_files, {} if identities is None else identities
        )


def _update_registry(
    path: Path,
    rankings: Sequence[TaskRanking],
    run: Mapping[str, Any],
    case_files: Mapping[str, Path] | None,
    identities: Mapping[str, str],
) -> tuple[list[str], list[str]]:
    entries = load_registry(path)
    updated: list[str] = []
    kept: list[str] = []
    for ranking in rankings:
        champion = ranking.champion
        if champion is None:
            kept.append(ranking.task)
            continue
        runner_up = ranking.runner_up
        before = entries.get(ranking.task)
        case_file = (case_files or {}).get(ranking.task)
        entries[ranking.task] = RegistryEntry(
            task=ranking.task,
            champion=Evidence.from_standing(
                champion,
                run,
                identities.get(champion.model),
                ranking.lead,
                ranking.at_load,
                ranking.latency,
            ),
            runner_up=(
                Evidence.from_standing(
                    runner_up,
                    run,
                    identities.get(runner_up.model),
                    load=ranking.at_load,
                    latency=ranking.latency,
                )
                if runner_up
                else None
            ),
            case_file=(
                relative_case_file(path, case_file)
                if case_file is not None
                else (before.case_file if before else None)
            ),
            fallbacks=before.fallbacks if before else (),
        )
        updated.append(ranking.task)
    if updated:
        write_registry(path, entries)
    return updated, kept


@contextlib.contextmanager
def registry_lock(path: Path) -> Iterator[None]:
    """Hold the registry's lock: every read-modify-write of the file takes it, so two
    processes updating one registry lose nothing (the file itself is replaced by a
    rename, so the lock is held on its folder on POSIX, on a lock file elsewhere).

    An advisory lock from the standard library (``fcntl.flock``, ``msvcrt.locking``):
    released by the operating system when the process ends, whatever happens."""
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        with _lock_file(folder / f".{path.name}.lock"):
            yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _lock_file(lock: Path) -> Iterator[None]:  # pragma: no cover - Windows
    import msvcrt

    with lock.open("a+b") as handle:
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
                break
            except OSError:  # LK_LOCK gives up after 10 s: wait again
                continue
        try:
            yield
        finally:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


def write_registry(path: Path, entries: Mapping[str, RegistryEntry]) -> None:
    """Replace the registry file with these entries (written aside under a name of its
    own, then renamed over it; see :func:`registry_lock` for read-modify-write)."""
    from pytest_llmbench.safety.atomic import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, [registry_text(entries)])
