"""Changed models: the registry records the weights a model was benchmarked with (Ollama's
digest) and ``llmbench rankings`` shows it stale when ``ollama pull`` replaced them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.cli import main
from pytest_llmbench.providers.base import ModelInfo
from pytest_llmbench.providers.identity import model_identities, model_identity
from pytest_llmbench.storage.champions import (
    Evidence,
    RegistryEntry,
    load_registry,
    write_registry,
)
from tests.support.ollama_emulator import OllamaEmulator


@pytest.fixture
def srv() -> Iterator[OllamaEmulator]:
    with OllamaEmulator(models=["qwen2.5:7b", "llama3.2:3b"]) as server:
        yield server
    assert server.errors == []


def benchmarked(tmp_path: Path, srv: OllamaEmulator) -> Path:
    """A registry whose champion and runner-up carry the digests the emulator lists now."""
    digests = {f"ollama/{name}": m.digest for name, m in srv.models.items()}
    path = tmp_path / "llmbench-registry.yaml"
    champion = "ollama/qwen2.5:7b"
    runner_up = "ollama/llama3.2:3b"
    write_registry(
        path,
        {
            "grading": RegistryEntry(
                "grading",
                Evidence(champion, 10, 10, 400.0, 500.0, "R1", identity=digests[champion]),
                Evidence(runner_up, 9, 10, 300.0, 350.0, "R1", identity=digests[runner_up]),
            )
        },
    )  # fmt: skip
    return path


def rankings(capsys: pytest.CaptureFixture[str], registry: Path, host: str) -> list[str]:
    assert main(["rankings", "--registry", str(registry), "--ollama-host", host]) == 0
    return capsys.readouterr().out.splitlines()


def test_the_registry_keeps_the_identity(tmp_path: Path, srv: OllamaEmulator) -> None:
    registry = benchmarked(tmp_path, srv)
    assert "identity: " in registry.read_text(encoding="utf-8")
    entry = load_registry(registry)["grading"]
    assert entry.champion.identity == srv.models["qwen2.5:7b"].digest


def test_a_repulled_model_shows_stale(
    tmp_path: Path, srv: OllamaEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = benchmarked(tmp_path, srv)
    old = srv.models["qwen2.5:7b"].digest or ""
    before = rankings(capsys, registry, srv.url)
    assert before[1].split()[-1] == "weights"
    assert [line.split()[-1] for line in before[3:5]] == ["same", "same"]
    srv.models["qwen2.5:7b"].digest = "0123456789abcdef" * 4  # ollama pull: new weights
    after = rankings(capsys, registry, srv.url)
    assert [line.split()[-1] for line in after[3:5]] == ["stale", "same"]
    assert after[5] == (
        "stale: grading champion ollama/qwen2.5:7b: the installed weights (0123456789ab) are "
        f"not the benchmarked ones ({old[:12]}); re-benchmark it (pytest --llm-models=new)"
    )


def test_a_removed_model_is_gone_and_an_unreachable_host_unknown(
    tmp_path: Path, srv: OllamaEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = benchmarked(tmp_path, srv)
    srv.remove_model("llama3.2:3b")
    lines = rankings(capsys, registry, srv.url)
    assert [line.split()[-1] for line in lines[3:5]] == ["same", "gone"]
    url = srv.url
    srv.close()
    lines = rankings(capsys, registry, url)
    assert [line.split()[-1] for line in lines[3:5]] == ["?", "?"]


def test_a_registry_without_identities_shows_no_weights_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.yaml"
    write_registry(path, {"t": RegistryEntry("t", Evidence("ollama/m:1b", 1, 1, 1.0))})
    assert main(["rankings", "--registry", str(path)]) == 0
    assert "weights" not in capsys.readouterr().out


def test_identity_of_discovered_models() -> None:
    ollama = ModelInfo("ollama", "qwen2.5:7b", details={"digest": "abc123"})
    endpoint = ModelInfo("vllm", "qwen", details={})
    assert model_identity(ollama) == "abc123"
    assert model_identity(endpoint) is None
    assert model_identities([ollama, endpoint]) == {"ollama/qwen2.5:7b": "abc123"}


def test_a_benchmark_run_records_the_digest_it_ran(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pytest --llm-update-registry`` against Ollama writes each model's digest with its
    evidence (the weights the champion was measured with)."""
    from tests.support.casedata import right_answer, verdict_yaml
    from tests.support.ollama_emulator import EmulatedModel

    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=2))
    with OllamaEmulator(models=[EmulatedModel("m:1b")], answer=right_answer) as server:
        result = pytester.runpytest_inprocess(
            "evals",
            f"--llm-ollama-host={server.url}",
            "--llm-models=ollama",
            "--llm-update-registry=reg.yaml",
            "-p",
            "no:benchmark",
            "-p",
            "no:cacheprovider",
        )
        digest = server.models["m:1b"].digest
    assert result.ret == 0, result.stdout.str()[-2000:]
    entry = load_registry(pytester.path / "reg.yaml")["grading"]
    assert entry.champion is not None
    assert entry.champion.model == "ollama/m:1b"
    assert entry.champion.identity == digest


