"""storage/champions.py: the registry file, its updates, and best_model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmbench import best_model
from pytest_llmbench.analysis.ranking import rank_strict, rank_task
from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage.champions import (
    Evidence,
    RegistryEntry,
    RegistryError,
    load_registry,
    registry_text,
    update_registry,
)
from tests.support import factories


def res(task: str, model: str, case: str, correct: bool, latency: float) -> Result:
    return factories.result(
        model,
        case,
        task=task,
        got="PASS" if correct else "FAIL",
        correct=correct,
        latency_ms=latency,
    )


def ranking(task: str, *standings: tuple[str, bool, float]) -> Any:
    return rank_strict(
        task, [res(task, m, c, ok, ms) for m, ok, ms in standings for c in ("C1", "C2")]
    )


RUN = {"id": "20250101T120000Z-abcdef", "started_at": "2025-01-01T12:00:00+00:00"}


def test_update_writes_champion_and_runner_up_with_evidence(tmp_path: Path) -> None:
    path = tmp_path / "llmbench-registry.yaml"
    run = {**RUN, "git_commit": "0123abcd"}
    grading = ranking("grading", ("p/fast", True, 100.0), ("p/slow", True, 300.0))
    updated, kept = update_registry(path, [grading], run)
    assert (updated, kept) == (["grading"], [])
    text = path.read_text()
    assert text.startswith("# pytest-llmbench champion registry")
    assert yaml.safe_load(text) == {
        "version": 1,
        "tasks": {
            "grading": {
                "champion": {
                    "model": "p/fast",
                    "correct": 2,
                    "total": 2,
                    "mean_ms": 100.0,
                    "p95_ms": 100.0,
                    "run": "20250101T120000Z-abcdef",
                    "date": "2025-01-01",
                    "git_commit": "0123abcd",
                },
                "runner_up": {
                    "model": "p/slow",
                    "correct": 2,
                    "total": 2,
                    "mean_ms": 300.0,
                    "p95_ms": 300.0,
                    "run": "20250101T120000Z-abcdef",
                    "date": "2025-01-01",
                    "git_commit": "0123abcd",
                },
            }
        },
    }


def test_the_ranking_latency_is_recorded_with_the_evidence(tmp_path: Path) -> None:
    """Ranked by another latency than the mean: which one, and the model's figure."""
    path = tmp_path / "llmbench-registry.yaml"
    results = [
        factories.result(model, case, latency_ms=latency, ttft_ms=ttft)
        for model, latency, ttft in (("p/reader", 300.0, 40.0), ("p/writer", 100.0, 90.0))
        for case in ("C1", "C2")
    ]
    update_registry(path, [rank_task("grading", results, latency="ttft_p95")], RUN)
    entry = yaml.safe_load(path.read_text())["tasks"]["grading"]
    assert (entry["champion"]["model"], entry["champion"]["latency"]) == ("p/reader", "ttft_p95")
    assert entry["champion"]["latency_ms"] == 40.0
    assert entry["runner_up"]["latency_ms"] == 90.0
    loaded = load_registry(path)["grading"].champion
    assert (loaded.latency, loaded.latency_ms) == ("ttft_p95", 40.0)
    update_registry(path, [rank_task("grading", results)], RUN)  # the mean: nothing more
    assert "latency" not in yaml.safe_load(path.read_text())["tasks"]["grading"]["champion"]


def write(path: Path, entries: dict[str, tuple[str, str | None]]) -> Path:
    path.write_text(
        registry_text(
            {
                task: RegistryEntry(
                    task,
                    Evidence(champion, 2, 2, 100.0),
                    Evidence(runner, 2, 2, 200.0) if runner else None,
                )
                for task, (champion, runner) in entries.items()
            }
        )
    )
    return path


def test_update_keeps_other_tasks_and_tasks_without_a_qualifier(tmp_path: Path) -> None:
    path = write(tmp_path / "r.yaml", {"grading": ("p/old", "p/older"), "other": ("p/x", None)})
    grading = ranking("grading", ("p/bad", False, 10.0))
    extraction = ranking("extraction", ("p/only", True, 50.0))
    updated, kept = update_registry(path, [grading, extraction], RUN)
    assert (updated, kept) == (["extraction"], ["grading"])
    entries = load_registry(path)
    assert entries["grading"].models == ["p/old", "p/older"]
    assert entries["other"].models == ["p/x"]
    assert entries["extraction"].models == ["p/only"]
    assert entries["extraction"].runner_up is None


