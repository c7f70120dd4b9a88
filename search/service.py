"""The public face of search: what views, the JSON API and library pages call.

Every query takes the visibilities its caller may find (the policy's answer for the user), so
members-only entries are filtered inside the engine, never after. If the configured engine fails,
the database engine answers and the results say so (degraded).
"""

import dataclasses
import datetime
import logging

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

import metrics
from search import registry, results_cache
from search.backends.base import EngineError
from search.engines import database_engine, search_engine
from search.models import IndexEntry, Synonym
from search.query import CONTENTS, SLUG_FACETS, SearchRequest, SearchResults, parse_text, words_of

logger = logging.getLogger(__name__)
SUGGEST_BELOW = 3  # offer "did you mean" when fewer results than this
SETTLE_MARGIN = datetime.timedelta(seconds=5)


def synonym_map():
    """{phrase: [other phrases]} from the editors' synonym groups, cached until they change."""
    version = cache.get_or_set("search:synonyms:version", 1, timeout=None)
    key = f"search:synonyms:{version}"
    mapping = cache.get(key)
    if mapping is None:
        mapping = {}
        for synonym in Synonym.objects.all():
            phrases = [words_of(term) for term in synonym.terms.split(",")]
            phrases = [phrase for phrase in phrases if phrase]
            for phrase in phrases:
                others = [other for other in phrases if other != phrase]
                mapping.setdefault(phrase, [])
                mapping[phrase].extend(o for o in others if o not in mapping[phrase])
        cache.set(key, mapping, timeout=3600)
    return mapping


def synonyms_changed():
    try:
        cache.incr("search:synonyms:version")
    except ValueError:
        cache.set("search:synonyms:version", 2, timeout=None)
    results_cache.changed()


def _with_fallback(operation):
    """Run operation(engine); if the configured engine fails, run it on the database engine.
    Returns (result, degraded)."""
    engine = search_engine()
    try:
        return operation(engine), False
    except EngineError as error:
        logger.warning("search engine failed, answering from the database: %s", error)
        metrics.SEARCH_FALLBACKS.inc()
        return operation(database_engine()), True


def search(params, visibilities):
    """The search that URL parameters ask for, as the page and the JSON API run it: the request
    corrected where it needs to be (unknown filter values dropped, years put the right way round,
    a page past the last shown as the last), each correction in `results.request.notices`; with
    no words, the library's items. Answered from the cache while nothing it depends on changed."""
    labels = facet_labels()
    request = SearchRequest.from_params(params, known=labels)
    request.browse_without_words()
    return results_cache.remembered(
        request, visibilities, lambda: _search_to_last_page(request, visibilities, labels)
    )


def _search_to_last_page(request, visibilities, labels):
    results = run_search(request, visibilities, labels)
    page_count = max(1, -(-results.total // request.page_size))
    if request.page > page_count:
        request.page = page_count
        request.notices.append(f"There are only {page_count} pages of results; this is the last.")
        results = run_search(request, visibilities, labels)
    return results


def run_search(request, visibilities, labels=None):
    """The results of the search. When it finds too little, a spelling correction is offered
    (`suggestion`); when it finds nothing and the correction finds something, the results are
    the correction's (`corrected`), unless the request asks for the text as typed (verbatim)."""
    labels = labels or facet_labels()
    results = _search(request, request.text, visibilities, labels)
    if request.text and results.total < SUGGEST_BELOW:
        suggestion, _ = _with_fallback(lambda e: e.suggest(request.text))
        if suggestion and suggestion.lower() != request.text.lower():
            results.suggestion = suggestion
            if results.total == 0 and not request.verbatim:
                corrected = _search(request, suggestion, visibilities, labels)
                if corrected.total:
                    corrected.suggestion, corrected.corrected = suggestion, True
                    results = corrected
    return results


def _search(request, text, visibilities, labels):
    clauses = parse_text(text, synonym_map())
    results, degraded = _with_fallback(lambda e: e.search(request, clauses, visibilities))
    results.degraded = results.degraded or degraded
    _label(results, labels)
    return results


def added_since(moment):
    """{key: when it became searchable} of the entries added after the moment."""
    return dict(IndexEntry.objects.filter(added_at__gt=moment).values_list("key", "added_at"))


def settled_moment():
    """The latest moment up to which every entry's added_at is already readable. An entry is
    stamped inside the transaction that adds it, so one that commits late carries an earlier
    stamp than entries already read. On PostgreSQL: SETTLE_MARGIN before the start of the oldest
    transaction still open on the database (now, if none), the margin for web and database
    clocks that differ a little; SQLite writes one transaction at a time, so now."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        return now
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        oldest = cursor.fetchone()[0]
    return min(now, oldest - SETTLE_MARGIN) if oldest else now


def search_among(request, keys, visibilities, limit=0):
    """The search's results among these entries only (as keys): what saved searches find new.
    The newest first, up to `limit` of them (the total counts them all); no suggestion, since
    nothing here is shown to someone who could act on it."""
    keys = tuple(keys)
    if not keys:
        return SearchResults(request, 0, [], {})
    request = dataclasses.replace(request, within=keys, sort="newest", page=1, page_size=limit)
    clauses = parse_text(request.text, synonym_map())
    results, degraded = _with_fallback(lambda e: e.search(request, clauses, visibilities))
    results.degraded = results.degraded or degraded
    return results


def autocomplete(text, visibilities, limit=8):
    """Titles the engine completes the text to, then what the sources suggest (publishers)."""
    text = " ".join(text.split())[:100]
    if len(text) < 2:
        return []
    others = registry.suggestions(text)
    titles, _ = _with_fallback(lambda e: e.autocomplete(text, visibilities, limit - len(others)))
    return [*titles, *others]


def related_keys(key, visibilities, limit=4):
    keys, _ = _with_fallback(lambda e: e.related(key, visibilities, limit))
    return keys


def facet_labels():
    """{facet: {value: label}} for every filter value that exists, each slug facet listed."""
    labels = {facet: {} for facet in SLUG_FACETS}
    labels.update(registry.facet_labels())
    labels["content"] = {value: label for value, (label, _) in CONTENTS.items()}
    return labels


def _label(results, labels):
    """Name the facet values, and each hit's publishers and type, as the facets call them: a
    result shows them without reading its object."""
    for facet, values in results.facets.items():
        names = labels.get(facet, {})
        for value in values:
            value.label = names.get(value.value, value.value)
    publishers, types = labels.get("publisher", {}), labels.get("type", {})
    for hit in results.hits:
        hit.publisher_names = [(slug, publishers.get(slug, slug)) for slug in hit.publishers]
        hit.type_name = types.get(hit.type, hit.type)
