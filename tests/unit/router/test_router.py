"""The task router against emulated Ollama hosts: real HTTP on loopback, no mock of the
transport.  Champion, fall-over, circuit breaker, feedback log and the errors a caller
meets; the consensus paths are in test_router_consensus.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench import Router, RouterError
from pytest_llmbench.cases.load import load_task
from pytest_llmbench.providers.base import BuiltinSettings
from pytest_llmbench.router import NoAnswer
from pytest_llmbench.storage.champions import Evidence, RegistryEntry, registry_text
from pytest_llmbench.storage.feedback import flush_feedback, read_feedback, summarize_feedback
from tests.support.ollama_emulator import OllamaEmulator

CHAMPION, RUNNER_UP = "ollama/qwen2.5:7b", "ollama/llama3.2:3b"

GRADING = """\
task: grading
system: You grade job postings for {team}.
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
options: {temperature: 0, seed: 7, max_tokens: 16}
vars: {team: the hiring team}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    vars: {posting: GOOD posting}
  - id: GRADE_FAIL_001
    expected: {verdict: FAIL}
    vars: {posting: BAD posting}
"""


def right(model: str, messages: list[dict[str, Any]], fmt: Any, options: Any) -> str:
    return json.dumps({"verdict": "PASS" if "GOOD" in messages[-1]["content"] else "FAIL"})


def write_registry(
    root: Path,
    tasks: dict[str, tuple[str, str | None]],
    case_file: str | None = "evals/grading.yaml",
    fallbacks: tuple[str, ...] = (),
) -> Path:
    path = root / "llmbench-registry.yaml"
    entries = {
        task: RegistryEntry(
            task,
            Evidence(champion, 2, 2, 100.0, 120.0, "20250601T091500Z-3fa2c1", "2025-06-01"),
            Evidence(runner, 2, 2, 200.0, 230.0, "20250601T091500Z-3fa2c1", "2025-06-01")
            if runner
            else None,
            case_file=case_file,
            fallbacks=fallbacks,
        )
        for task, (champion, runner) in tasks.items()
    }
    path.write_text(registry_text(entries))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "grading.yaml").write_text(GRADING)
    write_registry(tmp_path, {"grading": (CHAMPION, RUNNER_UP)})
    return tmp_path


@pytest.fixture
def hosts() -> Iterator[tuple[OllamaEmulator, OllamaEmulator]]:
    """The champion on one host, the runner-up on another."""
    with (
        OllamaEmulator(models=["qwen2.5:7b"], answer=right) as first,
        OllamaEmulator(models=["llama3.2:3b"], answer=right) as second,
    ):
        yield first, second
    assert first.errors == second.errors == []


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_router(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator], **options: Any
) -> Router:
    settings = BuiltinSettings(
        ollama_hosts=(hosts[0].url, hosts[1].url),
        timeout_s=options.pop("timeout_s", 5.0),
        discovery_timeout_s=1.0,
        retries=0,
    )
    return Router.from_registry(project / "llmbench-registry.yaml", settings=settings, **options)


def chats(server: OllamaEmulator) -> list[Any]:
    return server.bodies("/api/chat")


def feedback(project: Path) -> list[dict[str, Any]]:
    flush_feedback()  # the router buffers its lines
    lines = (project / ".llmbench" / "feedback.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


# --------------------------------------------------------------------------- the champion


def test_the_champion_answers_with_the_request_the_benchmark_sent(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    router = make_router(project, hosts)
    answer = router.run("grading", posting="GOOD posting")
    assert (answer.value, answer.model, answer.fell_over_from) == ("PASS", CHAMPION, ())
    assert json.loads(answer.text) == {"verdict": "PASS"}
    assert answer.latency_ms is not None
    assert answer.latency_ms > 0
    assert [a.outcome for a in answer.attempts] == ["ok"]
    # the same system text, prompt, options and output schema as the benchmark's case
    case = load_task(project / "evals" / "grading.yaml").cases[0]
    [body] = chats(hosts[0])
    assert body["messages"] == [
        {"role": "system", "content": case.system},
        {"role": "user", "content": case.prompt},
    ]
    assert body["options"] == {"temperature": 0.0, "seed": 7, "num_predict": 16}
    assert body["format"]["properties"]["verdict"]["enum"] == ["PASS", "FAIL"]
    assert chats(hosts[1]) == []
    [line] = feedback(project)
    assert line["task"] == "grading"
    assert line["model"] == CHAMPION
    assert line["outcome"] == "ok"
    assert line["fell_over_from"] == []
    assert line["latency_ms"] > 0
    assert line["consensus"] is None
    assert line["time"].endswith("Z")


def test_values_override_the_task_vars_and_bad_values_are_one_clear_error(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    router = make_router(project, hosts)
    answer = router.run("grading", variables={"team": "Payments"}, posting="BAD posting")
    assert answer.value == "FAIL"
    assert chats(hosts[0])[0]["messages"][0]["content"] == "You grade job postings for Payments."
    with pytest.raises(RouterError, match=r"^task grading: no value for posting \(the prompt"):
        router.run("grading")
    with pytest.raises(RouterError) as info:
        router.run("grading", postng="x")
    assert str(info.value) == (
        "task grading: no value for posting; unknown variable postng "
        "(the prompt uses posting, team)"
    )


# --------------------------------------------------------------------------- fall-over


def test_champion_host_down_the_runner_up_answers_and_the_log_says_so(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    hosts[0].die()
    router = make_router(project, hosts)
    answer = router.run("grading", posting="GOOD posting")
    assert (answer.value, answer.model, answer.fell_over_from) == ("PASS", RUNNER_UP, (CHAMPION,))
    assert [(a.model, a.outcome) for a in answer.attempts] == [
        (CHAMPION, "error"),
        (RUNNER_UP, "ok"),
    ]
    assert answer.attempts[0].detail.startswith(
        f"Ollama is not reachable at {hosts[0].url} (connection refused)"
    )
    lines = feedback(project)
    assert [(line["model"], line["outcome"], line["fell_over_from"]) for line in lines] == [
        (CHAMPION, "error", []),
        (RUNNER_UP, "ok", [CHAMPION]),
    ]
    assert lines[0]["call"] == lines[1]["call"]
    records, bad = read_feedback(project / ".llmbench" / "feedback.jsonl")
    stats = {s.model: s for s in summarize_feedback(records)}
    assert (stats[CHAMPION].calls, stats[CHAMPION].ok, stats[CHAMPION].fell_over) == (1, 0, 1)
    assert (stats[RUNNER_UP].ok, stats[RUNNER_UP].backup) == (1, 1)
    assert bad == 0


def test_an_unparseable_answer_falls_over_to_the_runner_up(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    hosts[0].answer = lambda *args: "Well, it depends."
    router = make_router(project, hosts)
    answer = router.run("grading", posting="BAD posting")
    assert (answer.value, answer.model) == ("FAIL", RUNNER_UP)
    first = answer.attempts[0]
    assert (first.outcome, first.text) == ("unparseable", "Well, it depends.")
    assert first.detail.startswith("no verdict (PASS/FAIL) in answer")
    assert feedback(project)[0]["outcome"] == "unparseable"


def test_a_timeout_falls_over_to_the_runner_up(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    hosts[0].hang_next(seconds=3.0, path="/api/chat")
    router = make_router(project, hosts, timeout_s=0.5)
    answer = router.run("grading", posting="GOOD posting")
    assert answer.model == RUNNER_UP
    assert answer.attempts[0].outcome == "timeout"


def test_the_fallbacks_come_after_the_runner_up(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    hosts[1].add_model("gemma3:1b")
    write_registry(project, {"grading": (CHAMPION, RUNNER_UP)}, fallbacks=("ollama/gemma3:1b",))
    hosts[0].answer = hosts[1].answer = lambda m, *rest: "?" if m != "gemma3:1b" else "PASS"
    router = make_router(project, hosts)
    assert router.models("grading") == [CHAMPION, RUNNER_UP, "ollama/gemma3:1b"]
    answer = router.run("grading", posting="GOOD posting")
    assert answer.model == "ollama/gemma3:1b"
    assert answer.fell_over_from == (CHAMPION, RUNNER_UP)


def test_every_model_failing_is_one_error_naming_each(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    hosts[0].die()
    hosts[1].answer = lambda *args: "maybe"
    router = make_router(project, hosts)
    with pytest.raises(NoAnswer) as info:
        router.run("grading", posting="GOOD posting")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"no model answered task grading: {CHAMPION}: error (")
    assert f"{RUNNER_UP}: unparseable (no verdict" in message
    assert [a.outcome for a in info.value.attempts] == ["error", "unparseable"]
    assert [line["outcome"] for line in feedback(project)] == ["error", "unparseable"]


# --------------------------------------------------------------------------- circuit breaker


def test_the_breaker_opens_after_three_failures_and_closes_after_the_cool_down(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    clock = Clock()
    router = make_router(project, hosts, clock=clock)
    champion = hosts[0]
    champion.fail_next(4, status=500, path="/api/chat")
    for _ in range(3):
        assert router.run("grading", posting="GOOD posting").model == RUNNER_UP
    assert len(chats(champion)) == 3
    assert router.breaker.state(CHAMPION) == "open"
    # open: the champion is skipped without a request
    skipped = router.run("grading", posting="GOOD posting")
    assert skipped.model == RUNNER_UP
    assert skipped.attempts[0].outcome == "circuit_open"
    assert skipped.fell_over_from == ()
    assert len(chats(champion)) == 3
    clock.now += 59.0
    assert router.run("grading", posting="GOOD posting").attempts[0].outcome == "circuit_open"
    # after the cool-down one trial call: it fails (the 4th fault), the circuit opens again
    clock.now += 1.0
    assert router.breaker.state(CHAMPION) == "half-open"
    trial = router.run("grading", posting="GOOD posting")
    assert [a.outcome for a in trial.attempts] == ["error", "ok"]
    assert router.breaker.state(CHAMPION) == "open"
    assert router.run("grading", posting="GOOD posting").attempts[0].outcome == "circuit_open"
    # the next trial answers: closed, the champion answers again
    clock.now += 60.0
    assert router.run("grading", posting="GOOD posting").model == CHAMPION
    assert router.breaker.state(CHAMPION) == "closed"
    assert len(chats(champion)) == 5
    outcomes = [line["outcome"] for line in feedback(project) if line["model"] == CHAMPION]
    assert outcomes == ["error"] * 3 + ["circuit_open"] * 2 + ["error", "circuit_open", "ok"]
    records, _ = read_feedback(project / ".llmbench" / "feedback.jsonl")
    [stats] = [s for s in summarize_feedback(records) if s.model == CHAMPION]
    assert (stats.calls, stats.ok, stats.skipped, stats.fell_over) == (5, 1, 3, 4)


def test_a_success_resets_the_count_and_the_breaker_settings_apply(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    clock = Clock()
    router = make_router(project, hosts, clock=clock, failures=2, cool_down_s=5.0)
    hosts[0].fail_next(1, status=500, path="/api/chat")
    router.run("grading", posting="GOOD posting")
    assert router.run("grading", posting="GOOD posting").model == CHAMPION  # count reset
    hosts[0].fail_next(2, status=500, path="/api/chat")
    router.run("grading", posting="GOOD posting")
    router.run("grading", posting="GOOD posting")
    assert router.breaker.state(CHAMPION) == "open"
    clock.now += 5.0
    assert router.run("grading", posting="GOOD posting").model == CHAMPION


def test_every_circuit_open_is_one_error(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    router = make_router(project, hosts, clock=Clock(), failures=1)
    hosts[0].fail_next(1, status=500, path="/api/chat")
    hosts[1].fail_next(1, status=500, path="/api/chat")
    with pytest.raises(NoAnswer):
        router.run("grading", posting="GOOD posting")
    with pytest.raises(NoAnswer, match=f"{CHAMPION}: circuit_open .*{RUNNER_UP}: circuit_open"):
        router.run("grading", posting="GOOD posting")


# --------------------------------------------------------------------------- errors, files


def test_an_unknown_task_is_one_clear_error(project: Path) -> None:
    router = Router.from_registry(project / "llmbench-registry.yaml", feedback=False)
    with pytest.raises(RouterError) as info:
        router.run("gradnig", posting="x")
    assert str(info.value) == (
        f"task 'gradnig' is not in registry {project / 'llmbench-registry.yaml'} (tasks: grading)"
    )


def test_an_empty_or_missing_registry_is_one_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "llmbench-registry.yaml"
    empty.write_text("version: 1\ntasks: {}\n")
    with pytest.raises(RouterError, match=r"^registry .* has no task; a benchmark run with"):
        Router.from_registry(empty)
    with pytest.raises(RouterError, match=r"^no registry at .*nowhere\.yaml; write one with"):
        Router.from_registry(tmp_path / "nowhere.yaml")
    empty.write_text("tasks: [")
    with pytest.raises(RouterError, match="is not valid YAML"):
        Router.from_registry(empty)


def test_an_old_registry_finds_the_case_file_by_task_name(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator], tmp_path_factory: Any
) -> None:
    write_registry(project, {"grading": (CHAMPION, RUNNER_UP)}, case_file=None)
    # default: evals/ beside the registry
    assert make_router(project, hosts).case_file("grading") == project / "evals/grading.yaml"
    # evals= anywhere else wins
    elsewhere = tmp_path_factory.mktemp("suite")
    (elsewhere / "nested").mkdir()
    (elsewhere / "nested" / "g.yaml").write_text(GRADING)
    router = make_router(project, hosts, evals=elsewhere)
    assert router.case_file("grading") == elsewhere / "nested" / "g.yaml"
    assert router.run("grading", posting="GOOD posting").value == "PASS"
    # neither: one clear error
    (project / "evals" / "grading.yaml").unlink()
    with pytest.raises(RouterError) as info:
        make_router(project, hosts).run("grading", posting="x")
    assert str(info.value).startswith(
        "no case file for task grading: the registry records no case_file; pass evals="
    )


def test_a_recorded_case_file_that_is_gone_is_named(project: Path) -> None:
    (project / "evals" / "grading.yaml").unlink()
    router = Router.from_registry(project / "llmbench-registry.yaml", feedback=False)
    with pytest.raises(RouterError, match=r"the registry records .*grading\.yaml \(not found\)"):
        router.task("grading")


def test_a_recorded_case_file_outside_the_project_needs_an_allowed_root(
    project: Path, tmp_path_factory: Any
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere")
    (outside / "grading.yaml").write_text(GRADING)
    write_registry(project, {"grading": (CHAMPION, RUNNER_UP)}, case_file=str(outside / "g.yaml"))
    (outside / "g.yaml").write_text(GRADING)
    router = Router.from_registry(project / "llmbench-registry.yaml", feedback=False)
    with pytest.raises(RouterError) as info:
        router.task("grading")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"case_file {outside / 'g.yaml'} of task grading in registry ")
    assert "is outside the project root" in message
    assert "allowed_roots= (llmbench run --allowed-root DIR)" in message
    allowed = Router.from_registry(
        project / "llmbench-registry.yaml", feedback=False, allowed_roots=[outside]
    )
    assert allowed.task("grading").name == "grading"


def test_a_bad_case_file_is_the_loader_s_message(project: Path) -> None:
    (project / "evals" / "grading.yaml").write_text(GRADING.replace("output:", "outptu:"))
    router = Router.from_registry(project / "llmbench-registry.yaml", feedback=False)
    with pytest.raises(RouterError, match=r"invalid case file .*grading\.yaml"):
        router.task("grading")


def test_an_unknown_provider_falls_over(project: Path) -> None:
    write_registry(project, {"grading": ("nosuch/model", CHAMPION)})
    with OllamaEmulator(models=["qwen2.5:7b"], answer=right) as server:
        router = Router.from_registry(
            project / "llmbench-registry.yaml",
            settings=BuiltinSettings(ollama_hosts=(server.url,)),
        )
        answer = router.run("grading", posting="GOOD posting")
    assert answer.model == CHAMPION
    assert answer.attempts[0].detail == "no provider 'nosuch' is installed"


def test_the_feedback_log_can_move_or_be_off(
    project: Path, hosts: tuple[OllamaEmulator, OllamaEmulator]
) -> None:
    elsewhere = project / "logs" / "calls.jsonl"
    make_router(project, hosts, feedback=elsewhere).run("grading", posting="GOOD posting")
    assert len(elsewhere.read_text().splitlines()) == 1
    make_router(project, hosts, feedback=False).run("grading", posting="GOOD posting")
    assert not (project / ".llmbench").exists()


def test_importing_the_router_imports_no_pytest_nor_sdk() -> None:
    code = (
        "import sys\n"
        "from pytest_llmbench import Router\n"
        "import pytest_llmbench.router\n"
        "heavy = {'pytest', 'jsonschema', 'ollama', 'openai', 'llama_cpp', 'httpx'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_a_late_success_of_a_call_begun_before_the_circuit_opened_leaves_it_open() -> None:
    """Under concurrency a call that began before the model died may finish after three
    others failed: its success is old news, and the circuit stays open (it closed it, and
    the calls still in flight opened it again, counting a second opening)."""
    from pytest_llmbench.router.breaker import CircuitBreaker

    now = [100.0]
    breaker = CircuitBreaker(failures=3, cool_down_s=60.0, clock=lambda: now[0])
    opened: list[str] = []
    breaker.on_open = opened.append
    for _ in range(3):
        breaker.record("m", ok=False)
    breaker.record("m", ok=True)  # began before the failures, answered after them
    breaker.record("m", ok=False)  # another call in flight
    assert breaker.state("m") == "open"
    assert opened == ["m"]
    now[0] += 60.0  # the cool-down: a trial's success closes it
    assert breaker.state("m") == "half-open"
    breaker.record("m", ok=True)
    assert breaker.state("m") == "closed"
