"""Consensus between models: when two answers agree, which answer a group of models
gives, and what such a combination would have scored on the gold cases.

Pure module: parsed answers in, decisions out.

**Agreement** (:func:`agreement`) compares two *parsed* answers, as
:func:`pytest_llmbench.execution.scoring.parse_answer` reads them, by the task's kind:

- ``verdict``: the labels are equal (similarity 1.0, else 0.0);
- ``json``: field by field.  Two objects agree when they have the same keys and every
  field agrees; two lists when they have the same length and each element agrees with a
  different element of the other, in any order (matched greedily, first fit); two
  strings when their similarity is at least the threshold; numbers, booleans and null
  when equal (``true`` is not ``1``).  The similarity is the lowest of all fields
  (1.0 for equal non-strings; 0.0 as soon as the shapes or types differ);
- ``text``: the similarity of the two texts is at least the threshold.

An answer that could not be used (an error, a timeout, an answer that does not parse)
agrees with nothing.

**Similarity** of two strings ``a`` (the higher-ranked model's answer) and ``b``::

    norm(s) = " ".join(s.split()).casefold()
    similarity(a, b) = difflib.SequenceMatcher(None, norm(a), norm(b), autojunk=False).ratio()

``norm`` collapses every run of white space (spaces, tabs, newlines) into one space,
drops leading and trailing white space and folds case; ``isjunk=None`` and
``autojunk=False`` turn off difflib's junk heuristics, so every character counts.
``ratio()`` is ``2 * M / T``: ``M`` characters in matching blocks, ``T`` the two
lengths added (two empty strings: 1.0).  The default threshold is 0.75
(``consensus: {agree: 0.75}``).

**The rule** (:func:`decide`), over answers in rank order: the first two are compared;
when they agree, the first (the higher-ranked) is taken.  Otherwise each further answer,
up to ``models`` in all, is compared with every earlier one in rank order, and the first
it agrees with is taken (the higher-ranked of the agreeing pair).  With ``models``
answers in and no agreement, the top model's answer (the first usable one) is taken,
flagged ``consensus=False``.

**Combinations on the gold cases** (:func:`combine`): the rows a combination
``consensus(A+B|C)`` would have produced, built from the results A, B and C already
have (no model is called again).  Its model id names the first two models, joined by
``+``, then each tie-breaker after a ``|`` (:func:`combination_id`).

**Which combinations** (:func:`combinations`): from the models in rank order, the pairs
in the order of their best member, then their second (#1+#2, #1+#3, #2+#3, #1+#4, ...);
each pair's tie-breakers are the best-ranked models outside it, up to ``models`` in all.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_llmbench.cases.records import DEFAULT_AGREE, OutputSpec
from pytest_llmbench.execution.results import Result
from pytest_llmbench.execution.scoring import parse_answer

__all__ = [
    "DEFAULT_AGREE",
    "Combination",
    "CombinedRun",
    "Decision",
    "Vote",
    "agreement",
    "combination_id",
    "combinations",
    "combine",
    "decide",
    "is_combination",
    "normalise",
    "similarity",
    "summarise",
]


# --------------------------------------------------------------------------- agreement


def normalise(text: str) -> str:
    """White space runs collapsed to one space, trimmed, case folded."""
    return " ".join(text.split()).casefold()


def similarity(a: str, b: str) -> float:
    """``SequenceMatcher(None, normalise(a), normalise(b), autojunk=False).ratio()``."""
    return difflib.SequenceMatcher(None, normalise(a), normalise(b), autojunk=False).ratio()


def _json_agreement(a: Any, b: Any, threshold: float) -> tuple[bool, float]:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if set(a) != set(b):
            return False, 0.0
        return _all_agree(((a[k], b[k]) for k in a), threshold)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False, 0.0
        unused = list(range(len(b)))
        lowest = 1.0
        for item in a:
            for j in unused:
                agree, sim = _json_agreement(item, b[j], threshold)
                if agree:
                    unused.remove(j)
                    lowest = min(lowest, sim)
                    break
            else:
                return False, 0.0
        return True, lowest
    if isinstance(a, str) and isinstance(b, str):
        sim = similarity(a, b)
        return sim >= threshold, sim
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        same = a is b
    elif isinstance(a, int | float) and isinstance(b, int | float):
        same = a == b
    else:
        same = type(a) is type(b) and a == b
    return same, 1.0 if same else 0.0


def _all_agree(pairs: Iterable[tuple[Any, Any]], threshold: float) -> tuple[bool, float]:
    """Every pair agrees; the lowest similarity of them all."""
    agree, lowest = True, 1.0
    for x, y in pairs:
        same, sim = _json_agreement(x, y, threshold)
        agree, lowest = agree and same, min(lowest, sim)
    return agree, lowest


@dataclass(frozen=True)
class Vote:
    """One model's parsed answer; ``usable=False``: it gave none that can be used."""

    value: Any = None
    usable: bool = True


