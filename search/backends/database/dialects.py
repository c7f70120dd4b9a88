"""The SQL each database runs for a search: SQLite FTS5 (_SQLite) and PostgreSQL full-text
search (_Postgres), behind the same methods."""

# Every SQL string here is built from this module's constants and "%s" placeholders only; values
# from users always travel as query parameters.
# ruff: noqa: S608

from django.db import DatabaseError, connection, transaction

from search.backends.database.counting import window_and_counts
from search.backends.database.rendering import (
    MARK_END,
    MARK_START,
    quote_fts,
    render_fts5,
    render_tsquery,
)
from search.backends.database.rows import ID, filter_and_count, sort_rows
from search.backends.database.schema import (
    FACET_INDEX,
    FTS_COLUMNS,
    FTS_TABLE,
    PG_VECTOR,
    TABLE,
    TITLES_TABLE,
    sqlite_rebuild,
)
from search.models import IndexEntry
from search.query import without_split_readings

SNIPPET_COLUMNS = ("summary", "body", "attachments")  # tried for a snippet, in this order
# Relevance weights, highest first: title, summary, body, attachments (publisher names beside
# the summary). bm25() takes one weight per FTS column; ts_rank takes {D, C, B, A}.
BM25 = f"bm25({FTS_TABLE}, 10.0, 5.0, 2.0, 1.0, 4.0)"
PG_WEIGHTS = "'{0.1,0.2,0.5,1.0}'::float4[]"

# ts_headline drops anything that looks like an HTML tag or entity, so PostgreSQL gets the
# text with <, > and & swapped for private-use stand-ins, swapped back before escaping.
PG_HIDDEN = ("<>&", "\ue002\ue003\ue004")
PG_HEADLINE_OPTIONS = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=1, MaxWords=30, MinWords=12"
)
SNIPPET_TOKENS = 30
FACETS_HINT = "/*facets*/"  # where the SQLite queries name the covering index


def placeholders(values):
    return ", ".join(["%s"] * len(values))


