"""The HTML search page's context: the results with their cards, filter chips, facet links, sort
and page links, each a URL that keeps the rest of the search state (so every state is shareable
and the back button works, with or without JavaScript)."""

from dataclasses import dataclass
from urllib.parse import urlencode

from search import analytics, registry, service
from search.query import FACETS, SLUG_FACETS, SORTS, VERBATIM

FACET_TITLES = {
    "content": "Content",
    "publisher": "Publisher",
    "type": "Resource type",
    "theme": "Theme",
    "year": "Year",
    "language": "Language",
}
FACET_VISIBLE_VALUES = 8


@dataclass
class Chip:
    label: str
    remove_url: str


def _query(params):
    pairs = [(key, value) for key, values in params.items() for value in values if value]
    return "?" + urlencode(pairs) if pairs else "?"


def _state(request):
    """The search state as {param: [values]}, without the page number. Browsing's content is
    the default, not a choice, so links leave it out."""
    return {
        "q": [request.text],
        **{facet: list(getattr(request, facet)) for facet in SLUG_FACETS},
        **({"content": []} if request.browsing else {}),
        "year_from": [str(request.year_from)] if request.year_from else [],
        "year_to": [str(request.year_to)] if request.year_to else [],
        "sort": [request.sort] if request.sort != "relevance" else [],
        VERBATIM: ["1"] if request.verbatim else [],
    }


def search_instead_query(results):
    """For results shown for a correction: the query string that searches for the text as typed
    instead, the rest of the search kept ("" when the results are for the text as typed)."""
    if not results.corrected:
        return ""
    return _query({**_state(results.request), VERBATIM: ["1"]})


def _listed(facet, request, values):
    """Every facet with values is listed but the content facet, which only once it offers a
    choice, and not while browsing the library (its items are what browsing lists)."""
    if facet == "content":
        return not request.browsing and (len(values) > 1 or any(value.selected for value in values))
    return bool(values)


def search_page(params, visibilities, referrer=""):
    """The context of the search page for its URL parameters, as someone who may find entries of
    these visibilities. The search is counted for the analytics (`referrer`: the address of the
    page it was made from)."""
    results = service.search(params, visibilities)
    request = results.request
    registry.fill_cards(results.hits)
    analytics.record_search(request, results, visibilities, referrer)
    return {
        **_page_context(results, max(1, -(-results.total // request.page_size))),
        # Where opening a result is counted, for a search whose text may be kept.
        "opened_query": request.text and analytics.recorded_query(request, visibilities),
    }


def _page_context(results, page_count):
    request = results.request
    state = _state(request)

    def with_change(**changes):
        updated = {**state, **changes}
        return _query(updated)

    labels = {
        (facet, value.value): value.label
        for facet, values in results.facets.items()
        for value in values
    }
    chips = [
        Chip(
            f"{FACET_TITLES[facet]}: {labels.get((facet, value), value)}",
            with_change(**{facet: [v for v in state[facet] if v != value]}),
        )
        for facet in SLUG_FACETS
        for value in state[facet]
    ]
    if request.year_from or request.year_to:
        span = f"{request.year_from or '…'}–{request.year_to or '…'}"
        chips.append(Chip(f"Year: {span}", with_change(year_from=[], year_to=[])))

    facets = []
    for facet in FACETS:
        values = []
        for value in results.facets.get(facet, []):
            if facet == "year":
                year = value.value
                url = with_change(
                    year_from=[] if value.selected else [year],
                    year_to=[] if value.selected else [year],
                )
            else:
                current = state[facet]
                toggled = (
                    [v for v in current if v != value.value]
                    if value.selected
                    else [*current, value.value]
                )
                url = with_change(**{facet: toggled})
            values.append({"value": value, "url": url})
        if _listed(facet, request, results.facets.get(facet, [])):
            facets.append(
                {
                    "name": facet,
                    "title": FACET_TITLES[facet],
                    "visible": values[:FACET_VISIBLE_VALUES],
                    "more": values[FACET_VISIBLE_VALUES:],
                }
            )

    return {
        "results": results,
        "search": request,
        "chips": chips,
        "clear_url": _query({"q": [request.text]} if request.text else {}),
        "facets": facets,
        "sorts": [
            {"value": value, "label": label, "selected": value == request.sort}
            for value, label in SORTS.items()
        ],
        "first_result": request.offset + 1 if results.hits else 0,
        "last_result": request.offset + len(results.hits),
        "page_count": page_count,
        "previous_url": _query({**state, "page": [str(request.page - 1)]})
        if request.page > 1
        else "",
        "next_url": _query({**state, "page": [str(request.page + 1)]})
        if request.page < page_count
        else "",
        "suggestion_url": _query({**state, "q": [results.suggestion], VERBATIM: []})
        if results.suggestion
        else "",
        "search_instead_url": search_instead_query(results),
        "state_query": _query(state)[1:],
    }
