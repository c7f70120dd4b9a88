"""Search engines behind one interface (base.SearchEngine): `database` (SQLite FTS5 or PostgreSQL
full-text search over IndexEntry) and `remote` (OpenSearch or Elasticsearch, same mappings and
queries built with elasticsearch-dsl; only the client differs)."""
