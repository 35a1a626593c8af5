"""The ``Options`` record: the plugin's options and ini keys, parsed and checked.

A plain frozen record, one attribute per option of the table
(:data:`~pytest_llmbench.settings.table.OPTIONS`) plus a few made of several options;
the plugin reads it from pytest's configuration
(:func:`pytest_llmbench.plugin.self.read_options`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_llmbench.providers.base import BuiltinSettings

if TYPE_CHECKING:
    from pytest_llmbench.execution.prices import PriceTable
    from pytest_llmbench.providers.endpoints import Endpoint
    from pytest_llmbench.selection.rules import Rules

__all__ = ["Options"]


@dataclass(frozen=True)
class Options:
    """The plugin's command-line and ini options, parsed and checked.

    Each attribute is declared in the table (its flag, ini key, default and help) and
    typed here; ``tests/test_plugin_self.py`` checks that the two agree.
    """

    models: str
    ollama_hosts: tuple[str, ...]
    lean_http: bool
    """``llm_ollama_lean_http``: Ollama generation over the plugin's own HTTP client."""
    provider_options: dict[str, dict[str, str]]
    """``llm_provider_options``: provider name -> its own self."""
    timeout_s: float
    embedded_threads: int | None
    """``--llm-threads``: embedded llama.cpp threads per model (``None``: chosen)."""
    load_concurrency: int | None
    """``--llm-load``: requests in flight per model in the load phase (``None``: each task's)."""
    json_path: Path | None
    repeat: int | None
    keep_loaded: bool
    retries: int
    retry_backoff_s: float
    rank_policy: str | None
    """``--llm-rank``: the policy for every task (``None``: each task's own)."""
    rank_latency: str | None
    """``--llm-rank-latency``: the latency every task is ranked by (``None``: each task's
    own ``ranking.latency``, else the mean)."""
    generic_threshold: float | None
    """``None`` switches the generic-answer check off."""
    cache_mode: str
    dist: str
    """``--llm-dist``: ``model`` (one worker per model, hosts spread) or ``xdist``."""
    prefetch: bool
    """``--llm-prefetch``: send a remote model's next request while pytest records an answer."""
    report_md: Path | None
    report_html: Path | None
    changed_since: str | None
    baseline: str | None
    max_slowdown: float
    min_lead: float
    """``--llm-min-lead`` as a fraction: a smaller paired lead is a tie."""
    fail_on: str
    resume: str | None
    journal: bool
    """``False`` with ``--llm-no-journal``."""
    prompt_versions: tuple[str, ...]
    """``--llm-prompt``: the prompt versions to run (empty: all)."""
    consensus_pairs: int
    """``--llm-consensus-pairs``: combinations ranked per task that declares consensus."""
    max_p95_ms: float | None
    """``--llm-max-p95``: the alert limit on a production model's p95 (``None``: none)."""
    max_error_rate: float | None
    """``--llm-max-error-rate`` as a fraction (``None``: none)."""
    # -- made of several options, by the functions of BUILDERS
    state_dir: Path
    """``--llm-state-dir``: the journals (``runs/``), and by default the history and cache."""
    cache_dir: Path
    history: Path | None
    """``None`` with ``--llm-no-history``."""
    history_read: Path
    """Where ``--llm-baseline last`` looks, even with ``--llm-no-history``."""
    registry_path: Path
    """``--llm-registry``: the champions file ``--llm-models=registry`` reads."""
    update_registry: Path | None
    gguf: dict[str, str]
    gguf_chat_formats: dict[str, str]
    """``chat_format=FORMAT`` given with ``--llm-gguf``: name -> format."""
    rules: Rules
    """The selection rules (``--llm-exclude``, ``--llm-max-size``, code/vision patterns)."""
    prices: PriceTable
    endpoints: tuple[Endpoint, ...]
    eliminate: bool
    """``--llm-eliminate``: skip a model's runs of a strict task after its first wrong one."""
    race: bool = False
    """``--llm-race``: with ``eliminate``, skip the repeats of a model slower beyond the
    noise than the champion and the runner-up so far (``analysis.racing``)."""

    @property
    def runs_dir(self) -> Path:
        """Where the run journals are (``--llm-resume`` reads them)."""
        return self.state_dir / "runs"

    def builtin_settings(self) -> BuiltinSettings:
        """What the built-in providers are made with (hosts, timeouts, GGUF files, ...)."""
        return BuiltinSettings(
            ollama_hosts=self.ollama_hosts,
            timeout_s=self.timeout_s,
            gguf_models=self.gguf,
            gguf_chat_formats=self.gguf_chat_formats,
            retries=self.retries,
            retry_backoff_s=self.retry_backoff_s,
            openai_endpoints=self.endpoints,
            lean_http=self.lean_http,
            provider_options=self.provider_options,
            state_dir=self.state_dir,
            embedded_threads=self.embedded_threads,
        )
