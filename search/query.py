"""What a search asks for and what it gets back, independent of the engine.

`SearchRequest.from_params` is the one place that reads search parameters (from the URL or the
JSON API), caps and cleans them, so every engine receives the same well-formed request, and says
what it corrected in `notices`, which the page and the JSON API both show.
`parse_text` turns the query box into clauses: words, "quoted phrases" and -exclusions, each with
the editors' synonyms and the compound forms (written apart or together) as alternatives. Engines
only render those clauses into their own syntax. `title_phrases` and `title_match` say which titles
rank first (those equal to or starting with the query), the same on every engine.
"""

import datetime
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
VERBATIM = "verbatim"  # the URL parameter: "1" searches for the text as typed
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


# Compound words (see _with_compounds): a typed word of this many letters is also tried as two
# words, each of at least COMPOUND_PART letters.
COMPOUND_MIN_LENGTH = 6
COMPOUND_MAX_LENGTH = 20
COMPOUND_PART = 3


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
    verbatim: bool = False  # search for the text as typed, never for a correction of it
    notices: list = field(default_factory=list)  # what was corrected, said to the searcher
    browsing: bool = False  # no words and no content chosen: the library's items only
    # Only these entry keys, or None for all: saved searches ask what is new among the entries
    # added since they last looked (service.search_among). Never read from a URL.
    within: tuple | None = None

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
        request.verbatim = params.get(VERBATIM) == "1"
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
    # The names of its publishers and type, as the facets call them (filled in by search.service).
    publisher_names: list = field(default_factory=list)  # [(slug, name)]
    type_name: str = ""

    @property
    def day(self):
        """The date as a date, for templates to format (None without one)."""
        return datetime.date.fromisoformat(self.date) if self.date else None


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
    suggestion: str = ""  # a correction of the query's spelling, or ""
    corrected: bool = False  # the hits are for the suggestion: the query as typed found nothing
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
    clauses = _with_compounds(_merge_multiword_synonyms(clauses, synonyms))
    return [clause for clause in clauses if not _only_stop_words(clause)][:MAX_CLAUSES]


def _with_compounds(clauses):
    """Compound words match written apart or together ("Photo DNA" and "PhotoDNA",
    "round table" and "roundtable"), on every engine alike, without a dictionary:

    - two words typed apart also match written as one: each gets the pair joined as an
      alternative (a lone stop word's clause does not, so it is still dropped: "we protect"
      asks for "protect" or "weprotect");
    - a long word typed as one also matches written as two: it gets each split into two
      parts of at least COMPOUND_PART letters as a phrase alternative ("photo dna");
    - a quoted phrase of two words also matches them written as one ("photo dna" finds
      PhotoDNA); longer phrases and exclusions are taken as typed."""
    single = [not clause.negated and len(clause.alternatives[0]) == 1 for clause in clauses]
    extra = [[] for _ in clauses]
    for index in range(len(clauses) - 1):
        if not (single[index] and single[index + 1]):
            continue
        first, second = clauses[index].alternatives[0][0], clauses[index + 1].alternatives[0][0]
        for position, word in ((index, first), (index + 1, second)):
            if word not in SEARCH_STOP_WORDS:
                extra[position].append((first + second,))
    compounded = []
    for clause, joined, typed in zip(clauses, extra, single, strict=True):
        splits = _splits(clause.alternatives[0][0]) if typed else []
        if not clause.negated and len(clause.alternatives[0]) == 2:
            joined.append(("".join(clause.alternatives[0]),))
        alternatives = (*clause.alternatives, *joined, *splits)
        compounded.append(Clause(tuple(dict.fromkeys(alternatives)), clause.negated))
    return compounded


def _splits(word):
    """The ways to read a long word as two, each part at least COMPOUND_PART letters and
    neither part a stop word nor a number: "photodna" gives ("photo", "dna") among others."""
    if not (COMPOUND_MIN_LENGTH <= len(word) <= COMPOUND_MAX_LENGTH) or not word.isalpha():
        return []
    return [
        (word[:cut], word[cut:])
        for cut in range(COMPOUND_PART, len(word) - COMPOUND_PART + 1)
        if word[:cut] not in SEARCH_STOP_WORDS and word[cut:] not in SEARCH_STOP_WORDS
    ]


def without_split_readings(clauses):
    """The clauses without the readings of a long typed word as two (_splits: "pol ice" for
    "police", "photo dna" for "photodna"), for ranking where testing each as a phrase on every
    match costs more than it tells."""
    trimmed = []
    for clause in clauses:
        typed = clause.alternatives[0]
        splits = set(_splits(typed[0])) if len(typed) == 1 else set()
        alternatives = tuple(words for words in clause.alternatives if words not in splits)
        trimmed.append(Clause(alternatives, clause.negated))
    return trimmed


def title_key(text):
    """A title as title_phrases compares it: its words, lower case, stop words left out."""
    return " ".join(word for word in words_of(text) if word not in SEARCH_STOP_WORDS)


def title_phrases(clauses):
    """What a title may equal or start with to rank first, as title_key()s: the query's words in
    the order typed, and for a query of one clause each of its alternatives (synonyms, compound
    forms: "E2EE" also stands for "end to end encryption")."""
    positive = [clause for clause in clauses if not clause.negated]
    if not positive:
        return []
    phrases = [tuple(word for clause in positive for word in clause.alternatives[0])]
    if len(positive) == 1:
        phrases.extend(positive[0].alternatives[1:])
    keys = (title_key(" ".join(words)) for words in phrases)
    return list(dict.fromkeys(key for key in keys if key))


def title_match(key, phrases):
    """2 when the title (a title_key) equals one of the phrases, written apart or together
    ("PhotoDNA" equals "photo dna"); 1 when it starts with one; else 0. Every engine ranks
    by this first, then by relevance."""
    compact = key.replace(" ", "")
    if any(compact == phrase.replace(" ", "") for phrase in phrases):
        return 2
    return 1 if any(key.startswith(phrase + " ") for phrase in phrases) else 0


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
