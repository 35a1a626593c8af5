"""Providers: the protocol and its records (:mod:`.base`), the entry-point registry
(:mod:`.registry`), the built-in providers (:mod:`.llamacpp`, :mod:`.ollama`,
:mod:`.openai`), their lean HTTP transport (:mod:`.wire`), endpoint and host
configuration, and a scripted provider for tests.

Imports only :mod:`pytest_llmbench.cases` and the bottom layer (:mod:`pytest_llmbench.safety`,
:mod:`pytest_llmbench.formatting`); each provider imports its SDK itself, so this package
costs nothing until a provider is used.
"""
