"""The service layer: ``llmbench view`` (the history as pages) on one ASGI stack
(Starlette, served by uvicorn), an optional extra (``pip install 'pytest-llmbench[view]'``).

Above every layer but ``cli`` and ``plugin``; nothing below imports it and the plugin never
does.  :mod:`.view` holds the pages (pure: data in, HTML out), the read-only queries over
the history, the Starlette app and the ``--static`` writer.
"""
