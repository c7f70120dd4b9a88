"""facet_lists: the raw counts of any engine made into the facet lists the pages show."""

from search.backends.facets import facet_lists
from search.query import FACETS, SearchRequest


def listed(facets, name):
    return [(v.value, v.count, v.selected) for v in facets[name]]


def test_most_frequent_first_years_newest_first_labels_left_empty():
    counts = {
        "publisher": {"thorn": 1, "nspcc": 3, "iwf": 3},
        "year": {"2019": 5, "2024": 1, "2021": 2},
    }
    facets = facet_lists(SearchRequest(), counts)
    assert set(facets) == set(FACETS)
    assert listed(facets, "publisher") == [
        ("iwf", 3, False),
        ("nspcc", 3, False),
        ("thorn", 1, False),
    ]
    assert listed(facets, "year") == [("2024", 1, False), ("2021", 2, False), ("2019", 5, False)]
    assert facets["type"] == []
    assert all(v.label == "" for values in facets.values() for v in values)


def test_chosen_values_without_matches_stay_listed_and_selected():
    request = SearchRequest(publisher=["iwf", "thorn"], year_from=2018, year_to=2018)
    facets = facet_lists(request, {"publisher": {"nspcc": 2, "thorn": 1}, "year": {"2020": 4}})
    assert listed(facets, "publisher") == [
        ("nspcc", 2, False),
        ("thorn", 1, True),
        ("iwf", 0, True),
    ]
    assert listed(facets, "year") == [("2020", 4, False), ("2018", 0, True)]
    assert listed(facet_lists(request, {}), "publisher") == [("iwf", 0, True), ("thorn", 0, True)]


def test_a_year_range_selects_the_counted_years_within_it():
    counts = {"year": {"2019": 1, "2021": 1, "2023": 1}}
    wide = facet_lists(SearchRequest(year_from=2020, year_to=2025), counts)
    assert listed(wide, "year") == [("2023", 1, True), ("2021", 1, True), ("2019", 1, False)]
    open_ended = facet_lists(SearchRequest(year_to=2021), counts)
    assert listed(open_ended, "year") == [("2023", 1, False), ("2021", 1, True), ("2019", 1, True)]
