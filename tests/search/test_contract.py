"""The same search behaviour on every engine: database (SQLite or PostgreSQL), OpenSearch and
Elasticsearch. Each case runs once per engine available (see conftest.engine_kind)."""

import re
from dataclasses import replace
from unittest.mock import patch
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser
from django.http import QueryDict
from django.test import TestCase, override_settings
from django.urls import reverse

from library.models import LibraryItemPage
from library.search_source import item_key
from portal.actions.forum import hide_post, restore_post
from portal.models import Post
from portal.policy import search_visibilities
from search import service
from search.backends.database import engine as database_engine_module
from search.indexing import apply_pending_changes
from search.models import IndexEntry
from search.query import SearchRequest
from tests.people import make_person
from tests.search.conftest import (
    HIDDEN_WORD,
    MODERATORS_WORD,
    REPLY_WORD,
    drop_engine_index,
    engine_settings,
    load_indexed_library,
    make_discussions,
    sync_engine,
)

E2EE_REPORT = "End-To-End Encryption: Understanding the impacts for child safety online"
E2EE_ARTICLE = (
    "I worked at Facebook — end-to-end encryption will sacrifice children’s safety at the altar "
    "of privacy"
)
BRIEFING = "Outcomes briefing – technology, privacy and rights roundtable"
STRATEGIC_RESPONSE = "Guidance for implementing the Global Strategic Response"
CSAM_REPORT = "Reviewing Child Sexual Abuse Material Reporting Functions on Popular Platforms"
PRINCIPLES = "Voluntary Principles to Counter Online Child Sexual Exploitation and Abuse"
PRINCIPLES_GUIDE = (
    "Guide for tech companies considering supporting the “Voluntary Principles to Counter Online "
    "Child Sexual Exploitation and Abuse”"
)


def search(user, query="", **params):
    data = QueryDict(mutable=True)
    data["q"] = query
    for name, value in params.items():
        data.setlist(name, value if isinstance(value, list) else [str(value)])
    return service.run_search(SearchRequest.from_params(data), search_visibilities(user))


def titles(results):
    return [hit.title for hit in results.hits]


def facet(results, name):
    return {value.value: value.count for value in results.facets[name]}


def listed(results, name):
    return [(value.value, value.count, value.selected) for value in results.facets[name]]


class EngineCases:
    """Cases on the engine `engine_kind`, in an index of their own."""

    engine_kind = None

    @classmethod
    def setUpClass(cls):
        cls.engine_override = override_settings(SEARCH=engine_settings(cls.engine_kind))
        cls.engine_override.enable()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_engine_index()
        cls.engine_override.disable()


