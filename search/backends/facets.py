"""Facet lists as every engine returns them, made from the counts the engine took."""

from search.query import FACETS, FacetValue


def facet_lists(request, counts):
    """{facet: [FacetValue]} from {facet: {value as a string: count}}: most frequent first, then
    by value; years newest first. Labels are left empty for the service to fill in.

    A value the request chose stays listed, selected, with count 0 when nothing matches it now:
    otherwise the user could not unselect it where they selected it.
    """
    facets = {}
    for facet in FACETS:
        counted = {value: 0 for value in _chosen(request, facet)} | counts.get(facet, {})
        values = [
            FacetValue(value, "", count, _selected(request, facet, value))
            for value, count in counted.items()
        ]
        if facet == "year":
            values.sort(key=lambda v: v.value, reverse=True)
        else:
            values.sort(key=lambda v: (-v.count, v.value))
        facets[facet] = values
    return facets


def _chosen(request, facet):
    """The values the request names. A year counts only as a one-year range, which is what
    choosing a year in the list asks for; a wider range is set and cleared as a range."""
    if facet != "year":
        return getattr(request, facet)
    if request.year_from and request.year_from == request.year_to:
        return [str(request.year_from)]
    return []


def _selected(request, facet, value):
    if facet != "year":
        return value in getattr(request, facet)
    return _year_selected(request, int(value))


def _year_selected(request, year):
    low, high = request.year_from, request.year_to
    if not low and not high:
        return False
    return (low is None or year >= low) and (high is None or year <= high)
