"""Searches answered from the cache while nothing they depend on has changed.

Most searches are the same few queries. A page of results with its facet counts is kept in the
cache for SEARCH["RESULTS_CACHE_SECONDS"], under a key made of the search as asked (its words,
filters, sort, page and notices) and the visibilities of whoever asked, so a visitor is never
given what a member's search found.

The key also carries generations, which changes move on; a search that began before a change
stores its answer under the old generations, which nobody reads again. A search finds only
entries of the visibilities it asks for (its "did you mean" reads public entries alone, which
everyone finds), so it depends on:
- one generation per visibility it asks for: an index change (the database index, and the
  external engine once it has taken the change) moves on the generations of the visibilities the
  entry had before and has after, so a forum post leaves visitors' library searches cached;
- one generation of every search, which changes that reach every search move on: a rebuild, the
  editors' synonyms and the facet labels. One key for them, rather than moving each visibility's,
  since search does not know every visibility there is (the apps' sources name them).
All of them are read in one cache round trip.

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

EVERY_SEARCH_KEY = "search:results:generation"


def _generation_key(visibility):
    return f"{EVERY_SEARCH_KEY}:{visibility}"


def _generations(keys):
    found = cache.get_many(keys)
    return [
        found[key] if key in found else cache.get_or_set(key, time.time_ns, timeout=None)
        for key in keys
    ]


def _key(request, visibilities):
    visibilities = sorted(map(str, visibilities))
    generations = _generations([EVERY_SEARCH_KEY, *map(_generation_key, visibilities)])
    asked = repr((generations, dataclasses.astuple(request), visibilities))
    return "search:results:" + hashlib.blake2b(asked.encode(), digest_size=16).hexdigest()


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


def _move_on(keys):
    for key in keys:
        try:
            cache.incr(key)
        except ValueError:  # never set, or evicted: a value no earlier generation had
            cache.set(key, time.time_ns(), timeout=None)


def _moved_on_now_and_at_commit(keys):
    """Moved on now, and again when the transaction commits, in case another process cached an
    answer from before meanwhile."""
    _move_on(keys)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _move_on(keys))


def changed():
    """What every search finds has changed: answer every search afresh."""
    _moved_on_now_and_at_commit([EVERY_SEARCH_KEY])


def changed_for(visibilities):
    """What searches find among entries of these visibilities has changed: answer afresh the
    searches of everyone who finds any of them."""
    keys = [_generation_key(visibility) for visibility in visibilities]
    if keys:
        _moved_on_now_and_at_commit(keys)
