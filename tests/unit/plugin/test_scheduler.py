"""The xdist scheduler, driven as xdist's controller drives it, with stand-in workers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

pytest.importorskip("xdist")

from pytest_llmbench.execution.distribute import Distribution
from pytest_llmbench.plugin.scheduler import LLMBenchScheduling, ModelScheduling, make_scheduler

PROVIDERS = ("fake", "ollama")


class Gateway:
    def __init__(self, name: str) -> None:
        self.id = name


class Worker:
    """What a scheduler uses of xdist's WorkerController."""

    def __init__(self, name: str) -> None:
        self.gateway = Gateway(name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: Sequence[int]) -> None:
        self.sent.extend(indices)

    def send_runtest_all(self) -> None:
        raise AssertionError("not used by these schedulers")

    def shutdown(self) -> None:
        self.shutting_down = True

    def __repr__(self) -> str:
        return self.gateway.id


def case_ids(models: Sequence[str], cases: int = 3) -> list[str]:
    return [f"evals/g.yaml::t::C{i}[{m}]" for m in models for i in range(1, cases + 1)]


def start(
    sched: Any, workers: int, ids: list[str]
) -> tuple[list[Worker], Callable[[Worker], list[str]]]:
    nodes = [Worker(f"gw{i}") for i in range(workers)]
    for node in nodes:
        sched.add_node(node)
    for node in nodes:
        sched.add_node_collection(node, ids)
    sched.schedule()

    def models_of(node: Worker) -> list[str]:
        seen: dict[str, None] = {}
        for index in node.sent:
            seen.setdefault(ids[index].rsplit("[", 1)[1].rstrip("]"))
        return list(seen)

    return nodes, models_of


def finish(sched: Any, node: Worker, count: int | None = None) -> None:
    """The worker reports its oldest pending items as done."""
    done = getattr(node, "done", 0)
    for index in node.sent[done : None if count is None else done + count]:
        sched.mark_test_complete(node, index)
        done += 1
    node.done = done  # type: ignore[attr-defined]


@pytest.fixture
def config(pytester: pytest.Pytester) -> Callable[..., pytest.Config]:
    def make(workers: int, dist: str = "load") -> pytest.Config:
        return pytester.parseconfig(f"--tx={workers}*popen", f"--dist={dist}")

    return make


def test_each_model_goes_to_one_worker(config: Callable[..., pytest.Config]) -> None:
    sched = ModelScheduling(config(2), providers=PROVIDERS)
    ids = case_ids(["fake/a", "fake/b", "fake/c"], cases=4)
    nodes, models_of = start(sched, 2, ids)
    while sched.has_pending:
        for node in nodes:
            finish(sched, node)
    placed = [models_of(node) for node in nodes]
    assert sorted(m for ms in placed for m in ms) == ["fake/a", "fake/b", "fake/c"]
    assert sorted(len(node.sent) for node in nodes) == [4, 8]  # every item once


def test_workers_spread_over_hosts_one_model_per_host_at_a_time(
    config: Callable[..., pytest.Config],
) -> None:
    # by name, host a's two models come first: xdist's own order would put two
    # workers on host a (and none on c and d)
    hosts = {f"ollama/{h}{i}": f"http://{h}" for h in "abcd" for i in (1, 2)}
    sched = ModelScheduling(config(4), providers=PROVIDERS, hosts=lambda: hosts)
    nodes, models_of = start(sched, 4, case_ids(sorted(hosts)))
    assert [models_of(node) for node in nodes] == [
        ["ollama/a1"],
        ["ollama/b1"],
        ["ollama/c1"],
        ["ollama/d1"],
    ]
    # gw2 is nearly done: it takes the next model of a host no one else is on, its own
    finish(sched, nodes[2], 2)
    assert models_of(nodes[2]) == ["ollama/c1", "ollama/c2"]
    finish(sched, nodes[0], 2)
    assert models_of(nodes[0]) == ["ollama/a1", "ollama/a2"]