def agreement(kind: str, a: Vote, b: Vote, threshold: float = DEFAULT_AGREE) -> tuple[bool, float]:
    """Whether two answers agree, and their similarity (see the module docstring).

    ``a`` is the higher-ranked model's answer.
    """
    if not (a.usable and b.usable):
        return False, 0.0
    if kind == "verdict":
        same = a.value == b.value
        return same, 1.0 if same else 0.0
    if kind == "json":
        return _json_agreement(a.value, b.value, threshold)
    sim = similarity(str(a.value), str(b.value))
    return sim >= threshold, sim


# --------------------------------------------------------------------------- the rule


@dataclass(frozen=True)
class Decision:
    """What :func:`decide` made of the answers so far."""

    pending: bool
    """Another answer is needed (fewer than two, or no agreement and fewer than ``models``)."""
    chosen: int | None = None
    """The index of the answer taken (``None`` while pending, or when none is usable)."""
    consensus: bool = False
    """The answer was taken because two models agreed."""
    agreed: tuple[int, ...] = ()
    """The indices of the two answers that agreed."""
    similarity: float | None = None
    """Of the agreeing pair; without agreement, the highest of the pairs compared."""


def decide(
    answers: Sequence[Vote],
    kind: str,
    threshold: float = DEFAULT_AGREE,
    models: int = 3,
    *,
    final: bool = False,
) -> Decision:
    """Apply the consensus rule to the answers given so far, in rank order.

    :param models: how many answers may be asked for in all (at least two).
    :param final: no further answer can be had (every model was asked): decide now.
    """
    best: float | None = None
    for j in range(1, len(answers)):
        for i in range(j):
            agree, sim = agreement(kind, answers[i], answers[j], threshold)
            if agree:
                return Decision(False, i, True, (i, j), sim)
            if answers[i].usable and answers[j].usable:
                best = sim if best is None else max(best, sim)
    if len(answers) < max(2, models) and not final:
        return Decision(True, similarity=best)
    top = next((i for i, a in enumerate(answers) if a.usable), None)
    return Decision(False, top, False, (), best)


# --------------------------------------------------------------------------- combinations


def combination_id(models: Sequence[str]) -> str:
    """``consensus(A+B|C)``: the first two models, then each tie-breaker after ``|``."""
    if len(models) < 2:
        raise ValueError("a consensus combination needs at least two models")
    return f"consensus({models[0]}+{models[1]}{''.join('|' + m for m in models[2:])})"


def combinations(order: Sequence[str], models: int = 3, pairs: int = 1) -> list[tuple[str, ...]]:
    """The first ``pairs`` combinations of the models in ``order`` (best first), each of
    ``models`` models at most: a pair, then its tie-breakers (see the module docstring).

    >>> combinations(["a", "b", "c", "d"], models=3, pairs=3)
    [('a', 'b', 'c'), ('a', 'c', 'b'), ('b', 'c', 'a')]
    """
    ranked = list(dict.fromkeys(order))
    chosen: list[tuple[str, ...]] = []
    for second in range(1, len(ranked)):
        for first in range(second):
            if len(chosen) >= pairs:
                return chosen
            pair = (ranked[first], ranked[second])
            rest = [m for m in ranked if m not in pair][: max(0, models - 2)]
            chosen.append((*pair, *rest))
    return chosen


def is_combination(model: str) -> bool:
    """Whether a model id names a consensus combination (not a single model)."""
    return model.startswith("consensus(") and model.endswith(")")


@dataclass(frozen=True)
class CombinedRun:
    """One (case, repeat) of a combination: its result row and how it came about."""

    result: Result
    """The row, ranked like any model's: the answer, ``correct`` and ``reason`` of the
    model whose answer was taken; ``latency_ms`` the sum of the calls it needed."""
    answered_by: str
    """The model whose answer was taken."""
    consensus: bool
    agreed: tuple[str, ...]
    similarity: float | None
    calls: int
    """How many models were asked (2 when the first two agreed)."""
    concurrent_ms: float | None
    """The latency when the first two models are asked at once: the slower of the two,
    plus the tie-breakers that were needed, one after the other.  ``None`` when they
    share a host (or a latency is unknown): then ``result.latency_ms`` is the figure."""


def _vote(result: Result, output: OutputSpec) -> Vote:
    if result.error:
        return Vote(usable=False)
    if result.kind == "verdict":
        return Vote(result.got_label, result.got_label is not None)
    value, problem = parse_answer(output, result.got)
    return Vote(value, not problem)


