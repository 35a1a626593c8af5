"""Changed models: the identity comparison, the check made once per process per model
(whatever the number of callers and routers), a failed check giving no verdict, and the
warning given once."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.providers.identity import file_sha256
from pytest_llmbench.router.identity import IdentityWatch, ModelChanged, Verdict, changed, forget
from pytest_llmbench.storage.champions import Evidence, RegistryEntry


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    forget()
    yield
    forget()


class Asked:
    """A provider whose identity check answers ``now`` (or raises), counting the checks."""

    name = "ollama"

    def __init__(self, now: dict[str, str | None], fail: bool = False) -> None:
        self.now = now
        self.fail = fail
        self.checks = 0
        self.lock = threading.Lock()

    def host_for(self, name: str) -> str:
        return "http://127.0.0.1:1"


def watch(asked: Asked, monkeypatch: pytest.MonkeyPatch, **recorded: str | None) -> IdentityWatch:
    def current(provider: Any, name: str, timeout_s: float) -> str | None:
        with asked.lock:
            asked.checks += 1
        if asked.fail:
            raise OSError("connection refused")
        return asked.now.get(name)

    monkeypatch.setattr("pytest_llmbench.providers.identity.current_identity", current)
    entry = RegistryEntry(
        "grading",
        Evidence("ollama/a:1b", 2, 2, 1.0, identity=recorded.get("a")),
        Evidence("ollama/b:1b", 2, 2, 2.0, identity=recorded.get("b")),
    )
    return IdentityWatch(lambda _: asked, lambda model: "host", {"grading": entry})  # type: ignore[arg-type, return-value]


def test_the_comparison_gives_a_verdict_only_when_both_are_known() -> None:
    assert changed("sha256:1", "sha256:2") is True
    assert changed("sha256:1", "sha256:1") is False
    assert changed(None, "sha256:1") is None
    assert changed("sha256:1", None) is None
    assert changed("", "") is None
    assert Verdict("t", "m", "x", "y", "fall_over").skip
    assert not Verdict("t", "m", "x", "y").skip  # warn
    assert not Verdict("t", "m", "x", None, "fall_over").skip  # not known: no verdict


def test_each_model_is_checked_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = Asked({"a:1b": "new", "b:1b": "b1"})
    first = watch(asked, monkeypatch, a="old", b="b1")
    second = watch(asked, monkeypatch, a="old", b="b1")  # another router, same process
    results: list[bool] = []

    def call() -> None:
        results.append(first.verdict("grading", "ollama/a:1b").changed)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert second.verdict("grading", "ollama/a:1b").changed
        assert not second.verdict("grading", "ollama/b:1b").changed
    assert results == [True] * 8
    assert asked.checks == 2  # a and b, once each
    messages = [str(w.message) for w in seen if issubclass(w.category, ModelChanged)]
    assert messages == [
        "llmbench: task grading: model ollama/a:1b changed since the benchmark "
        "(registry old, now new); re-run the benchmark: pytest evals/ --llm-models=new"
    ]


def test_a_failed_check_is_no_verdict_and_no_model_recorded_is_no_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = Asked({}, fail=True)
    guard = watch(asked, monkeypatch, a="old")
    verdict = guard.verdict("grading", "ollama/a:1b", "fall_over")
    assert (verdict.changed, verdict.skip, verdict.to_dict()["changed"]) == (False, False, None)
    assert guard.verdict("grading", "ollama/b:1b").recorded is None  # nothing recorded
    assert guard.verdict("other", "ollama/a:1b").recorded is None  # not the task's model
    assert asked.checks == 1  # b and the other task: nothing to compare, nothing asked


def test_a_re_benchmarked_model_matches_again(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = Asked({"a:1b": "new"})
    guard = watch(asked, monkeypatch, a="old")
    with pytest.warns(ModelChanged):
        assert guard.verdict("grading", "ollama/a:1b", "fall_over").skip
    entry = guard.entries["grading"]
    renewed = Evidence("ollama/a:1b", 2, 2, 1.0, identity="new")
    guard.update({"grading": RegistryEntry("grading", renewed, entry.runner_up)})
    assert not guard.verdict("grading", "ollama/a:1b", "fall_over").skip
    assert asked.checks == 1


def test_a_file_is_hashed_once_per_size_and_mtime(tmp_path: Path) -> None:
    import hashlib

    model = tmp_path / "m.gguf"
    model.write_bytes(b"weights" * 1000)
    cache = tmp_path / "state" / "file-hashes.json"
    expected = "sha256:" + hashlib.sha256(model.read_bytes()).hexdigest()
    assert file_sha256(str(model), cache) == expected
    assert cache.is_file()
    forget_memory()
    model_stat = model.stat()
    # a cached hash is believed while size and mtime stay: prove it by lying in the cache
    text = cache.read_text().replace(expected, "sha256:from-the-cache")
    cache.write_text(text)
    assert file_sha256(str(model), cache) == "sha256:from-the-cache"
    model.write_bytes(b"other weights" * 1000)  # replaced: another size
    assert model.stat().st_size != model_stat.st_size
    assert file_sha256(str(model), cache) == (
        "sha256:" + hashlib.sha256(model.read_bytes()).hexdigest()
    )
    assert file_sha256(str(tmp_path / "missing.gguf"), cache) is None
    cache.parent.chmod(0o500)  # a cache that cannot be written: hashed all the same
    try:
        forget_memory()
        assert file_sha256(str(model), cache) is not None
    finally:
        cache.parent.chmod(0o700)


def forget_memory() -> None:
    from pytest_llmbench.providers import identity

    identity._hashes.clear()
