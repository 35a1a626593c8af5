"""Consensus through the router: three scripted models, each path (agreement at once, a
tie broken by the third, no agreement) for verdict, JSON and text tasks; and the first
two models asked at once when they sit on different (emulated Ollama) hosts."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench import Router
from pytest_llmbench.analysis.consensus import similarity
from pytest_llmbench.providers.base import BuiltinSettings, ProviderError, Request
from pytest_llmbench.providers.scripted import ScriptedProvider
from pytest_llmbench.storage.champions import Evidence, RegistryEntry, registry_text
from pytest_llmbench.storage.feedback import flush_feedback
from tests.support.ollama_emulator import OllamaEmulator

A, B, C = "fake/a", "fake/b", "fake/c"

TASKS = {
    "verdict": """\
task: verdict
prompt: "Grade: {posting}"
output: {kind: verdict, labels: [PASS, FAIL, UNSURE]}
cases:
  - {id: V1, expected: {verdict: PASS}, vars: {posting: x}}
""",
    "json": """\
task: json
prompt: "Company in: {posting}"
output:
  kind: json
  schema: {type: object, properties: {company: {type: string}}, required: [company]}
cases:
  - {id: J1, expected: {json: {company: Acme}}, vars: {posting: x}}
""",
    "text": """\
task: text
prompt: "Summarise: {posting}"
cases:
  - {id: T1, expected: {contains: [Acme]}, vars: {posting: x}}
