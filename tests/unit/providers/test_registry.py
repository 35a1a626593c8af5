"""The provider registry: built-in providers made when first asked for, names as before."""

from __future__ import annotations

import json
import subprocess
import sys

from pytest_llmbench.providers.base import BuiltinSettings, Discovery
from pytest_llmbench.providers.registry import ProviderRegistry, register_entry_points
from pytest_llmbench.providers.scripted import ScriptedProvider


def test_a_deferred_provider_is_made_once_when_first_asked_for() -> None:
    made: list[str] = []

    def make() -> ScriptedProvider:
        made.append("fake")
        return ScriptedProvider("fake", {"m": lambda request: "PASS"})

    registry = ProviderRegistry(BuiltinSettings())
    registry.add_deferred("fake", make)
    assert "fake" in registry
    assert registry.names() == ["fake"]
    assert made == []
    found = registry.discover("fake")
    assert isinstance(found, Discovery)
    assert [m.id for m in found.models] == ["fake/m"]
    assert registry.get("fake") is registry.get("fake")
    assert made == ["fake"]


def test_a_provider_added_replaces_a_deferred_one_of_its_name() -> None:
    registry = ProviderRegistry(BuiltinSettings())
    registry.add_deferred("fake", lambda: ScriptedProvider("fake", {"old": lambda r: "x"}))
    registry.add(ScriptedProvider("fake", {"new": lambda r: "x"}))
    assert [m.id for m in registry.discover("fake").models] == ["fake/new"]
    assert registry.names() == ["fake"]


def test_the_built_in_providers_are_registered_without_importing_them() -> None:
    code = (
        "import json, sys\n"
        "from pytest_llmbench.providers.base import BuiltinSettings\n"
        "from pytest_llmbench.providers.registry import ProviderRegistry, register_entry_points\n"
        "registry = ProviderRegistry(BuiltinSettings())\n"
        "register_entry_points(registry)\n"
        "print(registry.names())\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith("
        "'pytest_llmbench.providers.') and m.count('.') == 2)))\n"
        "registry.get('ollama')\n"
        "print('pytest_llmbench.providers.ollama' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "['llamacpp', 'ollama', 'openai']"
    imported = json.loads(out[1])
    assert not {"llamacpp", "ollama", "openai"} & {m.rsplit(".", 1)[1] for m in imported}
    assert out[2] == "True"


def test_registering_keeps_a_provider_already_there() -> None:
    registry = ProviderRegistry(BuiltinSettings())
    mine = ScriptedProvider("ollama", {"m": lambda r: "x"})
    registry.add(mine)
    register_entry_points(registry)
    assert registry.get("ollama") is mine
    assert {"llamacpp", "openai"} <= set(registry.names())
