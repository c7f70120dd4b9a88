"""The interface every search engine implements."""

from search.query import FACETS, Clause, SearchRequest, SearchResults  # noqa: F401 - re-exported


class EngineError(Exception):
    """The engine failed to answer; the service falls back to the database engine."""


class SearchEngine:
    """A search engine. Requests arrive validated (search.query.SearchRequest) with the query text
    already parsed into clauses (synonyms expanded), and the visibilities the user may see."""

    name = "base"

    def search(self, request, clauses, visibilities):
        """Return SearchResults: hits of the requested page in order, the total, and for each
        facet in FACETS the counts of every value, each facet counted with all active filters
        except its own (disjunctive), as {facet: [FacetValue(value, label="", count, selected)]}
        made by search.backends.facets.facet_lists.
        Hits carry an HTML snippet: text escaped, matches wrapped in <mark>."""
        raise NotImplementedError

    def autocomplete(self, text, visibilities, limit=8):
        """Titles (and publisher names) starting with or containing the typed words, as
        [{"label": ..., "url": ..., "kind": "item" | "theme" | "thread" | "publisher"}]."""
        raise NotImplementedError

    def suggest(self, text):
        """A corrected query for a misspelt one ("" when nothing better is known)."""
        raise NotImplementedError

    def related(self, key, visibilities, limit=4):
        """Keys of the entries most like the given one, best first."""
        raise NotImplementedError

    def upsert(self, entries):
        """Add or replace these IndexEntry rows in the engine's index."""
        raise NotImplementedError

    def delete(self, keys):
        raise NotImplementedError

    def rebuild(self, entries, total, progress=None):
        """Index every entry into a fresh index and switch to it at once."""
        raise NotImplementedError

    def status(self):
        """{"documents": n, "index": name, ...}; raises EngineError if unreachable."""
        raise NotImplementedError
