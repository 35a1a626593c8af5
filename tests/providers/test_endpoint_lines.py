"""OpenAI-compatible endpoints from their lines (providers/endpoints.py
``endpoints_from_lines``) and a model's host (providers/hosts.py ``model_host``)."""

from __future__ import annotations

import pytest

from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.providers.endpoints import EndpointError, endpoints_from_lines
from pytest_llmbench.providers.hosts import model_host
from pytest_llmbench.safety.redaction import redact


def test_endpoint_lines_skip_comments_and_a_later_name_wins() -> None:
    endpoints = endpoints_from_lines(
        [
            "# local servers",
            "",
            "vllm = http://a:8000/v1",
            "groq = https://api.groq.com/openai/v1",
            "vllm = http://b:8000/v1",
        ]
    )
    assert [(e.name, e.base_url) for e in endpoints] == [
        ("vllm", "http://b:8000/v1"),
        ("groq", "https://api.groq.com/openai/v1"),
    ]


def test_an_endpoint_key_is_masked_as_soon_as_the_endpoints_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENDPOINTS_TEST_KEY", "gsk-endpoint-lines-secret")
    endpoints_from_lines(["groq = https://api.groq.com/openai/v1 key_env=ENDPOINTS_TEST_KEY"])
    assert "gsk-endpoint-lines-secret" not in redact("key: gsk-endpoint-lines-secret")


def test_a_bad_endpoint_line_is_an_endpoint_error() -> None:
    with pytest.raises(EndpointError, match="expected 'NAME = BASE_URL"):
        endpoints_from_lines(["just-a-name"])


def test_a_models_host_is_its_details_host() -> None:
    assert model_host(ModelInfo("ollama", "m", details={"host": "http://a:11434"})) == (
        "http://a:11434"
    )
    assert model_host(ModelInfo("llamacpp", "m")) is None
    assert model_host(ModelInfo("ollama", "m", details={"host": 3})) is None
