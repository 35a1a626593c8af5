"""Shadow checks through the router, with scripted models: which calls are sampled (a
seeded generator), what each check writes to the feedback log, the bounded queue that
drops and counts, and ``close()`` waiting (with its bound) for the checks pending."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench import Router
from pytest_llmbench.providers.base import ProviderError, Request
from pytest_llmbench.providers.scripted import ScriptedProvider
from pytest_llmbench.router import ShadowOptions
from tests.support.shadow_project import (
    FAIL,
    JUDGE,
    PASS,
    A,
    B,
    C,
    lines,
    project,
    scripted,
)


def shadows(root: Path) -> list[dict[str, Any]]:
    return [line["shadow"] for line in lines(root) if "shadow" in line]


def router(root: Path, provider: ScriptedProvider, extra: str = "", **shadow: Any) -> Router:
    options = ShadowOptions(**shadow) if shadow else None
    return Router.from_registry(project(root, extra), providers=[provider], shadow=options)


# --------------------------------------------------------------------------- sampling


def test_a_seeded_generator_samples_the_share_of_calls_the_rate_says(tmp_path: Path) -> None:
    provider = scripted({A: PASS, B: PASS})
    draws = random.Random(7)
    replay = random.Random(7)
    expected = sum(replay.random() < 0.2 for _ in range(200))
    with router(tmp_path, provider, rate=0.2, random=draws.random) as r:
        for _ in range(200):
            assert r.run("grading", posting="x").value == "PASS"
    checks = shadows(tmp_path)
    assert len(checks) == expected == r.shadow.sampled == r.shadow.checked
    assert 20 <= expected <= 60  # what the seed gives: about one call in five
    assert all(c == {**c, "check": "runner_up", "model": B, "agreed": True} for c in checks)
    assert [m for m, _ in provider.calls].count("b") == expected  # each check asked B once
    assert len(lines(tmp_path)) == 200  # one line per production call, checked or not


def test_the_case_file_turns_shadow_checks_on_and_the_router_overrides_its_rate(
    tmp_path: Path,
) -> None:
    provider = scripted({A: PASS, B: FAIL})
    with router(tmp_path, provider, "shadow: {rate: 1.0}\n") as r:
        r.run("grading", posting="x")
    assert shadows(tmp_path) == [
        {"check": "runner_up", "model": B, "agreed": False, "score": None, "similarity": 0.0}
    ]
    (tmp_path / ".llmbench" / "feedback.jsonl").unlink()
    with router(tmp_path, provider, "shadow: {rate: 1.0}\n", rate=0.0) as r:
        r.run("grading", posting="x")
    assert shadows(tmp_path) == []
    assert r.shadow.sampled == 0


def test_no_shadow_check_without_a_rate(tmp_path: Path) -> None:
    provider = scripted({A: PASS, B: PASS})
    with Router.from_registry(project(tmp_path), providers=[provider]) as r:
        r.run("grading", posting="x")
    assert shadows(tmp_path) == []
    assert [m for m, _ in provider.calls] == ["a"]


# --------------------------------------------------------------------------- the checks


def test_the_consensus_check_asks_until_the_rule_decides(tmp_path: Path) -> None:
    provider = scripted({A: PASS, B: FAIL, C: FAIL})
    with router(tmp_path, provider, "shadow: {rate: 1, check: consensus}\n") as r:
        assert r.run("grading", posting="x").value == "PASS"  # production: the champion
    (check,) = shadows(tmp_path)
    assert check["check"] == "consensus"
    assert check["model"] == f"{B},{C}"
    assert check["agreed"] is False  # B and C agree with each other, not with A

    provider = scripted({A: PASS, B: FAIL, C: PASS})
    (tmp_path / ".llmbench" / "feedback.jsonl").unlink()
    with router(tmp_path, provider, "shadow: {rate: 1, check: consensus}\n") as r:
        r.run("grading", posting="x")
    assert shadows(tmp_path)[0]["agreed"] is True  # C sides with A


def test_the_judge_check_scores_the_answer(tmp_path: Path) -> None:
    prompts: list[str] = []

    def judge(request: Request) -> str:
        prompts.append(request.prompt)
        return json.dumps({"score": 0.25, "reason": "misses the salary"})

    provider = scripted({A: PASS, B: PASS, JUDGE: judge})
    extra = "shadow: {rate: 1, check: judge, rubric: Names the salary.}\n"
    with router(tmp_path, provider, extra) as r:
        r.run("grading", posting="Acme, 50k")
    (check,) = shadows(tmp_path)
    assert check == {
        "check": "judge",
        "model": JUDGE,
        "agreed": None,
        "score": 0.25,
        "reason": "misses the salary",
    }
    assert "Names the salary." in prompts[0]
    assert "posting: Acme, 50k" in prompts[0]


def test_a_failing_shadow_model_is_an_error_of_the_check_never_of_the_call(
    tmp_path: Path,
) -> None:
    def broken(request: Request) -> str:
        raise ProviderError("runner-up is down")

    provider = scripted({A: PASS, B: broken})
    with router(tmp_path, provider, rate=1.0) as r:
        for _ in range(5):  # more failures than open a circuit: production never notices
            assert r.run("grading", posting="x").model == A
        assert r.breaker.allows(B)  # shadow calls stay off the breaker's books
    checks = shadows(tmp_path)
    assert len(checks) == 5
    assert all(c["agreed"] is None and "runner-up is down" in c["error"] for c in checks)


def test_a_changed_runner_up_is_not_asked_under_on_change_fall_over(tmp_path: Path) -> None:
    """The shadow check honours ``on_change: fall_over`` as a production call does: a
    runner-up whose weights changed since the benchmark is not asked for a check."""
    from pytest_llmbench.router.identity import Verdict

    class Watch:
        def verdict(self, task: str, model: str, on_change: str) -> Verdict:
            now = "sha256:new" if model == B else "sha256:old"
            return Verdict(task, model, "sha256:old", now, on_change)

    provider = scripted({A: PASS, B: PASS})
    with router(tmp_path, provider, "on_change: fall_over\n", rate=1.0) as r:
        r._calls.identity = Watch()  # type: ignore[assignment]
        assert r.run("grading", posting="x").model == A
    assert [m for m, _ in provider.calls] == ["a"]  # B never asked
    (check,) = shadows(tmp_path)
    assert check["model"] == B
    assert check["agreed"] is None
    assert "model changed since the benchmark" in check["error"]


def test_no_model_answering_is_logged_at_once_without_a_check(tmp_path: Path) -> None:
    def broken(request: Request) -> str:
        raise ProviderError("down")

    provider = scripted({A: broken, B: broken, C: broken})
    with router(tmp_path, provider, rate=1.0) as r:
        with pytest.raises(Exception, match="no model answered"):
            r.run("grading", posting="x")
        assert r.shadow.sampled == 0
    assert [line["outcome"] for line in lines(tmp_path)] == ["error"] * 3


# --------------------------------------------------------------------------- queue and close


class Gate:
    """A runner-up that answers only once the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()

    def __call__(self, request: Request) -> str:
        self.entered.set()
        self.open.wait(10)
        return PASS


