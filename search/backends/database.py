"""The database engine: full-text search inside the site's own database, no extra service.

IndexEntry (search.models) already is the index: one flattened row per searchable object. Migration
0002 adds the full-text machinery beside it, which the model knows nothing about and this module
reaches with raw SQL:

- SQLite: an FTS5 external-content table over the entry table (porter stemming, diacritics
  folded), an unstemmed titles-only FTS5 table with a prefix index for autocomplete, triggers that
  keep both in step with every INSERT, UPDATE and DELETE, and a covering index holding the facet
  fields, so facet counting never reads the large body and attachment texts stored before them.
- PostgreSQL: a stored generated tsvector column (title A, summary and publisher names B, body C,
  attachments D) with a GIN index, and a GIN index over the titles' unstemmed words.

A search is one query for every matching row's id, rank and facet fields; filtering, disjunctive
facet counts, sorting and paging then happen in Python over those rows, and a second query fetches
titles, URLs and highlighted snippets for the page's hits only.

suggest() and related() work from a per-process TermIndex of the titles' and summaries' words,
rebuilt when the entries change: the vocabulary for "did you mean", and the term overlap that finds
related entries without ranking thousands of rows in the database.
"""

# Every SQL string here is built from this module's constants and "%s" placeholders only; values
# from users always travel as query parameters.
# ruff: noqa: S608

import difflib
import math
import re
import threading
from collections import Counter
from itertools import chain
from operator import itemgetter

from django.db import DatabaseError, connection
from django.db.models import Count, Max
from django.utils.html import escape

from search.backends.base import SearchEngine
from search.models import IndexEntry
from search.query import (
    FACETS,
    SEARCH_STOP_WORDS,
    FacetValue,
    Hit,
    SearchResults,
    content_counts,
    kinds_of,
    words_of,
)

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
SNIPPET_COLUMNS = ("summary", "body", "attachments")  # tried for a snippet, in this order
# Relevance weights, highest first: title, summary, body, attachments (publisher names beside
# the summary). bm25() takes one weight per FTS column; ts_rank_cd takes {D, C, B, A}.
BM25 = f"bm25({FTS_TABLE}, 10.0, 5.0, 2.0, 1.0, 4.0)"
PG_WEIGHTS = "'{0.1,0.2,0.5,1.0}'::float4[]"

MARK_START, MARK_END = "\ue000", "\ue001"  # private-use: cannot be confused with escaped text
_MARKS = re.compile(f"([{MARK_START}{MARK_END}])")
# ts_headline drops anything that looks like an HTML tag or entity, so PostgreSQL gets the
# text with <, > and & swapped for private-use stand-ins, swapped back before escaping.
PG_HIDDEN = ("<>&", "\ue002\ue003\ue004")
PG_HEADLINE_OPTIONS = (
    f"StartSel={MARK_START}, StopSel={MARK_END}, MaxFragments=1, MaxWords=30, MinWords=12"
)
SNIPPET_TOKENS = 30
FALLBACK_SNIPPET_CHARS = 240

SUGGEST_MIN_LENGTH = 4
SUGGEST_CUTOFF = 0.75
RELATED_TERMS = 12

# Words too common in this library to say what an entry is about, for choosing related() terms.
_LIBRARY_WORDS = """
    also may might must shall would could upon via within without new use used using one two three
    many much make makes made guide report paper overview introduction toolkit
"""
RELATED_STOP_WORDS = SEARCH_STOP_WORDS | frozenset(_LIBRARY_WORDS.split())


def _quote_fts(words):
    """An FTS5 string: the words as one phrase, double quotes doubled."""
    return '"' + " ".join(words).replace('"', '""') + '"'


def _indexable(words):
    """Whether FTS5's unicode61 tokenizer finds any token in these words ("_" alone it does not)."""
    return any(char.isalnum() for word in words for char in word)


def _searchable(words):
    """Whether an alternative can take part in an FTS5 query: it has a token, and is not a lone
    stop word (phrases keep theirs: "abuse of children" stays exact)."""
    return _indexable(words) and not (len(words) == 1 and words[0] in SEARCH_STOP_WORDS)


