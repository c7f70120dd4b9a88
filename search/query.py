"""What a search asks for and what it gets back, independent of the engine.

`SearchRequest.from_params` is the one place that reads search parameters (from the URL or the
JSON API), caps and cleans them, so every engine receives the same well-formed request, and says
what it corrected in `notices`, which the page and the JSON API both show.
`parse_text` turns the query box into clauses: words, "quoted phrases" and -exclusions, each with
the editors' synonyms as alternatives. Engines only render those clauses into their own syntax.
"""

import re
from collections import Counter
from dataclasses import dataclass, field

import inputs

MAX_QUERY_LENGTH = 200
MAX_CLAUSES = 12
MAX_FACET_VALUES = 20
PAGE_SIZE = 20
MAX_PAGE = 500  # deep pages cost engines a lot and serve nobody; the page says so
SORTS = {
    # URL value: (label, engine-neutral key). Field names stay inside the engines.
    "relevance": "Best match",
    "newest": "Newest first",
    "oldest": "Oldest first",
}
FACETS = ("content", "publisher", "type", "theme", "year", "language")
SLUG_FACETS = tuple(facet for facet in FACETS if facet != "year")  # chosen by value, not range
# The content facet: what a result is, in the words people filter by. Its values stand for entry
# kinds, so every engine filters and counts it on the entries' kind.
CONTENTS = {
    # URL value: (label, entry kinds)
    "library": ("Library items", ("item",)),
    "themes": ("Theme pages", ("theme",)),
    "discussions": ("Discussions", ("thread",)),
}
# A search with no words and no content chosen browses the library: its items, newest first, as
# its type and publisher counts add up to; theme pages and discussions join in once words are
# typed, when they may be what the words ask for.
BROWSING_CONTENT = "library"
# What a filter is called in the notices about it.
FILTER_NAMES = {
    "content": "content",
    "publisher": "publisher",
    "type": "resource type",
    "theme": "theme",
    "language": "language",
}
_CONTENT_OF_KIND = {kind: value for value, (_, kinds) in CONTENTS.items() for kind in kinds}
_WORD = re.compile(r"\w+", re.UNICODE)
# PostgreSQL's English stop words (tsearch_data/english.stop). A word on its own that is one of
# these asks for nothing, so parse_text drops it: every engine then answers "guidance for the
# police" alike, instead of one requiring a word another's analyser removed.
SEARCH_STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
    her hers herself it its itself they them their theirs themselves what which who whom this that
    these those am is are was were be been being have has had having do does did doing a an the
    and but if or because as until while of at by for with about against between into through
    during before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no nor not
    only own same so than too very s t can will just don should now
    """.split()  # noqa: SIM905 - a word list reads better as text
)


@dataclass(frozen=True)
class Clause:
    """One thing the query asks for: any of `alternatives` (each a tuple of words, a phrase when
    longer than one word); `negated` clauses must not match."""

    alternatives: tuple
    negated: bool = False


@dataclass
class SearchRequest:
    text: str = ""
    content: list = field(default_factory=list)
    publisher: list = field(default_factory=list)
    type: list = field(default_factory=list)
    theme: list = field(default_factory=list)
    language: list = field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    sort: str = "relevance"
    page: int = 1
    page_size: int = PAGE_SIZE
    notices: list = field(default_factory=list)  # what was corrected, said to the searcher
    browsing: bool = False  # no words and no content chosen: the library's items only

    @classmethod
    def from_params(cls, params, known=None):
        """Build a request from a QueryDict-like mapping, correcting what needs it and saying so
        in `notices`. `known`, {facet: values}, names the filter values that exist: others are
        dropped rather than shown as chosen filters that match nothing."""
        request = cls()
        notice = request.notices.append

        text = " ".join((params.get("q") or "").split())
        if len(text) > MAX_QUERY_LENGTH:
            notice(f"The search was shortened to its first {MAX_QUERY_LENGTH} characters.")
            text = text[:MAX_QUERY_LENGTH]
        request.text = text
        for facet in SLUG_FACETS:
            given = list(dict.fromkeys(v for v in params.getlist(facet) if v))
            values = [v for v in given if _is_slug(v) and (known is None or v in known[facet])]
            for value in given:
                if value not in values:
                    shown = f" “{value[:40]}”" if _is_slug(value) else ""
                    notice(f"Ignored an unknown {FILTER_NAMES[facet]} filter{shown}.")
            setattr(request, facet, sorted(values)[:MAX_FACET_VALUES])
        for bound in ("year_from", "year_to"):
            raw = params.get(bound)
            if raw:
                year = inputs.integer(raw, low=1900, high=2100)
                if year is None:
                    notice(f"The year {raw[:10]!r} was ignored: use four digits.")
                else:
                    setattr(request, bound, year)
        if request.year_from and request.year_to and request.year_from > request.year_to:
            request.year_from, request.year_to = request.year_to, request.year_from
            notice(
                f"The years were the wrong way round: showing {request.year_from} to "
                f"{request.year_to}."
            )
        sort = params.get("sort") or "relevance"
        if sort not in SORTS:
            notice("Unknown sort order; showing best matches first.")
            sort = "relevance"
        request.sort = sort
        page = inputs.integer(params.get("page") or "1", low=1)
        if page is None:
            notice("The page number was not valid; showing the first page.")
            page = 1
        request.page = min(page, MAX_PAGE)
        return request

    def browse_without_words(self):
        """No words and no content chosen: list the library's items (BROWSING_CONTENT)."""
        if not self.text and not self.content:
            self.content = [BROWSING_CONTENT]
            self.browsing = True

    @property
    def offset(self):
        return (self.page - 1) * self.page_size

    def filters(self, excluding=None):
        """Active facet filters as {facet: values}, leaving one out for disjunctive counts."""
        active = {
            name: getattr(self, name)
            for name in SLUG_FACETS
            if getattr(self, name) and name != excluding
        }
        if excluding != "year" and (self.year_from or self.year_to):
            active["year"] = (self.year_from, self.year_to)
        return active