def test_a_full_queue_drops_the_check_and_counts_it(tmp_path: Path) -> None:
    gate = Gate()
    provider = scripted({A: PASS, B: gate})
    r = router(tmp_path, provider, rate=1.0, queue=2)
    r.run("grading", posting="x")  # taken by the worker, which waits at the gate
    assert gate.entered.wait(5)
    for _ in range(4):  # two wait in the queue, two are dropped
        assert r.run("grading", posting="x").value == "PASS"
    assert (r.shadow.sampled, r.shadow.dropped, r.shadow.pending) == (5, 2, 3)
    gate.open.set()
    r.close()
    checks = shadows(tmp_path)
    assert len(lines(tmp_path)) == 5  # every call logged, the dropped ones too
    assert sum(c["agreed"] is True for c in checks) == 3
    assert [c["error"] for c in checks if "error" in c] == [
        "dropped: the shadow queue was full"
    ] * 2


def test_close_waits_for_the_pending_checks(tmp_path: Path) -> None:
    gate = Gate()
    provider = scripted({A: PASS, B: gate})
    r = router(tmp_path, provider, rate=1.0)
    r.run("grading", posting="x")
    r.run("grading", posting="x")
    assert gate.entered.wait(5)
    assert r.shadow.pending == 2
    threading.Timer(0.2, gate.open.set).start()
    r.close()  # waits (10 s at most) for both
    assert r.shadow.pending == 0
    assert [c["agreed"] for c in shadows(tmp_path)] == [True, True]


def test_close_stops_waiting_at_its_bound_and_logs_the_calls_unchecked(tmp_path: Path) -> None:
    gate = Gate()
    provider = scripted({A: PASS, B: gate})
    r = router(tmp_path, provider, rate=1.0, wait_s=0.2)
    r.run("grading", posting="x")
    r.run("grading", posting="x")
    assert gate.entered.wait(5)
    r.close()
    assert r.shadow.unfinished == 2
    assert r.shadow.pending == 0
    checks = shadows(tmp_path)
    assert [c["error"] for c in checks] == [
        "not checked: the router closed after waiting 0.2 s"
    ] * 2
    gate.open.set()  # the check under way ends later: its outcome is dropped, not a 3rd line
    r.shadow.wait(1)
    assert len(lines(tmp_path)) == 2


def test_arun_is_checked_too(tmp_path: Path) -> None:
    import asyncio

    provider = scripted({A: PASS, B: FAIL})

    async def calls(r: Router) -> list[str]:
        return [(await r.arun("grading", posting="x")).value for _ in range(3)]

    with router(tmp_path, provider, rate=1.0) as r:
        assert asyncio.run(calls(r)) == ["PASS"] * 3
    assert [c["agreed"] for c in shadows(tmp_path)] == [False] * 3


def test_bad_options_are_one_clear_line() -> None:
    with pytest.raises(ValueError, match=r"shadow rate must be between 0 and 1, got 1\.5"):
        ShadowOptions(rate=1.5)
    with pytest.raises(ValueError, match="one of runner_up, consensus, judge, got 'best'"):
        ShadowOptions(check="best")


EXITS_WITHOUT_CLOSE = """
import sys, time
from pathlib import Path
from pytest_llmbench import Router
from tests.support.shadow_project import A, B, FAIL, PASS, project, scripted

def slow(request):
    time.sleep(0.2)
    return FAIL

router = Router.from_registry(
    project(Path(sys.argv[1])), providers=[scripted({A: PASS, B: slow})], shadow=1.0
)
for _ in range(3):
    router.run("grading", posting="x")
"""


def test_a_process_that_ends_without_close_still_writes_its_checks(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", EXITS_WITHOUT_CLOSE, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [c["agreed"] for c in shadows(tmp_path)] == [False] * 3