def render_fts5(clauses):
    """(positive, negative) FTS5 expressions for the clauses; either may be "".

    Each clause is any of its alternatives, each alternative a quoted word or phrase; positive
    clauses are ANDed, negated ones ORed together to be subtracted with NOT. Lone stop words are
    left out, as PostgreSQL does.
    """
    positive, negative = [], []
    for clause in clauses:
        alternatives = [_quote_fts(words) for words in clause.alternatives if _searchable(words)]
        if not alternatives:
            continue
        rendered = "(" + " OR ".join(dict.fromkeys(alternatives)) + ")"
        (negative if clause.negated else positive).append(rendered)
    return " AND ".join(positive), " OR ".join(negative)


def render_tsquery(clauses):
    """(sql, params, has_positive) building the clauses' tsquery in PostgreSQL.

    Each alternative goes through phraseto_tsquery (stemmed, stop words dropped, phrases kept in
    order) and the pieces are combined with the tsquery operators || && !!, which drop empty
    operands: a clause made only of stop words simply disappears instead of breaking the query.
    """
    parts, params, has_positive = [], [], False
    for clause in clauses:
        alternatives = list(dict.fromkeys(" ".join(words) for words in clause.alternatives))
        if not alternatives:
            continue
        sql = " || ".join(["phraseto_tsquery('english'::regconfig, %s)"] * len(alternatives))
        params.extend(alternatives)
        if clause.negated:
            parts.append(f"(!!({sql}))")
        else:
            parts.append(f"({sql})")
            has_positive = True
    return " && ".join(parts), params, has_positive


def highlight(text):
    """Escape text for HTML, turning the match markers into <mark> elements (always balanced)."""
    output, open_mark = [], False
    for part in _MARKS.split(" ".join(text.split())):
        if part == MARK_START:
            if not open_mark:
                output.append("<mark>")
                open_mark = True
        elif part == MARK_END:
            if open_mark:
                output.append("</mark>")
                open_mark = False
        elif part:
            output.append(escape(part))
    if open_mark:
        output.append("</mark>")
    return "".join(output)


