"""Case files: the task and case model, the line-aware YAML loader, validation against
``case_schema.json``, templates, and a case file's generation options (plain data).

The lowest layer above the bottom one: imports nothing else of the package but
:mod:`pytest_llmbench.safety` (``{file:}`` confinement).
"""
