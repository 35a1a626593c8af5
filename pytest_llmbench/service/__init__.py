"""The services of pytest-llmbench on one ASGI stack (Starlette, uvicorn): ``serve/``
(``llmbench serve``: the champions over HTTP) and ``view/`` (``llmbench view``).  An
optional extra (``pip install 'pytest-llmbench[serve]'``); the plugin never imports it."""