@dataclass
class Hit:
    key: str  # "item:42"
    kind: str  # "item", "theme", "thread"
    object_id: int
    title: str
    url: str
    snippet: str  # HTML: escaped text with <mark> around matches
    publishers: list  # slugs
    type: str
    date: str
    score: float = 0.0
    card: object = None  # what the hit's result card shows, from its source (registry.fill_cards)


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool


@dataclass
class SearchResults:
    request: SearchRequest
    total: int
    hits: list
    facets: dict  # facet name -> list[FacetValue]
    suggestion: str = ""
    engine: str = ""
    degraded: bool = False  # the configured engine failed and the database answered instead


def kinds_of(contents):
    """The entry kinds that these content facet values stand for."""
    return [kind for value in contents if value in CONTENTS for kind in CONTENTS[value][1]]


def content_counts(kind_counts):
    """Content facet counts, {value: count}, from counts of entries by kind."""
    counts = Counter()
    for kind, count in kind_counts.items():
        counts[_CONTENT_OF_KIND[kind]] += count
    return dict(counts)


def _is_slug(value):
    return len(value) <= 100 and re.fullmatch(r"[\w-]+", value) is not None


def words_of(text):
    return tuple(word.lower() for word in _WORD.findall(text))


def parse_text(text, synonyms=None):
    """Split the query into clauses. `synonyms` maps a phrase (tuple of words) to the other
    phrases it stands for; a clause matching one gets them as alternatives.

    Unbalanced quotes are read as if closed at the end; a lone "-" is ignored; stop-words stay in
    (engines and the database drop them themselves) so "the" alone still finds nothing odd.
    """
    synonyms = synonyms or {}
    clauses = []
    for negated, quoted, raw in _tokens(text):
        words = words_of(raw)
        if not words:
            continue
        phrases = [words] if quoted or negated else [(word,) for word in words]
        for phrase in phrases:
            alternatives = (phrase, *synonyms.get(phrase, ()))
            clauses.append(Clause(tuple(dict.fromkeys(alternatives)), negated))
    clauses = _merge_multiword_synonyms(clauses, synonyms)
    return [clause for clause in clauses if not _only_stop_words(clause)][:MAX_CLAUSES]


def _only_stop_words(clause):
    return all(len(words) == 1 and words[0] in SEARCH_STOP_WORDS for words in clause.alternatives)


def _tokens(text):
    """(negated, quoted, raw) for each term or "phrase" in the text."""
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
            continue
        negated = char == "-"
        if negated:
            position += 1
            if position >= len(text):
                break
            char = text[position]
        if char == '"':
            end = text.find('"', position + 1)
            end = len(text) if end == -1 else end
            yield negated, True, text[position + 1 : end]
            position = end + 1
        else:
            end = position
            while end < len(text) and not text[end].isspace() and text[end] != '"':
                end += 1
            yield negated, False, text[position:end]
            position = end


def _merge_multiword_synonyms(clauses, synonyms):
    """Unquoted consecutive words that together form a synonym phrase ("end to end encryption")
    become one clause with that phrase's alternatives (so they also match "E2EE")."""
    longest = max((len(phrase) for phrase in synonyms), default=1)
    if longest < 2:
        return clauses
    merged, index = [], 0
    while index < len(clauses):
        for size in range(min(longest, len(clauses) - index), 1, -1):
            window = clauses[index : index + size]
            if any(c.negated or len(c.alternatives[0]) != 1 for c in window):
                continue
            phrase = tuple(c.alternatives[0][0] for c in window)
            if phrase in synonyms:
                merged.append(Clause((phrase, *synonyms[phrase])))
                index += size
                break
        else:
            merged.append(clauses[index])
            index += 1
    return merged
