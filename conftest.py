"""Root conftest: test infrastructure only, no eval logic."""

pytest_plugins = ["pytester"]
