"""The ``--llm-json`` document: written at the end of a run, read back by the CI gate.

Pure module (the file reader aside), built on the one codec (:mod:`.codec`).  The file
is written streamed (:func:`json_text`): the text of the whole document (indented by 2,
redacted), made one result record at a time, so 20,000 results never sit in memory as
a document or as one string::

    {"run": {...}, "results": [Result, ...],
     "tasks": {task: {"policy", "champion", "runner_up", "ranking": [standing, ...],
                      "disqualified": [standing, ...], "notes", "weights", "repeats",
                      "ties", "leads", "generic_answers", "suspect_gold", "warnings"}}}

The document's shape is a published format, so it is not the codec's canonical form
(:data:`~.codec.CODEC`, what the history stores) but a set of :class:`~.codec.View` s
over it (:data:`DOCUMENT`): a few fields are renamed (``misses`` -> ``failed_cases``,
``metrics`` -> ``verdict_metrics``, ``mean`` -> ``mean_ms``, ...) or regrouped (the
standings split into ``ranking`` and ``disqualified``, ``cost`` flattened into
``cost_per_1k_requests`` and ``cost_basis``), and display values are added that the
reader ignores (``champion``, ``runner_up``, ``speed``, ``pass_rate``, ``accuracy``,
``flaky_cases``, ...).  Every other field passes through under its own name, so a
field added to a record is written and read back without a change here.

Reading restores every ranking as it was ranked, including what the document does not
spell out:

- ``Incomplete.expected`` is the standing's ``total``; ``Incomplete.per_case`` (runs
  per case) is the largest count of a case's runs made (``repeats.cases``) plus missing
  (``missing_runs``);
- ``VerdictMetrics.total`` is the sum of the six counts, ``exact`` is ``accuracy *
  total``;
- ``GenericAnswer.answer`` is the ``got`` of the flagged run in ``results`` (empty
  when the document has no results).

The standings of a task come back in the order ``ranking`` then ``disqualified``,
which is the order :func:`~pytest_llmbench.analysis.ranking.rank_task` gives them.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import platform
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_llmbench._version import __version__
from pytest_llmbench.analysis.cost import Cost
from pytest_llmbench.analysis.generic import GenericAnswer
from pytest_llmbench.analysis.paired import Lead
from pytest_llmbench.analysis.ranking import ModelStanding, TaskRanking, Tie
from pytest_llmbench.analysis.repeats import CaseRuns, RepeatStats
from pytest_llmbench.analysis.stats import LatencyStats
from pytest_llmbench.analysis.verdicts import VerdictMetrics
from pytest_llmbench.execution.results import Result
from pytest_llmbench.safety.redaction import redact_data
from pytest_llmbench.storage.codec import Codec, CodecError, Plain, View

__all__ = [
    "DOCUMENT",
    "ReportError",
    "json_document",
    "json_text",
    "load_json_rankings",
    "load_json_run",
    "rankings_from_json",
    "results_from_json",
    "run_info",
]


class ReportError(Exception):
    """A ``--llm-json`` document that cannot be read; ``str()`` is the one-line message."""


# --------------------------------------------------------------------------- helpers


def _renamed(data: Mapping[str, Plain], names: Mapping[str, str]) -> dict[str, Plain]:
    """``data`` with the keys in ``names`` renamed, in the same order."""
    return {names.get(key, key): value for key, value in data.items()}


def _inverse(names: Mapping[str, str]) -> dict[str, str]:
    return {new: old for old, new in names.items()}


def _ordered(data: Mapping[str, Plain], order: Sequence[str]) -> dict[str, Plain]:
    """The keys of ``order`` first (those present), then the others as they come."""
    first = {key: data[key] for key in order if key in data}
    return {**first, **{key: value for key, value in data.items() if key not in first}}


def _need(data: Mapping[str, Plain], key: str, hint: Any) -> Any:
    """``data[key]`` decoded as ``hint``; a missing key is an error."""
    if key not in data:
        raise CodecError(f"missing {key!r}")
    return DOCUMENT.decode_hint(hint, data[key], key)


def _field_names(kind: type[Any]) -> list[str]:
    return [f.name for f in dataclasses.fields(kind)]


# --------------------------------------------------------------------------- views


LATENCY_KEYS = {
    "mean": "mean_ms",
    "p50": "p50_ms",
    "p95": "p95_ms",
    "p99": "p99_ms",
    "stdev": "stdev_ms",
}
LATENCY_ORDER = ("n", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "stdev_ms", "ci95_ms", "speed")


def _write_latency(stats: LatencyStats, fields: dict[str, Plain]) -> dict[str, Plain]:
    low, high = fields.pop("ci_low"), fields.pop("ci_high")
    doc = _renamed(fields, LATENCY_KEYS)
    doc["ci95_ms"] = [low, high] if low is not None and high is not None else None
    doc["speed"] = stats.speed
    return _ordered(doc, LATENCY_ORDER)


def _read_latency(doc: Mapping[str, Plain]) -> Mapping[str, Plain]:
    fields = _renamed(doc, _inverse(LATENCY_KEYS))
    ci = DOCUMENT.decode_hint(tuple[float, float] | None, doc.get("ci95_ms"), "ci95_ms")
    fields["ci_low"], fields["ci_high"] = ci if ci is not None else (None, None)
    return fields


CASE_KEYS = {"answers": "distinct_answers"}
CASE_ORDER = ("case_id", "runs", "passes", "pass_rate", "pass_hat_k", "distinct_answers")


def _write_case(case: CaseRuns, fields: dict[str, Plain]) -> dict[str, Plain]:
    # pass_hat_k depends on the k of the whole model: RepeatStats adds it
    return {**_renamed(fields, CASE_KEYS), "pass_rate": case.pass_rate}


def _read_case(doc: Mapping[str, Plain]) -> Mapping[str, Plain]:
    return _renamed(doc, _inverse(CASE_KEYS))


REPEATS_ORDER = ("k", "pass_at_1", "pass_hat_k", "consistency", "flaky_cases", "cases")


def _write_repeats(stats: RepeatStats, fields: dict[str, Plain]) -> dict[str, Plain]:
    fields["cases"] = [
        _ordered({**doc, "pass_hat_k": case.pass_hat(stats.k)}, CASE_ORDER)
        for case, doc in zip(stats.cases, fields["cases"], strict=True)
    ]
    fields["flaky_cases"] = [case.case_id for case in stats.flaky]
    return _ordered(fields, REPEATS_ORDER)


COUNTS = ("tp", "fn", "fp", "tn", "unanswered_fail", "unanswered_pass")
METRICS_ORDER = ("accuracy", "precision", "recall", "f1", *COUNTS, "confusion")


def _write_metrics(metrics: VerdictMetrics, fields: dict[str, Plain]) -> dict[str, Plain]:
    # total and exact are not shown: they are the counts' sum and accuracy * total
    del fields["total"], fields["exact"]
    shown = {
        "accuracy": metrics.accuracy,
        "precision": metrics.precision,
        "recall": metrics.recall,
        "f1": metrics.f1,
    }
    return _ordered({**shown, **fields}, METRICS_ORDER)


def _read_metrics(doc: Mapping[str, Plain]) -> Mapping[str, Plain]:
    total = sum(_need(doc, key, int) for key in COUNTS)
    accuracy = DOCUMENT.decode_hint(float | None, doc.get("accuracy"), "accuracy")
    exact = round(accuracy * total) if accuracy is not None else 0
    return {"total": total, "exact": exact, **doc}


def _write_tie(tie: Tie, fields: dict[str, Plain]) -> dict[str, Plain]:
    first, second = fields.pop("first"), fields.pop("second")
    first_p50, second_p50 = fields.pop("first_p50"), fields.pop("second_p50")
    return {
        "models": [first, second],
        "faster_on_median": tie.faster_on_median,
        "p50_ms": [first_p50, second_p50],
        **fields,
    }


def _read_tie(doc: Mapping[str, Plain]) -> Mapping[str, Plain]:
    first, second = _need(doc, "models", tuple[str, str])
    first_p50, second_p50 = _need(doc, "p50_ms", tuple[float, float])
    return {
        **doc,
        "first": first,
        "second": second,
        "first_p50": first_p50,
        "second_p50": second_p50,
    }


def _write_lead(lead: Lead, fields: dict[str, Plain]) -> dict[str, Plain]:
    """The lead's fields, with what they mean added (read back from the fields alone)."""
    described = lead.to_dict()
    return {**fields, **{k: v for k, v in described.items() if k not in fields}}


