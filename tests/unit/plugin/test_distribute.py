"""The pure part of parallel runs: node ids, host assignment, unit choice, checks, records."""

from __future__ import annotations

from collections import Counter

import pytest

from pytest_llmbench.execution.distribute import (
    CaseId,
    Crash,
    Distribution,
    check_grouping,
    parse_case_id,
    pick_unit,
)
from pytest_llmbench.execution.results import Result
from pytest_llmbench.providers.hosts import assign_hosts
from tests.support import factories

PROVIDERS = ("fake", "ollama")


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        (
            "evals/grading.yaml::grading::GRADE_PASS_001[fake/right]",
            CaseId("evals/grading.yaml", "grading", "GRADE_PASS_001", "fake/right", 1),
        ),
        (
            "evals/g.yml::grading::C.1-x[ollama/qwen2.5:7b-rep3]",
            CaseId("evals/g.yml", "grading", "C.1-x", "ollama/qwen2.5:7b", 3),
        ),
        # --dist loadgroup's suffix, once xdist adds it again (pytest-xdist#1386)
        (
            "a/b.yaml::t::C[fake/right-rep2]@fake/right",
            CaseId("a/b.yaml", "t", "C", "fake/right", 2),
        ),
        ("tests/test_x.py::test_a[fake/right]", None),  # not a case file
        ("evals/g.yaml::t::C[other/right]", None),  # not a provider of this run
        ("evals/g.yaml::t::C[right]", None),  # no provider/name
        ("evals/g.yaml::t::Class::C[fake/right]", None),  # not task::case
    ],
)
def test_parse_case_id(nodeid: str, expected: CaseId | None) -> None:
    assert parse_case_id(nodeid, PROVIDERS) == expected


def test_parse_case_id_tells_a_model_named_rep_from_a_repeat() -> None:
    nodeid = "e/g.yaml::t::C[ollama/x-rep2]"
    assert parse_case_id(nodeid, PROVIDERS, {"ollama/x-rep2"}) == CaseId(
        "e/g.yaml", "t", "C", "ollama/x-rep2", 1
    )
    assert parse_case_id(nodeid, PROVIDERS, {"ollama/x"}) == CaseId(
        "e/g.yaml", "t", "C", "ollama/x", 2
    )
    assert parse_case_id(nodeid, None).model == "ollama/x"  # type: ignore[union-attr]


def test_assign_hosts_sends_shared_models_to_the_least_busy_host() -> None:
    hosts = ["http://a", "http://b", "http://c"]
    presence = {
        "only-a": ["http://a"],
        "only-a2": ["http://a"],
        "only-b": ["http://b"],
        "shared1": ["http://a", "http://b", "http://c"],
        "shared2": ["http://a", "http://b", "http://c"],
        "shared3": ["http://b", "http://a"],
    }
    assert assign_hosts(presence, hosts) == {
        "only-a": "http://a",
        "only-a2": "http://a",
        "only-b": "http://b",
        "shared1": "http://c",  # c serves nothing yet
        "shared2": "http://b",  # b and c serve one each: b comes first
        "shared3": "http://a",  # a, b serve two each: a comes first in the host order
    }
    # the same answer whatever order the servers listed things in
    reordered = {name: list(reversed(where)) for name, where in reversed(presence.items())}
    assert assign_hosts(reordered, hosts) == assign_hosts(presence, hosts)


def test_pick_unit_prefers_a_host_nobody_else_uses() -> None:
    assert pick_unit(["a", "a", "b"], Counter({"a": 1})) == 2
    assert pick_unit(["a", None, "b"], Counter({"a": 1})) == 1  # no host: fits anywhere
    assert pick_unit(["a", "b", "b"], Counter({"a": 2, "b": 1})) == 1  # all busy: the least
    assert pick_unit(["a", "b"], Counter()) == 0  # queue order otherwise


def test_check_grouping_finds_models_split_over_units() -> None:
    ids = [
        "e/g.yaml::t::C1[fake/a]",
        "e/g.yaml::t::C2[fake/a]",
        "e/g.yaml::t::C1[fake/b]",
        "tests/test_x.py::test_plain",
    ]

    def parse(nodeid: str) -> CaseId | None:
        return parse_case_id(nodeid, PROVIDERS)

    def scope(nodeid: str) -> str:
        case = parse(nodeid)
        return case.model if case else nodeid

    by_model = check_grouping(ids, scope, parse)
    assert by_model.grouped
    assert by_model.models == {"fake/a": 2, "fake/b": 1}
    one_by_one = check_grouping(ids, None, parse)  # --dist load
    assert one_by_one.split == ("fake/a",)
    assert check_grouping(ids, None, parse, every_worker=True).split == ("fake/a", "fake/b")


def _result(model: str, host: str | None, case: str = "C1") -> Result:
    return factories.result(model, case, task="t", host=host)


def test_distribution_summary_names_split_models_hosts_and_crashes() -> None:
    dist = Distribution(scheduler="xdist --dist load")
    for model, worker in [("ollama/a", "gw0"), ("ollama/a", "gw1"), ("ollama/b", "gw1")]:
        dist.record(model, worker)
    case = parse_case_id("e/g.yaml::t::C2[ollama/b]", PROVIDERS)
    dist.crashes.append(Crash("gw2", "e/g.yaml::t::C2[ollama/b]", "Not properly terminated", case))
    dist.record("ollama/b", "gw2")  # ran C1 before it died: does not make b split
    results = [_result("ollama/a", "http://h1"), _result("ollama/b", "http://h2")]
    lines = dist.summary_lines(results)
    assert lines == [
        "llmbench: xdist: WARNING: 1 model(s) ran on several workers (each loaded it): "
        "ollama/a (gw0, gw1)",
        "llmbench: 2 hosts:",
        "  http://h1: 1 call(s), 1 model(s): ollama/a",
        "  http://h2: 1 call(s), 1 model(s): ollama/b",
        "llmbench: xdist: worker gw2 crashed while running t::C2[ollama/b] "
        "(Not properly terminated); that case counts as an error",
    ]
    doc = dist.to_json()
    assert doc["grouped"] is False
    assert doc["workers"]["gw2"] == {"models": ["ollama/b"], "loaded": []}
    assert doc["crashed"][0]["worker"] == "gw2"


def test_crash_results_use_what_the_workers_said_of_the_task() -> None:
    dist = Distribution(hosts={"ollama/b": "http://h2"})
    case = parse_case_id("e/g.yaml::t::C2[ollama/b-rep3]", PROVIDERS)
    dist.crashes.append(Crash("gw0", "e/g.yaml::t::C2[ollama/b-rep3]", "killed", case))
    facts = {
        "t": {
            "kind": "verdict",
            "pass_label": "PASS",
            "cases": {
                "C2": {
                    "expected": "FAIL",
                    "expected_label": "FAIL",
                    "difficulty": "hard",
                    "prompt_hash": "abc",
                }
            },
        }
    }
    (result,) = dist.crash_results(facts)
    assert (result.task, result.case_id, result.model, result.repeat) == ("t", "C2", "ollama/b", 3)
    assert not result.correct
    assert result.error is not None
    assert "worker gw0 crashed while running this case (killed)" in result.error
    assert result.direction == "error"
    assert (result.kind, result.expected_label, result.difficulty) == ("verdict", "FAIL", "hard")
    assert result.host == "http://h2"
    assert dist.crash_results({})[0].kind == "text"  # nothing known of the task: still a record
