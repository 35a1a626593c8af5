"""Unit tests for the selection rules (pytest_llmbench.selection.rules), models.choose and
--llm-models=registry (selection.registry)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_llmbench.providers.base import Discovery, ModelInfo
from pytest_llmbench.selection.registry import registered_models
from pytest_llmbench.selection.rules import (
    LeftOut,
    Rules,
    SizeError,
    format_size,
    leave_out_reason,
    parse_size,
)
from pytest_llmbench.selection.spec import SelectionError, choose

GB = 1000**3


def ollama(
    name: str,
    *,
    size: float | None = 4.7,
    family: str | None = None,
    families: list[str] | None = None,
    caps: list[str] | None = None,
) -> ModelInfo:
    details: dict[str, Any] = {"families": families or ([family] if family else None)}
    if caps is not None:
        details["capabilities"] = caps
    return ModelInfo(
        "ollama",
        name,
        size_bytes=int(size * GB) if size is not None else None,
        family=family,
        details=details,
    )


QWEN = ollama("qwen2.5:7b", family="qwen2", caps=["completion", "tools"])
LLAMA = ollama("llama3.2:3b", size=2.0, family="llama", caps=["completion", "tools"])
GEMMA3 = ollama("gemma3:4b", size=3.3, family="gemma3", caps=["completion", "vision"])
NOMIC = ollama("nomic-embed-text:latest", size=0.27, family="nomic-bert", caps=["embedding"])
CODER = ollama("qwen2.5-coder:7b", family="qwen2", caps=["completion", "insert"])
STARCODER = ollama("sc2:3b", family="starcoder2", caps=["completion"])
LLAVA = ollama("llava:7b", family="llama", families=["llama", "clip"], caps=["completion"])
BIG = ollama("llama3.1:70b", size=42.5, family="llama", caps=["completion"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8GB", 8 * GB),
        ("8gb", 8 * GB),
        ("500MB", 500_000_000),
        ("7.5G", 7_500_000_000),
        (" 8 GB ", 8 * GB),
        ("1.5TB", 1_500_000_000_000),
        ("8GiB", 8 * 1024**3),
        ("512MiB", 512 * 1024**2),
        ("100B", 100),
    ],
)
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "8", "eight GB", "8XB", "-1GB", "0GB", "8 G B"])
def test_parse_size_refuses_bad_values(text: str) -> None:
    with pytest.raises(SizeError, match="expected a size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (9_100_000_000, "9.1 GB"),
        (4_683_087_332, "4.7 GB"),
        (274_302_450, "274 MB"),
        (42_500_000_000, "42.5 GB"),
        (999, "999 B"),
    ],
)
def test_format_size_like_ollama(size: int, text: str) -> None:
    assert format_size(size) == text


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (QWEN, None),
        (LLAMA, None),
        (GEMMA3, None),  # vision *and* completion: a general model, kept
        (NOMIC, "embedding-only"),
        (CODER, "code-only (name matches *coder*)"),
        (STARCODER, "code-only (family matches *coder*)"),
        (LLAVA, "vision-only (name matches llava*)"),
        (
            ollama("granite3.2-vision:2b", caps=["completion", "vision"]),
            "vision-only (name matches *-vision*)",
        ),
        (ollama("x:1b", family="mllama"), "vision-only (family matches mllama)"),
        (ollama("mxbai-embed-large:latest"), "embedding-only (name matches *embed*)"),
        (ollama("codellama:7b", family="llama"), "code-only (name matches *code*)"),
    ],
)
def test_default_rules(model: ModelInfo, reason: str | None) -> None:
    assert leave_out_reason(model, Rules()) == reason


def test_capabilities_win_over_name_patterns_for_embeddings() -> None:
    # the server says it can complete: the name is not the last word
    assert leave_out_reason(ollama("embedder-chat:1b", caps=["completion"]), Rules()) is None
    # no capabilities known: the name decides
    assert leave_out_reason(ollama("embedder-chat:1b"), Rules()) == (
        "embedding-only (name matches *embed*)"
    )


def test_max_size() -> None:
    rules = Rules(max_size_bytes=8 * GB, max_size_text="8GB")
    assert leave_out_reason(BIG, rules) == "over --llm-max-size 8GB (42.5 GB)"
    assert leave_out_reason(ollama("a:9b", size=9.1), rules) == "over --llm-max-size 8GB (9.1 GB)"
    assert leave_out_reason(ollama("a:8b", size=8.0), rules) is None  # not over
    assert leave_out_reason(ollama("a:?b", size=None), rules) is None  # unknown: kept


def test_exclude_globs_match_id_or_name() -> None:
    assert leave_out_reason(QWEN, Rules(exclude=("qwen*",))) == "excluded by --llm-exclude 'qwen*'"
    assert leave_out_reason(QWEN, Rules(exclude=("ollama/*:7b",))) == (
        "excluded by --llm-exclude 'ollama/*:7b'"
    )
    assert leave_out_reason(QWEN, Rules(exclude=("llama*",))) is None


def test_patterns_are_configurable() -> None:
    rules = Rules(code_patterns=("sc2*",), vision_patterns=())
    assert leave_out_reason(CODER, rules) is None
    assert leave_out_reason(STARCODER, rules) == "code-only (name matches sc2*)"
    assert leave_out_reason(LLAVA, rules) is None


SERVER = {
    "ollama": Discovery((QWEN, CODER, NOMIC, LLAMA, LLAVA, BIG)),
    "llamacpp": Discovery((ModelInfo("llamacpp", "smollm2-135m"),)),
}
RULES = Rules(max_size_bytes=8 * GB, max_size_text="8GB", exclude=("*smollm*",))


def test_choose_applies_the_rules_to_wide_entries_with_reasons() -> None:
    selection = choose(["all"], SERVER, RULES)
    assert [m.id for m in selection.models] == ["ollama/qwen2.5:7b", "ollama/llama3.2:3b"]
    assert [d.describe() for d in selection.left_out] == [
        "ollama/qwen2.5-coder:7b: code-only (name matches *coder*)",
        "ollama/nomic-embed-text:latest: embedding-only",
        "ollama/llava:7b: vision-only (name matches llava*)",
        "ollama/llama3.1:70b: over --llm-max-size 8GB (42.5 GB)",
        "llamacpp/smollm2-135m: excluded by --llm-exclude '*smollm*'",
    ]
    assert [m.id for m in choose(["ollama"], SERVER, RULES).models] == [
        "ollama/qwen2.5:7b",
        "ollama/llama3.2:3b",
    ]
    glob = choose(["ollama/qwen*"], SERVER, RULES)
    assert [m.id for m in glob.models] == ["ollama/qwen2.5:7b"]
    assert glob.left_out == (LeftOut(CODER, "code-only (name matches *coder*)"),)


def test_choose_keeps_a_model_named_exactly() -> None:
    selection = choose(["all", "ollama/qwen2.5-coder:7b", "ollama/llama3.1:70b"], SERVER, RULES)
    ids = [m.id for m in selection.models]
    assert "ollama/qwen2.5-coder:7b" in ids
    assert "ollama/llama3.1:70b" in ids
    assert "ollama/qwen2.5-coder:7b" not in [d.model.id for d in selection.left_out]


def test_choose_finds_the_latest_tag_of_a_bare_name() -> None:
    found = choose(["ollama/nomic-embed-text"], SERVER, RULES)
    assert [m.id for m in found.models] == ["ollama/nomic-embed-text:latest"]


def test_choose_when_the_rules_leave_nothing() -> None:
    with pytest.raises(SelectionError) as info:
        choose(["ollama/*coder*", "ollama/nomic*"], SERVER, RULES)
    assert str(info.value) == "\n".join(
        [
            "no model left to benchmark: the selection rules left out every model:",
            "  ollama/qwen2.5-coder:7b: code-only (name matches *coder*)",
            "  ollama/nomic-embed-text:latest: embedding-only",
        ]
    )


def test_registered_models_keeps_those_a_provider_offers_now() -> None:
    asked: list[str] = []

    def discover(provider: str) -> Discovery:
        asked.append(provider)
        if provider == "ollama":
            return Discovery(models=(ollama("a"),))
        return Discovery(problem="server down")

    found, notes = registered_models(
        "grading", ["ollama/a", "gone/b", "openai/c", "ollama/d"], ["ollama", "openai"], discover
    )
    assert [m.id for m in found] == ["ollama/a"]
    assert notes == [
        "registry: grading: gone/b left out: no provider 'gone'",
        "registry: grading: openai/c left out: not available (server down)",
        "registry: grading: ollama/d left out: not available",
    ]
    assert asked == ["ollama", "openai", "ollama"]


def test_registered_models_of_a_task_without_entry() -> None:
    found, notes = registered_models("t", None, ["ollama"], lambda p: Discovery(), source="r.yaml")
    assert found == []
    assert notes == ["registry: task t has no entry in r.yaml: no model to run"]
