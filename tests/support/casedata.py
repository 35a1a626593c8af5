"""Test data shared by several test files: case files, conftests and provider settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_llmbench.providers.base import Request

COMPANY_SCHEMA = {
    "type": "object",
    "properties": {"company": {"type": "string"}},
    "required": ["company"],
}
"""The answer schema of ``COMPANY_TASK``, for direct provider calls."""

COMPANY_TASK = """\
task: company
description: Which company is hiring?
prompt: |
  Posting: {posting}
  Which company is hiring? Answer as JSON.
output:
  kind: json
  schema: {type: object, properties: {company: {type: string}}, required: [company]}
options: {temperature: 0, seed: 42, max_tokens: 32}
cases:
  - id: COMPANY_001
    expected: {json: {company: Acme}}
    vars: {posting: Acme is hiring a Python developer in Berlin.}
  - id: COMPANY_002
    expected: {json: {company: Globex}}
    vars: {posting: "Globex seeks a night-shift nurse for its Springfield clinic; apply now."}
"""

NO_LLAMACPP_PROVIDER = """
from pytest_llmbench.providers.base import Discovery


class NoLlamaCpp:
    name = "llamacpp"

    def __init__(self, settings=None):
        pass

    def discover(self):
        return Discovery(problem="llama-cpp-python is not installed")

    def generate(self, request):
        raise AssertionError("not used")
"""
"""Conftest text: the class ``NoLlamaCpp``, a llamacpp provider that reports "not installed".

For a conftest that registers more providers: add it to the conftest's one
``pytest_llmbench_register_providers`` (pluggy takes one implementation a module).
"""

NO_LLAMACPP = (
    NO_LLAMACPP_PROVIDER
    + """

def pytest_llmbench_register_providers(registry, config):
    registry.add(NoLlamaCpp())
"""
)
"""A conftest that makes the embedded provider report "not installed" (no local models)."""


def verdict_yaml(task: str = "grading", cases: int = 10, max_tokens: int = 16) -> str:
    """A verdict task whose odd cases (a GOOD posting) PASS and even ones (BAD) FAIL."""
    lines = [
        f"task: {task}",
        'prompt: "Posting: {posting}\\nAnswer PASS or FAIL."',
        "output: {kind: verdict, labels: [PASS, FAIL]}",
        f"options: {{temperature: 0, seed: 42, max_tokens: {max_tokens}}}",
        "cases:",
    ]
    for i in range(1, cases + 1):
        good = i % 2 == 1
        lines += [
            f"  - id: CASE_{i:02d}",
            f"    expected: {{verdict: {'PASS' if good else 'FAIL'}}}",
            f"    vars: {{posting: {'GOOD' if good else 'BAD'} posting {i}}}",
            "    why: test case",
        ]
    return "\n".join(lines) + "\n"


def right_answer(model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
    """An emulated server's answer to :func:`verdict_yaml`: always right."""
    return json.dumps({"verdict": "PASS" if "GOOD" in messages[-1]["content"] else "FAIL"})


def ollama_run_args(url: str) -> list[str]:
    """``pytest evals`` on the Ollama models of the server at ``url``, nothing else.

    pytest-benchmark is left out (its per-call records and tables are not what these
    runs look at) and so is the cache provider (no ``.pytest_cache``).
    """
    return [
        "evals",
        f"--llm-ollama-host={url}",
        "--llm-models=ollama",
        "-p",
        "no:benchmark",
        "-p",
        "no:cacheprovider",
    ]


def company_request(model: str) -> Request:
    """A one-line request of the company task (``COMPANY_SCHEMA``), for direct provider
    calls: another task's prompt before the one under test."""
    from pytest_llmbench.cases.options import GenerateOptions
    from pytest_llmbench.providers.base import Request

    return Request(
        model=model,
        prompt="Posting: Acme is hiring a Python developer in Berlin.\nWhich company? JSON.",
        options=GenerateOptions(temperature=0.0, seed=42, max_tokens=16),
        json_schema=COMPANY_SCHEMA,
    )


