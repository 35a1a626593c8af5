"""What a run wrote, checked as the user acts on it: the JSON, the journal and the history."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pytest_llmbench.storage import history, journal

NO_BENCHMARK = (
    "-p",
    "no:benchmark",
    "-p",
    "no:cacheprovider",
    "-W",
    "always::pytest_llmbench.LLMBenchWarning",  # shown, not raised (this suite: error)
)


def keys(results: list[dict[str, Any]]) -> Counter[tuple[str, str, str, int]]:
    return Counter((r["task"], r["case_id"], r["model"], int(r["repeat"])) for r in results)


def consistent(root: Path, out: Path, state: Path | None = None) -> dict[str, Any]:
    """The JSON, the journal and the history hold the same results, none lost or twice."""
    doc = json.loads(out.read_text())
    state = state or root / ".llmbench"
    run_id = doc["run"]["id"]
    in_json = keys(doc["results"])
    assert max(in_json.values(), default=1) == 1, "a result twice in the JSON"
    lines = journal.read_entries(journal.journal_path(state / "runs", run_id))
    in_journal = keys([e.result.to_dict() for e in lines])
    assert in_journal == in_json
    if (state / "history.sqlite").is_file() and doc["run"].get("exitstatus") != 2:
        stored = history.load_run(state / "history.sqlite", run_id)
        assert keys([r.to_dict() for r in stored.results]) == in_json
        assert bool(stored.run.get("partial")) == bool(doc["run"].get("partial"))
    return dict(doc)