class ContractCases(EngineCases):
    """Read-only cases: the library is loaded and indexed once per engine (setUpTestData), and
    each test runs inside a savepoint."""

    @classmethod
    def setUpTestData(cls):
        cls.anonymous = AnonymousUser()
        load_indexed_library()

    def test_stemming(self):
        assert E2EE_REPORT in titles(search(self.anonymous, "encrypted"))
        assert "Statement on behalf of the Phoenix 11" in titles(search(self.anonymous, "survivor"))

    def test_title_outranks_summary(self):
        assert titles(search(self.anonymous, "photodna"))[0] == "PhotoDNA"

    def test_synonyms(self):
        for query, expected in [
            ("csam", CSAM_REPORT),
            ("e2ee", E2EE_REPORT),
            ("end-to-end encryption", E2EE_REPORT),
        ]:
            with self.subTest(query=query):
                assert expected in titles(search(self.anonymous, query))

    def test_stop_words_do_not_block_a_match(self):
        found = titles(search(self.anonymous, "guidance for the strategic response"))
        assert found[0] == "Guidance for implementing the Global Strategic Response"
        assert search(self.anonymous, "the of and").total == 21  # nothing asked: everything

    def test_quoted_phrase(self):
        found = titles(search(self.anonymous, '"voluntary principles"'))
        assert PRINCIPLES in found and PRINCIPLES_GUIDE in found
        assert search(self.anonymous, '"principles voluntary"').total == 0

    def test_exclusion(self):
        found = titles(search(self.anonymous, "voluntary principles -tech"))
        assert PRINCIPLES_GUIDE not in found
        assert PRINCIPLES in found

    def test_facets_are_disjunctive_with_counts(self):
        everything = search(self.anonymous)
        publishers = facet(everything, "publisher")
        assert publishers["weprotect-global-alliance"] == 3
        assert publishers["nspcc"] == 2
        narrowed = search(self.anonymous, publisher=["nspcc"])
        assert {hit.title for hit in narrowed.hits} <= {
            E2EE_REPORT,
            "Talking to children about staying safe online",
        }
        assert narrowed.total == 2
        # The publisher facet ignores its own selection, so the other publishers still show.
        assert facet(narrowed, "publisher") == publishers
        assert [v.selected for v in narrowed.facets["publisher"] if v.value == "nspcc"] == [True]
        # Other facets are counted within the selection.
        assert sum(facet(narrowed, "type").values()) == 2
        both = search(self.anonymous, publisher=["nspcc", "thorn"])
        assert both.total == 3

    def test_facets_combine_across_kinds(self):
        results = search(self.anonymous, type=["tool"], theme=["technology"])
        assert results.total == 5
        assert all(hit.type == "tool" for hit in results.hits)
        assert facet(results, "type")["report"] >= 3  # type counted without its own filter

    def test_a_selected_value_without_matches_stays_listed_to_unselect(self):
        results = search(self.anonymous, "photodna", publisher=["nspcc"])
        assert results.total == 0
        publishers = listed(results, "publisher")
        assert ("nspcc", 0, True) in publishers
        assert ("microsoft", 1, False) in publishers  # counted without the publisher filter
        assert publishers[-1] == ("nspcc", 0, True)  # most frequent first
        no_items = search(self.anonymous, year_from=2018, year_to=2018)
        assert no_items.total == 0
        years = listed(no_items, "year")
        assert ("2018", 0, True) in years
        assert [value for value, _, _ in years] == sorted(
            (value for value, _, _ in years), reverse=True
        )
        assert [selected for _, _, selected in years].count(True) == 1

    def test_facet_labels(self):
        labels = {v.value: v.label for v in search(self.anonymous).facets["publisher"]}
        assert labels["ecpat-international"] == "ECPAT International"
        languages = {v.value: v.label for v in search(self.anonymous).facets["language"]}
        assert languages["en"] == "English"

    def test_year_range(self):
        results = search(self.anonymous, year_from=2021, year_to=2021)
        assert results.total == 8
        assert all(hit.date.startswith("2021") for hit in results.hits)
        assert facet(results, "year")["2020"] > 0  # the year facet ignores the year filter

    def test_sorting(self):
        newest = search(self.anonymous, sort="newest")
        dates = [hit.date for hit in newest.hits if hit.kind == "item"]
        assert dates == sorted(dates, reverse=True)
        oldest = search(self.anonymous, sort="oldest")
        dates = [hit.date for hit in oldest.hits if hit.kind == "item"]
        assert dates == sorted(dates)

    def test_pagination_edges(self):
        first = search(self.anonymous, page=1)
        assert first.total == 21  # 18 items and 3 themes
        assert len(first.hits) == 20
        last = search(self.anonymous, page=2)
        assert len(last.hits) == 1
        beyond = search(self.anonymous, page=9)
        assert beyond.hits == [] and beyond.total == 21
        only_themes = search(self.anonymous, content=["themes"])
        assert only_themes.total == 3 and {hit.kind for hit in only_themes.hits} == {"theme"}

    def test_pages_walked_one_by_one_list_every_match_once_in_order(self):
        # The database engine raises title matches among the first rows of a relevance search
        # and fetches later pages alone: with a window of 5 and pages of 3, the walk crosses it.
        with patch.object(database_engine_module, "TITLE_MATCH_WINDOW", 5):
            for params in ({"q": "child online"}, {"q": "online", "sort": "oldest"}, {}):
                request = SearchRequest.from_params(QueryDict(urlencode(params)))
                request.browse_without_words()
                visibilities = search_visibilities(self.anonymous)
                whole = service.run_search(replace(request, page_size=100), visibilities)
                assert whole.total > 7, params
                walked = []
                for page in range(1, -(-whole.total // 3) + 1):
                    part = service.run_search(
                        replace(request, page=page, page_size=3), visibilities
                    )
                    assert part.total == whole.total
                    walked += [hit.key for hit in part.hits]
                assert walked == [hit.key for hit in whole.hits], params

    def test_autocomplete(self):
        anonymous = search_visibilities(self.anonymous)
        labels = [s["label"] for s in service.autocomplete("photo", anonymous)]
        assert "PhotoDNA" in labels
        kinds = {s["kind"] for s in service.autocomplete("nspc", anonymous)}
        assert "publisher" in kinds

    def test_no_results_but_a_confident_correction_shows_the_corrected_results(self):
        results = search(self.anonymous, "encrpytion")
        assert (results.suggestion, results.corrected) == ("encryption", True)
        assert set(titles(results)) == {E2EE_REPORT, E2EE_ARTICLE}
        assert "<mark>" in results.hits[0].snippet + results.hits[1].snippet
        as_typed = search(self.anonymous, "encrpytion", verbatim=1)
        assert (as_typed.total, as_typed.suggestion, as_typed.corrected) == (
            0,
            "encryption",
            False,
        )
        nothing = search(self.anonymous, "zzzzqqqq")
        assert (nothing.total, nothing.corrected) == (0, False)

    def test_compound_words_match_written_apart_or_together(self):
        apart = titles(search(self.anonymous, "Photo DNA"))
        assert apart[0] == "PhotoDNA"
        assert "Technology" in apart  # its introduction says "Photo DNA"
        assert titles(search(self.anonymous, '"photo dna"'))[0] == "PhotoDNA"
        together = search(self.anonymous, "photodna")
        assert titles(together)[0] == "PhotoDNA"
        theme = next(hit for hit in together.hits if hit.title == "Technology")
        assert re.search(r"<mark>photo(</mark> <mark>| )dna</mark>", theme.snippet.lower())
        assert titles(search(self.anonymous, "round table")) == [BRIEFING]
        assert titles(search(self.anonymous, "decisionmakers")) == [STRATEGIC_RESPONSE]
        assert search(self.anonymous, '"dna photo"').total == 0  # phrases keep their order

    def test_a_theme_is_found_by_the_initiatives_it_lists(self):
        found = titles(search(self.anonymous, "victim identification"))
        assert found[0] == "Victim and survivor support"  # an initiative's title
        assert "Technology" in found  # in an initiative's description

    def test_a_title_equal_to_or_starting_with_the_query_ranks_first(self):
        for query in ("end to end encryption", "E2EE", "end-to-end encryption"):
            with self.subTest(query=query):
                found = titles(search(self.anonymous, query))
                assert found[0] == E2EE_REPORT
                assert E2EE_ARTICLE in found  # its title holds the phrase later on
        assert titles(search(self.anonymous, "prevention"))[0] == "Prevention"
        assert titles(search(self.anonymous, "guidance"))[0] == STRATEGIC_RESPONSE

    def test_related_items(self):
        report = LibraryItemPage.objects.get(title=E2EE_REPORT)
        related = service.related_keys(item_key(report.pk), search_visibilities(self.anonymous))
        article = LibraryItemPage.objects.get(title=E2EE_ARTICLE)
        assert item_key(article.pk) in related
        assert item_key(report.pk) not in related

    def test_pdf_text_is_found_by_a_phrase_only_it_contains(self):
        results = search(self.anonymous, '"analysts assessed reports"')
        assert titles(results) == ["Internet Watch Foundation Annual Report 2020"]


class DatabaseContract(ContractCases, TestCase):
    engine_kind = "database"


class OpenSearchContract(ContractCases, TestCase):
    engine_kind = "opensearch"


class ElasticsearchContract(ContractCases, TestCase):
    engine_kind = "elasticsearch"


class DiscussionCases(EngineCases):
    """Forum threads beside the library: members find them, nobody else does, and only their
    visible posts' text. Read-only, like ContractCases."""

    @classmethod
    def setUpTestData(cls):
        load_indexed_library()
        cls.forum = make_discussions()
        cls.people = cls.forum.people
        sync_engine()

    def test_a_reply_is_found_by_members_only(self):
        found = search(self.people.member, REPLY_WORD)
        assert titles(found) == [self.forum.hashing.title]
        assert found.hits[0].kind == "thread"
        assert found.hits[0].url == reverse("portal:thread", args=[self.forum.hashing.pk])
        for role in ("anonymous", "applicant", "suspended"):
            with self.subTest(role=role):
                assert search(getattr(self.people, role), REPLY_WORD).total == 0

    def test_hidden_post_text_is_not_found(self):
        for role in ("member", "moderator"):
            with self.subTest(role=role):
                assert search(getattr(self.people, role), HIDDEN_WORD).total == 0

    def test_reply_is_highlighted(self):
        (hit,) = search(self.people.member, REPLY_WORD).hits
        assert f"<mark>{REPLY_WORD}</mark>" in hit.snippet.lower()

    def test_moderators_only_category_reaches_moderators_only(self):
        assert titles(search(self.people.moderator, MODERATORS_WORD)) == ["Weekend rota"]
        assert search(self.people.member, MODERATORS_WORD).total == 0
        assert search(self.people.anonymous, MODERATORS_WORD).total == 0

    def test_discussions_facet_counts_and_filters(self):
        library = search(self.people.anonymous, "encryption").total
        assert facet(search(self.people.anonymous, "encryption"), "content") == {"library": library}
        everything = search(self.people.member, "encryption")
        assert everything.total == library + 1
        assert facet(everything, "content") == {"library": library, "discussions": 1}
        labels = {v.value: v.label for v in everything.facets["content"]}
        assert labels == {"library": "Library items", "discussions": "Discussions"}
        discussions = search(self.people.member, "encryption", content=["discussions"])
        assert titles(discussions) == [self.forum.encryption.title]
        # Disjunctive: the content facet is counted without its own filter.
        assert facet(discussions, "content") == {"library": library, "discussions": 1}
        assert [v.selected for v in discussions.facets["content"]] == [False, True]
        only_library = search(self.people.member, "encryption", content=["library"])
        assert only_library.total == library
        assert "thread" not in {hit.kind for hit in only_library.hits}
        both = search(self.people.member, "encryption", content=["library", "discussions"])
        assert both.total == library + 1
        # Other facets are counted within the selection: threads carry no publisher.
        assert facet(discussions, "publisher") == {}

    def test_moderators_count_their_category_too(self):
        moderator = search(self.people.moderator)
        assert facet(moderator, "content")["discussions"] == 3
        assert facet(search(self.people.member), "content")["discussions"] == 2
        assert "discussions" not in facet(search(self.people.anonymous), "content")

    def test_thread_words_are_never_suggested_to_others(self):
        misspelt = REPLY_WORD[:-1] + "x"
        assert REPLY_WORD not in search(self.people.anonymous, misspelt).suggestion
        assert REPLY_WORD not in search(self.people.member, misspelt).suggestion

    def test_autocomplete_offers_threads_to_members_only(self):
        member = service.autocomplete("hash lists", search_visibilities(self.people.member))
        assert ("Hash lists for small platforms", "thread") in {
            (s["label"], s["kind"]) for s in member
        }
        anonymous = service.autocomplete("hash lists", search_visibilities(self.people.anonymous))
        assert "thread" not in {s["kind"] for s in anonymous}

    def test_json_api_never_gives_anonymous_a_thread(self):
        for params in (
            {"q": REPLY_WORD},
            {"q": "encryption"},
            {"content": "discussions"},
            {"page": "2"},
        ):
            with self.subTest(params=params):
                data = self.client.get("/api/search/", params).json()
                assert "thread" not in {r["kind"] for r in data["results"]}
                counted = {v["value"]: v["count"] for v in data["facets"]["content"]}
                assert counted.get("discussions", 0) == 0  # listed only when asked for
        self.client.force_login(self.people.member)
        data = self.client.get("/api/search/", {"q": REPLY_WORD}).json()
        assert [r["kind"] for r in data["results"]] == ["thread"]

    def test_search_page_shows_discussion_cards_and_the_facet_to_members(self):
        html = self.client.get("/library/", {"q": "encryption"}).content.decode()
        assert 'id="facet-content"' not in html  # everything is library: nothing to choose
        self.client.force_login(self.people.member)
        html = self.client.get("/library/", {"q": REPLY_WORD}).content.decode()
        assert "Discussion</span>" in html
        assert "General discussion" in html
        assert "1 reply" in html
        assert f"<mark>{REPLY_WORD}</mark>" in html.lower()
        html = self.client.get(
            "/library/", {"q": "encryption", "content": "discussions"}
        ).content.decode()
        assert 'id="facet-content"' in html
        assert "Content: Discussions" in html  # the active-filter chip
        assert self.forum.encryption.title in html


class DatabaseDiscussions(DiscussionCases, TestCase):
    engine_kind = "database"


class OpenSearchDiscussions(DiscussionCases, TestCase):
    engine_kind = "opensearch"


class ElasticsearchDiscussions(DiscussionCases, TestCase):
    engine_kind = "elasticsearch"


# Cases that change the content, per engine, each with its own freshly indexed library.


def test_highlighted_snippet_is_escaped(indexed_library, anonymous):
    page = LibraryItemPage.objects.get(slug="photodna")
    page.summary = "PhotoDNA <script>alert(1)</script> & hashing"
    page.save_revision().publish()
    sync_engine()
    hit = search(anonymous, "hashing").hits
    snippet = next(h.snippet for h in hit if h.title == "PhotoDNA")
    assert "<script>" not in snippet
    assert "&lt;script&gt;" in snippet
    assert "<mark>hashing</mark>" in snippet.lower()


def test_unpublished_items_never_appear(indexed_library, anonymous):
    page = LibraryItemPage.objects.get(slug="photodna")
    page.unpublish()
    apply_pending_changes()
    assert "PhotoDNA" not in titles(search(anonymous, "photodna"))
    assert not IndexEntry.objects.filter(key=item_key(page.pk)).exists()


def test_members_only_entries_reach_members_only(indexed_library, anonymous, django_user_model):
    IndexEntry.objects.create(
        key="thread:1",
        kind="thread",
        object_id=1,
        visibility="members",
        title="Members discuss encryption",
        url="/portal/threads/1/",
    )
    sync_engine()
    assert "Members discuss encryption" not in titles(search(anonymous, "encryption"))
    applicant = django_user_model.objects.create_user("applicant", "a@example.org", "x" * 16)
    assert "Members discuss encryption" not in titles(search(applicant, "encryption"))
    member = make_person("member")
    assert "Members discuss encryption" in titles(search(member, "encryption"))


def test_hiding_a_post_takes_its_text_out_of_search(indexed_library):
    forum = make_discussions()
    sync_engine()
    reply = forum.hashing.posts.get(number=2)
    assert titles(search(forum.people.member, REPLY_WORD)) == [forum.hashing.title]
    hide_post(forum.people.moderator, reply, "Off topic.")
    apply_pending_changes()
    assert search(forum.people.member, REPLY_WORD).total == 0
    assert search(forum.people.moderator, REPLY_WORD).total == 0
    assert titles(search(forum.people.member, "hash lists")) == [forum.hashing.title]
    restore_post(forum.people.moderator, Post.objects.get(pk=reply.pk))
    apply_pending_changes()
    assert titles(search(forum.people.member, REPLY_WORD)) == [forum.hashing.title]
