"""The public search service: index schema, engine adapters (OpenSearch, Elasticsearch, database),
indexing through an outbox, faceted queries, and the search pages and JSON API. Which engine runs
is decided here, from settings.SEARCH, and nowhere else.

Search imports no project app: apps register what they index in search.registry, and call
`record_change` when it changes."""


def record_change(*keys, soon=False):
    """Re-index the objects with these keys (see search.registry); call it inside the transaction
    that changed them, and the index changes with it. With soon=True a task re-indexes them once
    the transaction commits instead: for changes whose entries are costly to build and may reach
    search a moment later."""
    # Django imports this package before its app registry is ready; indexing needs the models.
    from search import indexing

    if soon:
        indexing.reindex_after_commit(*keys)
    else:
        indexing.reindex(*keys)
