"""Providers: the protocol and its records (:mod:`.base`), the entry-point registry
(:mod:`.registry`), the built-in providers (:mod:`.llamacpp`; :mod:`.ollama` and
:mod:`.openai`, a package each: provider, discovery, replies, errors), the lean HTTP
transport (:mod:`.wire`) and the transport-error taxonomy that it and the SDK clients'
errors map into (:mod:`.transport`), endpoint and host configuration, and a scripted provider
for tests.

Imports only :mod:`pytest_llmbench.cases` and the bottom layer (:mod:`pytest_llmbench.safety`,
:mod:`pytest_llmbench.formatting`); each provider imports its SDK itself, so this package
costs nothing until a provider is used.
"""
