"""Real inference on the embedded llama.cpp models (no server, no network)."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("llama_cpp", reason="needs pip install 'pytest-llmbench[embedded]'")

from pytest_llmbench.cases.options import GenerateOptions
from pytest_llmbench.providers.base import BuiltinSettings, Request
from pytest_llmbench.providers.llamacpp import LlamaCppProvider
from tests.support.casedata import COMPANY_SCHEMA, COMPANY_TASK

pytestmark = pytest.mark.embedded


def _request(posting: str) -> Request:
    return Request(
        model="smollm2-135m",
        prompt=f"Posting: {posting}\nWhich company is hiring? Answer as JSON.",
        options=GenerateOptions(temperature=0.0, seed=42, max_tokens=32),
        json_schema=COMPANY_SCHEMA,
    )


def test_discovers_both_embedded_models() -> None:
    found = LlamaCppProvider(BuiltinSettings()).discover()
    assert found.problem is None
    assert [m.id for m in found.models] == ["llamacpp/smollm2-135m", "llamacpp/gemma3-270m"]


def test_same_request_gives_same_answer_whatever_ran_before() -> None:
    provider = LlamaCppProvider(BuiltinSettings())
    acme = _request("Acme is hiring a Python developer in Berlin.")
    other = _request("Globex seeks a night-shift nurse for its Springfield clinic; apply now.")
    first = provider.generate(acme)
    between = provider.generate(other)
    again = provider.generate(acme)
    assert first.text == again.text
    assert json.loads(first.text)["company"] == "Acme"
    assert json.loads(between.text)["company"] == "Globex"
    assert first.prompt_tokens == again.prompt_tokens
    assert first.prompt_tokens is not None
    assert first.prompt_tokens > 10
    assert first.completion_tokens is not None
    assert first.completion_tokens > 0
    assert first.eval_ms is not None
    assert first.eval_ms > 0
    assert first.tokens_per_s is not None
    assert first.tokens_per_s > 0


def test_end_to_end_ranking_on_embedded_models(pytester: pytest.Pytester) -> None:
    (pytester.path / "company.yaml").write_text(COMPANY_TASK)
    out = pytester.path / "bench.json"
    result = pytester.runpytest(
        "--llm-models=llamacpp", f"--llm-json={out}", "-p", "no:benchmark", "-p", "no:cacheprovider"
    )
    stdout = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "llmbench: 2 model(s): llamacpp/smollm2-135m, llamacpp/gemma3-270m",
            "*llmbench ranking*",
            "task company (strict policy, 2 cases)",
            "Champion: *",
        ]
    )
    doc = json.loads(out.read_text())
    results = doc["results"]
    assert len(results) == 4
    assert {r["model"] for r in results} == {"llamacpp/smollm2-135m", "llamacpp/gemma3-270m"}
    for record in results:
        assert record["latency_ms"] > 0
        assert record["prompt_tokens"] > 0
        assert record["completion_tokens"] > 0
        assert record["error"] is None
        # SmolLM2's GGUF has its own chat template; Gemma's has none, so the provider names one.
        assert record["chat_format"] == (
            "gguf-template" if "smollm2" in record["model"] else "gemma"
        )
    # smollm2 copies the company out of these one-liners (checked above, deterministic).
    smol = [r for r in results if r["model"] == "llamacpp/smollm2-135m"]
    assert all(r["correct"] for r in smol)
    task = doc["tasks"]["company"]
    champion = task["champion"]
    assert champion in {"llamacpp/smollm2-135m", "llamacpp/gemma3-270m"}
    # The summary says what the JSON says.
    match = re.search(r"^Champion:\s+(\S+) \((\d+)/(\d+) correct", stdout, re.MULTILINE)
    assert match is not None
    assert match.group(1) == champion
    standing = task["ranking"][0]
    assert (int(match.group(2)), int(match.group(3))) == (standing["correct"], standing["total"])
    passed = sum(1 for r in results if r["correct"])
    result.assert_outcomes(passed=passed, failed=4 - passed)


HTTP_SDKS = ("ollama", "openai", "httpx", "httpx2", "pydantic")
"""The HTTP providers' SDKs (and what they import), which an embedded-only run never needs."""