def _plain_snippet(text):
    text = " ".join(text.replace(MARK_START, "").replace(MARK_END, "").split())
    if len(text) > FALLBACK_SNIPPET_CHARS:
        text = text[:FALLBACK_SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
    return escape(text)


def _best_snippet(candidates, fallback):
    """The candidate with the most highlighted matches (earlier wins a tie), else the start of
    the fallback text; returned as safe HTML."""
    candidates = [c for c in candidates if c and MARK_START in c]
    if candidates:
        return highlight(max(candidates, key=lambda c: c.count(MARK_START)))
    return _plain_snippet(fallback or "")


def _placeholders(values):
    return ", ".join(["%s"] * len(values))


def _like_escape(text):
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# A matching entry, as the first query returns it and the search then works on it:
# (id, rank, publishers, type, themes, year, language, date as "YYYY-MM-DD" or "", kind).
ID, RANK, PUBLISHERS, TYPE, THEMES, YEAR, LANGUAGE, DATE, KIND = range(9)
FACET_FIELD = {
    "content": KIND,  # search.query.CONTENTS: each value stands for some kinds
    "publisher": PUBLISHERS,
    "type": TYPE,
    "theme": THEMES,
    "year": YEAR,
    "language": LANGUAGE,
}
MULTI_VALUED = {"publisher", "theme"}  # space-separated slugs


def _filter_test(facet, wanted):
    """A predicate on a row for one active filter (values within a facet are ORed)."""
    if facet == "year":
        low, high = wanted
        low = -1 if low is None else low
        high = 10_000 if high is None else high
        return lambda row: row[YEAR] is not None and low <= row[YEAR] <= high
    if facet == "content":
        wanted = kinds_of(wanted)
    field, wanted = FACET_FIELD[facet], frozenset(wanted)
    if facet not in MULTI_VALUED:
        return lambda row: row[field] in wanted
    known = {}  # the same few slug lists recur on many rows: split each once

    def test(row):
        slugs = row[field]
        passes = known.get(slugs)
        if passes is None:
            passes = known[slugs] = not wanted.isdisjoint(slugs.split())
        return passes

    return test


def _year_selected(request, year):
    low, high = request.year_from, request.year_to
    if not low and not high:
        return False
    return (low is None or year >= low) and (high is None or year <= high)


def _count(facet, fields):
    """{value: count} from the raw field values of the rows counted for a facet."""
    tally = Counter(fields)
    if facet == "year":
        return {str(year): n for year, n in tally.items() if year}
    if facet == "content":
        return content_counts(tally)
    if facet not in MULTI_VALUED:
        tally.pop("", None)
        return dict(tally)
    counted = Counter()
    for slugs, n in tally.items():
        for slug in dict.fromkeys(slugs.split()):
            counted[slug] += n
    return dict(counted)


def filter_and_count(request, rows):
    """(rows passing every active filter, {facet: {value: count}}), each facet counted over
    the rows that pass every filter but its own."""
    tests = [(facet, _filter_test(facet, wanted)) for facet, wanted in request.filters().items()]
    if not tests:
        return rows, {f: _count(f, map(itemgetter(FACET_FIELD[f]), rows)) for f in FACETS}
    matched, near = [], {facet: [] for facet in FACETS}  # near: failing only that facet
    for row in rows:
        failed = None
        for facet, test in tests:
            if not test(row):
                if failed is not None:
                    break
                failed = facet
        else:
            if failed is None:
                matched.append(row)
            else:
                near[failed].append(row)
    counts = {}
    for facet in FACETS:
        field = FACET_FIELD[facet]
        counts[facet] = _count(
            facet, chain(map(itemgetter(field), matched), map(itemgetter(field), near[facet]))
        )
    return matched, counts


def facet_lists(request, counts):
    """{facet: [FacetValue]}: most frequent first (years newest first)."""
    facets = {}
    for facet in FACETS:
        counted = counts.get(facet, {})
        if facet == "year":
            values = [
                FacetValue(value, "", count, _year_selected(request, int(value)))
                for value, count in counted.items()
            ]
            values.sort(key=lambda v: v.value, reverse=True)
        else:
            selected = set(getattr(request, facet))
            values = [
                FacetValue(value, "", count, value in selected) for value, count in counted.items()
            ]
            # A selected value that matches nothing now stays listed, so it can be unselected.
            values += [FacetValue(v, "", 0, True) for v in sorted(selected - set(counted))]
            values.sort(key=lambda v: (-v.count, v.value))
        facets[facet] = values
    return facets


def sort_rows(rows, sort, ranked=True):
    """Sort in place: relevance = rank, then newest; newest/oldest = date then id. Entries
    without a date come last either way."""
    rows.sort(key=itemgetter(DATE, ID), reverse=sort != "oldest")  # "" (no date) sorts first
    if sort == "oldest":
        undated = next((i for i, row in enumerate(rows) if row[DATE]), len(rows))
        rows[:] = rows[undated:] + rows[:undated]
    elif sort == "relevance" and ranked:
        rows.sort(key=itemgetter(RANK), reverse=True)  # stable: equal ranks stay newest first
    return rows


class TermIndex:
    """The words of every entry's title and summary, held per process for suggest() and
    related(); rebuilt when the entries change.

    frequency: in how many *public* entries each word appears: suggest()'s vocabulary, which so
        never offers a word found only in members' entries.
    postings: word -> ids of the entries (any visibility) using it, for the words shared by at
        least two entries and at most half of them: related()'s term overlap.
    """

    def __init__(self, rows):
        self.frequency = Counter()
        self.visibility = {}
        postings = {}
        for entry_id, visibility, title, summary in rows:
            self.visibility[entry_id] = visibility
            words = {w for w in words_of(f"{title} {summary}") if len(w) >= 3 and not w.isdigit()}
            if visibility == "public":
                self.frequency.update(words)
            for word in words:
                postings.setdefault(word, []).append(entry_id)
        self.documents = len(self.visibility)
        ceiling = max(self.documents // 2, 2)
        self.postings = {w: ids for w, ids in postings.items() if 2 <= len(ids) <= ceiling}
        self.by_length = {}
        for word in self.frequency:
            self.by_length.setdefault(len(word), []).append(word)

    def __contains__(self, word):
        return word in self.frequency

    def closest(self, word):
        """The most likely intended word, or None. A ratio of 0.75 needs the lengths within 60%
        of each other, so only those words are compared."""
        low, high = int(len(word) * 0.6), int(len(word) / 0.6) + 1
        candidates = [w for n in range(low, high + 1) for w in self.by_length.get(n, ())]
        matches = difflib.get_close_matches(word, candidates, n=5, cutoff=SUGGEST_CUTOFF)
        if not matches:
            return None

        def score(candidate):
            ratio = difflib.SequenceMatcher(None, word, candidate).ratio()
            return (round(ratio, 3), self.frequency[candidate])

        return max(matches, key=score)

    def overlap(self, entry_id, text, visibilities):
        """{id: score in 0..1} of the visible entries sharing the text's most distinctive words
        (up to RELATED_TERMS, rarest first), each shared word worth its rarity, log(N / df)."""
        terms = [
            word
            for word in dict.fromkeys(words_of(text))
            if len(word) >= 4
            and word not in RELATED_STOP_WORDS
            and not word.isdigit()
            and word in self.postings
        ]
        terms.sort(key=lambda w: len(self.postings[w]))  # stable: title words first among equals
        scores = Counter()
        for word in terms[:RELATED_TERMS]:
            ids = self.postings[word]
            weight = math.log(self.documents / len(ids))
            for other in ids:
                scores[other] += weight
        scores.pop(entry_id, None)
        allowed = set(visibilities)
        scores = {i: score for i, score in scores.items() if self.visibility.get(i) in allowed}
        best = max(scores.values(), default=0.0) or 1.0
        return {i: score / best for i, score in scores.items()}


_term_indexes = {}
_term_index_lock = threading.Lock()


def term_index():
    """This process's TermIndex for the current database, rebuilt whenever the number of entries
    or their latest update time has changed."""
    key = (connection.alias, str(connection.settings_dict.get("NAME")))
    found = IndexEntry.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    stamp = (found["n"], found["last"])
    cached = _term_indexes.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    with _term_index_lock:
        cached = _term_indexes.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        rows = IndexEntry.objects.values_list("id", "visibility", "title", "summary")
        built = TermIndex(rows.iterator(chunk_size=2000))
        _term_indexes[key] = (stamp, built)
    return built


# --- Schema: used by migration 0002, and by rebuild() to repair what a table remake dropped ---


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


def _sqlite_rebuild(cursor):
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
            _sqlite_rebuild(cursor)
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


# --- Vendor-specific queries ------------------------------------------------------------------


FACETS_HINT = "/*facets*/"  # where the SQLite queries name the covering index


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
        visible = f"e.visibility IN ({_placeholders(visibilities)})"
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
            f" WHERE {FTS_TABLE} MATCH %s AND rowid IN ({_placeholders(ids)})",
            [*marks, expression, *ids],
        )
        return {row[0]: list(row[1:]) for row in cursor.fetchall()}

    def autocomplete_rows(self, cursor, words, text, visibilities, limit):
        expression = " AND ".join(
            [*(_quote_fts((w,)) for w in words[:-1]), _quote_fts((words[-1],)) + "*"]
        )
        # Choose the ids first (title and visibility are stored before the long texts), then
        # read the URLs (stored after them) of the few chosen.
        cursor.execute(
            f"SELECT e.id FROM {TITLES_TABLE} t JOIN {TABLE} e ON e.id = t.rowid"
            f" WHERE {TITLES_TABLE} MATCH %s AND e.visibility IN ({_placeholders(visibilities)})"
            " ORDER BY CASE WHEN e.title LIKE %s ESCAPE '\\' THEN 0 ELSE 1 END,"
            " length(e.title), e.title, e.id LIMIT %s",
            [expression, *visibilities, _like_escape(text) + "%", limit],
        )
        ids = [entry_id for (entry_id,) in cursor.fetchall()]
        if not ids:
            return []
        cursor.execute(
            f"SELECT id, title, url, kind FROM {TABLE} WHERE id IN ({_placeholders(ids)})", ids
        )
        by_id = {row[0]: row[1:] for row in cursor.fetchall()}
        return [by_id[entry_id] for entry_id in ids if entry_id in by_id]

    def term_known(self, cursor, word):
        cursor.execute(
            f"SELECT 1 FROM {FTS_TABLE} f JOIN {TABLE} e ON e.id = f.rowid"
            f" WHERE {FTS_TABLE} MATCH %s AND e.visibility = 'public' LIMIT 1",
            [_quote_fts((word,))],
        )
        return cursor.fetchone() is not None

    def rebuild(self, cursor):
        _sqlite_rebuild(cursor)


class _Postgres:
    """Queries over the generated tsvector column. Long texts live out of line (TOAST), so the
    facet fields are cheap to read from the table itself."""

    FACET_COLUMNS = (
        "e.publishers, e.type, e.themes, e.year, e.language,"
        " coalesce(to_char(e.date, 'YYYY-MM-DD'), ''), e.kind"
    )

    def query(self, cursor, sql, params):
        cursor.execute(sql.replace(FACETS_HINT, ""), params)
        return cursor.fetchall()

    def match_rows(self, cursor, clauses, visibilities):
        visible = f"e.visibility IN ({_placeholders(visibilities)})"
        if not clauses:
            return self.query(
                cursor,
                f"SELECT e.id, 0.0::float8, {self.FACET_COLUMNS} FROM {TABLE} e WHERE {visible}",
                visibilities,
            )
        query, params, has_positive = render_tsquery(clauses)
        if not query:
            return []
        rank = (
            f"ts_rank_cd({PG_WEIGHTS}, e.{PG_VECTOR}, q.query)" if has_positive else "0.0::float8"
        )
        return self.query(
            cursor,
            f"SELECT e.id, {rank}, {self.FACET_COLUMNS}"
            f" FROM {TABLE} e, (SELECT {query} AS query) q"
            f" WHERE {visible} AND e.{PG_VECTOR} @@ q.query",
            [*params, *visibilities],
        )

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
                f" WHERE e.id IN ({_placeholders(pending)})",
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
            f" WHERE e.visibility IN ({_placeholders(visibilities)})"
            " AND to_tsvector('simple'::regconfig, e.title)"
            " @@ to_tsquery('simple'::regconfig, %s)"
            " ORDER BY (e.title ILIKE %s) DESC, length(e.title), e.title, e.id LIMIT %s",
            [*visibilities, query, _like_escape(text) + "%", limit],
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


def _dialect():
    if connection.vendor == "sqlite":
        return _SQLite()
    if connection.vendor == "postgresql":
        return _Postgres()
    raise RuntimeError(f"the database search engine does not support {connection.vendor}")


class DatabaseEngine(SearchEngine):
    """Full-text search in the site's own database: SQLite FTS5 or PostgreSQL."""

    name = "database"

    def search(self, request, clauses, visibilities):
        visibilities = list(visibilities)
        if not visibilities:
            facets = facet_lists(request, {})
            return SearchResults(request, 0, [], facets, engine=self.name)
        dialect = _dialect()
        with connection.cursor() as cursor:
            rows = dialect.match_rows(cursor, clauses, visibilities)
            matched, counts = filter_and_count(request, rows)
            sort_rows(matched, request.sort, ranked=bool(clauses))
            page = matched[request.offset : request.offset + request.page_size]
            hits = self._hits(cursor, dialect, clauses, page)
        return SearchResults(
            request=request,
            total=len(matched),
            hits=hits,
            facets=facet_lists(request, counts),
            engine=self.name,
        )

    @staticmethod
    def _hits(cursor, dialect, clauses, page):
        if not page:
            return []
        ids = [row[ID] for row in page]
        cursor.execute(
            "SELECT id, key, kind, object_id, title, url, summary, substr(body, 1, 400)"
            f" FROM {TABLE} WHERE id IN ({_placeholders(ids)})",
            ids,
        )
        details = {row[0]: row[1:] for row in cursor.fetchall()}
        snippets = dialect.snippets(cursor, clauses, ids)
        hits = []
        for entry_id, rank, publishers, type_, _, _, _, date, _ in page:
            if entry_id not in details:  # deleted since the first query
                continue
            key, kind, object_id, title, url, summary, body_start = details[entry_id]
            hits.append(
                Hit(
                    key=key,
                    kind=kind,
                    object_id=object_id,
                    title=title,
                    url=url,
                    snippet=_best_snippet(snippets.get(entry_id, []), summary or body_start),
                    publishers=list(dict.fromkeys(publishers.split())),
                    type=type_,
                    date=date,
                    score=rank,
                )
            )
        return hits

    def autocomplete(self, text, visibilities, limit=8):
        text = " ".join(text.split())
        words = [w for w in words_of(text) if _indexable((w,))]
        visibilities = list(visibilities)
        if not words or not visibilities or limit < 1:
            return []
        with connection.cursor() as cursor:
            rows = _dialect().autocomplete_rows(cursor, words, text, visibilities, limit)
        return [{"label": title, "url": url, "kind": kind} for title, url, kind in rows]

    def suggest(self, text):
        """Replace each word found nowhere in the public entries by the closest word of their
        titles and summaries; "" when nothing changed. Quotes and minus signs are kept."""
        words = {
            w
            for w in words_of(text)
            if len(w) >= SUGGEST_MIN_LENGTH and not w.isdigit() and w not in SEARCH_STOP_WORDS
        }
        if not words:
            return ""
        known = term_index()
        dialect = _dialect()
        replacements = {}
        with connection.cursor() as cursor:
            for word in words:
                if word in known or dialect.term_known(cursor, word):
                    continue
                closest = known.closest(word)
                if closest and closest != word:
                    replacements[word] = closest
        if not replacements:
            return ""
        return re.sub(r"\w+", lambda m: replacements.get(m.group(0).lower(), m.group(0)), text)

    def related(self, key, visibilities, limit=4):
        """Entries sharing the most distinctive words of this one's title and summary (rarer
        words count for more), raised for each theme and publisher they share with it."""
        entry = (
            IndexEntry.objects.filter(key=key)
            .values("id", "title", "summary", "themes", "publishers")
            .first()
        )
        visibilities = list(visibilities)
        if entry is None or not visibilities or limit < 1:
            return []
        text = f"{entry['title']} {entry['summary']}"
        scores = term_index().overlap(entry["id"], text, visibilities)
        themes = set(entry["themes"].split())
        publishers = set(entry["publishers"].split())
        dialect = _dialect()
        with connection.cursor() as cursor:
            shared = self._sharing(dialect, cursor, entry["id"], themes, publishers, visibilities)
            for entry_id, their_themes, their_publishers in shared:
                boost = 0.25 * len(themes & set(their_themes.split())) + 0.15 * len(
                    publishers & set(their_publishers.split())
                )
                scores[entry_id] = scores.get(entry_id, 0.0) + boost
            if not scores:
                return []
            # Read the keys back with the visibility checked again: an entry restricted or
            # deleted since the term index was built drops out here.
            best_ids = sorted(scores, key=lambda i: (-scores[i], -i))[: limit * 2 + 4]
            cursor.execute(
                f"SELECT id, key FROM {TABLE} WHERE id IN ({_placeholders(best_ids)})"
                f" AND visibility IN ({_placeholders(visibilities)})",
                [*best_ids, *visibilities],
            )
            keys = dict(cursor.fetchall())
        return [keys[i] for i in best_ids if i in keys][:limit]

    @staticmethod
    def _sharing(dialect, cursor, exclude_id, themes, publishers, visibilities):
        """[(id, themes, publishers)] of visible entries sharing a theme or publisher."""
        conditions, params = [], []
        for column, slugs in (("themes", themes), ("publishers", publishers)):
            for slug in sorted(slugs):
                conditions.append(f"(' ' || e.{column} || ' ') LIKE %s ESCAPE '\\'")
                params.append(f"% {_like_escape(slug)} %")
        if not conditions:
            return []
        return dialect.query(
            cursor,
            f"SELECT e.id, e.themes, e.publishers FROM {TABLE} e {FACETS_HINT}"
            f" WHERE e.visibility IN ({_placeholders(visibilities)}) AND e.id != %s"
            f" AND ({' OR '.join(conditions)})",
            [*visibilities, exclude_id, *params],
        )

    def upsert(self, entries):
        """Nothing to do: the entries are the index, and the database keeps its full-text data
        in step (SQLite triggers, PostgreSQL generated column)."""

    def delete(self, keys):
        """Nothing to do (see upsert)."""

    def rebuild(self, entries, total, progress=None):
        """Re-create any missing full-text objects and recompute the full-text data from the
        entries. `entries` are not read: IndexEntry already holds them."""
        if fulltext_missing(connection):
            install_fulltext(connection)  # also rebuilds on SQLite
        else:
            with connection.cursor() as cursor:
                _dialect().rebuild(cursor)
        if progress:
            progress(total or IndexEntry.objects.count())
        return TABLE

    def status(self):
        status = {
            "documents": IndexEntry.objects.count(),
            "index": TABLE,
            "vendor": connection.vendor,
        }
        missing = fulltext_missing(connection)
        if missing:
            status["missing"] = missing
        return status
