"""pytest_llmbench.safety.atomic: a file is written whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmbench.safety.atomic import write_atomic


def test_the_pieces_are_written_in_order_as_utf8(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_atomic(target, ["{", '"model": "llama3.2:1b", "note": "ü"', "}\n"])
    assert target.read_bytes() == '{"model": "llama3.2:1b", "note": "ü"}\n'.encode()
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_failure_while_writing_leaves_the_old_file_and_no_temporary_one(
    tmp_path: Path,
) -> None:
    target = tmp_path / "report.json"
    target.write_text("old\n", encoding="utf-8")

    def pieces() -> Iterator[str]:
        yield "new, half"
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, pieces())
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_the_champions_registry_is_written_whole(tmp_path: Path) -> None:
    from pytest_llmbench.storage.champions import load_registry, write_registry

    path = tmp_path / "deep" / "llmbench-registry.yaml"
    write_registry(path, {})
    assert load_registry(path) == {}
    assert [p.name for p in path.parent.iterdir()] == ["llmbench-registry.yaml"]
