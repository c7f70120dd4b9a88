"""The database engine: full-text search inside the site's own database, no extra service.

A search asks the dialect for one window of its sorted matches, their total and the disjunctive
facet counts (PostgreSQL works them out in SQL, SQLite reads every match's facet fields and works
them out in Python); further queries fetch titles, URLs and highlighted snippets for the page's
hits only.
"""

# Every SQL string here is built from constants and "%s" placeholders only; values from users
# always travel as query parameters.
# ruff: noqa: S608

import re

from django.db import connection

from search.backends.base import SearchEngine
from search.backends.database.dialects import (
    FACETS_HINT,
    current_dialect,
    like_escape,
    placeholders,
)
from search.backends.database.rendering import best_snippet, indexable
from search.backends.database.rows import ID
from search.backends.database.schema import TABLE, fulltext_missing, install_fulltext
from search.backends.database.terms import term_index
from search.backends.facets import facet_lists
from search.models import IndexEntry
from search.query import (
    SEARCH_STOP_WORDS,
    Hit,
    SearchResults,
    title_key,
    title_match,
    title_phrases,
    words_of,
)

SUGGEST_MIN_LENGTH = 4
TITLE_MATCH_WINDOW = 100


class DatabaseEngine(SearchEngine):
    """Full-text search in the site's own database: SQLite FTS5 or PostgreSQL."""

    name = "database"

    def search(self, request, clauses, visibilities):
        visibilities = list(visibilities)
        if not visibilities:
            facets = facet_lists(request, {})
            return SearchResults(request, 0, [], facets, engine=self.name)
        dialect = current_dialect()
        # Relevance raises title matches among the first TITLE_MATCH_WINDOW rows: a page among
        # them needs them all; a later page only itself.
        if request.sort == "relevance" and request.offset < TITLE_MATCH_WINDOW:
            first = 0
            limit = max(TITLE_MATCH_WINDOW, request.offset + request.page_size)
        else:
            first, limit = request.offset, request.page_size
        with connection.cursor() as cursor:
            head, total, counts = dialect.ranked_rows(
                cursor, clauses, visibilities, request, first, limit
            )
            if first == 0 and request.sort == "relevance":
                self._raise_title_matches(cursor, head, clauses)
            start = request.offset - first
            hits = self._hits(cursor, dialect, clauses, head[start : start + request.page_size])
        return SearchResults(
            request=request,
            total=total,
            hits=hits,
            facets=facet_lists(request, counts),
            engine=self.name,
        )

    @staticmethod
    def _raise_title_matches(cursor, rows, clauses):
        """Move the best-ranked rows whose title equals the query, then those whose title starts
        with it, to the top (search.query.title_match), as the remote engine's title boosts do.
        Only the first TITLE_MATCH_WINDOW rows are looked at: a title holding the query's
        words is weighted highly, so it is among them."""
        phrases = title_phrases(clauses)
        head = rows[:TITLE_MATCH_WINDOW]
        if not phrases or len(head) < 2:
            return
        ids = [row[ID] for row in head]
        cursor.execute(f"SELECT id, title FROM {TABLE} WHERE id IN ({placeholders(ids)})", ids)
        matches = {
            entry_id: title_match(title_key(title), phrases)
            for entry_id, title in cursor.fetchall()
        }
        head.sort(key=lambda row: matches.get(row[ID], 0), reverse=True)  # stable
        rows[:TITLE_MATCH_WINDOW] = head

    @staticmethod
    def _hits(cursor, dialect, clauses, page):
        if not page:
            return []
        ids = [row[ID] for row in page]
        cursor.execute(
            "SELECT id, key, kind, object_id, title, url, summary, substr(body, 1, 400)"
            f" FROM {TABLE} WHERE id IN ({placeholders(ids)})",
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
                    snippet=best_snippet(snippets.get(entry_id, []), summary or body_start),
                    publishers=list(dict.fromkeys(publishers.split())),
                    type=type_,
                    date=date,
                    score=rank,
                )
            )
        return hits

    def autocomplete(self, text, visibilities, limit=8):
        text = " ".join(text.split())
        words = [w for w in words_of(text) if indexable((w,))]
        visibilities = list(visibilities)
        if not words or not visibilities or limit < 1:
            return []
        with connection.cursor() as cursor:
            rows = current_dialect().autocomplete_rows(cursor, words, text, visibilities, limit)
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
        dialect = current_dialect()
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
        dialect = current_dialect()
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
                f"SELECT id, key FROM {TABLE} WHERE id IN ({placeholders(best_ids)})"
                f" AND visibility IN ({placeholders(visibilities)})",
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
                params.append(f"% {like_escape(slug)} %")
        if not conditions:
            return []
        return dialect.query(
            cursor,
            f"SELECT e.id, e.themes, e.publishers FROM {TABLE} e {FACETS_HINT}"
            f" WHERE e.visibility IN ({placeholders(visibilities)}) AND e.id != %s"
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
                current_dialect().rebuild(cursor)
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
