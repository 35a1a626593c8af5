"""One call: build the request, time the provider, score the answer, make the record
(:mod:`.call`, :mod:`.scoring`, :mod:`.results`); the prefetch pipeline and the
response cache.  No pytest here."""