def _write_generic(generic: GenericAnswer, fields: dict[str, Plain]) -> dict[str, Plain]:
    del fields["answer"]  # the run's answer is in "results"
    return fields


STANDING_KEYS = {"misses": "failed_cases", "metrics": "verdict_metrics"}
COST_KEYS = {"per_1k": "cost_per_1k_requests", "basis": "cost_basis"}
"""The cost is flattened into the standing (other fields of Cost: ``cost_<field>``)."""
STANDING_ORDER = (
    "model",
    "status",
    "qualified",
    "correct",
    "total",
    "mean_score",
    "errors",
    "mean_ms",
    "p95_ms",
    "tokens_per_s",
    "failed_cases",
    "missing_runs",
    "eliminated",
    "raced",
    "weighted_score",
    "latency",
    "cold",
    "load_ms",
    "repeats",
    "verdict_metrics",
    "cost_per_1k_requests",
    "cost_basis",
)


def _cost_key(name: str) -> str:
    return COST_KEYS.get(name, f"cost_{name}")


def _write_standing(standing: ModelStanding, fields: dict[str, Plain]) -> dict[str, Plain]:
    cost = fields.pop("cost") or {}
    incomplete = fields.pop("incomplete")
    doc = _renamed(fields, STANDING_KEYS)
    doc["missing_runs"] = [
        {"case_id": case_id, "repeat": repeat}
        for case_id, repeat in (incomplete["missing"] if incomplete else ())
    ]
    doc.update({_cost_key(name): cost.get(name) for name in _field_names(Cost)})
    return _ordered(doc, STANDING_ORDER)


