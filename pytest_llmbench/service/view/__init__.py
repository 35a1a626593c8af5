"""``llmbench view``: the run history as server-rendered pages.

- :mod:`.queries`: read-only SQL over the history (the runs list, a task over time);
- :mod:`.markup`: the page frame, escaping of untrusted text, clipping of long answers,
  the one inline script (filters) and the Content-Security-Policy that allows only it;
- :mod:`.charts`: inline SVG charts;
- :mod:`.compare`: what changed between two runs (pure);
- :mod:`.pages`: the pages (runs, a run, a case, a task, compare), as HTML text;
- :mod:`.app`: the Starlette app (GET only, bound to 127.0.0.1 by the command);
- :mod:`.static`: ``--static OUT``, the same pages as files.

Nothing here fetches anything: no external URL, no CDN, no font; every model answer and
every case text is escaped as untrusted.
"""
