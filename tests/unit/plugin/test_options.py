"""The option table (settings/table.py), the Options record and the reference page.

Plain unit tests: ``read_options`` reads a stand-in config whose options and ini
keys are the ones ``add_options`` declares, with their defaults.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_llmbench.plugin.declare import add_options
from pytest_llmbench.plugin.options import BUILDERS, read_options
from pytest_llmbench.settings.options import Options
from pytest_llmbench.settings.reference import PAGE, render
from pytest_llmbench.settings.table import OPTIONS

ROOT = Path(__file__).resolve().parents[3]


class Declared:
    """What ``add_options`` declares: a stand-in for ``pytest.Parser`` and its group."""

    def __init__(self) -> None:
        self.options: dict[str, dict[str, Any]] = {}
        self.ini: dict[str, tuple[str, str | None, Any]] = {}

    def getgroup(self, name: str, description: str = "") -> Declared:
        return self

    def addoption(self, flag: str, **kwargs: Any) -> None:
        self.options[flag] = kwargs

    def addini(self, name: str, help: str, type: str | None = None, default: Any = None) -> None:
        self.ini[name] = (help, type, default)


def declared() -> Declared:
    parser = Declared()
    add_options(parser)  # type: ignore[arg-type]
    return parser


class StandInConfig:
    """The few ``pytest.Config`` members ``read_options`` reads."""

    def __init__(self, root: Path, ini: dict[str, Any] | None = None, **given: Any) -> None:
        parser = declared()
        self.rootpath = root
        self.invocation_params = SimpleNamespace(dir=root)
        self.option = SimpleNamespace(
            **{flag[2:].replace("-", "_"): kw["default"] for flag, kw in parser.options.items()}
        )
        vars(self.option).update(given)
        self._ini = {name: default for name, (_, _, default) in parser.ini.items()}
        self._ini.update(ini or {})

    def getoption(self, name: str, default: Any = None) -> Any:
        return getattr(self.option, name, default)

    def getini(self, name: str) -> Any:
        return self._ini[name]


def options(tmp_path: Path, ini: dict[str, Any] | None = None, **given: Any) -> Options:
    return read_options(StandInConfig(tmp_path, ini, **given))  # type: ignore[arg-type]


def test_the_reference_page_is_up_to_date() -> None:
    committed = (ROOT / PAGE).read_text(encoding="utf-8")
    assert committed == render(), (
        f"{PAGE} is stale: run `python -m pytest_llmbench.settings.reference` "
        "at the repository root and commit the page"
    )


@pytest.mark.parametrize("spec", OPTIONS, ids=lambda one: one.flag or one.ini)
def test_every_option_has_help_and_a_reference_row(spec: Any) -> None:
    assert spec.help.strip(), "no help text"
    assert spec.flag or spec.ini, "neither a flag nor an ini key"
    assert (spec.flag or "--llm-").startswith("--llm-")
    assert (spec.ini or "llm_").startswith("llm_")
    assert spec.flag is None or spec.metavar or spec.action or spec.choices, "no metavar"
    row = next(line for line in render().splitlines() if f"`{spec.flag or spec.ini}" in line)
    assert spec.help.replace("%%", "%").replace("|", "\\|") in row


def test_every_flag_and_ini_key_is_declared_once() -> None:
    parser = declared()
    flags = [one.flag for one in OPTIONS if one.flag]
    keys = [one.ini for one in OPTIONS if one.ini]
    assert list(parser.options) == flags
    assert len(set(flags)) == len(flags)
    assert sorted(parser.ini) == sorted(set(keys))
    assert len(set(keys)) == len(keys)
    assert parser.options["--llm-timeout"]["metavar"] == "SECONDS"
    assert parser.ini["llm_timeout"] == ("default for --llm-timeout (seconds)", None, "120")


def test_the_record_has_one_attribute_per_table_field_or_builder(tmp_path: Path) -> None:
    from_table = {one.field for one in OPTIONS if one.field}
    record = {field.name for field in dataclasses.fields(Options)}
    assert from_table <= record
    assert len(BUILDERS) == len({build.__name__ for build in BUILDERS})
    built = set(dataclasses.asdict(options(tmp_path))) - from_table
    assert built == record - from_table


def test_nothing_given_means_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_llmbench.providers.base import DEFAULT_OLLAMA_HOST

    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    got = options(tmp_path)
    assert (got.models, got.timeout_s, got.repeat, got.ollama_hosts) == (
        "all",
        120.0,
        None,
        (DEFAULT_OLLAMA_HOST,),
    )
    assert (got.cache_mode, got.dist) == ("off", "model")
    assert (got.prefetch, got.keep_loaded) == (True, False)
    assert (got.retries, got.retry_backoff_s, got.generic_threshold) == (3, 0.5, 0.9)
    assert (got.journal, got.eliminate, got.fail_on, got.max_slowdown) == (True, False, "case", 0.2)
    assert got.state_dir == tmp_path / ".llmbench"
    assert got.cache_dir == tmp_path / ".llmbench" / "cache"
    assert got.history == got.history_read == tmp_path / ".llmbench" / "history.sqlite"
    assert got.registry_path == tmp_path / "llmbench-registry.yaml"
    assert got.update_registry is None


def test_the_option_wins_over_the_ini_key_which_wins_over_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert options(tmp_path, {"llm_timeout": "9"}).timeout_s == 9.0
    assert options(tmp_path, {"llm_timeout": "9"}, llm_timeout=5.0).timeout_s == 5.0
    assert options(tmp_path, {"llm_timeout": ""}).timeout_s == 120.0
    monkeypatch.setenv("OLLAMA_HOST", "http://env:1")
    assert options(tmp_path).ollama_hosts == ("http://env:1",)
    assert options(tmp_path, {"llm_ollama_hosts": ["ini:2"]}).ollama_hosts == ("ini:2",)


def test_repeatable_options_add_to_the_ini_lines(tmp_path: Path) -> None:
    got = options(tmp_path, {"llm_exclude": ["a*"]}, llm_exclude=["b,c"], llm_prompt=[["v1", "v2"]])
    assert got.rules.exclude == ("a*", "b", "c")
    assert got.prompt_versions == ("v1", "v2")


def test_options_made_of_several(tmp_path: Path) -> None:
    assert options(tmp_path, llm_fail_on="champion").eliminate is True
    assert options(tmp_path, llm_fail_on="champion", llm_eliminate="off").eliminate is False
    got = options(tmp_path, {"llm_state_dir": "state"}, llm_no_history=True)
    assert got.cache_dir == tmp_path / "state" / "cache"
    assert got.history is None
    assert got.history_read == tmp_path / "state" / "history.sqlite"
    assert options(tmp_path, llm_update_registry="__default__").update_registry == (
        tmp_path / "llmbench-registry.yaml"
    )


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        ({"llm_timeout": "soon"}, "llm_timeout: expected a number of seconds, got 'soon'"),
        ({"llm_prefetch": "sometimes"}, "--llm-prefetch must be on or off, got 'sometimes'"),
        ({"llm_retries": "1000"}, "llm_retries: expected at most 10, got '1000'"),
        ({"llm_dist": "both"}, "llm_dist: expected model or xdist, got 'both'"),
        (
            {"llm_provider_options": ["mine nokey"]},
            "llm_provider_options: expected NAME key=value ..., got 'mine nokey'",
        ),
    ],
)
def test_a_bad_ini_value_is_a_usage_error_naming_it(
    tmp_path: Path, ini: dict[str, Any], message: str
) -> None:
    with pytest.raises(pytest.UsageError) as info:
        options(tmp_path, ini)
    assert str(info.value) == message
