"""The database engine: full-text search inside the site's own database, no extra service.

IndexEntry (search.models) already is the index: one flattened row per searchable object. Migration
0002 adds the full-text machinery beside it, which the model knows nothing about and these modules
reach with raw SQL:

- SQLite: an FTS5 external-content table over the entry table (porter stemming, diacritics
  folded), an unstemmed titles-only FTS5 table with a prefix index for autocomplete, triggers that
  keep both in step with every INSERT, UPDATE and DELETE, and a covering index holding the facet
  fields, so facet counting never reads the large body and attachment texts stored before them.
- PostgreSQL: a stored generated tsvector column (title A, summary and publisher names B, body C,
  attachments D) with a GIN index, and a GIN index over the titles' unstemmed words.

Modules: schema (the full-text objects), dialects (each database's queries), rendering (query
expressions and snippets), rows (filtering, facet counting and sorting in Python, for SQLite),
counting (the same in SQL, for PostgreSQL), terms (the per-process vocabulary behind suggest()
and related()) and engine (DatabaseEngine).
"""

# Imported by this path: the engine by search.engines, the schema by migrations 0002 and 0004.
from search.backends.database.engine import DatabaseEngine
from search.backends.database.schema import FACET_INDEX, install_fulltext, remove_fulltext

__all__ = ["FACET_INDEX", "DatabaseEngine", "install_fulltext", "remove_fulltext"]
