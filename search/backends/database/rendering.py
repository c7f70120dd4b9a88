"""Query clauses as FTS5 and tsquery expressions, and the databases' marked-up matches as
escaped HTML snippets."""

import re

from django.utils.html import escape

from search.query import SEARCH_STOP_WORDS

MARK_START, MARK_END = "\ue000", "\ue001"  # private-use: cannot be confused with escaped text
_MARKS = re.compile(f"([{MARK_START}{MARK_END}])")
FALLBACK_SNIPPET_CHARS = 240


def quote_fts(words):
    """An FTS5 string: the words as one phrase, double quotes doubled."""
    return '"' + " ".join(words).replace('"', '""') + '"'


def indexable(words):
    """Whether FTS5's unicode61 tokenizer finds any token in these words ("_" alone it does not)."""
    return any(char.isalnum() for word in words for char in word)


def _searchable(words):
    """Whether an alternative can take part in an FTS5 query: it has a token, and is not a lone
    stop word (phrases keep theirs: "abuse of children" stays exact)."""
    return indexable(words) and not (len(words) == 1 and words[0] in SEARCH_STOP_WORDS)


def render_fts5(clauses):
    """(positive, negative) FTS5 expressions for the clauses; either may be "".

    Each clause is any of its alternatives, each alternative a quoted word or phrase; positive
    clauses are ANDed, negated ones ORed together to be subtracted with NOT. Lone stop words are
    left out, as PostgreSQL does.
    """
    positive, negative = [], []
    for clause in clauses:
        alternatives = [quote_fts(words) for words in clause.alternatives if _searchable(words)]
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


def best_snippet(candidates, fallback):
    """The candidate with the most highlighted matches (earlier wins a tie), else the start of
    the fallback text; returned as safe HTML."""
    candidates = [c for c in candidates if c and MARK_START in c]
    if candidates:
        return highlight(max(candidates, key=lambda c: c.count(MARK_START)))
    return _plain_snippet(fallback or "")
