"""Rankings that update themselves (issue 14, part 5): ``--llm-models=new`` and the
registry's replacement rules (acceptance 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pytest_llmbench.analysis.ranking import TaskRanking, rank_strict
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.selection.newcomers import newcomers
from pytest_llmbench.storage.champions import (
    Evidence,
    RegistryEntry,
    load_registry,
    registry_text,
)
from pytest_llmbench.storage.succession import admit_newcomers, succeed

RUN = {"id": "run-2", "started_at": "2025-02-01T03:00:00+00:00"}

# --------------------------------------------------------------------------- selection


def info(model_id: str) -> ModelInfo:
    provider, name = model_id.split("/", 1)
    return ModelInfo(provider=provider, name=name)


def test_a_model_is_known_when_the_history_has_it_on_every_current_case() -> None:
    candidates = [info("p/a"), info("p/b"), info("p/c")]
    history = {"p/a": {"h1", "h2"}, "p/b": {"h1", "old"}, "p/x": {"h1", "h2"}}
    found, notes = newcomers("grading", candidates, history, ["h1", "h2"])
    assert [m.id for m in found] == ["p/b", "p/c"]  # b lacks case 2 as it is now
    assert notes == ["new: grading: 1 model(s) benchmarked on its current prompt: p/a"]
    found, notes = newcomers("grading", candidates[:1], history, ["h1", "h2"])
    assert found == []
    assert notes == ["new: grading: no new model (1 benchmarked on its current prompt)"]


# --------------------------------------------------------------------------- the rules


def standing_ranking(*models: tuple[str, bool, float], task: str = "grading") -> TaskRanking:
    results = [
        Result(task, case, model, 1, "PASS", "PASS", ok or case == "C1", "", ms)
        for model, ok, ms in models
        for case in ("C1", "C2")
    ]
    return rank_strict(task, results)


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


def test_a_newcomer_that_beats_the_champion_replaces_it_and_the_old_champion_is_runner_up_when_faster() -> (  # noqa: E501
    None
):
    before = entry(("p/champ", 300.0), ("p/second", 500.0))
    after = succeed(before, standing_ranking(("p/new", True, 200.0)), RUN)
    assert after is not None
    assert (after.champion.model, after.champion.mean_ms, after.champion.run) == (
        "p/new",
        200.0,
        "run-2",
    )
    assert after.runner_up == before.champion  # faster than the old runner-up: moves down
    assert (after.case_file, after.fallbacks) == ("evals/grading.yaml", ("p/spare",))
    assert after.why == (
        "p/new replaced p/champ as champion in run run-2 (200 ms mean against 300 ms mean, "
        "2/2 correct); p/champ became runner-up (300 ms mean, faster than p/second)"
    )


def test_the_old_runner_up_stays_when_faster_than_the_old_champion() -> None:
    # a registry written by hand (or under the weighted policy): runner-up faster
    before = entry(("p/champ", 300.0), ("p/second", 250.0))
    after = succeed(before, standing_ranking(("p/new", True, 200.0)), RUN)
    assert after is not None
    assert (after.champion.model, after.runner_up) == ("p/new", before.runner_up)
    assert after.why is not None
    assert after.why.startswith("p/new replaced p/champ as champion")


def test_a_newcomer_between_champion_and_runner_up_takes_the_runner_up_place() -> None:
    before = entry(("p/champ", 300.0), ("p/second", 500.0))
    after = succeed(before, standing_ranking(("p/new", True, 400.0)), RUN)
    assert after is not None
    assert after.champion == before.champion
    assert after.runner_up is not None
    assert after.runner_up.model == "p/new"
    assert after.why == (
        "p/new replaced p/second as runner-up in run run-2 (400 ms mean against "
        "500 ms mean, 2/2 correct)"
    )


@pytest.mark.parametrize(
    ("newcomer", "why"),
    [(("p/new", True, 900.0), "slower"), (("p/new", False, 10.0), "wrong on a case")],
)
def test_a_slower_or_wrong_newcomer_changes_nothing(
    newcomer: tuple[str, bool, float], why: str
) -> None:
    before = entry(("p/champ", 300.0), ("p/second", 500.0))
    assert succeed(before, standing_ranking(newcomer), RUN) is before, why


def test_without_an_entry_the_newcomers_champion_and_runner_up_are_registered() -> None:
    after = succeed(None, standing_ranking(("p/a", True, 200.0), ("p/b", True, 100.0)), RUN)
    assert after is not None
    assert (after.champion.model, after.runner_up and after.runner_up.model) == ("p/b", "p/a")
    assert after.why == (
        "p/b became champion in run run-2 (100 ms mean); p/a became runner-up in run run-2 "
        "(200 ms mean)"
    )
    assert succeed(None, standing_ranking(("p/a", False, 200.0)), RUN) is None


def test_the_registry_file_records_why(tmp_path: Path) -> None:
    path = tmp_path / "llmbench-registry.yaml"
    path.write_text(registry_text({"grading": entry(("p/champ", 300.0), None)}))
    updated, kept = admit_newcomers(
        path,
        [
            standing_ranking(("p/new", True, 100.0)),
            standing_ranking(("p/slow", True, 900.0), task="other"),
        ],
        RUN,
    )
    assert (updated, kept) == (["grading", "other"], [])
    data = yaml.safe_load(path.read_text())
    assert data["tasks"]["grading"]["why"].startswith("p/new replaced p/champ as champion")
    assert data["tasks"]["grading"]["runner_up"]["model"] == "p/champ"
    assert load_registry(path)["grading"].why == data["tasks"]["grading"]["why"]
    updated, kept = admit_newcomers(path, [standing_ranking(("p/late", True, 950.0))], RUN)
    assert (updated, kept) == ([], ["grading"])


# --------------------------------------------------------------------------- the plugin
