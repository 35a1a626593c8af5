"""The package's version, in a leaf module (as pytest-xdist keeps ``_version.py``).

Every module that needs the version imports it from here, never from the package root:
the root is the public facade, above every layer, and importing it from below would
close an import cycle through its re-exports.  Imports nothing.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.2.0"
