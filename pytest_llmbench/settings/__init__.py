"""The settings a user gives: every ``--llm-*`` option and ``llm_*`` ini key declared
once (:mod:`~pytest_llmbench.settings.table`), the checks of their values
(:mod:`~pytest_llmbench.settings.values`), the ``Options`` record they make
(:mod:`~pytest_llmbench.settings.options`) and the generated reference page
(:mod:`~pytest_llmbench.settings.reference`). Pure: the plugin declares the table to
pytest (:mod:`pytest_llmbench.plugin.declare`)."""