RECORD_LOADS = """
import os
import sys
from pathlib import Path


def pytest_sessionfinish(session):
    # what llama.cpp really holds in this process, whatever the plugin's bookkeeping says
    from pytest_llmbench.providers import llamacpp

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    names = sorted(Path(path).name for path in llamacpp._LOADED)
    (session.config.rootpath / f"loaded-{worker}.txt").write_text("\\n".join(names))
    # and the provider SDKs this process imported
    sdks = sorted({name.split(".")[0] for name in sys.modules} & set(SDKS))
    (session.config.rootpath / f"sdks-{worker}.txt").write_text(" ".join(sdks))
""".replace("SDKS", repr((*HTTP_SDKS, "llama_cpp")))


def test_two_workers_each_load_only_the_model_they_run(pytester: pytest.Pytester) -> None:
    (pytester.path / "company.yaml").write_text(COMPANY_TASK.split("  - id: COMPANY_002")[0])
    pytester.makeconftest(RECORD_LOADS)
    result = pytester.runpytest_subprocess(
        "--llm-models=llamacpp",
        "-n",
        "2",
        "--llm-json=bench.json",
        "-p",
        "no:benchmark",
        "-p",
        "no:cacheprovider",
    )
    result.stdout.fnmatch_lines(
        ["llmbench: xdist: 2 model(s) on 2 worker(s), each model's items on one worker *"]
    )
    doc = json.loads((pytester.path / "bench.json").read_text())
    assert len(doc["results"]) == 2
    workers = doc["run"]["xdist"]["workers"]
    assert sorted(w["models"] for w in workers.values()) == [
        ["llamacpp/gemma3-270m"],
        ["llamacpp/smollm2-135m"],
    ]
    for name, worker in workers.items():
        assert worker["loaded"] == worker["models"]
        (held,) = (pytester.path / f"loaded-{name}.txt").read_text().split()
        assert ("smollm2" if "smollm2" in worker["models"][0] else "gemma") in held.lower()
    # Only embedded models: no HTTP provider's SDK in any process (issue 17, start-up);
    # llama_cpp in the workers that ran the models, not in the controller.
    for name in ("main", *workers):
        sdks = (pytester.path / f"sdks-{name}.txt").read_text().split()
        assert sdks == ([] if name == "main" else ["llama_cpp"]), name
    # one cold call per model, as in a serial run
    assert sorted(r["model"] for r in doc["results"] if r["cold"]) == [
        "llamacpp/gemma3-270m",
        "llamacpp/smollm2-135m",
    ]


def test_shipped_text_task_is_scored_by_heuristics_and_a_real_judge(
    pytester: pytest.Pytester,
) -> None:
    """evals/job_summary.yaml on both embedded models, judged by the embedded Gemma.

    What tiny models do is not asserted (Gemma-3-270M judges nearly everything 1.0 and
    sometimes answers a score that is not 0-1); the machinery is: every answer gets its
    heuristic parts and a judge call, recorded apart from the candidate's time.
    """
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    shutil.copy(root / "evals" / "job_summary.yaml", pytester.path / "job_summary.yaml")
    out = pytester.path / "bench.json"
    result = pytester.runpytest(
        "--llm-models=llamacpp", f"--llm-json={out}", "-p", "no:benchmark", "-p", "no:cacheprovider"
    )
    result.stdout.fnmatch_lines(
        [
            "task job_summary (weighted policy: quality 0.7, speed 0.3, 2 cases)",
            "Judge: llamacpp/gemma3-270m: * answer(s) scored*",
            "Warning: self-preference: llamacpp/gemma3-270m judged its own answers",
        ]
    )
    results = json.loads(out.read_text())["results"]
    assert len(results) == 4
    for record in results:
        assert record["judge_model"] == "llamacpp/gemma3-270m"
        assert 0.0 <= record["score"] <= 1.0
        assert record["judge_ms"] is not None
        assert record["judge_ms"] > 0
        if record["error"] is None:
            assert 0.0 <= record["judge_score"] <= 1.0
            assert [p["name"] for p in record["parts"]] == [
                "words",
                "grounded",
                "mentions",
                "judge",
            ]
        else:  # a judge answer that is no judgement: the run's error, naming the judge
            assert record["error"].startswith("judge llamacpp/gemma3-270m failed: ")