def _total(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else math.fsum(v or 0.0 for v in values)


def _total_int(values: Sequence[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v or 0 for v in values)


def combine(
    results: Iterable[Result],
    models: Sequence[str],
    *,
    agree: float = DEFAULT_AGREE,
    output: OutputSpec | None = None,
    separate_hosts: bool | None = None,
) -> list[CombinedRun]:
    """The rows of ``consensus(models[0]+models[1]|models[2]...)``, one per (case, repeat)
    that the models it needed all ran, in the order the runs first appear in ``results``.

    Per run the answers are read from the models' results (a verdict's label; JSON and
    text re-read from ``got`` with :func:`~pytest_llmbench.execution.scoring.parse_answer`,
    so a JSON answer that breaks ``output.schema`` is not usable; an error never is) and
    :func:`decide` picks one.  The row copies the ``correct`` and ``reason`` of the result
    whose answer was taken; its latency is the sum of the calls needed (the first two,
    and a tie-breaker only when they disagreed), ``None`` when one of them has none
    (cached); its cost, tokens and wall time are summed likewise; it is ``cold`` when a
    call it needed was.  A run that a needed model did not make gives no row (the
    ranking then counts it as missing).

    :param output: the task's output spec (the schema a JSON answer must match);
        default: the kind the results record, without a schema.
    :param separate_hosts: whether the first two models would be asked at once (they
        sit on different hosts); default: when both results name a host and they differ.
    """
    chosen = [r for r in results if r.model in models]
    by_run: dict[tuple[str, int], dict[str, Result]] = {}
    for r in chosen:
        by_run.setdefault((r.case_id, r.repeat), {}).setdefault(r.model, r)
    name = combination_id(models)
    rows: list[CombinedRun] = []
    for (case_id, repeat), found in by_run.items():
        if models[0] not in found or models[1] not in found:
            continue
        first = found[models[0]]
        spec = output or OutputSpec(kind=first.kind)
        used: list[Result] = []
        votes: list[Vote] = []
        decision = Decision(True)
        for model in models:
            if not decision.pending:
                break
            if model not in found:
                break
            used.append(found[model])
            votes.append(_vote(found[model], spec))
            decision = decide(votes, spec.kind, agree, len(models))
        if decision.pending:
            continue  # a tie-breaker it needed did not run this case
        taken = used[decision.chosen if decision.chosen is not None else 0]
        latencies = [r.latency_ms for r in used]
        pair_apart = (
            separate_hosts
            if separate_hosts is not None
            else (used[0].host is not None and used[1].host not in (None, used[0].host))
        )
        concurrent = None
        if pair_apart and None not in latencies[:2]:
            rest = _total(latencies[2:])
            if rest is not None:
                concurrent = max(latencies[0] or 0.0, latencies[1] or 0.0) + rest
        costs = [r.cost_usd for r in used]
        row = Result(
            task=first.task,
            case_id=case_id,
            model=name,
            repeat=repeat,
            expected=first.expected,
            got=taken.got,
            correct=taken.correct,
            reason=taken.reason,
            latency_ms=_total(latencies),
            prompt_tokens=_total_int([r.prompt_tokens for r in used]),
            completion_tokens=_total_int([r.completion_tokens for r in used]),
            error=taken.error,
            prompt_hash=first.prompt_hash,
            kind=first.kind,
            expected_label=first.expected_label,
            got_label=taken.got_label,
            pass_label=first.pass_label,
            difficulty=first.difficulty,
            wall_ms=_total([r.wall_ms for r in used]),
            cold=any(r.cold for r in used),
            cached=any(r.cached for r in used),
            cost_usd=None if all(c is None for c in costs) else math.fsum(c or 0.0 for c in costs),
        )
        rows.append(
            CombinedRun(
                result=row,
                answered_by=taken.model,
                consensus=decision.consensus,
                agreed=tuple(used[i].model for i in decision.agreed),
                similarity=decision.similarity,
                calls=len(used),
                concurrent_ms=concurrent,
            )
        )
    return rows


@dataclass(frozen=True)
class Combination:
    """What a combination's runs add to its standing: how it reached its answers."""

    models: tuple[str, ...]
    """The models combined, in the order they are asked."""
    agreed: int = 0
    """Runs whose answer two models agreed on."""
    tie_breaks: int = 0
    """Runs that needed more than the first two models."""
    flagged: int = 0
    """Runs without agreement: the top model's answer, flagged."""
    mean_calls: float | None = None
    concurrent_mean_ms: float | None = None
    """The mean latency with the first two models asked at once (they sit on different
    hosts); ``None`` when they share one."""


def summarise(models: Sequence[str], runs: Sequence[CombinedRun]) -> Combination:
    """A combination's :class:`Combination` from its runs (as :func:`combine` made them)."""
    # Timed like the standing's mean: the warm runs (the cold ones when nothing else).
    timed = [
        r
        for r in runs
        if r.result.latency_ms is not None and r.result.error is None and not r.result.cached
    ]
    warm = [r for r in timed if not r.result.cold] or timed
    concurrent = [r.concurrent_ms for r in warm]
    return Combination(
        models=tuple(models),
        agreed=sum(1 for r in runs if r.consensus),
        tie_breaks=sum(1 for r in runs if r.calls > 2),
        flagged=sum(1 for r in runs if not r.consensus),
        mean_calls=math.fsum(r.calls for r in runs) / len(runs) if runs else None,
        concurrent_mean_ms=(
            math.fsum(c or 0.0 for c in concurrent) / len(concurrent)
            if concurrent and None not in concurrent
            else None
        ),
    )
