"""The public search service: index schema, engine adapters (OpenSearch, Elasticsearch, database),
indexing through an outbox, faceted queries, and the search pages and JSON API. Which engine runs
is decided here, from settings.SEARCH, and nowhere else."""
