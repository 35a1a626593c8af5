"""State of one pytest-llmbench run, kept in ``config.stash``.

:class:`BenchSession` is a small composition, one object per concern:

- :class:`~pytest_llmbench.execution.catalogue.ModelCatalogue`: the providers and the
  models to run (discovery, selection, ``--llm-models=registry`` and ``new``);
- :class:`~pytest_llmbench.execution.lifecycle.ModelLifecycle`: loading and unloading
  models, and the pipeline that sends a remote model's next call ahead;
- :class:`~pytest_llmbench.analysis.ledger.ResultsLedger`: what the run owes and what
  it got, with the plain data xdist workers send;
- :class:`~pytest_llmbench.execution.judging.Judging`: the judge jobs, judged at the end;
- the :class:`~pytest_llmbench.analysis.run.RunOutcome` of :meth:`BenchSession.finish`.

Nothing outside this module writes into them; the hooks call their methods.
"""

from __future__ import annotations

import datetime as _dt
import functools
from typing import TYPE_CHECKING, Any

import pytest

from pytest_llmbench.analysis.conditions import measure as measure_load
from pytest_llmbench.analysis.elimination import Eliminator
from pytest_llmbench.analysis.ledger import ResultsLedger
from pytest_llmbench.analysis.racing import Racer
from pytest_llmbench.cases.records import Case, Task
from pytest_llmbench.execution.cache import ResponseCache
from pytest_llmbench.execution.call import Call
from pytest_llmbench.execution.catalogue import CatalogueSources, ModelCatalogue
from pytest_llmbench.execution.distribute import Distribution
from pytest_llmbench.execution.lifecycle import LifecycleSettings, ModelLifecycle
from pytest_llmbench.execution.results import Result
from pytest_llmbench.plugin.options import read_options
from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.providers.registry import ProviderRegistry
from pytest_llmbench.safety.redaction import register_environment_secrets
from pytest_llmbench.settings.options import Options
from pytest_llmbench.storage import stores

if TYPE_CHECKING:
    from pytest_llmbench.analysis.ranking import TaskRanking
    from pytest_llmbench.analysis.run import RunOutcome
    from pytest_llmbench.execution.judging import Judging, RunJudges
    from pytest_llmbench.execution.load import LoadPhase

__all__ = ["BENCH_KEY", "BenchSession", "get_bench"]


