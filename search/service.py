"""The public face of search: what views, the JSON API and library pages call.

Every query passes the user's visibilities from portal.policy, so members-only entries are
filtered inside the engine, never after. If the configured engine fails, the database engine
answers and the results say so (degraded).
"""

import logging

from django.core.cache import cache

from portal import policy
from search.backends.base import EngineError
from search.engines import database_engine, search_engine
from search.models import Synonym
from search.query import CONTENTS, parse_text, words_of

logger = logging.getLogger(__name__)
SUGGEST_BELOW = 3  # offer "did you mean" when fewer results than this
AUTOCOMPLETE_PUBLISHERS = 3


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


def _with_fallback(operation):
    """Run operation(engine); if the configured engine fails, run it on the database engine.
    Returns (result, degraded)."""
    engine = search_engine()
    try:
        return operation(engine), False
    except EngineError as error:
        logger.warning("search engine failed, answering from the database: %s", error)
        return operation(database_engine()), True


def run_search(request, user):
    visibilities = policy.search_visibilities(user)
    clauses = parse_text(request.text, synonym_map())
    results, degraded = _with_fallback(lambda e: e.search(request, clauses, visibilities))
    results.degraded = results.degraded or degraded
    _label_facets(results)
    if request.text and results.total < SUGGEST_BELOW:
        suggestion, _ = _with_fallback(lambda e: e.suggest(request.text))
        if suggestion and suggestion.lower() != request.text.lower():
            results.suggestion = suggestion
    return results


def autocomplete(text, user, limit=8):
    text = " ".join(text.split())[:100]
    if len(text) < 2:
        return []
    visibilities = policy.search_visibilities(user)
    publishers = _matching_publishers(text, AUTOCOMPLETE_PUBLISHERS)
    titles, _ = _with_fallback(
        lambda e: e.autocomplete(text, visibilities, limit - len(publishers))
    )
    return [*titles, *publishers]


def _matching_publishers(text, limit):
    """Publishers whose name (or short name) starts with, then contains, the text."""
    from django.db.models import Q

    from library.models import Publisher

    found = Publisher.objects.filter(
        Q(name__icontains=text) | Q(short_name__istartswith=text)
    ).values_list("name", "slug", "short_name")[:50]
    lowered = text.lower()
    ranked = sorted(
        found,
        key=lambda p: (
            not (p[0].lower().startswith(lowered) or p[2].lower().startswith(lowered)),
            p[0].lower(),
        ),
    )
    return [
        {"label": name, "url": "", "kind": "publisher", "value": slug}
        for name, slug, _ in ranked[:limit]
    ]


def related_keys(key, user, limit=4):
    visibilities = policy.search_visibilities(user)
    keys, _ = _with_fallback(lambda e: e.related(key, visibilities, limit))
    return keys


def _label_facets(results):
    from library.models import LANGUAGES, Publisher, ResourceType, ThemePage

    labels = {
        "content": {value: label for value, (label, _) in CONTENTS.items()},
        # .order_by(): labels need no order, and the default one walks the page tree.
        "publisher": dict(Publisher.objects.order_by().values_list("slug", "name")),
        "type": dict(ResourceType.objects.order_by().values_list("slug", "name")),
        "theme": dict(ThemePage.objects.order_by().values_list("slug", "title")),
        "language": dict(LANGUAGES),
    }
    for facet, values in results.facets.items():
        names = labels.get(facet, {})
        for value in values:
            value.label = names.get(value.value, value.value)
