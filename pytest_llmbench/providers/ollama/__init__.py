"""The Ollama provider: models served by one or more Ollama servers.

- :mod:`.provider`: :class:`OllamaProvider` (generation, retries, failover, load/unload);
- :mod:`.discovery`: host addresses, listing the models and their capabilities;
- :mod:`.hosts`: which host serves each model, which hosts went away (failover);
- :mod:`.clients`: the lean client and the ``ollama`` client of each host;
- :mod:`.replies`: Ollama's replies read without the ``ollama`` package;
- :mod:`.errors`: the ``ollama`` client's errors in the transport taxonomy, and the
  messages.

Importing it imports neither ``ollama`` nor httpx nor pydantic: the provider imports
them when a host needs the ``ollama`` client.
"""

from pytest_llmbench.providers.ollama.discovery import DEFAULT_HOST, normalize_host
from pytest_llmbench.providers.ollama.provider import KEEP_ALIVE, RUNNER_OPTIONS, OllamaProvider

__all__ = ["DEFAULT_HOST", "KEEP_ALIVE", "RUNNER_OPTIONS", "OllamaProvider", "normalize_host"]
