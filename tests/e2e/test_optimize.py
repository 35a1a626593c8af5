"""The interviewer loop end to end on the embedded models (real inference, no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="needs pip install 'pytest-llmbench[embedded]'")

from pytest_llmbench.cli import main
from tests.support.casedata import COMPANY_TASK

pytestmark = pytest.mark.embedded


def test_optimize_with_smollm2_writes_the_session_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case_file = tmp_path / "company.yaml"
    case_file.write_text(COMPANY_TASK)
    out = tmp_path / "sessions"
    status = main(
        ["optimize", str(case_file), "--model", "llamacpp/smollm2-135m",
         "--interviewer", "llamacpp/smollm2-135m", "--max-iterations", "2",
         "--threshold", "1.0", "--interviewer-max-tokens", "160", "--out", str(out)]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    [folder] = out.iterdir()
    assert (
        (folder / "optimization_report.md")
        .read_text()
        .startswith("# Prompt optimization: company on llamacpp/smollm2-135m")
    )
    data = json.loads((folder / "session_data.json").read_text())
    assert data["interviewer"] == "llamacpp/smollm2-135m"
    assert 1 <= len(data["iterations"]) <= 2
    assert (folder / "test_iteration_1.json").is_file()
    assert data["stop_reason"]
