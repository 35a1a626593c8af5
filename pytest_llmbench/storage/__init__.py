"""What outlives a run: one codec for records and rankings (:mod:`.codec`), the JSON
report, the history (SQLite), the journal, the champions file, git helpers."""
