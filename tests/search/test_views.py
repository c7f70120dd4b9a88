"""The search page (the library index) and the JSON API, including every kind of bad input."""

import uuid

from django.conf import settings
from django.test import TestCase, override_settings

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

BAD_API_PARAMETERS = [
    {"page": "abc"},
    {"sort": "price"},
    {"year_from": "abcd"},
    {"publisher": "<script>"},
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

    def test_search_page_without_query_lists_everything_newest_first(self):
        html = self.client.get("/library/", {"sort": "newest"}).content.decode()
        assert "1–20 of 21 results" in html
        assert "Newest first" in html

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
        assert 'search for <a href="?q=encryption">encryption</a> instead' in html
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

    def test_api_refuses_bad_parameters_with_400(self):
        for params in BAD_API_PARAMETERS:
            with self.subTest(params=params):
                response = self.client.get("/api/search/", params)
                assert response.status_code == 400
                assert "error" in response.json()

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
