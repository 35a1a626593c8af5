"""The services of pytest-llmbench on one ASGI stack (Starlette, served by uvicorn), each an
optional extra: ``serve/`` (``llmbench serve``: the champions over HTTP;
``pip install 'pytest-llmbench[serve]'``) and ``view/`` (``llmbench view``: the history as
pages; ``pip install 'pytest-llmbench[view]'``).

Above every layer but ``cli`` and ``plugin``; nothing below imports it and the plugin never
does.
"""
