"""Which models run: the ``--llm-models`` spec (:mod:`.spec`) and the rules that leave
models out of wide selections (:mod:`.rules`).  Pure."""