# --------------------------------------------------------------------------- the router


@pytest.fixture
def _fresh_checks() -> Iterator[None]:
    """Each test its own process, as far as the once-per-process checks go."""
    from pytest_llmbench.router.identity import forget

    forget()
    yield
    forget()


@pytest.mark.usefixtures("_fresh_checks")
def test_a_repulled_champion_end_to_end(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A benchmark run writes the registry; ``ollama pull`` then replaces the champion's
    weights under its tag: ``llmbench rankings`` shows it stale, the router warns once over
    several calls and marks its feedback lines, and with ``on_change: fall_over`` the
    runner-up answers until the benchmark records the new weights."""
    import json
    import warnings

    from pytest_llmbench import Router
    from pytest_llmbench.providers.base import BuiltinSettings
    from pytest_llmbench.router.identity import ModelChanged
    from pytest_llmbench.storage.feedback import flush_feedback
    from tests.support.casedata import ollama_run_args, right_answer, verdict_yaml
    from tests.support.ollama_emulator import EmulatedModel

    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    evals = pytester.mkdir("evals")
    (evals / "grading.yaml").write_text(verdict_yaml(cases=2))
    fast, slow = EmulatedModel("fast:1b", latency_s=0.001), EmulatedModel("slow:1b", latency_s=0.06)
    with OllamaEmulator(models=[fast, slow], answer=right_answer) as server:
        args = [*ollama_run_args(server.url), "--llm-update-registry=llmbench-registry.yaml"]
        result = pytester.runpytest_inprocess(*args)
        assert result.ret == 0, result.stdout.str()[-2000:]
        registry = pytester.path / "llmbench-registry.yaml"
        entry = load_registry(registry)["grading"]
        assert entry.runner_up is not None
        champion, runner_up = entry.champion.model, entry.runner_up.model
        assert (champion, runner_up) == ("ollama/fast:1b", "ollama/slow:1b")
        benchmarked = server.models["fast:1b"].digest or ""
        assert entry.champion.identity == benchmarked

        new = server.repull("fast:1b")  # ollama pull: new weights under the same tag
        capsys.readouterr()
        lines = rankings(capsys, registry, server.url)
        assert [line.split()[-1] for line in lines[3:5]] == ["stale", "same"]

        settings = BuiltinSettings(ollama_hosts=(server.url,), timeout_s=5.0, retries=0)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with Router.from_registry(registry, settings=settings) as router:
                answers = [router.run("grading", posting=f"GOOD {i}") for i in range(3)]
        assert [a.model for a in answers] == [champion] * 3  # on_change: warn (the default)
        changed = [str(w.message) for w in seen if issubclass(w.category, ModelChanged)]
        assert changed == [
            f"llmbench: task grading: model {champion} changed since the benchmark "
            f"(registry {benchmarked[:12]}, now {new[:12]}); "
            "re-run the benchmark: pytest evals/ --llm-models=new"
        ]
        assert server.bodies("/api/tags")  # asked, once for the process
        flush_feedback()
        log = pytester.path / ".llmbench" / "feedback.jsonl"
        records = [json.loads(line) for line in log.read_text().splitlines()]
        assert [(r["model"], r.get("model_changed")) for r in records] == [(champion, True)] * 3

        (evals / "grading.yaml").write_text("on_change: fall_over\n" + verdict_yaml(cases=2))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with Router.from_registry(registry, settings=settings) as router:
                answer = router.run("grading", posting="GOOD posting")
                assert [(a.model, a.outcome) for a in answer.attempts] == [
                    (champion, "circuit_open"),
                    (runner_up, "ok"),
                ]
                assert answer.model == runner_up
                assert "on_change: fall_over" in answer.attempts[0].detail
                # re-benchmarked: the registry records the new weights, the champion is back
                result = pytester.runpytest_inprocess(*args)
                assert result.ret == 0, result.stdout.str()[-2000:]
                assert load_registry(registry)["grading"].champion.identity == new
                assert router.reloaded().run("grading", posting="GOOD posting").model == champion
        assert not [w for w in seen if issubclass(w.category, ModelChanged)]  # warned already


def test_only_the_models_looked_up_are_hashed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run records the champion's and runner-up's identity: the GGUF of a model the
    registry does not record is never read."""
    import hashlib

    from pytest_llmbench.providers import identity

    monkeypatch.chdir(tmp_path)  # the hash cache: .llmbench/file-hashes.json here
    read: list[str] = []
    real_open = open

    def counting_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path).endswith(".gguf"):
            read.append(Path(path).name)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", counting_open)
    files = {}
    for name in ("a", "b"):
        files[name] = tmp_path / f"{name}.gguf"
        files[name].write_bytes(name.encode() * 4096)
    identity._hashes.clear()
    found = model_identities(
        [ModelInfo("llamacpp", n, details={"path": str(f)}) for n, f in files.items()]
    )
    expected = "sha256:" + hashlib.sha256(files["a"].read_bytes()).hexdigest()
    assert found.get("llamacpp/a") == expected
    assert found.get("llamacpp/zz") is None
    assert read == ["a.gguf"]
    assert (tmp_path / ".llmbench" / "file-hashes.json").is_file()