def entry(champion: tuple[str, float], runner_up: tuple[str, float] | None) -> RegistryEntry:
    def evidence(model: str, ms: float) -> Evidence:
        return Evidence(model, 2, 2, ms, run="run-1")

    return RegistryEntry(
        task="grading",
        champion=evidence(*champion),
        runner_up=evidence(*runner_up) if runner_up else None,
        case_file="evals/grading.yaml",
        fallbacks=("p/spare",),
    )


def test_case_file_is_recorded_relative_to_the_registry_and_fallbacks_are_kept(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config" / "llmbench-registry.yaml"
    path.parent.mkdir()
    path.write_text(
        "version: 1\ntasks:\n  grading:\n    champion: {model: p/old}\n"
        "    fallbacks: [p/spare, p/last]\n"
    )
    assert load_registry(path)["grading"].case_file is None
    case_file = tmp_path / "evals" / "grading.yaml"
    grading = ranking("grading", ("p/fast", True, 100.0), ("p/slow", True, 300.0))
    update_registry(path, [grading], RUN, {"grading": case_file})
    raw = yaml.safe_load(path.read_text())["tasks"]["grading"]
    assert list(raw) == ["case_file", "champion", "runner_up", "fallbacks"]
    assert raw["case_file"] == "../evals/grading.yaml"
    assert raw["fallbacks"] == ["p/spare", "p/last"]
    entry = load_registry(path)["grading"]
    assert entry.case_path(path) == path.parent / "../evals/grading.yaml"
    assert entry.models == ["p/fast", "p/slow"]
    assert entry.chain == ["p/fast", "p/slow", "p/spare", "p/last"]
    # a later run that does not name the case file keeps the recorded one
    update_registry(path, [grading], RUN)
    assert load_registry(path)["grading"].case_file == "../evals/grading.yaml"


def test_best_model_goes_on_to_the_fallbacks(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "tasks:\n  grading:\n    champion: {model: p/a}\n    runner_up: {model: p/b}\n"
        "    fallbacks: [p/b, p/c]\n"
    )
    assert load_registry(path)["grading"].chain == ["p/a", "p/b", "p/c"]
    assert best_model("grading", path, available={"p/c"}) == "p/c"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tasks: {t: {champion: {model: a}, fallbacks: b}}", "t.fallbacks: expected a list"),
        ("tasks: {t: {champion: {model: a}, case_file: [x]}}", "t.case_file: expected a path"),
        ("tasks: [1, 2]", "expected 'version' and a 'tasks' mapping"),
        ("version: 9\ntasks: {}", "has version 9"),
        ("tasks: {grading: {runner_up: {model: a}}}", "tasks.grading: expected a mapping with"),
        ("tasks: {grading: {champion: {correct: 1}}}", "tasks.grading.champion: expected"),
        ("tasks: {grading: {champion: [", "not valid YAML"),
    ],
)
def test_bad_registry_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=re.escape(message)):
        load_registry(path)


def test_best_model_is_the_champion_else_the_runner_up(tmp_path: Path) -> None:
    path = write(tmp_path / "r.yaml", {"grading": ("ollama/big:7b", "ollama/small:3b")})
    assert best_model("grading", path) == "ollama/big:7b"
    assert best_model("grading", path, available={"ollama/big:7b", "x/y"}) == "ollama/big:7b"
    assert best_model("grading", path, available=["ollama/small:3b"]) == "ollama/small:3b"
    assert best_model("grading", str(path), available=lambda m: m.endswith(":3b")) == (
        "ollama/small:3b"
    )
    with pytest.raises(RegistryError, match="neither model registered for 'grading'"):
        best_model("grading", path, available=set())
    with pytest.raises(LookupError, match="task 'nope' is not in registry"):
        best_model("nope", path)


def test_best_model_finds_the_registry_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "llmbench-registry.yaml", {"grading": ("p/a", None)})
    below = tmp_path / "src" / "app"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    assert best_model("grading") == "p/a"
    monkeypatch.chdir(tmp_path.parent)
    if not (tmp_path.parent / "llmbench-registry.yaml").exists():
        with pytest.raises(RegistryError, match=re.escape("no llmbench-registry.yaml")):
            best_model("grading")
