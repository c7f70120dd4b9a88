"""What the apps tell search: the sources of its entries, and who may find which entries.

Search knows no app's models. Each app registers a `Source` for every kind of entry it owns
("item", "theme", "thread") when Django starts, and the app owning the users registers the
audience. Indexing, rebuilds, facet labels, autocomplete and result cards all go through here.
An entry's key is "<kind>:<id>".
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from search import results_cache

PUBLIC = "public"
LABELS_KEY = "search:facet-labels"
LABELS_SECONDS = 300


@dataclass(frozen=True)
class Source:
    """One kind of searchable object, and the functions that answer for it:

    entries(ids) -> {id: fields}: the index fields, "visibility" included, of the searchable
        objects among ids, in the order they are stored; an id left out is not searchable.
    all_ids() -> the ids of every searchable object, for rebuilds.
    cards(ids) -> {id: card}: what a result card shows of each object still there.
    facet_labels() -> {facet: {value: label}} for the facet values its entries carry.
    suggestions(text) -> autocomplete suggestions besides titles, as the JSON API gives them.
    """

    kind: str
    model: type
    entries: Callable
    all_ids: Callable
    cards: Callable | None = None
    facet_labels: Callable | None = None
    suggestions: Callable | None = None

    def key(self, object_id):
        return f"{self.kind}:{object_id}"

    def ids_in(self, keys):
        """The ids named by this kind's keys among keys, in their order."""
        return [object_id for kind, object_id in map(split_key, keys) if kind == self.kind]


_sources = {}
_audience = None
_search_page = None


def split_key(key):
    kind, _, object_id = key.partition(":")
    return kind, int(object_id)


def register(source):
    if _sources.setdefault(source.kind, source) is not source:
        raise ImproperlyConfigured(f"two search sources of the kind {source.kind!r}")


def register_audience(visibilities_of):
    """visibilities_of(user): the visibilities of the entries the user may find."""
    global _audience
    _audience = visibilities_of


def register_search_page(url_of):
    """url_of(): the address of the public search page (which its owning app serves), that
    saved searches and the editors' report link to."""
    global _search_page
    _search_page = url_of


def search_page_url(query=""):
    """The search page's address with the query string appended ("" if none is registered)."""
    base = _search_page() if _search_page else ""
    return f"{base}?{query}" if base and query else base


def visibilities(user):
    """What the user may find; with no audience registered, public entries only."""
    return _audience(user) if _audience else [PUBLIC]


def source_of(instance):
    """The source indexing objects like this one, or None."""
    return next((s for s in _sources.values() if isinstance(instance, s.model)), None)


def _entries_of(source, ids):
    return {
        source.key(object_id): {"kind": source.kind, "object_id": object_id, **fields}
        for object_id, fields in source.entries(ids).items()
    }


def entries(keys):
    """{key: IndexEntry fields, or None where not searchable}, asking each source once."""
    ids_by_kind = {}
    for kind, object_id in map(split_key, keys):
        ids_by_kind.setdefault(kind, []).append(object_id)
    found = {}
    for kind, ids in ids_by_kind.items():
        if kind in _sources:
            found.update(_entries_of(_sources[kind], ids))
    return {key: found.get(key) for key in keys}


def all_keys():
    return [source.key(object_id) for source in _sources.values() for object_id in source.all_ids()]


def all_entries(batch):
    """Lists of (key, fields) for every searchable object, a batch at a time: rebuilds read
    everything through here, so they never leave a kind out."""
    for source in _sources.values():
        ids = list(source.all_ids())
        for start in range(0, len(ids), batch):
            yield list(_entries_of(source, ids[start : start + batch]).items())


def fill_cards(hits):
    """Give each hit the card its source makes of it (None once the object is gone)."""
    for source in _sources.values():
        ids = [hit.object_id for hit in hits if hit.kind == source.kind]
        if source.cards is None or not ids:
            continue
        cards = source.cards(ids)
        for hit in hits:
            if hit.kind == source.kind:
                hit.card = cards.get(hit.object_id)


def facet_labels():
    """{facet: {value: label}} of every source, kept in the cache (every search page shows
    them) until a source says they changed, and at most LABELS_SECONDS."""
    labels = cache.get(LABELS_KEY)
    if labels is None:
        labels = {}
        for source in _sources.values():
            for facet, values in (source.facet_labels() if source.facet_labels else {}).items():
                labels.setdefault(facet, {}).update(values)
        cache.set(LABELS_KEY, labels, timeout=LABELS_SECONDS)
    return labels


def facet_labels_changed():
    """Sources call this when a label may have changed; the next search reads them afresh.
    Dropped now, for the rest of this transaction, and again after commit, in case another
    process cached the old labels meanwhile."""
    cache.delete(LABELS_KEY)
    transaction.on_commit(lambda: cache.delete(LABELS_KEY))
    results_cache.changed()


def suggestions(text):
    return [
        suggestion
        for source in _sources.values()
        if source.suggestions
        for suggestion in source.suggestions(text)
    ]