@dataclass(frozen=True)
class _MissingRun:
    case_id: str
    repeat: int


def _read_standing(doc: Mapping[str, Plain]) -> Mapping[str, Plain]:
    fields = _renamed(doc, _inverse(STANDING_KEYS))
    cost = {name: doc.get(_cost_key(name)) for name in _field_names(Cost)}
    fields["cost"] = cost if any(value is not None for value in cost.values()) else None
    missing = DOCUMENT.decode_hint(
        tuple[_MissingRun, ...], doc.get("missing_runs", []), "missing_runs"
    )
    fields["incomplete"] = None
    if missing:
        # Runs per case: the most of one case, made (repeats.cases) and not made.
        runs = Counter(run.case_id for run in missing)
        repeats = DOCUMENT.decode_hint(RepeatStats | None, doc.get("repeats"), "repeats")
        for case in repeats.cases if repeats else ():
            runs[case.case_id] += case.runs
        fields["incomplete"] = {
            "missing": [[run.case_id, run.repeat] for run in missing],
            "expected": _need(doc, "total", int),
            "per_case": max(runs.values()),
        }
    return fields


TASK_KEYS = {"generic": "generic_answers"}
TASK_ORDER = (
    "policy",
    "champion",
    "runner_up",
    "ranking",
    "disqualified",
    "notes",
    "weights",
    "repeats",
    "ties",
    "leads",
    "generic_answers",
    "suspect_gold",
    "warnings",
)


def _write_ranking(ranking: TaskRanking, fields: dict[str, Plain]) -> dict[str, Plain]:
    del fields["task"]  # the key of the task in "tasks"
    standings = list(zip(ranking.standings, fields.pop("standings"), strict=True))
    weights = fields.pop("weights")
    champion, runner_up = ranking.champion, ranking.runner_up
    if fields.get("at_load") is None:  # a task without a load phase: no key
        fields.pop("at_load", None)
    doc = _renamed(fields, TASK_KEYS)
    doc.update(
        champion=champion.model if champion else None,
        runner_up=runner_up.model if runner_up else None,
        ranking=[plain for standing, plain in standings if standing.qualified],
        disqualified=[plain for standing, plain in standings if not standing.qualified],
        weights={"quality": weights[0], "speed": weights[1]} if weights else None,
    )
    return _ordered(doc, TASK_ORDER)


def _read_ranking(doc: Mapping[str, Plain]) -> Mapping[str, Plain]:
    fields = _renamed(doc, _inverse(TASK_KEYS))
    ranked = _need(doc, "ranking", list[Any])
    fields["standings"] = [*ranked, *_need(doc, "disqualified", list[Any])]
    weights = DOCUMENT.decode_hint(dict[str, float] | None, doc.get("weights"), "weights")
    if weights is not None:
        if set(weights) != {"quality", "speed"}:
            raise CodecError("expected {'quality': ..., 'speed': ...}", "weights")
        fields["weights"] = [weights["quality"], weights["speed"]]
    return fields


