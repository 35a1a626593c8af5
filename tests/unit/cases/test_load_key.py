"""A case file's ``load:``: read into ``Task.load``, checked by the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmbench.cases.load import load_task
from pytest_llmbench.cases.problems import CaseFileError
from pytest_llmbench.cases.records import LoadSpec
from tests.unit.cases.test_build import VERDICT


def test_load_is_read_with_its_slo(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        VERDICT + "load: {concurrency: 8, requests: 64, slo: {p95_ms: 1500, ttft_ms: 300}}\n"
    )
    assert load_task(path).load == LoadSpec(8, 64, 1500.0, 300.0)


def test_no_load_key_no_load_phase(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(VERDICT)
    assert load_task(path).load is None


@pytest.mark.parametrize(
    "load", ["{concurrency: 0}", "{concurrency: 2, slo: {p95_ms: -1}}", "{parallel: 4}"]
)
def test_a_bad_load_is_refused(tmp_path: Path, load: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(VERDICT + f"load: {load}\n")
    with pytest.raises(CaseFileError):
        load_task(path)
