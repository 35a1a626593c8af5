"""A third-party provider gets the general settings and its own options, nothing more."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_llmbench.providers.base import BuiltinSettings, ProviderSettings
from tests.support.casedata import GRADING_YAML

THIRD_PARTY = """
import json
from pathlib import Path

from pytest_llmbench.providers.base import Discovery, ModelInfo, Response


class MineProvider:
    name = "mine"

    def __init__(self, settings):
        Path("seen.json").write_text(json.dumps({
            "type": type(settings).__name__,
            "fields": sorted(vars(settings)),
            "timeout_s": settings.timeout_s,
            "options": dict(settings.options),
        }))

    def discover(self):
        return Discovery((ModelInfo("mine", "echo"),))

    def generate(self, request):
        verdict = "PASS" if "GOOD" in request.prompt else "FAIL"
        return Response(text='{"verdict": "%s"}' % verdict)
"""


def test_for_provider_keeps_the_general_settings_and_its_own_options() -> None:
    settings = BuiltinSettings(
        timeout_s=7.0,
        retries=1,
        ollama_hosts=("http://gpu:11434",),
        gguf_models={"x": "/models/x.gguf"},
        provider_options={"mine": {"greeting": "hello"}, "other": {"k": "v"}},
    )
    own = settings.for_provider("mine")
    assert type(own) is ProviderSettings
    assert (own.timeout_s, own.retries, dict(own.options)) == (7.0, 1, {"greeting": "hello"})
    assert not hasattr(own, "ollama_hosts")
    assert not hasattr(own, "gguf_models")
    assert dict(settings.for_provider("nobody").options) == {}


def test_an_entry_point_provider_gets_only_its_own_settings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = pytester.mkdir("site")
    (site / "mine_provider.py").write_text(THIRD_PARTY)
    dist = site / "mine_provider-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mine-provider\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[pytest_llmbench.providers]\nmine = mine_provider:MineProvider\n"
    )
    (pytester.mkdir("evals") / "grading.yaml").write_text(GRADING_YAML)
    pytester.makeini("[pytest]\nllm_timeout = 9\nllm_provider_options =\n    mine greeting=hello\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    result = pytester.runpytest_subprocess("evals", "--llm-models=mine", "-p", "no:benchmark")
    result.assert_outcomes(passed=2)
    seen = json.loads(Path(pytester.path / "seen.json").read_text())
    assert seen["type"] == "ProviderSettings"
    assert seen["timeout_s"] == 9.0
    assert seen["options"] == {"greeting": "hello"}
    assert not {"ollama_hosts", "gguf_models", "openai_endpoints"} & set(seen["fields"])