DOCUMENT = Codec(
    {
        LatencyStats: View(_write_latency, _read_latency),
        CaseRuns: View(_write_case, _read_case),
        RepeatStats: View(_write_repeats),
        VerdictMetrics: View(_write_metrics, _read_metrics),
        Tie: View(_write_tie, _read_tie),
        Lead: View(_write_lead),
        GenericAnswer: View(_write_generic),
        ModelStanding: View(_write_standing, _read_standing),
        TaskRanking: View(_write_ranking, _read_ranking),
    }
)
"""The codec of the ``--llm-json`` document: the canonical form seen through its views."""


# --------------------------------------------------------------------------- writing


def json_document(
    run: Mapping[str, Any], results: Iterable[Result], rankings: Sequence[TaskRanking]
) -> dict[str, Any]:
    """The ``--llm-json`` document: ``{"run", "results", "tasks"}`` as in DESIGN.md.

    ``results`` are the records as each item scored them; ``tasks`` is the session-level
    decision, which also fails generic answers (listed under ``generic_answers``).
    """
    return {
        "run": dict(run),
        "results": [DOCUMENT.encode(r) for r in results],
        "tasks": {ranking.task: DOCUMENT.encode(ranking) for ranking in rankings},
    }


INDENT = 2
"""The document's indentation (``json.dumps(..., indent=2)``)."""

_ENCODER = json.JSONEncoder(indent=INDENT, ensure_ascii=False)


def json_text(
    run: Mapping[str, Any], results: Iterable[Result], rankings: Sequence[TaskRanking]
) -> Iterator[str]:
    """The ``--llm-json`` file's text, redacted, in pieces to write as they come.

    The same text as ``json.dumps(redact_data(json_document(...)), indent=2,
    ensure_ascii=False) + "\\n"``, but neither the document nor its text is ever whole
    in memory: the results are encoded and redacted one record at a time, the rankings
    one task at a time, and each is written as the encoder makes its pieces.
    """
    # Keyed as redact_data keys the tasks (a redacted name may repeat: the last wins).
    tasks = {redact_data(ranking.task): ranking for ranking in rankings}
    yield "{" + _key("run", level=1)
    yield from _pieces(redact_data(dict(run)), level=1)
    yield "," + _key("results", level=1)
    yield from _array(redact_data(DOCUMENT.encode(result)) for result in results)
    yield "," + _key("tasks", level=1)
    yield from _object(
        (task, redact_data(DOCUMENT.encode(ranking))) for task, ranking in tasks.items()
    )
    yield "\n}\n"


def _pieces(value: Plain, level: int) -> Iterator[str]:
    """``value`` as ``json.dumps(value, indent=2)`` writes it ``level`` deep in a document.

    A string never holds a raw newline (JSON escapes it), so every newline of the
    encoder's text starts a line, which goes ``level`` steps further in.
    """
    margin = "\n" + " " * (INDENT * level)
    for piece in _ENCODER.iterencode(value):
        yield piece.replace("\n", margin) if "\n" in piece else piece


def _key(name: str, level: int) -> str:
    """A member's key on a line of its own, redacted as :func:`redact_data` redacts keys."""
    return "\n" + " " * (INDENT * level) + _ENCODER.encode(redact_data(name)) + ": "


def _array(values: Iterable[Plain]) -> Iterator[str]:
    """A member of the top object that is an array, item by item (each one small: whole)."""
    opening = "["
    margin = "\n" + " " * (INDENT * 2)
    for value in values:
        yield opening + margin + _ENCODER.encode(value).replace("\n", margin)
        opening = ","
    yield "[]" if opening == "[" else "\n" + " " * INDENT + "]"


def _object(members: Iterable[tuple[str, Plain]]) -> Iterator[str]:
    """A member of the top object that is an object, member by member."""
    opening = "{"
    for key, value in members:
        yield opening + _key(key, level=2)
        yield from _pieces(value, level=2)
        opening = ","
    yield "{}" if opening == "{" else "\n" + " " * INDENT + "}"


# --------------------------------------------------------------------------- reading


def _document(document: object) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        raise ReportError("not a --llm-json document (not a JSON object)")
    return document


def results_from_json(document: object) -> list[Result]:
    """The result records of a ``--llm-json`` document."""
    records = _document(document).get("results", [])
    try:
        results: list[Result] = DOCUMENT.decode_hint(list[Result], records, "results")
    except CodecError as exc:
        raise ReportError(f"not a --llm-json document ({exc})") from None
    return results


