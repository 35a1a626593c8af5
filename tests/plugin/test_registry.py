"""The champion registry: writing it, best_model(), and --llm-models=registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench import best_model
from pytest_llmbench.storage.champions import (
    Evidence,
    RegistryEntry,
    load_registry,
    registry_text,
)

NO_BENCHMARK = ("-p", "no:benchmark")


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


# --------------------------------------------------------------------------- the options


def test_update_registry_option_writes_the_file(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=fake", *NO_BENCHMARK, "--llm-update-registry")
    path = suite.path / "llmbench-registry.yaml"
    result.stdout.fnmatch_lines([f"llmbench: registry {path} updated: grading"])
    entry = load_registry(path)["grading"]
    assert entry.models == ["fake/right", "fake/slowright"]
    assert entry.champion.correct == entry.champion.total == 2
    assert entry.champion.run is not None
    assert best_model("grading", path) == "fake/right"
    assert entry.case_file == "evals/grading.yaml"
    other = suite.path / "custom" / "reg.yaml"
    suite.runpytest(
        "evals", "--llm-models=fake/slowright", *NO_BENCHMARK, f"--llm-update-registry={other}"
    )
    assert load_registry(other)["grading"].models == ["fake/slowright"]
    assert load_registry(other)["grading"].case_file == "../evals/grading.yaml"


def test_update_registry_leaves_a_task_without_champion_alone(suite: pytest.Pytester) -> None:
    write(suite.path / "llmbench-registry.yaml", {"grading": ("fake/right", None)})
    result = suite.runpytest(
        "evals", "--llm-models=fake/lenient", *NO_BENCHMARK, "--llm-update-registry"
    )
    result.stdout.fnmatch_lines(
        ["llmbench: registry kept the previous entry of grading (no model qualified)"]
    )
    assert load_registry(suite.path / "llmbench-registry.yaml")["grading"].models == ["fake/right"]


def collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if "::" in line]


def test_models_registry_runs_champion_and_runner_up_per_task(suite: pytest.Pytester) -> None:
    other = (suite.path / "evals" / "grading.yaml").read_text().replace("grading", "other")
    (suite.path / "evals" / "other.yaml").write_text(other)
    write(
        suite.path / "llmbench-registry.yaml",
        {"grading": ("fake/slowright", "fake/right"), "other": ("fake/strict", None)},
    )
    result = suite.runpytest("evals", "--collect-only", "-q", "--llm-models=registry")
    assert collected(result) == [
        "evals/grading.yaml::grading::GRADE_PASS_001[fake/slowright]",
        "evals/grading.yaml::grading::GRADE_FAIL_001[fake/slowright]",
        "evals/grading.yaml::grading::GRADE_PASS_001[fake/right]",
        "evals/grading.yaml::grading::GRADE_FAIL_001[fake/right]",
        "evals/other.yaml::other::GRADE_PASS_001[fake/strict]",
        "evals/other.yaml::other::GRADE_FAIL_001[fake/strict]",
    ]
    header = suite.runpytest("evals", "--collect-only", "--llm-models=registry")
    header.stdout.fnmatch_lines(
        [
            "llmbench: 3 model(s): fake/slowright, fake/right, fake/strict",
            "llmbench: registry: grading: fake/slowright, fake/right",
            "llmbench: registry: other: fake/strict",
        ]
    )


def test_models_registry_with_a_challenger(suite: pytest.Pytester) -> None:
    write(suite.path / "llmbench-registry.yaml", {"grading": ("fake/slowright", None)})
    result = suite.runpytest("evals", "--collect-only", "-q", "--llm-models=registry,fake/lenient")
    assert [line.split("[")[1] for line in collected(result)] == [
        "fake/slowright]",
        "fake/slowright]",
        "fake/lenient]",
        "fake/lenient]",
    ]


def test_models_registry_runs_and_ranks(suite: pytest.Pytester) -> None:
    write(suite.path / "llmbench-registry.yaml", {"grading": ("fake/slowright", "fake/right")})
    result = suite.runpytest("evals", "--llm-models=registry", *NO_BENCHMARK)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["Champion:  fake/right*", "Runner-up: fake/slowright*"])


def test_models_registry_notes_what_it_cannot_run(suite: pytest.Pytester) -> None:
    other = (suite.path / "evals" / "grading.yaml").read_text().replace("grading", "other")
    (suite.path / "evals" / "other.yaml").write_text(other)
    write(
        suite.path / "llmbench-registry.yaml",
        {"grading": ("fake/retired", "nowhere/model")},
    )
    result = suite.runpytest("evals", "--collect-only", "--llm-models=registry")
    result.stdout.fnmatch_lines(
        [
            "llmbench: registry: grading: none",
            "llmbench: registry: other: none",
            "llmbench: registry: grading: fake/retired left out: not available",
            "llmbench: registry: grading: nowhere/model left out: no provider 'nowhere'",
            "llmbench: registry: task other has no entry in llmbench-registry.yaml: "
            "no model to run",
        ]
    )
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_models_registry_without_a_registry_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = suite.runpytest("evals", "--llm-models=registry")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: --llm-models=registry: no registry at {suite.path / 'llmbench-registry.yaml'}"
            "; write one with --llm-update-registry (or name it with --llm-registry PATH)"
        ]
    )
    write(suite.path / "elsewhere.yaml", {"grading": ("fake/right", None)})
    named = suite.runpytest(
        "evals", "--llm-models=registry", "--llm-registry=elsewhere.yaml", *NO_BENCHMARK
    )
    named.assert_outcomes(passed=2)


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


def test_new_runs_only_the_model_the_history_lacks_and_it_takes_the_champions_place(
    suite: pytest.Pytester,
) -> None:
    first = suite.runpytest(
        "evals", "--llm-models=fake/slowright,fake/lenient", *NO_BENCHMARK, "--llm-update-registry"
    )
    first.assert_outcomes(passed=3, failed=1)
    registry = suite.path / "llmbench-registry.yaml"
    assert load_registry(registry)["grading"].champion.model == "fake/slowright"

    models = "--llm-models=new,fake/slowright,fake/lenient,fake/right"
    second = suite.runpytest("evals", models, *NO_BENCHMARK, "--llm-update-registry")
    second.assert_outcomes(passed=2)  # fake/right only: the history holds the other two
    second.stdout.fnmatch_lines(
        [
            "llmbench: 1 model(s): fake/right",
            "llmbench: new: grading: 2 model(s) benchmarked on its current prompt: "
            "fake/slowright, fake/lenient",
            "llmbench: registry * updated: grading",
        ]
    )
    entry = load_registry(registry)["grading"]
    assert entry.champion.model == "fake/right"
    assert entry.runner_up is not None
    assert entry.runner_up.model == "fake/slowright"  # the old champion, no runner-up before
    assert entry.why is not None
    assert entry.why.startswith("fake/right replaced fake/slowright as champion in run ")

    # Nothing new: the session passes and says so.
    third = suite.runpytest("evals", models, *NO_BENCHMARK, "--llm-update-registry")
    assert third.ret == 0
    third.stdout.fnmatch_lines(
        ["llmbench: new: grading: no new model (3 benchmarked on its current prompt)"]
    )
    third.stdout.fnmatch_lines(["llmbench: no new model for any task; nothing to benchmark"])

    # A changed prompt makes every model new again.
    grading = suite.path / "evals" / "grading.yaml"
    grading.write_text(grading.read_text().replace("Answer PASS or FAIL.", "Say PASS or FAIL."))
    fourth = suite.runpytest("evals", models, *NO_BENCHMARK)
    fourth.assert_outcomes(passed=5, failed=1)
    fourth.stdout.fnmatch_lines(["llmbench: new: grading: no model benchmarked on its *"])
