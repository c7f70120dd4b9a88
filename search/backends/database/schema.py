"""The full-text objects beside the entry table: their names, and the statements that create,
remove and check them. Used by migration 0002, and by rebuild() to repair what a table remake
dropped."""

# Every SQL string here is built from this module's constants only.
# ruff: noqa: S608

from django.db import DatabaseError

TABLE = "site_search_indexentry"
FTS_TABLE = f"{TABLE}_fts"  # SQLite: stemmed, every text field
TITLES_TABLE = f"{TABLE}_titles"  # SQLite: unstemmed titles, for autocomplete prefixes
FACET_INDEX = f"{TABLE}_facets"  # SQLite: covering index of the facet fields
UPDATED_INDEX = f"{TABLE}_updated"  # both: TermIndex staleness check, max(updated_at)
TRIGGERS = {
    "insert": f"{TABLE}_fts_insert",
    "update": f"{TABLE}_fts_update",
    "delete": f"{TABLE}_fts_delete",
}
PG_VECTOR = "search_vector"
PG_VECTOR_INDEX = f"{TABLE}_search_vector"
PG_TITLE_INDEX = f"{TABLE}_title_words"

FTS_COLUMNS = ("title", "summary", "body", "attachments", "publisher_names")


def _sqlite_install_statements():
    columns = ", ".join(FTS_COLUMNS)
    new_values = ", ".join(f"new.{c}" for c in FTS_COLUMNS)
    old_values = ", ".join(f"old.{c}" for c in FTS_COLUMNS)
    insert_new = (
        f"INSERT INTO {FTS_TABLE}(rowid, {columns}) VALUES (new.id, {new_values});"
        f" INSERT INTO {TITLES_TABLE}(rowid, title) VALUES (new.id, new.title);"
    )
    delete_old = (
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {columns})"
        f" VALUES ('delete', old.id, {old_values});"
        f" INSERT INTO {TITLES_TABLE}({TITLES_TABLE}, rowid, title)"
        f" VALUES ('delete', old.id, old.title);"
    )
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({columns},"
        f" content='{TABLE}', content_rowid='id',"
        " tokenize='porter unicode61 remove_diacritics 2')",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {TITLES_TABLE} USING fts5(title,"
        f" content='{TABLE}', content_rowid='id',"
        " tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
        f"CREATE TRIGGER IF NOT EXISTS {TRIGGERS['insert']} AFTER INSERT ON {TABLE}"
        f" BEGIN {insert_new} END",
        f"CREATE TRIGGER IF NOT EXISTS {TRIGGERS['delete']} AFTER DELETE ON {TABLE}"
        f" BEGIN {delete_old} END",
        f"CREATE TRIGGER IF NOT EXISTS {TRIGGERS['update']}"
        f" AFTER UPDATE OF id, {columns} ON {TABLE} BEGIN {delete_old} {insert_new} END",
        f"CREATE INDEX IF NOT EXISTS {FACET_INDEX} ON {TABLE}"
        " (id, visibility, kind, publishers, type, themes, year, language, date)",
        f"CREATE INDEX IF NOT EXISTS {UPDATED_INDEX} ON {TABLE} (updated_at)",
    ]


def sqlite_rebuild(cursor):
    for table in (FTS_TABLE, TITLES_TABLE):
        cursor.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")


def _check_fts5(cursor):
    try:
        cursor.execute("CREATE VIRTUAL TABLE temp.site_search_fts5_probe USING fts5(x)")
        cursor.execute("DROP TABLE temp.site_search_fts5_probe")
    except DatabaseError as error:
        raise RuntimeError(
            f"This SQLite library lacks FTS5, which the database search engine needs ({error}). "
            "Use a Python whose sqlite3 module is built with FTS5, or PostgreSQL."
        ) from error


PG_INSTALL = [
    f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {PG_VECTOR} tsvector GENERATED ALWAYS AS ("
    " setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(publisher_names, '')), 'B')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(body, '')), 'C')"
    " || setweight(to_tsvector('english'::regconfig, coalesce(attachments, '')), 'D')"
    ") STORED",
    f"CREATE INDEX IF NOT EXISTS {PG_VECTOR_INDEX} ON {TABLE} USING GIN ({PG_VECTOR})",
    f"CREATE INDEX IF NOT EXISTS {PG_TITLE_INDEX} ON {TABLE}"
    " USING GIN (to_tsvector('simple'::regconfig, title))",
    f"CREATE INDEX IF NOT EXISTS {UPDATED_INDEX} ON {TABLE} (updated_at)",
]
PG_UNINSTALL = [
    f"DROP INDEX IF EXISTS {UPDATED_INDEX}",
    f"DROP INDEX IF EXISTS {PG_TITLE_INDEX}",
    f"DROP INDEX IF EXISTS {PG_VECTOR_INDEX}",
    f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS {PG_VECTOR}",
]


def install_fulltext(db_connection):
    """Create the full-text objects for this connection's database (idempotent)."""
    with db_connection.cursor() as cursor:
        if db_connection.vendor == "sqlite":
            _check_fts5(cursor)
            for statement in _sqlite_install_statements():
                cursor.execute(statement)
            sqlite_rebuild(cursor)
        elif db_connection.vendor == "postgresql":
            for statement in PG_INSTALL:
                cursor.execute(statement)
        else:
            raise RuntimeError(
                f"the database search engine does not support {db_connection.vendor}"
            )


def remove_fulltext(db_connection):
    with db_connection.cursor() as cursor:
        if db_connection.vendor == "sqlite":
            for name in TRIGGERS.values():
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute(f"DROP INDEX IF EXISTS {FACET_INDEX}")
            cursor.execute(f"DROP INDEX IF EXISTS {UPDATED_INDEX}")
            cursor.execute(f"DROP TABLE IF EXISTS {TITLES_TABLE}")
            cursor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
        elif db_connection.vendor == "postgresql":
            for statement in PG_UNINSTALL:
                cursor.execute(statement)


def fulltext_missing(db_connection):
    """Names of full-text objects that should exist but do not (a table remake by a later
    SQLite migration drops triggers and indexes)."""
    with db_connection.cursor() as cursor:
        if db_connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master")
            present = {name for (name,) in cursor.fetchall()}
            wanted = [FTS_TABLE, TITLES_TABLE, FACET_INDEX, UPDATED_INDEX, *TRIGGERS.values()]
        else:
            cursor.execute(
                "SELECT indexname FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = %s"
                " UNION ALL SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s"
                " AND column_name = %s",
                [TABLE, TABLE, PG_VECTOR],
            )
            present = {name for (name,) in cursor.fetchall()}
            wanted = [PG_VECTOR, PG_VECTOR_INDEX, PG_TITLE_INDEX, UPDATED_INDEX]
    return [name for name in wanted if name not in present]
