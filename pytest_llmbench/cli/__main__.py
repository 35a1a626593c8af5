"""``python -m pytest_llmbench.cli``: the ``llmbench`` command."""

from __future__ import annotations

from pytest_llmbench.cli.main import main

raise SystemExit(main())