def rankings_from_json(document: object) -> list[TaskRanking]:
    """The rankings of a ``--llm-json`` document, as they were ranked."""
    tasks = _document(document).get("tasks")
    if not isinstance(tasks, Mapping):
        raise ReportError("not a --llm-json document (no 'tasks')")
    rankings: list[TaskRanking] = []
    try:
        for name, task in tasks.items():
            where = f"tasks[{name!r}]"
            if not isinstance(task, Mapping):
                raise CodecError("expected an object", where)
            rankings.append(DOCUMENT.decode(TaskRanking, {**task, "task": name}, where))
    except CodecError as exc:
        raise ReportError(f"not a --llm-json document ({exc})") from None
    if any(ranking.generic for ranking in rankings):
        rankings = _with_answers(rankings, results_from_json(document))
    return rankings


def _with_answers(rankings: list[TaskRanking], results: list[Result]) -> list[TaskRanking]:
    """The generic answers with the answer text from the results (the document omits it)."""
    got: dict[tuple[str, str, str, int], str] = {}
    for r in results:
        got.setdefault((r.task, r.candidate, r.case_id, r.repeat), r.got)

    def answer(task: str, g: GenericAnswer) -> GenericAnswer:
        text = got.get((task, g.model, g.case_id, g.repeat), g.answer)
        return dataclasses.replace(g, answer=text)

    return [
        dataclasses.replace(r, generic=tuple(answer(r.task, g) for g in r.generic))
        for r in rankings
    ]


def load_json_run(path: Path) -> dict[str, Any] | None:
    """The ``run`` record of the ``--llm-json`` file at ``path`` (``None``: none readable)."""
    try:
        run = json.loads(path.read_text(encoding="utf-8")).get("run")
    except (OSError, ValueError, AttributeError):
        return None
    return run if isinstance(run, dict) else None


def load_json_rankings(path: Path) -> list[TaskRanking]:
    """The rankings of the ``--llm-json`` file at ``path``; :class:`ReportError` if none."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path}: cannot read it: {exc}") from None
    try:
        return rankings_from_json(document)
    except ReportError as exc:
        raise ReportError(f"{path}: {exc}") from None


def run_info(
    *,
    started: _dt.datetime,
    models: Sequence[str],
    args: Sequence[str],
    exitstatus: int | None,
    cache: str,
    run_id: str | None,
    partial: str | None,
    cache_only: bool,
    xdist: Mapping[str, Any] | None,
    conditions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The document's ``run``: when, where and how the run ran (``finished_at``: now);
    ``partial``: why the run is partial (``None``: complete); ``xdist``: the workers' part
    (``None``: not distributed); ``conditions``: the machine's load at the start and the
    end, its cores and the embedded thread count (:mod:`pytest_llmbench.analysis.conditions`)."""
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "plugin_version": __version__,
        "host": platform.node(),
        "python": platform.python_version(),
        "models": models,
        "args": list(args),
        "exitstatus": exitstatus,
        "cache": cache,
        "id": run_id,
        "partial": partial is not None,
        "partial_reason": partial,
        "cache_only": cache_only,
        **({"xdist": xdist} if xdist is not None else {}),
        **({"conditions": dict(conditions)} if conditions is not None else {}),
        **embedded_threads(models),
    }


def machine_conditions(load_at_start: Mapping[str, Any], models: Sequence[str]) -> dict[str, Any]:
    """The run record's ``conditions``: the load measured at the start and now, and the
    embedded thread count this process ran its models with (``None`` when it loaded none:
    an xdist controller, whose workers chose their own)
    (:mod:`pytest_llmbench.analysis.conditions`)."""
    from pytest_llmbench.analysis.conditions import measure, run_conditions

    used = None
    if any(model.startswith("llamacpp/") for model in models):
        from pytest_llmbench.providers.llamacpp import threads_used

        used = threads_used()  # never chosen here: no 50 ms sample, no count never used
    return run_conditions(load_at_start, measure(), used.threads if used else None)


def embedded_threads(models: Sequence[str]) -> dict[str, Any]:
    """``{"embedded_threads": {...}}`` when this process ran an embedded model: the
    llama.cpp thread count it chose and why (cores, xdist workers, idle cores), so a slow
    run explains itself; empty otherwise (and on an xdist controller, whose workers ran
    the models: each worker chooses ``cores // workers``)."""
    if not any(m.startswith("llamacpp/") for m in models):
        return {}
    from pytest_llmbench.providers.llamacpp import threads_used

    threads = threads_used()
    return {"embedded_threads": threads.to_json()} if threads is not None else {}
