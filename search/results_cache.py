"""Searches answered from the cache while nothing they depend on has changed.

Most searches are the same few queries. A page of results with its facet counts is kept in the
cache for SEARCH["RESULTS_CACHE_SECONDS"], under a key made of the search as asked (its words,
filters, sort, page and notices) and the visibilities of whoever asked, so a visitor is never
given what a member's search found. The key also carries a generation that every change to what
searches find moves on: an index change (the database index, and the external engine once it has
taken the change), a rebuild, the editors' synonyms and the facet labels. A search that began
before a change stores its answer under the old generation, which nobody reads again.

While Redis is away each process caches in its own memory, and a change made in another process
(the task worker applying the outbox) is not seen there: answers may then lag by up to
RESULTS_CACHE_SECONDS. Results of a fallback engine (degraded) are never kept.
"""

import dataclasses
import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

GENERATION_KEY = "search:results:generation"


def _key(request, visibilities):
    generation = cache.get_or_set(GENERATION_KEY, time.time_ns, timeout=None)
    asked = repr((dataclasses.astuple(request), sorted(visibilities)))
    digest = hashlib.blake2b(asked.encode(), digest_size=16).hexdigest()
    return f"search:results:{generation}:{digest}"


def remembered(request, visibilities, search):
    """search() for this request, or its answer from the cache."""
    seconds = settings.SEARCH.get("RESULTS_CACHE_SECONDS", 0)
    if not seconds:
        return search()
    key = _key(request, visibilities)
    results = cache.get(key)
    if results is None:
        results = search()
        if not results.degraded:
            cache.set(key, results, timeout=seconds)
    return results


def _next_generation():
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # never set, or evicted: a value no earlier generation had
        cache.set(GENERATION_KEY, time.time_ns(), timeout=None)


def changed():
    """What searches find has changed: answer every search afresh. Moved on now, and again when
    the transaction commits, in case another process cached an answer from before meanwhile."""
    _next_generation()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_next_generation)
