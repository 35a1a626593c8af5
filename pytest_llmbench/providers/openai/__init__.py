"""OpenAI-compatible endpoints (OpenAI, Groq, DeepSeek, vLLM, LM Studio, llama.cpp's server).

- :mod:`.provider`: :class:`OpenAIProvider` (generation, retries, structured output);
- :mod:`.discovery`: ``GET /models``, the endpoint's configured models, chat models;
- :mod:`.replies`: reading a reply from either transport, and the request;
- :mod:`.structured`: which response format each model takes, remembered;
- :mod:`.errors`: the ``openai`` client's errors in the transport taxonomy, and the
  messages.

Importing it imports neither ``openai`` nor httpx nor pydantic: the provider imports
them when an endpoint needs the ``openai`` client.
"""

from pytest_llmbench.providers.openai.errors import retry_after_s
from pytest_llmbench.providers.openai.provider import NO_KEY, OpenAIProvider

__all__ = ["NO_KEY", "OpenAIProvider", "retry_after_s"]
