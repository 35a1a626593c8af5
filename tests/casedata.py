"""Test data shared by several test files (imported as ``casedata``, like ``ollama_emulator``)."""

from __future__ import annotations

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

NO_LLAMACPP = """
from pytest_llmbench.providers.base import Discovery


class NoLlamaCpp:
    name = "llamacpp"

    def __init__(self, settings=None):
        pass

    def discover(self):
        return Discovery(problem="llama-cpp-python is not installed")

    def generate(self, request):
        raise AssertionError("not used")


def pytest_llmbench_register_providers(registry, config):
    registry.add(NoLlamaCpp())
"""
"""A conftest that makes the embedded provider report "not installed" (no local models)."""
