"""The loop on emulated Ollama hosts (real HTTP): a champion that starts answering wrong
after N calls is caught by shadow checks of the runner-up at rate 0.2, within the calls
the sampling predicts, and ``llmbench feedback --check`` exits 1 naming the task and its
agreement against the case file's ``min_agreement``."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench import Router
from pytest_llmbench.cli import main
from pytest_llmbench.providers.base import BuiltinSettings
from pytest_llmbench.router import ShadowOptions
from tests.support.ollama_emulator import OllamaEmulator
from tests.support.serve_harness import CHAMPION, GRADING, RUNNER_UP, write_registry

DRIFT_AFTER = 60
"""The champion answers right for this many calls, then wrong."""
RATE = 0.2
MIN_CHECKS = 10
MIN_AGREEMENT = 0.9
SEED = 11


def verdict(messages: list[dict[str, Any]], right: bool) -> str:
    good = "GOOD" in messages[-1]["content"]
    return json.dumps({"verdict": "PASS" if good == right else "FAIL"})


def predicted_catch(rate: float, drift_after: int, seed: int) -> tuple[int, int]:
    """The call after which the agreement first falls below the limit over at least
    ``MIN_CHECKS`` checks, replaying the router's draws: (that call, checks before drift)."""
    draws = random.Random(seed)
    agreed = checked = 0
    before = 0
    for call in range(1, 10_000):
        if draws.random() < rate:
            checked += 1
            agreed += call <= drift_after
        if call == drift_after:
            before = checked
        if call > drift_after and checked >= MIN_CHECKS and agreed / checked < MIN_AGREEMENT:
            return call, before
    raise AssertionError("never caught")


def test_a_champion_that_drifts_is_caught_and_check_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: Counter[str] = Counter()

    def answer(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
        asked[model] += 1
        return verdict(messages, right=model != "qwen2.5:7b" or asked[model] <= DRIFT_AFTER)

    (tmp_path / "evals").mkdir()
    alerts = f"alerts: {{min_agreement: {MIN_AGREEMENT}}}\nshadow: {{rate: {RATE}}}\n"
    (tmp_path / "evals" / "grading.yaml").write_text(GRADING.replace("cases:", alerts + "cases:"))
    registry = write_registry(tmp_path, CHAMPION, RUNNER_UP)
    monkeypatch.chdir(tmp_path)
    catch_at, checks_before = predicted_catch(RATE, DRIFT_AFTER, SEED)
    expected_calls = (MIN_CHECKS + 1) / RATE  # calls that give the checks a verdict needs
    assert checks_before >= MIN_CHECKS  # the check has judged the healthy champion already
    assert catch_at - DRIFT_AFTER <= expected_calls  # the seed is not a lucky one

    with (
        OllamaEmulator(models=["qwen2.5:7b"], answer=answer) as first,
        OllamaEmulator(models=["llama3.2:3b"], answer=answer) as second,
    ):
        settings = BuiltinSettings(ollama_hosts=(first.url, second.url), timeout_s=5.0, retries=0)
        draws = random.Random(SEED)
        caught = None
        with Router.from_registry(
            registry, settings=settings, shadow=ShadowOptions(random=draws.random)
        ) as router:
            for call in range(1, DRIFT_AFTER + int(3 * expected_calls)):
                router.run("grading", posting="GOOD posting" if call % 2 else "BAD posting")
                assert router.shadow.wait(10)
                status = main(["feedback", "--check", "--min-calls", str(MIN_CHECKS)])
                if call <= DRIFT_AFTER:
                    assert status == 0, f"a healthy champion flagged at call {call}"
                elif status == 1:
                    caught = call
                    break
        assert first.errors == second.errors == []
    assert caught == catch_at
    breach = capsys.readouterr().err.splitlines()[-1]
    assert breach.startswith("llmbench feedback --check: grading: ollama/qwen2.5:7b: agreement ")
    assert "is below min_agreement 90% (alerts of evals/grading.yaml)" in breach
    assert asked["llama3.2:3b"] == router.shadow.checked  # one runner-up call per check
