"""A call that timed out is an error of the call, shown with its cause, not a wrong answer
(issue 24, point 5): the item, the summary and the JSON say so."""

from __future__ import annotations

import json

import pytest

from tests.support.casedata import NO_LLAMACPP, ollama_run_args
from tests.support.ollama_emulator import EmulatedModel, OllamaEmulator


def test_a_timed_out_call_is_an_error_with_its_cause(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(NO_LLAMACPP)
    (pytester.mkdir("evals") / "g.yaml").write_text(
        "task: g\n"
        'prompt: "Grade {x}"\n'
        "output: {kind: verdict, labels: [PASS, FAIL]}\n"
        "cases:\n"
        "  - {id: C1, expected: {verdict: PASS}, vars: {x: a}}\n"
        "  - {id: C2, expected: {verdict: PASS}, vars: {x: b}}\n"
    )
    srv = OllamaEmulator(
        models=[EmulatedModel("m:1b")], answer=lambda *_: json.dumps({"verdict": "PASS"})
    )
    with srv:
        srv.hang_next(path="/api/chat")
        result = pytester.runpytest(
            *ollama_run_args(srv.url), "--llm-timeout=0.3", "--llm-json=o.json", "--llm-no-history"
        )
    result.assert_outcomes(passed=1, failed=1)
    cause = "timed out: no answer from ollama/m:1b within 0.3 s; the machine's load average was"
    result.stdout.fnmatch_lines(
        [
            "_*g::C1[[]ollama/m:1b[]] _*",
            f"call error, not a wrong answer: {cause} * on * cores",
            "Did not qualify:",
            "  ollama/m:1b (1/2): error on C1; a call error, not a wrong answer: timed out: no "
            "answer from ollama/m:1b within 0.3 s*",
        ]
    )
    assert not any(line.startswith("wrong answer") for line in result.outlines)
    doc = json.loads((pytester.path / "o.json").read_text())
    (standing,) = doc["tasks"]["g"]["disqualified"]
    assert standing["errors"] == 1  # counted as an error of the call
    (miss,) = standing["failed_cases"]
    assert miss["direction"] == "error"
    assert miss["reason"].startswith(cause)
    failed = next(r for r in doc["results"] if r["case_id"] == "C1")
    assert failed["error"].startswith(cause)
