"""The settings layer's pure parts that moved out of the plugin: the ``Options`` record
(settings/options.py), a spec's ini default (settings/table.py) and ``--llm-gguf``
entries (settings/values.py ``parse_gguf``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.settings.options import Options
from pytest_llmbench.settings.table import spec
from pytest_llmbench.settings.values import OptionError, parse_gguf


def _options(**given: Any) -> Options:
    values: dict[str, Any] = {field.name: None for field in dataclasses.fields(Options)}
    values.update(given)
    return Options(**values)


def test_the_run_journals_are_in_the_state_directory(tmp_path: Path) -> None:
    assert _options(state_dir=tmp_path / "state").runs_dir == tmp_path / "state" / "runs"


def test_the_builtin_providers_get_the_options_they_are_made_with(tmp_path: Path) -> None:
    options = _options(
        ollama_hosts=("http://a:11434",),
        timeout_s=30.0,
        gguf={"tiny": "/m/tiny.gguf"},
        gguf_chat_formats={"tiny": "chatml"},
        retries=2,
        retry_backoff_s=0.5,
        endpoints=(),
        lean_http=True,
        provider_options={"ollama": {"num_ctx": "4096"}},
        state_dir=tmp_path,
    )
    settings = options.builtin_settings()
    assert settings.ollama_hosts == ("http://a:11434",)
    assert settings.timeout_s == 30.0
    assert settings.gguf_models == {"tiny": "/m/tiny.gguf"}
    assert settings.gguf_chat_formats == {"tiny": "chatml"}
    assert (settings.retries, settings.retry_backoff_s) == (2, 0.5)
    assert settings.lean_http is True
    assert settings.provider_options == {"ollama": {"num_ctx": "4096"}}
    assert settings.state_dir == tmp_path


def test_an_ini_key_not_set_reads_as_the_ini_file_would_write_its_default() -> None:
    assert spec("llm_exclude").ini_default == []  # a line list
    assert spec("llm_timeout").ini_default == "120"  # a float, as written
    assert spec("llm_ollama_lean_http").ini_default is True  # a bool stays one


def test_gguf_entries_give_paths_from_the_rootdir_and_chat_formats(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "tiny.gguf").write_bytes(b"GGUF")
    gguf, formats = parse_gguf(
        ["tiny=models/tiny.gguf chat_format=chatml", "plain = models/tiny.gguf"], tmp_path
    )
    target = str(tmp_path / "models" / "tiny.gguf")
    assert gguf == {"tiny": target, "plain": target}
    assert formats == {"tiny": "chatml"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("tiny", "--llm-gguf expects NAME=PATH [chat_format=FORMAT], got 'tiny'"),
        ("tiny=m.gguf chat_format=", "--llm-gguf expects NAME=PATH [chat_format=FORMAT]"),
        ("tiny=missing.gguf", "--llm-gguf tiny: no GGUF file at "),
    ],
)
def test_a_bad_gguf_entry_is_an_option_error_that_says_what_to_give(
    tmp_path: Path, entry: str, message: str
) -> None:
    with pytest.raises(OptionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_gguf([entry], tmp_path)
