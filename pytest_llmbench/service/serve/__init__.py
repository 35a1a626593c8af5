"""``llmbench serve``: each task's champion over HTTP, through the router.

* ``POST /v1/tasks/{task}``: ``{"vars": {...}, "consensus": false}`` in, the router's
  result out (``value``, ``text``, ``model``, ``fell_over_from``, ``latency_ms``,
  ``total_ms``);
* ``POST /v1/chat/completions``: OpenAI-compatible, ``model: task:<name>``; the
  messages go to the task's champion with the task's options and output format;
  ``stream: true`` answers as server-sent events;
* ``GET /healthz``: the registry and each model's circuit;
* ``GET /metrics``: Prometheus (calls, failures, fall-overs, latency, breaker opens).

:mod:`.app` is the ASGI application, :mod:`.metrics` the Prometheus side,
:mod:`.server` binds and runs it under uvicorn.
"""
