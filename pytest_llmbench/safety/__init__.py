"""Safety: what keeps untrusted text and files from doing harm, for every layer.

- :mod:`.redaction`: secrets registered from the environment, and credential-looking text
  (``Authorization``, bearer tokens, ``api_key=``, URL passwords), masked as ``***``;
- :mod:`.sanitising`: control characters escaped, and :func:`~.sanitising.shown` (masked
  and escaped) for every string the plugin prints or writes as text;
- :mod:`.confinement`: where a case file's ``{file:}`` may read from;
- :mod:`.atomic`: files written whole or not at all.

The bottom layer, beside :mod:`pytest_llmbench.formatting` and the leaf
:mod:`pytest_llmbench._version`: every layer may import it, and it imports nothing else
of the package (but ``_version``).  Pure standard library; cheap to import.
"""