""",
}

# Per kind: answers of A, B and C for each path, and whose answer the router returns.
PATHS: dict[str, dict[str, tuple[tuple[str, str, str], str, tuple[str, ...]]]] = {
    "verdict": {
        "agree": (('{"verdict": "PASS"}', '{"verdict": "PASS"}', "unused"), A, (A, B)),
        "tie": (('{"verdict": "PASS"}', '{"verdict": "FAIL"}', '{"verdict": "FAIL"}'), B, (B, C)),
        "none": (('{"verdict": "PASS"}', '{"verdict": "FAIL"}', '{"verdict": "UNSURE"}'), A, ()),
    },
    "json": {
        "agree": (('{"company": "Acme Corp"}', '{"company": "ACME  corp"}', "unused"), A, (A, B)),
        "tie": (
            ('{"company": "Acme Corp"}', '{"company": "Globex"}', '{"company": "Acme Corp."}'),
            A,
            (A, C),
        ),
        "none": (
            ('{"company": "Acme"}', '{"company": "Globex"}', '{"company": "Initech"}'),
            A,
            (),
        ),
    },
    "text": {
        "agree": (
            (
                "Acme Corp is hiring a data engineer in Berlin.",
                "ACME Corp is hiring a data engineer in Berlin!",
                "unused",
            ),
            A,
            (A, B),
        ),
        "tie": (
            (
                "The posting is for a nurse.",
                "Acme Corp is hiring a data engineer in Berlin.",
                "Acme Corp hires a data engineer in Berlin.",
            ),
            B,
            (B, C),
        ),
        "none": (
            ("A nurse in Ohio.", "Acme hires engineers.", "Barista wanted, tips included."),
            A,
            (),
        ),
    },
}


def scripted(answers: dict[str, str | Callable[[Request], str]]) -> ScriptedProvider:
    def answer(value: str | Callable[[Request], str]) -> Callable[[Request], str]:
        return value if callable(value) else (lambda request: value)

    return ScriptedProvider("fake", {m: answer(v) for m, v in answers.items()})


def project(root: Path, consensus: str = "") -> Path:
    (root / "evals").mkdir(exist_ok=True)
    entries = {}
    for kind, text in TASKS.items():
        if consensus:
            text = text.replace("cases:\n", f"consensus: {consensus}\ncases:\n")
        (root / "evals" / f"{kind}.yaml").write_text(text)
        entries[kind] = RegistryEntry(
            kind,
            Evidence(A, 1, 1, 100.0),
            Evidence(B, 1, 1, 200.0),
            case_file=f"evals/{kind}.yaml",
            fallbacks=(C,),
        )
    path = root / "llmbench-registry.yaml"
    path.write_text(registry_text(entries))
    return path


def called(provider: ScriptedProvider) -> list[str]:
    return [f"fake/{name}" for name, _ in provider.calls]


@pytest.mark.parametrize("kind", ["verdict", "json", "text"])
@pytest.mark.parametrize("path", ["agree", "tie", "none"])
def test_each_consensus_path(tmp_path: Path, kind: str, path: str) -> None:
    (a, b, c), winner, agreed = PATHS[kind][path]
    provider = scripted({"a": a, "b": b, "c": c})
    router = Router.from_registry(project(tmp_path), providers=[provider])
    result = router.run(kind, consensus=True, posting="x")
    details = result.consensus
    assert details is not None
    assert result.model == winner
    assert result.text == {A: a, B: b, C: c}[winner]
    assert details.accepted is bool(agreed)
    assert details.agreed == agreed
    assert called(provider) == ([A, B] if path == "agree" else [A, B, C])
    assert list(details.answers) == called(provider)
    assert result.fell_over_from == ()
    assert details.calls_ms >= 0.0
    assert details.threshold == 0.75
    if kind == "text" and path == "agree":
        assert details.similarity == similarity(a, b)
    if kind == "json":
        assert result.value == json.loads(result.text)
    flush_feedback()  # the router buffers its lines
    lines = [
        json.loads(line)
        for line in (tmp_path / ".llmbench" / "feedback.jsonl").read_text().splitlines()
    ]
    assert [line["model"] for line in lines] == called(provider)
    assert {json.dumps(line["consensus"], sort_keys=True) for line in lines} == {
        json.dumps(details.to_dict(), sort_keys=True)
    }
    assert lines[0]["consensus"]["accepted"] is bool(agreed)


def test_the_case_file_turns_consensus_on_with_its_threshold(tmp_path: Path) -> None:
    a = "Acme Corp is hiring a data engineer in Berlin."
    b = "ACME Corp is hiring a data engineer in Berlin, apply now!"
    provider = scripted({"a": a, "b": b, "c": a})
    router = Router.from_registry(
        project(tmp_path, "{models: 3, agree: 0.95}"), providers=[provider], feedback=False
    )
    assert 0.75 <= similarity(a, b) < 0.95
    result = router.run("text", posting="x")  # consensus from the case file
    assert result.consensus is not None
    assert result.consensus.agreed == (A, C)
    assert result.consensus.threshold == 0.95
    single = router.run("text", consensus=False, posting="x")
    assert (single.consensus, single.model) == (None, A)


def test_two_models_only_no_third_is_asked(tmp_path: Path) -> None:
    provider = scripted({"a": '{"verdict": "PASS"}', "b": '{"verdict": "FAIL"}', "c": "x"})
    router = Router.from_registry(
        project(tmp_path, "{models: 2}"), providers=[provider], feedback=False
    )
    result = router.run("verdict", posting="x")
    assert result.consensus is not None
    assert (result.model, result.consensus.accepted) == (A, False)
    assert called(provider) == [A, B]


def test_a_failing_model_is_replaced_by_the_next(tmp_path: Path) -> None:
    def down(request: Request) -> str:
        raise ProviderError("connection refused")

    provider = scripted({"a": down, "b": '{"company": "Acme"}', "c": '{"company": "acme"}'})
    router = Router.from_registry(project(tmp_path), providers=[provider], feedback=False)
    result = router.run("json", consensus=True, posting="x")
    assert result.consensus is not None
    assert (result.model, result.consensus.agreed) == (B, (B, C))
    assert result.fell_over_from == (A,)
    assert [a.outcome for a in result.attempts] == ["error", "ok", "ok"]


def test_one_answer_only_is_flagged(tmp_path: Path) -> None:
    provider = scripted({"a": "not json", "b": '{"company": "Acme"}', "c": "{"})
    router = Router.from_registry(project(tmp_path), providers=[provider], feedback=False)
    result = router.run("json", consensus=True, posting="x")
    assert result.consensus is not None
    assert (result.model, result.consensus.accepted) == (B, False)
    assert result.fell_over_from == (A, C)


def test_on_different_hosts_the_first_two_answer_at_once(tmp_path: Path) -> None:
    """Each emulated model waits for the other at a barrier: asked one after the other,
    the first would wait in vain and fail."""
    both = threading.Barrier(2, timeout=5.0)

    def verdict(*args: Any) -> str:
        both.wait()
        return '{"verdict": "PASS"}'

    with (
        OllamaEmulator(models=["qwen2.5:7b"], answer=verdict) as first,
        OllamaEmulator(models=["llama3.2:3b"], answer=verdict) as second,
    ):
        (tmp_path / "evals").mkdir()
        (tmp_path / "evals" / "verdict.yaml").write_text(TASKS["verdict"])
        registry = tmp_path / "llmbench-registry.yaml"
        registry.write_text(
            registry_text(
                {
                    "verdict": RegistryEntry(
                        "verdict",
                        Evidence("ollama/qwen2.5:7b", 1, 1, 1.0),
                        Evidence("ollama/llama3.2:3b", 1, 1, 1.0),
                        case_file="evals/verdict.yaml",
                    )
                }
            )
        )
        settings = BuiltinSettings(ollama_hosts=(first.url, second.url), retries=0)
        router = Router.from_registry(registry, settings=settings, feedback=False)
        result = router.run("verdict", consensus=True, posting="x")
    assert result.consensus is not None
    assert result.consensus.agreed == ("ollama/qwen2.5:7b", "ollama/llama3.2:3b")
    assert both.n_waiting == 0
    assert not both.broken