def child_cpu_s() -> float:
    """The CPU time (user + system) of this process's finished children so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_with_cpu(pytester: Any, *args: str) -> tuple[Any, float]:
    """``pytester.runpytest_subprocess(*args)``: its result and the CPU time the pytest
    subprocess spent (``getrusage(RUSAGE_CHILDREN)``: its own, not this process's)."""
    before = child_cpu_s()
    result = pytester.runpytest_subprocess(*args)
    return result, child_cpu_s() - before


def print_figures(benchmark: Any, capsys: Any, lines: list[str], rounds: int) -> None:
    """A benchmark's figures: printed (past pytest's capture) and kept in ``extra_info``
    with the number of rounds and the machine's load while it ran."""
    import os

    benchmark.extra_info["rounds"] = rounds
    benchmark.extra_info["load_average_1m"] = round(os.getloadavg()[0], 2)
    with capsys.disabled():
        print("\n" + "\n".join(lines))


# A text task whose two cases differ in input and gold: a model answering both with the
# same text gives a generic answer.
SKILLS_YAML = """\
task: skills
prompt: "Posting: {posting}\\nName the key skill."
output: {kind: text}
cases:
  - id: SKILLS_001
    expected: {contains: [expertise]}
    vars: {posting: "Python developer; deep Python expertise wanted"}
  - id: SKILLS_002
    expected: {contains: [systems]}
    vars: {posting: "Nurse for the clinic's patient record systems"}
"""

FAKE_CONFTEST = """
from pytest_llmbench.providers.scripted import ScriptedProvider


def by_posting(request):
    return '{"verdict": "PASS"}' if "GOOD" in request.prompt else '{"verdict": "FAIL"}'


def pytest_llmbench_register_providers(registry, config):
    registry.add(ScriptedProvider("fake", {
        "right": by_posting,
        "slowright": by_posting,
        "lenient": lambda request: '{"verdict": "PASS"}',
        "strict": lambda request: '{"verdict": "FAIL"}',
        "garbage": lambda request: "I think it is fine",
    }, latency_s={"slowright": 0.05}))
"""
"""A conftest with the scripted provider ``fake`` (the ``suite`` fixture's project)."""

GRADING_YAML = """\
task: grading
description: Grade a posting.
prompt: "Posting: {posting}\\nAnswer PASS or FAIL."
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    difficulty: easy
    batch: 1
    tags: [acme]
    vars: {posting: GOOD one}
    why: a good one
  - id: GRADE_FAIL_001
    expected: {verdict: FAIL}
    difficulty: hard
    batch: 2
    vars: {posting: BAD one}
    why: a bad one
"""
"""A two-case verdict task, ``grading`` (the ``suite`` fixture's ``evals/grading.yaml``)."""


VERSIONED = """\
task: grading
prompts:
  v1: {file: prompts/grading_v1.txt}
  v2: {file: prompts/grading_v2.txt}
output: {kind: verdict, labels: [PASS, FAIL]}
cases:
  - id: GRADE_PASS_001
    expected: {verdict: PASS}
    vars: {posting: GOOD one}
  - id: GRADE_FAIL_001
    expected: {verdict: FAIL}
    vars: {posting: BAD one}
"""


def write_versioned_project(root: Path) -> Path:
    """``evals/grading.yaml`` with two prompt versions (v1, v2) and their prompt files."""
    evals = root / "evals"
    (evals / "prompts").mkdir(parents=True)
    (evals / "prompts" / "grading_v1.txt").write_text("Posting: {posting}\nPASS or FAIL?")
    (evals / "prompts" / "grading_v2.txt").write_text(
        "Read carefully.\nPosting: {posting}\nPASS or FAIL?"
    )
    path = evals / "grading.yaml"
    path.write_text(VERSIONED)
    return path
