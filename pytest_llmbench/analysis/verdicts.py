"""Verdict tasks as classification: accuracy, precision, recall, F1, confusion matrix.

Pure module.  Input: the verdict results of one model on one task; every run counts
as one prediction.  The positive class is the FAIL side (catching bad items): any
label other than the pass label (the first of ``labels``).

- tp: gold FAIL side, said FAIL side (a bad item caught)
- fn: gold FAIL side, said the pass label (a bad item let through: too lenient)
- fp: gold pass label, said FAIL side (a false alarm: too strict)
- tn: gold pass label, said the pass label
- unanswered: no label (unparseable answer or a failed call), kept apart; on a
  FAIL-side case it is a bad item not caught, so it counts against recall.

- accuracy = answers with exactly the gold label / all runs
- precision = tp / (tp + fp); ``None`` when nothing was called bad
- recall = tp / (tp + fn + unanswered FAIL-side); ``None`` when no gold FAIL-side case ran
- F1 = 2 tp / (2 tp + fp + fn + unanswered FAIL-side), the harmonic mean of precision
  and recall where both exist; 0 when there were bad items and none was caught;
  ``None`` when there was nothing to catch and nothing was called bad.

With three or more labels the binary counts see the pass label against the rest
(FAIL said to an UNSURE case is a tp); accuracy and the confusion matrix keep every
label apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pytest_llmbench.execution.results import Result

__all__ = ["NO_ANSWER", "VerdictMetrics", "verdict_metrics"]

NO_ANSWER = "none"
"""The confusion-matrix column of runs without a label."""


@dataclass(frozen=True)
class VerdictMetrics:
    total: int
    tp: int
    fn: int
    fp: int
    tn: int
    unanswered_fail: int
    unanswered_pass: int
    exact: int
    """Runs whose label equals the gold label."""
    confusion: Mapping[str, Mapping[str, int]]
    """gold label -> answered label (or ``"none"``) -> runs."""

    @property
    def accuracy(self) -> float | None:
        return self.exact / self.total if self.total else None

    @property
    def precision(self) -> float | None:
        called = self.tp + self.fp
        return self.tp / called if called else None

    @property
    def recall(self) -> float | None:
        bad = self.tp + self.fn + self.unanswered_fail
        return self.tp / bad if bad else None

    @property
    def f1(self) -> float | None:
        denominator = 2 * self.tp + self.fp + self.fn + self.unanswered_fail
        return 2 * self.tp / denominator if denominator else None


def verdict_metrics(results: Iterable[Result]) -> VerdictMetrics | None:
    """The metrics of one model's verdict results; ``None`` when there are none."""
    runs = [
        r
        for r in results
        if r.kind == "verdict" and r.expected_label is not None and r.pass_label is not None
    ]
    if not runs:
        return None
    counts = {"tp": 0, "fn": 0, "fp": 0, "tn": 0, "unanswered_fail": 0, "unanswered_pass": 0}
    labels: dict[str, None] = {runs[0].pass_label or "": None}
    for r in runs:
        labels.setdefault(r.expected_label or "")
        if r.got_label is not None:
            labels.setdefault(r.got_label)
    confusion: dict[str, dict[str, int]] = {
        gold: dict.fromkeys([*labels, NO_ANSWER], 0) for gold in labels
    }
    exact = 0
    for r in runs:
        gold = r.expected_label or ""
        said = r.got_label if r.error is None else None
        confusion[gold][said if said is not None else NO_ANSWER] += 1
        exact += int(said == gold)
        bad_item = gold != r.pass_label
        if said is None:
            counts["unanswered_fail" if bad_item else "unanswered_pass"] += 1
        elif said != r.pass_label:
            counts["tp" if bad_item else "fp"] += 1
        else:
            counts["fn" if bad_item else "tn"] += 1
    return VerdictMetrics(total=len(runs), exact=exact, confusion=confusion, **counts)
