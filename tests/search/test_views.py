"""The search page (the library index) and the JSON API, including every kind of bad input."""

import uuid

from django.conf import settings
from django.test import TestCase, override_settings
from django.utils.html import escape

from tests.search.conftest import drop_engine_index, load_indexed_library

BAD_PAGE_PARAMETERS = [
    {"q": ""},
    {"q": "x" * 5000},
    {"q": '"unbalanced'},
    {"q": "the and of"},
    {"q": "-"},
    {"q": '"" - "" -'},
    {"q": "' OR 1=1 --"},
    {"q": "<script>alert(1)</script>"},
    {"q": "(a OR b) AND NOT c* NEAR/2 d"},
    {"publisher": "no-such-publisher"},
    {"publisher": "<script>"},
    {"type": "'; DROP TABLE x; --"},
    {"year_from": "abcd"},
    {"year_from": "99999", "year_to": "-1"},
    {"year_from": "2024", "year_to": "2015"},
    {"sort": "price"},
    {"page": "0"},
    {"page": "-3"},
    {"page": "abc"},
    {"page": "999999999999"},
    {"language": "zz"},
]

# What the JSON API corrects, and the notice it gives for each, as the page does.
API_CORRECTIONS = [
    ({"page": "abc"}, "The page number was not valid; showing the first page."),
    ({"sort": "price"}, "Unknown sort order; showing best matches first."),
    ({"year_from": "abcd"}, "The year 'abcd' was ignored: use four digits."),
    ({"publisher": "<script>"}, "Ignored an unknown publisher filter."),
    ({"publisher": "nonexistent"}, "Ignored an unknown publisher filter “nonexistent”."),
    ({"page": "400"}, "There are only 1 pages of results; this is the last."),
]


