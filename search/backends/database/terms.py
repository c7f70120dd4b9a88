"""The words of the entries' titles and summaries, held per process: the vocabulary for "did you
mean", and the term overlap that finds related entries without ranking thousands of rows in the
database."""

import difflib
import math
import threading
from collections import Counter

from django.db import connection
from django.db.models import Count, Max

from search.models import IndexEntry
from search.query import SEARCH_STOP_WORDS, words_of

SUGGEST_CUTOFF = 0.75
RELATED_TERMS = 12

# Words too common in this library to say what an entry is about, for choosing related() terms.
_LIBRARY_WORDS = """
    also may might must shall would could upon via within without new use used using one two three
    many much make makes made guide report paper overview introduction toolkit
"""
RELATED_STOP_WORDS = SEARCH_STOP_WORDS | frozenset(_LIBRARY_WORDS.split())


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
