"""One codec for every record: rankings and results survive the history, the ``--llm-json``
document and the gate's baseline reader unchanged; malformed data is one clear error."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmbench.analysis.notes import annotate
from pytest_llmbench.analysis.ranking import ModelStanding, TaskRanking, rank_task
from pytest_llmbench.execution.prices import Price, PriceTable
from pytest_llmbench.execution.results import Result
from pytest_llmbench.safety.redaction import redact_data, register_secret
from pytest_llmbench.storage import history
from pytest_llmbench.storage.codec import Codec, CodecError, View, decode, encode
from pytest_llmbench.storage.json_report import (
    ReportError,
    json_document,
    json_text,
    load_json_rankings,
    rankings_from_json,
    results_from_json,
)
from tests.support import factories

CASES = ("PASS_1", "FAIL_1", "PASS_2")
PRICES = PriceTable((Price("p/a", input=0.15, output=0.6), Price("p/*", hourly=0.8)))
RUN = {"id": "20250101T000000Z-codec", "started_at": "2025-01-01T00:00:00Z"}


def verdict(model: str, case: str, said: str | None, repeat: int, ms: float, **kw: Any) -> Result:
    return factories.verdict(
        model,
        case,
        said,
        got=said or "???",
        repeat=repeat,
        latency_ms=ms,
        prompt_tokens=40,
        completion_tokens=4,
        eval_ms=ms / 2,
        prompt_hash=f"h-{case}",
        **kw,
    )


def grading() -> list[Result]:
    """3 runs of 3 cases: p/a and p/b right and tied, p/c flaky, p/d stopped after the
    first round (incomplete), ollama/e with cached answers, an error and a wrong one."""
    out: list[Result] = []
    for repeat in (1, 2, 3):
        for i, case in enumerate(CASES):
            gold = "FAIL" if "FAIL" in case else "PASS"
            load = 350.0 if (repeat, i) == (1, 0) else None  # loaded before its first case
            ms = 100.0 + 7 * repeat + i
            streamed = {"ttft_ms": ms / 4, "itl_ms": 2.5}  # p/a's answers were streamed
            out.append(
                verdict("p/a", case, gold, repeat, ms, cold=i == 0, cold_start_ms=load, **streamed)
            )
            out.append(verdict("p/b", case, gold, repeat, 104.0 + 5 * repeat - i))
            flaky = "PASS" if case == "FAIL_1" and repeat < 3 else gold
            out.append(verdict("p/c", case, flaky, repeat, 90.0 + repeat))
            if repeat == 1:
                out.append(verdict("p/d", case, gold, repeat, 50.0))
            cached = case == "PASS_2"
            error = "timeout after 30 s" if case == "FAIL_1" and repeat == 2 else None
            said = None if error else ("FAIL" if case == "PASS_1" and repeat == 3 else gold)
            ms = 0.0 if cached else 80.0 + repeat
            out.append(verdict("ollama/e", case, said, repeat, ms, cached=cached, error=error))
    return out


def skills() -> list[Result]:
    """Generic answers: both models give one sentence to different postings."""
    sentence = "Advanced technical expertise in domain-specific systems"
    out: list[Result] = []
    for model in ("p/a", "p/b"):
        for case, gold in (("S_1", "python, sql"), ("S_2", "nursing"), ("S_3", "welding")):
            got = sentence if model == "p/b" or case != "S_3" else gold
            out.append(
                Result(
                    "skills",
                    case,
                    model,
                    1,
                    gold,
                    got,
                    True,
                    latency_ms=30.0,
                    kind="text",
                    prompt_hash=f"s-{case}",
                    structured="prompt",
                )
            )
    return out


def extract() -> list[Result]:
    """Weighted policy: most models contradict the gold of E_2 alike (suspect gold), p/x is
    never right, p/z did not run E_2."""
    out: list[Result] = []
    models = (("p/a", 20.0), ("p/b", 10.0), ("p/c", 15.0), ("p/y", 12.0), ("p/x", 3.0))
    for model, ms in (*models, ("p/z", 5.0)):
        for case in ("E_1", "E_2") if model != "p/z" else ("E_1",):
            wrong = (case == "E_2" and model != "p/a") or model == "p/x"
            got = '{"company": "Initech"}' if wrong else '{"company": "Acme"}'
            reason = "company differs" if wrong else ""
            out.append(
                Result(
                    "extract",
                    case,
                    model,
                    1,
                    '{"company": "Acme"}',
                    got,
                    not wrong,
                    latency_ms=ms,
                    kind="json",
                    reason=reason,
                )
            )
    return out


def sample() -> tuple[list[Result], list[TaskRanking]]:
    results = [*grading(), *skills(), *extract()]
    rankings = [
        rank_task(
            "grading", results, prices=PRICES, expected=[(c, r) for r in (1, 2, 3) for c in CASES]
        ),
        rank_task("skills", results, prices=PRICES, latency="p95"),
        rank_task(
            "extract",
            results,
            policy="weighted",
            weights=(0.6, 0.4),
            prices=PRICES,
            expected=[("E_1", 1), ("E_2", 1)],
        ),
    ]
    return results, [annotate(r, [x for x in results if x.task == r.task]) for r in rankings]


RESULTS, RANKINGS = sample()


def standing(task: str, model: str) -> ModelStanding:
    ranking = next(r for r in RANKINGS if r.task == task)
    return next(s for s in ranking.standings if s.model == model)


def test_the_sample_holds_every_kind_of_record() -> None:
    grading, skills, extract = RANKINGS
    assert grading.repeats == 3
    assert grading.ties
    assert [s.model for s in grading.qualified] == ["p/b", "p/a"]
    incomplete = standing("grading", "p/d").incomplete
    assert incomplete is not None
    assert (len(incomplete.missing), incomplete.expected, incomplete.per_case) == (6, 9, 3)
    assert standing("grading", "p/c").misses[0].direction == "too lenient"
    assert {m.direction for m in standing("grading", "ollama/e").misses} == {
        "too strict",
        "error",
    }
    assert all(s.metrics is not None and s.repeats is not None for s in grading.standings)
    assert standing("grading", "p/a").cold is not None
    assert standing("grading", "p/a").ttft is not None  # streamed figures
    assert standing("grading", "p/a").itl_ms == 2.5
    assert skills.latency == "p95"  # ranked by another latency than the mean
    assert standing("grading", "p/a").load_ms == 350.0
    assert standing("grading", "p/b").load_ms is None
    assert {s.cost.basis for s in grading.standings if s.cost} == {"tokens", "hourly", "local"}
    assert any(r.cached for r in RESULTS)
    assert grading.notes
    assert skills.generic
    assert all(g.answer for g in skills.generic)
    assert skills.warnings
    assert extract.suspect_gold
    assert extract.weights == (0.6, 0.4)
    assert standing("extract", "p/z").incomplete is not None
    assert standing("extract", "p/z").weighted_score is not None
    assert not standing("extract", "p/x").qualified


# --------------------------------------------------------------------------- the codec


def json_trip(data: Any) -> Any:
    return json.loads(json.dumps(data))


def test_canonical_form_round_trips() -> None:
    assert [decode(TaskRanking, json_trip(encode(r))) for r in RANKINGS] == RANKINGS
    assert [decode(Result, json_trip(encode(r))) for r in RESULTS] == RESULTS


def test_canonical_form_is_what_the_history_always_stored() -> None:
    """``dataclasses.asdict`` through JSON: history files of earlier versions read back."""
    for ranking in RANKINGS:
        assert json_trip(encode(ranking)) == json_trip(dataclasses.asdict(ranking))
    assert all(encode(r) == r.to_dict() for r in RESULTS)  # the history writes to_dict()


def test_unknown_keys_are_ignored_and_absent_fields_take_their_defaults() -> None:
    data = {**encode(standing("grading", "p/a")), "from_a_newer_version": 1}
    del data["cost"], data["incomplete"]
    back = decode(ModelStanding, data)
    assert back == dataclasses.replace(standing("grading", "p/a"), cost=None)


def test_a_view_renames_and_the_rest_passes_through() -> None:
    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int
        y: int
        label: str = ""

    def write(point: Point, fields: dict[str, Any]) -> dict[str, Any]:
        return {"X": fields.pop("x"), **fields, "shown": f"({point.x}, {point.y})"}

    def read(doc: Any) -> dict[str, Any]:
        return {"x": doc["X"], **doc}

    codec = Codec({Point: View(write, read)})
    assert codec.encode([Point(1, 2)]) == [{"X": 1, "y": 2, "label": "", "shown": "(1, 2)"}]
    assert codec.decode(Point, {"X": 1, "y": 2, "shown": "ignored"}) == Point(1, 2)


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        (Result, [], "expected an object (Result), got an array"),
        (Result, {"task": "t"}, "missing 'case_id' (Result)"),
        (
            Result,
            {**RESULTS[0].to_dict(), "latency_ms": "fast"},
            "latency_ms: expected a number, got a string ('fast')",
        ),
        (Result, {**RESULTS[0].to_dict(), "correct": 1}, "correct: expected true or false"),
        (Result, {**RESULTS[0].to_dict(), "repeat": 1.5}, "repeat: expected an integer"),
        (
            ModelStanding,
            {**encode(standing("grading", "p/d")), "incomplete": {"missing": [["A"]]}},
            "incomplete.missing[0]: expected an array of 2, got 1 item(s)",
        ),
        (
            ModelStanding,
            {**encode(standing("grading", "p/a")), "metrics": {"confusion": {}}},
            "metrics: missing 'total' (VerdictMetrics)",
        ),
        (
            ModelStanding,
            {**encode(standing("grading", "p/a")), "latency": {"n": 1, "mean": None}},
            "latency.mean: expected a number, got null",
        ),
    ],
)
def test_malformed_data_is_a_codec_error_naming_where(kind: Any, data: Any, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        decode(kind, data, "here")
    assert str(caught.value).startswith("here")
    assert message in str(caught.value)


# --------------------------------------------------------------------------- --llm-json


def document() -> dict[str, Any]:
    doc: dict[str, Any] = json_trip(json_document(RUN, RESULTS, RANKINGS))
    return doc


def test_the_json_document_reads_back_to_the_same_rankings_and_results() -> None:
    doc = document()
    assert rankings_from_json(doc) == RANKINGS
    assert results_from_json(doc) == RESULTS


def test_the_gate_reads_a_baseline_file_back_to_the_same_rankings(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(json_document(RUN, RESULTS, RANKINGS), indent=2))
    assert load_json_rankings(path) == RANKINGS


def whole_text(run: dict[str, Any], results: list[Result], rankings: list[TaskRanking]) -> str:
    """The ``--llm-json`` text as it was written before it was streamed: built whole."""
    doc = redact_data(json_document(run, results, rankings))
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("parts", ["all", "no results", "no tasks", "nothing"])
def test_the_streamed_json_text_is_the_whole_document_text(parts: str) -> None:
    """Piece by piece (one record at a time), the text is byte for byte the text of the
    whole document: redacted the same way (values and keys), non-ASCII kept, control
    characters escaped by JSON, nested values indented at their depth."""
    register_secret("sk-streamed-secret-1234")
    odd = dataclasses.replace(
        RESULTS[0],
        got='sk-streamed-secret-1234 said Authorization: Bearer abcdefgh é ✓ \x1b[31m\n"q"',
        reason="tab\there, line\nbreak, \u2028 and \\ backslash",
    )
    run = {
        **RUN,
        "host": "http://user:hunter22@host:8080/",
        "nested": {"a": [1, {}, []], "key sk-streamed-secret-1234": None},
    }
    results = [odd, *RESULTS] if parts in ("all", "no tasks") else []
    rankings = RANKINGS if parts in ("all", "no results") else []
    text = "".join(json_text(run, results, rankings))
    assert text == whole_text(run, results, rankings)
    assert "sk-streamed-secret-1234" not in text
    assert "hunter22" not in text
    if results:
        assert "abcdefgh" not in text
        assert "é ✓" in text
    else:
        assert '"results": []' in text


def test_the_document_keeps_its_shape() -> None:
    """Renamed and derived keys as the document always had them; nothing of the codec's
    own names leaks in."""
    task = document()["tasks"]["grading"]
    p_d = task["disqualified"][-1]
    assert p_d["model"] == "p/d"
    assert "incomplete" not in p_d
    assert "misses" not in p_d
    assert len(p_d["missing_runs"]) == 6
    assert set(p_d["verdict_metrics"]) == {
        "accuracy",
        "precision",
        "recall",
        "f1",
        "tp",
        "fn",
        "fp",
        "tn",
        "unanswered_fail",
        "unanswered_pass",
        "confusion",
    }
    assert set(task["ties"][0]) == {"models", "faster_on_median", "p50_ms"}
    p_a = next(s for s in task["ranking"] if s["model"] == "p/a")
    keys = list(p_a)
    assert (p_a["load_ms"], keys.index("load_ms")) == (350.0, keys.index("cold") + 1)


def test_a_document_without_results_still_reads_its_rankings() -> None:
    doc = document()
    del doc["results"]
    skills = next(r for r in rankings_from_json(doc) if r.task == "skills")
    assert skills.generic
    assert {g.answer for g in skills.generic} == {""}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda doc: doc.pop("tasks"), "not a --llm-json document (no 'tasks')"),
        (
            lambda doc: doc["tasks"]["grading"].pop("disqualified"),
            "tasks['grading']: missing 'disqualified'",
        ),
        (
            lambda doc: doc["tasks"]["grading"]["ranking"][0].update(correct="nine"),
            "tasks['grading'].standings[0].correct: expected an integer, got a string ('nine')",
        ),
        (
            lambda doc: doc["tasks"]["grading"]["ranking"][0]["latency"].update(ci95_ms=[1]),
            "tasks['grading'].standings[0].latency.ci95_ms: expected an array of 2, got 1 item(s)",
        ),
        (
            lambda doc: doc["tasks"]["extract"].update(weights={"quality": 1}),
            "tasks['extract'].weights: expected {'quality': ..., 'speed': ...}",
        ),
        (
            lambda doc: doc["tasks"]["grading"]["disqualified"][-1].update(missing_runs=[{}]),
            "missing_runs[0]: missing 'case_id'",
        ),
    ],
)
def test_a_malformed_document_is_one_clear_error(edit: Any, message: str) -> None:
    doc = document()
    edit(doc)
    with pytest.raises(ReportError) as caught:
        rankings_from_json(doc)
    assert message in str(caught.value)


def test_malformed_results_are_one_clear_error() -> None:
    doc = document()
    doc["results"].append(7)
    with pytest.raises(ReportError) as caught:
        results_from_json(doc)
    assert str(caught.value) == (
        f"not a --llm-json document (results[{len(RESULTS)}]: "
        "expected an object (Result), got a number (7))"
    )


def test_a_malformed_baseline_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bench.json"
    path.write_text("{not json")
    with pytest.raises(ReportError, match=r"bench.json: cannot read it"):
        load_json_rankings(path)
    path.write_text('{"tasks": {"t": {"ranking": "all of them", "disqualified": []}}}')
    with pytest.raises(ReportError, match=r"bench.json: .*ranking: expected an array"):
        load_json_rankings(path)


# --------------------------------------------------------------------------- history


def test_the_history_reads_back_the_same_rankings_and_results(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    history.record_run(path, RUN, RESULTS, RANKINGS)
    stored = history.load_run(path, RUN["id"])
    assert list(stored.rankings) == RANKINGS
    assert list(stored.results) == RESULTS
    timeline = history.task_timeline(path, "grading")
    assert [row["standing"] for row in timeline] == list(RANKINGS[0].standings)


def test_the_history_stores_what_earlier_versions_stored(tmp_path: Path) -> None:
    """The rows are ``dataclasses.asdict`` as JSON, as before the codec: old files load."""
    path = tmp_path / "history.sqlite"
    history.record_run(path, RUN, RESULTS, RANKINGS)
    with sqlite3.connect(path) as db:
        records = [row[0] for row in db.execute("SELECT record FROM results ORDER BY seq")]
        standings = [row[0] for row in db.execute("SELECT standing FROM rankings ORDER BY rowid")]
    assert records == [json.dumps(r.to_dict(), ensure_ascii=False) for r in RESULTS]
    assert standings == [
        json.dumps(dataclasses.asdict(s), ensure_ascii=False)
        for ranking in RANKINGS
        for s in ranking.standings
    ]


def test_a_damaged_history_row_is_a_history_error(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    history.record_run(path, RUN, RESULTS, RANKINGS)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE rankings SET standing = ? WHERE position = 0", ('{"model": 3}',))
    with pytest.raises(history.HistoryError) as caught:
        history.load_run(path, RUN["id"])
    assert str(caught.value) == (
        f"history {path}: run {RUN['id']} cannot be read: "
        "rankings['grading'].standings[0].model: expected a string, got a number (3)"
    )


# --------------------------------------------------------------------------- end to end


def test_a_record_type_imported_lazily_is_resolved_when_a_record_is_read() -> None:
    """``analysis.ranking`` imports the judge's, the load phase's and consensus's record
    types only when asked (a small run does not use them): writing a ranking imports
    none of them; reading one resolves them through the module (issue 23, start-up)."""
    code = """
import json, sys
from pytest_llmbench.analysis.ranking import rank_task, TaskRanking
from pytest_llmbench.execution.results import Result
from pytest_llmbench.storage.codec import decode, encode

LAZY = ("at_load", "calibration", "consensus")

def loaded():
    return [m for m in LAZY if f"pytest_llmbench.analysis.{m}" in sys.modules]

result = Result("t", "C_1", "p/a", 1, "PASS", "PASS", True, latency_ms=5.0, kind="verdict")
ranking = rank_task("t", [result])
data = json.loads(json.dumps(encode(ranking)))
written = loaded()
back = decode(TaskRanking, data)
print(json.dumps([written, loaded(), back == ranking]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[], ["at_load", "calibration", "consensus"], True]
