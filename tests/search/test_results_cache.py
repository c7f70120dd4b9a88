"""Search results kept in the cache (search.results_cache): a repeated search is answered from it,
never across visibilities, and never after what searches find has changed."""

import pytest
from django.http import QueryDict

from library.models import LibraryItemPage
from portal.policy import search_visibilities
from search import service
from search.models import IndexEntry, Synonym
from tests.search.conftest import load_indexed_library, make_discussions

HASHING = "Introduction to Hashing"
THREAD = "Hash lists for small platforms"


@pytest.fixture
def cached_search(settings, db):
    settings.SEARCH = {"ENGINE": "database", "URL": "", "INDEX": "", "RESULTS_CACHE_SECONDS": 30}
    load_indexed_library()


def titles(query, user):
    results = service.search(QueryDict(query), search_visibilities(user))
    return {hit.title for hit in results.hits}


def test_a_repeated_search_is_answered_from_the_cache(cached_search, anonymous):
    assert HASHING in titles("q=hashing", anonymous)
    # Nothing tells search about a row removed behind its back, so the cache still answers...
    IndexEntry.objects.filter(title=HASHING).delete()
    assert HASHING in titles("q=hashing", anonymous)
    # ...while another search (the same words, newest first) is searched afresh.
    assert HASHING not in titles("q=hashing&sort=newest", anonymous)


def test_unpublishing_an_item_takes_it_out_of_the_next_search(cached_search, anonymous):
    assert HASHING in titles("q=hashing", anonymous)
    LibraryItemPage.objects.get(title=HASHING).unpublish()
    assert HASHING not in titles("q=hashing", anonymous)


def test_new_synonyms_are_searched_at_once(cached_search, anonymous):
    assert titles("q=zygomorphic", anonymous) == set()
    Synonym.objects.create(terms="zygomorphic, hashing")
    assert HASHING in titles("q=zygomorphic", anonymous)


def test_what_a_member_found_is_never_given_to_a_visitor(cached_search, anonymous):
    people = make_discussions().people
    assert THREAD in titles("q=hash lists", people.member)
    assert THREAD not in titles("q=hash lists", anonymous)
    assert THREAD not in titles("q=hash lists", people.suspended)
    assert THREAD in titles("q=hash lists", people.member)


def test_results_of_a_failed_engine_are_not_kept(settings, cached_search, anonymous):
    # Nothing listens on port 9: OpenSearch fails at once and the database engine answers.
    unreachable = {"ENGINE": "opensearch", "URL": "http://127.0.0.1:9", "INDEX": "none"}
    settings.SEARCH = {**settings.SEARCH, **unreachable}
    degraded = service.search(QueryDict("q=hashing"), ["public"])
    assert degraded.degraded
    settings.SEARCH = {**settings.SEARCH, "ENGINE": "database", "URL": ""}
    assert not service.search(QueryDict("q=hashing"), ["public"]).degraded


def test_no_cache_when_switched_off(settings, cached_search, anonymous):
    settings.SEARCH = {**settings.SEARCH, "RESULTS_CACHE_SECONDS": 0}
    assert HASHING in titles("q=hashing", anonymous)
    IndexEntry.objects.filter(title=HASHING).delete()
    assert HASHING not in titles("q=hashing", anonymous)