def test_a_crashed_item_is_not_run_again_the_rest_of_its_model_is(
    config: Callable[..., pytest.Config],
) -> None:
    sched = ModelScheduling(config(2), providers=PROVIDERS)
    ids = case_ids(["fake/a", "fake/b"], cases=4)
    nodes, _ = start(sched, 2, ids)
    first, second = nodes
    finish(sched, first, 1)  # C1 of fake/a done; it dies running C2
    crashed = sched.remove_node(first)
    assert crashed == "evals/g.yaml::t::C2[fake/a]"
    replacement = Worker("gw2")
    sched.add_node(replacement)
    sched.add_node_collection(replacement, ids)
    sched.schedule()
    assert [ids[i] for i in replacement.sent] == [
        "evals/g.yaml::t::C3[fake/a]",
        "evals/g.yaml::t::C4[fake/a]",
    ]
    finish(sched, replacement)
    finish(sched, second)
    assert not sched.has_pending
    assert sched.remove_node(replacement) is None


def test_plain_tests_keep_xdist_scheduling(config: Callable[..., pytest.Config]) -> None:
    said: list[list[str]] = []
    ids = [f"tests/test_x.py::test_{i}" for i in range(6)]
    sched = make_scheduler(
        config(2),
        None,
        mode="model",
        providers=PROVIDERS,
        hosts=dict,
        distribution=Distribution(),
        report=said.append,
    )
    nodes, _ = start(sched, 2, ids)
    assert type(sched.active).__name__ == "LoadScheduling"
    sent = [i for node in nodes for i in node.sent]
    assert all(node.sent for node in nodes)
    assert sorted(sent + sched.active.pending) == list(range(6))
    assert said == []  # nothing of ours to report


def test_mixed_run_groups_models_and_leaves_plain_tests_alone(
    config: Callable[..., pytest.Config],
) -> None:
    said: list[list[str]] = []
    ids = [*case_ids(["fake/a", "fake/b"]), "tests/test_x.py::test_1", "tests/test_x.py::test_2"]
    dist = Distribution()
    sched = make_scheduler(
        config(2),
        None,
        mode="model",
        providers=PROVIDERS,
        hosts=dict,
        distribution=dist,
        report=said.append,
    )
    start(sched, 2, ids)
    assert isinstance(sched, LLMBenchScheduling)
    assert isinstance(sched.active, ModelScheduling)
    assert sched.active._split_scope("tests/test_x.py::test_1") == "tests/test_x.py::test_1"
    assert said == [
        [
            "llmbench: xdist: 2 model(s) on 2 worker(s), each model's items on one worker "
            "(pytest-llmbench scheduler: one unit per model, hosts spread)"
        ]
    ]
    assert dist.check is not None
    assert dist.check.grouped


@pytest.mark.parametrize(
    ("mode", "dist", "hint"),
    [
        ("xdist", "load", "drop --llm-dist=xdist to keep each model on one worker"),
        (
            "xdist",
            "loadgroup",
            "drop --llm-dist=xdist to keep each model on one worker; "
            "--dist loadgroup does not group on pytest 9.2 (pytest-xdist#1386)",
        ),
        ("model", "worksteal", "leave --dist out (or use --dist load) to keep each model"),
    ],
)
def test_a_schedule_that_splits_models_is_reported_at_start(
    config: Callable[..., pytest.Config], mode: str, dist: str, hint: str
) -> None:
    said: list[list[str]] = []
    sched = make_scheduler(
        config(2, dist),
        None,
        mode=mode,
        providers=PROVIDERS,
        hosts=dict,
        distribution=Distribution(),
        report=said.append,
    )
    start(sched, 2, case_ids(["fake/a", "fake/b"]))
    (lines,) = said
    assert lines[0] == (
        f"llmbench: xdist: WARNING: xdist --dist {dist} does not keep a model on one worker: "
        "2 of 2 model(s) may be loaded by several workers at once (fake/a, fake/b)"
    )
    assert lines[1].startswith(f"llmbench: xdist: {hint}")
