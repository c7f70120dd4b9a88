"""Filtering, facet counting, sorting and paging inside PostgreSQL, as rows.py does them in
Python for SQLite: one statement matches once (a materialised CTE), then counts every facet over
the matches passing every filter but its own (all facets in one pass), counts the total and
returns one window of the sorted rows. Only that window and the counts leave the database,
however many entries match."""

# Every SQL string here is built from this module's constants and "%s" placeholders only; values
# from users always travel as query parameters.
# ruff: noqa: S608

from collections import Counter

from search.backends.database.rows import MULTI_VALUED, count_values
from search.query import FACETS, kinds_of

# The CTE's columns, in the order of a row in rows.py (ID, RANK, PUBLISHERS, ... KIND).
ROW_COLUMNS = "id, rank, publishers, type, themes, year, language, day, kind"
COLUMN = {
    "content": "kind",
    "publisher": "publishers",
    "type": "type",
    "theme": "themes",
    "year": "year",
    "language": "language",
}
ORDER = {
    "relevance": "rank DESC, date DESC NULLS LAST, id DESC",
    "newest": "date DESC NULLS LAST, id DESC",
    "oldest": "date ASC NULLS LAST, id ASC",
}


def _condition(facet, wanted):
    """(SQL, params) true for a match passing one active filter (values within it ORed)."""
    column = COLUMN[facet]
    if facet == "year":
        low, high = wanted
        return f"{column} BETWEEN %s AND %s", [
            -1 if low is None else low,
            10_000 if high is None else high,
        ]
    if facet == "content":
        wanted = kinds_of(wanted)
    if facet in MULTI_VALUED:
        return f"string_to_array({column}, ' ') && %s::text[]", [list(wanted)]
    return f"{column} = ANY(%s)", [list(wanted)]


def _where(request, excluding=None):
    conditions, params = ["TRUE"], []
    for facet, wanted in request.filters(excluding=excluding).items():
        sql, values = _condition(facet, wanted)
        conditions.append(sql)
        params.extend(values)
    return " AND ".join(conditions), params


def _facet_counts_sql(request):
    """(SQL, params) of every facet's (facet, field value, count) rows in one pass over the
    matches: a grouping set per facet, each counting the matches that pass every filter but its
    own. Multi-valued fields are grouped as stored (the same few slug lists recur on many
    entries) and split by rows.count_values."""
    facets, values, counts, facet_params, count_params = [], [], [], [], []
    for facet in FACETS:
        column = COLUMN[facet]
        where, params = _where(request, excluding=facet)
        grouped = f"GROUPING({column}) = 0"
        facets.append(f"WHEN {grouped} THEN %s::text")
        facet_params.append(facet)
        values.append(f"WHEN {grouped} THEN to_json({column})")
        counts.append(f"WHEN {grouped} THEN count(*) FILTER (WHERE {where})")
        count_params.extend(params)
    sets = ", ".join(f"({COLUMN[facet]})" for facet in FACETS)
    sql = (
        f"SELECT CASE {' '.join(facets)} END AS facet, CASE {' '.join(values)} END AS value,"
        f" CASE {' '.join(counts)} END AS n FROM m GROUP BY GROUPING SETS ({sets})"
    )
    return sql, [*facet_params, *count_params]


def window_and_counts(cursor, matches, match_params, request, ranked, first, limit):
    """(rows first..first+limit of the sorted matches, their total, {facet: {value: count}}).
    `matches` is a SELECT of every match with ROW_COLUMNS and `date`."""
    where, where_params = _where(request)
    order = ORDER["newest" if request.sort == "relevance" and not ranked else request.sort]
    counts, count_params = _facet_counts_sql(request)
    cursor.execute(
        f"WITH m AS MATERIALIZED ({matches}), f AS (SELECT * FROM m WHERE {where})"
        " SELECT (SELECT count(*) FROM f),"
        f" (SELECT json_agg(json_build_array({ROW_COLUMNS}) ORDER BY {order})"
        f"  FROM (SELECT * FROM f ORDER BY {order} LIMIT %s OFFSET %s) w),"
        " (SELECT json_agg(json_build_array(c.facet, c.value, c.n))"
        f"  FROM ({counts}) c WHERE c.n > 0)",
        [*match_params, *where_params, limit, first, *count_params],
    )
    total, window, counted = cursor.fetchone()
    return [tuple(row) for row in window or []], total, _facet_counts(counted or [])


def _facet_counts(rows):
    """{facet: {value: count}} from (facet, field value, count) rows, as rows.py counts them."""
    tallies = {facet: Counter() for facet in FACETS}
    for facet, value, count in rows:
        tallies[facet][value] = count
    return {facet: count_values(facet, tally) for facet, tally in tallies.items()}
