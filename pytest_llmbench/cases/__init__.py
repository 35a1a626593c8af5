"""Case files: the task and case model, the line-aware YAML loader, validation against
``case_schema.json``, templates, and a case file's generation options (plain data).

The bottom layer: imports nothing else of the package.
"""