class SearchViews(TestCase):
    """Runs on the profile's engine, in an index of its own."""

    @classmethod
    def setUpClass(cls):
        index = {**settings.SEARCH, "INDEX": f"test-{uuid.uuid4().hex[:10]}"}
        cls.index_override = override_settings(SEARCH=index)
        cls.index_override.enable()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_engine_index()
        cls.index_override.disable()

    @classmethod
    def setUpTestData(cls):
        load_indexed_library()

    def test_search_page_shows_results_facets_and_chips(self):
        response = self.client.get("/library/", {"q": "encryption", "publisher": "nspcc"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "End-To-End Encryption" in html
        assert "<mark>" in html
        assert "Publisher: NSPCC" in html  # the active-filter chip
        assert "Clear all filters" in html
        assert 'href="?q=encryption"' in html  # removing the chip keeps the query
        assert "1–1 of 1 result" in html

    def test_search_page_without_query_lists_the_library_items(self):
        """Browsing lists library items only, so the count and the type facet agree; theme
        pages join in when words are typed."""
        html = self.client.get("/library/", {"sort": "newest"}).content.decode()
        assert "1–18 of 18 results" in html
        assert "Newest first" in html
        assert 'id="facet-content"' not in html and 'name="content"' not in html
        data = self.client.get("/api/search/").json()
        assert {r["kind"] for r in data["results"]} == {"item"}
        assert sum(v["count"] for v in data["facets"]["type"]) == data["total"] == 18
        data = self.client.get("/api/search/", {"q": "technology"}).json()
        assert "theme" in {r["kind"] for r in data["results"]}
        assert sum(v["count"] for v in data["facets"]["content"]) == data["total"]

    def test_unknown_filter_values_are_dropped_and_said(self):
        html = self.client.get(
            "/library/", {"publisher": "nonexistent", "type": "report"}
        ).content.decode()
        assert "Ignored an unknown publisher filter “nonexistent”." in html
        assert "nonexistent" not in html.replace("filter “nonexistent”", "")
        assert "Resource type: Report" in html  # the known filter stays
        assert 'class="facet__count">0' not in html
        html = self.client.get("/library/", {"theme": "no-such-theme"}).content.decode()
        assert "Ignored an unknown theme filter “no-such-theme”." in html
        assert "1–18 of 18 results" in html
        assert "Nothing matched" not in html and "words" not in html.split("results__status")[1]

    def test_no_advice_about_words_when_none_were_typed(self):
        html = self.client.get("/library/", {"year_from": "1990", "year_to": "1991"}).content
        html = html.decode()
        assert "Nothing matched with these filters." in html
        assert "Clear the filters" in html
        assert "check the spelling" not in html
        html = self.client.get("/library/", {"q": "zzzzqqqq"}).content.decode()
        assert "check the spelling" in html

    def test_reversed_year_range_is_swapped_and_said(self):
        reversed_range = {"year_from": "2022", "year_to": "2020"}
        html = self.client.get("/library/", reversed_range).content.decode()
        assert "The years were the wrong way round: showing 2020 to 2022." in html
        assert "Year: 2020–2022" in html
        ordered = self.client.get("/api/search/", {"year_from": "2020", "year_to": "2022"})
        swapped = self.client.get("/api/search/", reversed_range)
        assert swapped.status_code == 200
        assert swapped.json()["notices"] == [
            "The years were the wrong way round: showing 2020 to 2022."
        ]
        assert swapped.json()["results"] == ordered.json()["results"]
        assert 0 < swapped.json()["total"] < 18

    def test_partial_update_returns_only_the_results_region(self):
        response = self.client.get(
            "/library/", {"q": "hashing"}, headers={"X-Requested-With": "search"}
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" not in html and "search-layout" in html

    def test_a_misspelling_shows_the_corrected_results_and_can_be_searched_as_typed(self):
        html = self.client.get("/library/", {"q": "encrpytion"}).content.decode()
        assert "Showing results for <strong>encryption</strong>" in html
        assert "of 2 results for “encryption”" in html
        assert "End-To-End Encryption" in html and "<mark>" in html
        assert 'search instead for <a href="?q=encrpytion&amp;verbatim=1"' in html
        assert "Did you mean" not in html
        html = self.client.get("/library/", {"q": "encrpytion", "verbatim": "1"}).content.decode()
        assert "No results for “encrpytion”" in html
        assert 'Did you mean <a href="?q=encryption"' in html
        assert "Showing results for" not in html
        assert 'Search for <a href="?q=encryption">encryption</a> instead' in html
        html = self.client.get("/library/", {"q": "zzzzqqqq"}).content.decode()
        assert "Nothing matched" in html and "Showing results for" not in html

    def test_api_says_when_it_shows_a_correction(self):
        data = self.client.get("/api/search/", {"q": "encrpytion"}).json()
        assert (data["query"], data["suggestion"], data["corrected"]) == (
            "encrpytion",
            "encryption",
            True,
        )
        assert data["total"] == 2
        assert "End-To-End Encryption" in " ".join(r["title"] for r in data["results"])
        assert data["search_instead_query"] == "?q=encrpytion&verbatim=1"
        typed = self.client.get("/api/search/" + data["search_instead_query"]).json()
        assert (typed["total"], typed["suggestion"], typed["corrected"]) == (0, "encryption", False)
        assert typed["search_instead_query"] == ""

    def test_bad_input_gives_a_sensible_page(self):
        for params in BAD_PAGE_PARAMETERS:
            with self.subTest(params=params):
                response = self.client.get("/library/", params)
                assert response.status_code == 200
                assert "<script>alert(1)</script>" not in response.content.decode()

    def test_api_corrects_bad_parameters_and_says_so(self):
        for params, notice in API_CORRECTIONS:
            with self.subTest(params=params):
                response = self.client.get("/api/search/", {"q": "encryption", **params})
                assert response.status_code == 200
                assert response.json()["notices"] == [notice]
                assert response.json()["results"]
                page = self.client.get("/library/", {"q": "encryption", **params})
                assert escape(notice) in page.content.decode()

    def test_api_returns_results_and_facets(self):
        response = self.client.get("/api/search/", {"q": "voluntary principles", "type": "tool"})
        assert response.status_code == 200
        data = response.json()
        assert data["total"] == 2
        assert {r["type"] for r in data["results"]} == {"tool"}
        assert [v for v in data["facets"]["type"] if v["value"] == "tool"][0]["selected"] is True
        assert data["degraded"] is False

    def test_autocomplete_endpoint(self):
        data = self.client.get("/api/search/autocomplete/", {"q": "photo"}).json()
        assert "PhotoDNA" in [s["label"] for s in data["suggestions"]]
        assert self.client.get("/api/search/autocomplete/", {"q": "p"}).json() == {
            "suggestions": []
        }

    def test_feed_of_a_search(self):
        response = self.client.get("/library/feed/rss/", {"q": "encryption"})
        assert response.status_code == 200
        body = response.content.decode()
        assert "End-To-End Encryption" in body
        assert "PhotoDNA" not in body