def like_escape(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class _SQLite:
    """FTS5 queries.

    The facet fields come from the covering index FACET_INDEX, named with INDEXED BY: fetching
    them from the table instead walks the overflow pages of the body and attachments stored
    before them, which at 10,000 entries with long attachments made a search ten times slower.
    Should a later migration's table remake have dropped the index, the queries run without it.
    """

    FACET_COLUMNS = (
        "e.publishers, e.type, e.themes, e.year, e.language, coalesce(e.date, ''), e.kind"
    )

    def query(self, cursor, sql, params):
        try:
            cursor.execute(sql.replace(FACETS_HINT, f"INDEXED BY {FACET_INDEX}"), params)
        except DatabaseError as error:
            if "no such index" not in str(error):
                raise
            cursor.execute(sql.replace(FACETS_HINT, ""), params)
        return cursor.fetchall()

    def match_rows(self, cursor, clauses, visibilities):
        columns = f"e.id, %s, {self.FACET_COLUMNS}"
        source = f"{TABLE} e {FACETS_HINT}"
        visible = f"e.visibility IN ({placeholders(visibilities)})"
        if not clauses:
            return self.query(
                cursor, f"SELECT {columns} FROM {source} WHERE {visible}", [0.0, *visibilities]
            )
        positive, negative = render_fts5(clauses)
        if positive:
            expression = f"({positive}) NOT ({negative})" if negative else positive
            return self.query(
                cursor,
                f"WITH m(id, rank) AS (SELECT rowid, -{BM25} FROM {FTS_TABLE}"
                f" WHERE {FTS_TABLE} MATCH %s)"
                f" SELECT e.id, m.rank, {self.FACET_COLUMNS} FROM {source}"
                f" JOIN m ON m.id = e.id WHERE {visible}",
                [expression, *visibilities],
            )
        if negative:
            return self.query(
                cursor,
                f"SELECT {columns} FROM {source} WHERE {visible} AND e.id NOT IN"
                f" (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s)",
                [0.0, *visibilities, negative],
            )
        return []  # only stop words or terms that index nothing ("_"): nothing to look for

    def ranked_rows(self, cursor, clauses, visibilities, request, first, limit):
        """(rows first..first+limit of the sorted matches, their total, facet counts): every
        match is read, then filtered, counted and sorted in Python (rows.py)."""
        rows = self.match_rows(cursor, clauses, visibilities)
        if request.within is not None:
            among = IndexEntry.objects.filter(key__in=request.within)
            ids = set(among.values_list("id", flat=True))
            rows = [row for row in rows if row[ID] in ids]
        matched, counts = filter_and_count(request, rows)
        sort_rows(matched, request.sort, ranked=bool(clauses))
        return matched[first : first + limit], len(matched), counts

    def snippets(self, cursor, clauses, ids):
        """{id: [snippet of each SNIPPET_COLUMNS column, markers around matches]}."""
        positive, negative = render_fts5(clauses)
        if not positive:
            return {}
        expression = f"({positive}) NOT ({negative})" if negative else positive
        columns = ", ".join(
            f"snippet({FTS_TABLE}, {FTS_COLUMNS.index(c)}, %s, %s, '…', {SNIPPET_TOKENS})"
            for c in SNIPPET_COLUMNS
        )
        marks = [MARK_START, MARK_END] * len(SNIPPET_COLUMNS)
        cursor.execute(  # FTS5 seeks to each rowid of the IN list
            f"SELECT rowid, {columns} FROM {FTS_TABLE}"
            f" WHERE {FTS_TABLE} MATCH %s AND rowid IN ({placeholders(ids)})",
            [*marks, expression, *ids],
        )
        return {row[0]: list(row[1:]) for row in cursor.fetchall()}

    def autocomplete_rows(self, cursor, words, text, visibilities, limit):
        expression = " AND ".join(
            [*(quote_fts((w,)) for w in words[:-1]), quote_fts((words[-1],)) + "*"]
        )
        # Choose the ids first (title and visibility are stored before the long texts), then
        # read the URLs (stored after them) of the few chosen.
        cursor.execute(
            f"SELECT e.id FROM {TITLES_TABLE} t JOIN {TABLE} e ON e.id = t.rowid"
            f" WHERE {TITLES_TABLE} MATCH %s AND e.visibility IN ({placeholders(visibilities)})"
            " ORDER BY CASE WHEN e.title LIKE %s ESCAPE '\\' THEN 0 ELSE 1 END,"
            " length(e.title), e.title, e.id LIMIT %s",
            [expression, *visibilities, like_escape(text) + "%", limit],
        )
        ids = [entry_id for (entry_id,) in cursor.fetchall()]
        if not ids:
            return []
        cursor.execute(
            f"SELECT id, title, url, kind FROM {TABLE} WHERE id IN ({placeholders(ids)})", ids
        )
        by_id = {row[0]: row[1:] for row in cursor.fetchall()}
        return [by_id[entry_id] for entry_id in ids if entry_id in by_id]

    def term_known(self, cursor, word):
        cursor.execute(
            f"SELECT 1 FROM {FTS_TABLE} f JOIN {TABLE} e ON e.id = f.rowid"
            f" WHERE {FTS_TABLE} MATCH %s AND e.visibility = 'public' LIMIT 1",
            [quote_fts((word,))],
        )
        return cursor.fetchone() is not None

    def rebuild(self, cursor):
        sqlite_rebuild(cursor)


class _Postgres:
    """Queries over the generated tsvector column. Long texts live out of line (TOAST), so the
    facet fields are cheap to read from the table itself, and are counted where they are."""

    def query(self, cursor, sql, params):
        cursor.execute(sql.replace(FACETS_HINT, ""), params)
        return cursor.fetchall()

    def ranked_rows(self, cursor, clauses, visibilities, request, first, limit):
        """(rows first..first+limit of the sorted matches, their total, facet counts), all
        counted and sorted in the database (counting.window_and_counts)."""
        source, conditions, params = f"{TABLE} e", [], []
        rank = "0.0::float8"
        if clauses:
            query, params, has_positive = render_tsquery(clauses)
            if not query:
                return [], 0, {}
            # Ranked without a long word's split readings: ts_rank tested each as a phrase on
            # every match, 35 of the statement's 80 ms for "police investigators" at 100,000
            # entries. An entry found only written apart ranks as if that word were missing.
            ranking, ranking_params, _ = render_tsquery(without_split_readings(clauses))
            if has_positive:
                rank = f"ts_rank({PG_WEIGHTS}, e.{PG_VECTOR}, q.ranking)"
            source += f", (SELECT {query} AS query, {ranking} AS ranking) q"
            params = [*params, *ranking_params]
            conditions.append(f"e.{PG_VECTOR} @@ q.query")
        conditions.append(f"e.visibility IN ({placeholders(visibilities)})")
        params = [*params, *visibilities]
        if request.within is not None:
            conditions.append("e.key = ANY(%s)")
            params.append(list(request.within))
        matches = (
            f"SELECT e.id, {rank} AS rank, e.publishers, e.type, e.themes, e.year, e.language,"
            " coalesce(to_char(e.date, 'YYYY-MM-DD'), '') AS day, e.kind, e.date"
            f" FROM {source} WHERE {' AND '.join(conditions)}"
        )
        with transaction.atomic():
            if clauses:
                # The GIN index always serves a full-text match: with a common word the planner
                # would rather test every entry's vector (phrase alternatives make that slow).
                # SET LOCAL ends with the transaction, so a pooled connection is left as it was.
                cursor.execute("SET LOCAL enable_seqscan = off")
            return window_and_counts(cursor, matches, params, request, bool(clauses), first, limit)

    def snippets(self, cursor, clauses, ids):
        """{id: [headline of the summary, the body and, if neither matched, the attachments]}."""
        query, params, has_positive = render_tsquery(clauses)
        if not has_positive:
            return {}
        found = {entry_id: [] for entry_id in ids}
        pending = list(ids)
        for column in SNIPPET_COLUMNS:
            if column == "attachments":  # possibly very long: only where nothing matched yet
                pending = [i for i in pending if not any(MARK_START in s for s in found[i])]
            if not pending:
                break
            cursor.execute(
                f"SELECT e.id, ts_headline('english'::regconfig, translate(e.{column}, %s, %s),"
                f" q.query, %s) FROM {TABLE} e, (SELECT {query} AS query) q"
                f" WHERE e.id IN ({placeholders(pending)})",
                [*PG_HIDDEN, PG_HEADLINE_OPTIONS, *params, *pending],
            )
            for entry_id, headline in cursor.fetchall():
                for hidden, shown in zip(PG_HIDDEN[1], PG_HIDDEN[0], strict=True):
                    headline = headline.replace(hidden, shown)
                found[entry_id].append(headline)
        return found

    def autocomplete_rows(self, cursor, words, text, visibilities, limit):
        query = " & ".join([*(f"'{w}'" for w in words[:-1]), f"'{words[-1]}':*"])
        cursor.execute(
            f"SELECT e.title, e.url, e.kind FROM {TABLE} e"
            f" WHERE e.visibility IN ({placeholders(visibilities)})"
            " AND to_tsvector('simple'::regconfig, e.title)"
            " @@ to_tsquery('simple'::regconfig, %s)"
            " ORDER BY (e.title ILIKE %s) DESC, length(e.title), e.title, e.id LIMIT %s",
            [*visibilities, query, like_escape(text) + "%", limit],
        )
        return cursor.fetchall()

    def term_known(self, cursor, word):
        # count(*), not LIMIT 1: with a LIMIT the planner bets on meeting a match early in a
        # sequential scan, and reads every row's tsvector when there is none.
        cursor.execute(
            f"SELECT count(*) FROM {TABLE} WHERE visibility = 'public'"
            f" AND {PG_VECTOR} @@ plainto_tsquery('english'::regconfig, %s)",
            [word],
        )
        return cursor.fetchone()[0] > 0

    def rebuild(self, cursor):
        pass  # the generated column is always current


def current_dialect():
    if connection.vendor == "sqlite":
        return _SQLite()
    if connection.vendor == "postgresql":
        return _Postgres()
    raise RuntimeError(f"the database search engine does not support {connection.vendor}")