class BenchSession:
    """One run: its options, catalogue, model lifecycle, ledger, judging and outcome."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        register_environment_secrets()  # before anything can show or write one
        self.options = options = read_options(config)
        self.cache = ResponseCache(options.cache_dir, options.cache_mode)
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.load_at_start = measure_load()
        self.catalogue = catalogue = ModelCatalogue(_sources(config, options), self.cache)
        self.lifecycle = ModelLifecycle(
            lambda: catalogue.providers,
            catalogue.resolved,
            self.cache,
            LifecycleSettings(options.keep_loaded, options.prefetch, options.timeout_s),
        )
        self.ledger = ResultsLedger()
        self.distribution = Distribution()
        """xdist controller: what happened on the workers."""
        self.eliminator = Eliminator()
        """The first wrong run of each (task, model) (``--llm-eliminate``)."""
        xdist = hasattr(config, "workerinput") or bool(getattr(config.option, "numprocesses", 0))
        self.racer = Racer.of(options, serial=not xdist)  # serial only: see analysis.racing
        self.judging: Judging | None = None
        """The judge checks, run after the candidates (made for a task that uses a judge)."""
        self.outcome: RunOutcome | None = None
        """What the end of the run found (the controller's, after :meth:`finish`)."""
        self._guessed_formats: set[str] = set()
        """Embedded models warned about for a fallback chat format (once each)."""
        self.default_difficulty: dict[str, int] = {}
        """Per task collected here, its cases that give no difficulty (marked ``medium``)."""

    def add_task(self, task: Task) -> None:
        """A collected task: what ranking, judging and the header need of it."""
        self.ledger.add_task(task)
        if task.judge is not None or any(c.expected.quality.judge for c in task.cases):
            self._judging().add_task(task)
        defaults = sum(1 for case in task.cases if case.difficulty_default)
        if defaults:
            self.default_difficulty[task.name] = defaults

    def _judging(self) -> Judging:
        if self.judging is None:
            from pytest_llmbench.execution.judging import Judging

            self.judging = Judging()
        return self.judging

    def queue_judging(self, task: Task, case: Case, result: Result, call: Call) -> None:
        """Queue the judging of one answer (after the candidates), if its task has a judge."""
        if self.judging is not None:
            self.judging.queue(task, case, result, call)

    def first_guess(self, model: ModelInfo) -> bool:
        """Whether ``model`` is the first time a fallback chat format is used (warn once)."""
        first = model.id not in self._guessed_formats
        self._guessed_formats.add(model.id)
        return first

    def finish(self, stopped: str | None) -> RunOutcome:
        """The end of the run (controller): crashes recorded, judged, ranked, weighed."""
        from pytest_llmbench.analysis.run import finish_run, wants_load

        ledger = self.ledger
        for crashed in self.distribution.crash_results(ledger.task_facts):
            ledger.add_result(crashed)
        config = self.config
        self.outcome = outcome = finish_run(
            ledger,
            lambda task, results, expected: config.hook.pytest_llmbench_rank(
                config=config, task=task, results=results, expected=expected
            ),
            judging=self.judging,
            judges=self._judges() if self.judging is not None else None,
            registered=lambda task: stores.registered_chain(self.options.registry_path, task),
            consensus_pairs=self.options.consensus_pairs,
            eliminator=self.eliminator if self.options.eliminate else None,
            racer=self.racer,
            stopped=stopped,
            load=self._load_phase() if wants_load(ledger, self.options.load_concurrency) else None,
        )
        ledger.results[:] = outcome.results
        return outcome

    def _judges(self) -> RunJudges:  # imported only in a run with a judge
        from pytest_llmbench.execution.judging import RunJudges

        cache = self.cache if self.cache.mode != "off" else None
        registered = functools.partial(
            stores.registered_models, self.options.registry_path, quiet=True
        )
        return RunJudges(self.catalogue, self.lifecycle, cache, self.options.timeout_s, registered)

    def _load_phase(self) -> LoadPhase | None:  # imported only in a run with a load phase
        from pytest_llmbench.execution.load import LoadPhase

        return LoadPhase.of(self)

    @property
    def rankings(self) -> list[TaskRanking]:
        return self.outcome.rankings if self.outcome is not None else []

    def worker_output(self) -> dict[str, Any]:
        """What an xdist worker sends the controller (tasks collected, models loaded)."""
        return {
            **self.ledger.worker_output(),
            "loads": list(self.lifecycle.loads),
            "judging": self.judging.worker_output() if self.judging is not None else {},
        }

    def merge_worker_output(self, data: dict[str, Any], worker: str | None = None) -> None:
        self.ledger.merge_worker_output(data)
        if data.get("judging"):
            self._judging().merge_worker_output(data["judging"])
        if worker is not None:
            self.distribution.loaded[worker] = list(data.get("loads", []))

    def run_info(self, exitstatus: int | None = None, run_id: str | None = None) -> dict[str, Any]:
        """The ``run`` of the ``--llm-json`` document (see ``storage.json_report.run_info``)."""
        from pytest_llmbench.storage.json_report import run_info

        outcome = self.outcome
        return run_info(
            started=self.started,
            models=self.ledger.models(),
            args=self.config.invocation_params.args,
            exitstatus=exitstatus,
            cache=self.cache.mode,
            run_id=run_id,
            partial=outcome.partial if outcome is not None else None,
            cache_only=outcome.cache_only if outcome is not None else False,
            xdist=self.distribution.to_json() if self.distribution.active else None,
            conditions=self.conditions,
        )

    @functools.cached_property
    def conditions(self) -> dict[str, Any]:
        """The machine's load at the start and the end (measured once, at the first ask)."""
        from pytest_llmbench.storage.json_report import machine_conditions

        return machine_conditions(self.load_at_start, self.ledger.models())


def _sources(config: pytest.Config, options: Options) -> CatalogueSources:
    """The catalogue's sources: the options, the plugin's hooks, the champions file and
    the history."""
    settings = options.builtin_settings()

    def register(providers: ProviderRegistry) -> None:
        config.hook.pytest_llmbench_register_providers(registry=providers, config=config)

    def select(available: list[ModelInfo]) -> list[ModelInfo]:
        chosen: list[ModelInfo] = config.hook.pytest_llmbench_select_models(
            config=config, spec=options.models, available=available
        )
        return chosen

    return CatalogueSources(
        settings=settings,
        spec=options.models,
        start=config.invocation_params.dir,
        registry_path=options.registry_path,
        history_read=options.history_read,
        register=register,
        select=select,
        registered=stores.registered_models,
        benchmarked=stores.benchmarked_in(options.history_read),
        changed=stores.changed_since(options.update_registry or options.registry_path),
    )


BENCH_KEY = pytest.StashKey[BenchSession]()


def get_bench(config: pytest.Config) -> BenchSession:
    return config.stash[BENCH_KEY]
