"""The matching rows, filtered, counted per facet and sorted in Python: one query fetches every
match's facet fields, and the disjunctive counts then need no further query."""

from collections import Counter
from itertools import chain
from operator import itemgetter

from search.query import FACETS, content_counts, kinds_of

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


def count_values(facet, tally):
    """{value: count} from a tally of the raw field values of the rows counted for a facet."""
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
        return rows, {
            f: count_values(f, Counter(map(itemgetter(FACET_FIELD[f]), rows))) for f in FACETS
        }
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
        counts[facet] = count_values(
            facet,
            Counter(chain(map(itemgetter(field), matched), map(itemgetter(field), near[facet]))),
        )
    return matched, counts


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
