"""Search analytics: searches counted as aggregates only, never with the words of a search that
could find discussions; a query reaches editors only past the threshold; old counts are purged;
the report is for editors and staff."""

import datetime
import re

from django.test import Client, TestCase, override_settings
from django.utils import timezone

from search.analytics import WITHHELD, purge_search_counts
from search.models import SearchCount
from tests.people import make_person

DATABASE_SEARCH = {"ENGINE": "database", "URL": "", "INDEX": ""}
REPORT = "/admin/reports/searches/"


@override_settings(SEARCH=DATABASE_SEARCH, SEARCH_ANALYTICS_MIN_SEARCHES=5)
class AnalyticsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        from library import demo

        demo.load()
        cls.member = make_person("member")
        cls.editor = make_person("editor")

    def search(self, client, query, referrer=None, **params):
        headers = {"referer": referrer} if referrer else {}
        response = client.get("/library/", {"q": query, **params}, headers=headers)
        assert response.status_code == 200
        return response

    def signed_in(self, user):
        client = Client()
        client.force_login(user)
        return client

    def test_a_query_shows_once_enough_searches_made_it(self):
        visitor = Client()
        for _ in range(4):
            self.search(visitor, "Photo  DNA")
        for _ in range(5):
            self.search(visitor, "sextortion")
        # Refining a search (a filter, a page, another sort) is the same search.
        self.search(visitor, "photo dna", referrer="http://testserver/library/?q=photo+dna")
        row = SearchCount.objects.get(query="photo dna")
        assert row.searches == 4 and row.results_total > 0
        editor = self.signed_in(self.editor)
        report = editor.get(REPORT).content.decode()
        assert "sextortion" in report
        assert "photo dna" not in report
        self.search(visitor, "PHOTO DNA")
        report = editor.get(REPORT).content.decode()
        assert re.search(r'search-report__query">photo dna<', report)
        assert "/admin/snippets/site_search/synonym/add/?terms=photo+dna" in report
        assert "/library/?q=photo+dna" in report
        assert "<svg" in report and "Searches per day" in report

    def test_searches_that_could_find_discussions_keep_no_words(self):
        member = self.signed_in(self.member)
        self.search(member, "zebrafish pipeline")
        self.search(member, "helpline scripts", content="discussions")
        assert not SearchCount.objects.filter(query__contains="zebrafish").exists()
        assert not SearchCount.objects.filter(query__contains="helpline").exists()
        assert SearchCount.objects.get(query=WITHHELD).searches == 2
        # Limited to the library, a member's search finds only public entries.
        self.search(member, "hashing", content="library")
        assert SearchCount.objects.get(query="hashing").searches == 1
        # The withheld searches are in the day's totals, and nowhere by name.
        for _ in range(5):
            self.search(member, "more words")
        report = self.signed_in(self.editor).get(REPORT).content.decode()
        assert "could find discussions" in report
        assert "more words" not in report

    def test_an_opened_result_is_counted_without_identity(self):
        self.search(Client(), "hashing")
        results = self.search(Client(), "hashing").content.decode()
        beacon = re.search(r'data-opened-url="([^"]+)"', results).group(1)
        assert beacon == "/api/search/opened/?q=hashing"
        opener = Client(enforce_csrf_checks=True)  # no cookie, no token: the beacon's request
        for _ in range(3):
            assert opener.post(beacon).status_code == 204
        row = SearchCount.objects.get(query="hashing")
        assert (row.searches, row.opened) == (2, 2)  # never more openings than searches
        assert opener.get(beacon).status_code == 405
        # A member's search that could find discussions offers no beacon.
        page = self.search(self.signed_in(self.member), "hashing").content.decode()
        assert "data-opened-url" not in page

    def test_old_counts_are_purged(self):
        today = timezone.localdate()
        for age in (0, 364, 365, 366, 900):
            SearchCount.objects.create(
                day=today - datetime.timedelta(days=age), query=f"age {age}", searches=9
            )
        with override_settings(SEARCH_ANALYTICS_RETENTION_DAYS=365):
            assert purge_search_counts.call() == 2
        left = sorted(SearchCount.objects.values_list("query", flat=True))
        assert left == ["age 0", "age 364", "age 365"]

    def test_the_report_is_for_editors_and_staff(self):
        assert Client().get(REPORT)["Location"].startswith("/admin/login/")
        member = self.signed_in(self.member)
        assert member.get(REPORT)["Location"].startswith("/admin/login/")
        staff = self.signed_in(make_person("staff"))
        assert staff.get(REPORT).status_code == 200
        editor = self.signed_in(self.editor)
        assert "/admin/reports/searches/" in editor.get("/admin/").content.decode()  # the menu
        for days in ("7", "90", "many"):
            assert editor.get(REPORT, {"days": days}).status_code == 200
        # Editors without the permission (a group it was taken from) are sent away.
        group = self.editor.groups.get()
        group.permissions.remove(group.permissions.get(codename="view_search_analytics"))
        refused = self.signed_in(self.editor).get(REPORT)
        assert refused.status_code == 302 and refused["Location"] == "/admin/"

    def test_add_synonym_opens_with_the_query_filled_in(self):
        editor = self.signed_in(self.editor)
        form = editor.get("/admin/snippets/site_search/synonym/add/", {"terms": "photo dna"})
        assert form.status_code == 200
        assert 'value="photo dna"' in form.content.decode()
