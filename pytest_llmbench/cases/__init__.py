"""Case files, one module per concern.

``records`` (Task, Case, Expected ...), ``problems`` (Problem, CaseFileError),
``yaml_lines`` (YAML with the line of each key), ``schema`` (validation against
``case_schema.json``), ``templates`` ({name} placeholders), ``hashing`` (prompt hashes),
``build`` (the checks the schema cannot make, cases rendered), ``load`` (load_task);
``checks`` (graded checks), ``options`` (generation options), ``encoding``;
``{file:}`` confinement is in :mod:`pytest_llmbench.safety`.

Imports no other layer of the package but the bottom one.
"""