def test_the_nightly_job_benchmarks_a_repulled_model_again(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--llm-models=new,ollama --llm-update-registry`` (the nightly job) after ``ollama
    pull`` replaced the champion's weights: only that model runs again, the registry takes
    its new weights, and ``llmbench rankings`` no longer calls it stale.  A repulled model
    that now answers wrong leaves the registry."""
    from tests.support.casedata import ollama_run_args, right_answer, verdict_yaml
    from tests.support.ollama_emulator import EmulatedModel

    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    (pytester.mkdir("evals") / "grading.yaml").write_text(verdict_yaml(cases=2))
    wrong: set[str] = set()

    def answer(model: str, messages: list[dict[str, Any]], fmt: Any, opts: Any) -> str:
        if model in wrong:
            return '{"verdict": "FAIL"}'
        return right_answer(model, messages, fmt, opts)

    fast, slow = EmulatedModel("fast:1b", latency_s=0.001), EmulatedModel("slow:1b", latency_s=0.06)
    with OllamaEmulator(models=[fast, slow], answer=answer) as server:
        args = [*ollama_run_args(server.url), "--llm-update-registry=reg.yaml"]
        nightly = [a.replace("--llm-models=ollama", "--llm-models=new,ollama") for a in args]
        registry = pytester.path / "reg.yaml"
        assert pytester.runpytest_inprocess(*args).ret == 0
        assert load_registry(registry)["grading"].champion.model == "ollama/fast:1b"

        def generated() -> list[str]:
            bodies = server.bodies("/api/chat") + server.bodies("/api/generate")
            return sorted({str(b["model"]) for b in bodies if isinstance(b, dict)})

        server.received.clear()
        quiet = pytester.runpytest_inprocess(*nightly)  # nothing changed: nothing to run
        assert quiet.ret in (0, 5), quiet.stdout.str()[-2000:]
        assert generated() == []

        new = server.repull("fast:1b")
        server.received.clear()
        result = pytester.runpytest_inprocess(*nightly)
        assert result.ret == 0, result.stdout.str()[-2000:]
        assert generated() == ["fast:1b"]
        result.stdout.fnmatch_lines(
            ["*new: grading: ollama/fast:1b changed since the registry's benchmark*"]
        )
        entry = load_registry(registry)["grading"]
        assert (entry.champion.model, entry.champion.identity) == ("ollama/fast:1b", new)
        assert entry.why is not None
        assert "ollama/fast:1b changed (" in entry.why
        capsys.readouterr()
        lines = rankings(capsys, registry, server.url)
        assert [line.split()[-1] for line in lines[3:5]] == ["same", "same"]

        server.repull("fast:1b")
        wrong.add("fast:1b")  # the new weights get a case wrong
        result = pytester.runpytest_inprocess(*nightly)
        assert result.ret in (0, 1), result.stdout.str()[-2000:]
        entry = load_registry(registry)["grading"]
        assert entry.champion.model == "ollama/slow:1b"
        assert entry.runner_up is None
        assert entry.why is not None
        assert "ollama/fast:1b ran again" in entry.why
