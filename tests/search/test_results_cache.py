"""Search results kept in the cache (search.results_cache): a repeated search is answered from it,
never across visibilities, and never after what its asker finds has changed, while a change that
only others find leaves it cached."""

import pytest
from django.http import QueryDict

from library.models import LibraryItemPage
from portal.actions.forum import create_post, move_thread
from portal.policy import search_visibilities
from portal.search_source import thread_key
from search import service
from search.engines import remote_engine
from search.indexing import apply_pending_changes
from search.models import IndexEntry, PendingIndexChange, Synonym
from tests.search.conftest import (
    drop_engine_index,
    engine_settings,
    load_indexed_library,
    make_discussions,
)

HASHING = "Introduction to Hashing"
THREAD = "Hash lists for small platforms"
NEW_WORD = "narwhal"  # found in nothing until a test posts it


@pytest.fixture
def cached_search(settings, db):
    settings.SEARCH = {"ENGINE": "database", "URL": "", "INDEX": "", "RESULTS_CACHE_SECONDS": 30}
    load_indexed_library()


@pytest.fixture
def cached_opensearch(settings, db):
    settings.SEARCH = {**engine_settings("opensearch"), "RESULTS_CACHE_SECONDS": 30}
    load_indexed_library()
    yield
    drop_engine_index()


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


def test_a_forum_post_leaves_visitors_searches_cached_and_members_search_afresh(
    settings, cached_search, anonymous, django_capture_on_commit_callbacks
):
    settings.PORTAL_POST_RATE = (1000, 60)
    forum = make_discussions()
    member = forum.people.member
    assert HASHING in titles("q=hashing", anonymous)
    assert HASHING in titles("q=hashing", member)
    assert titles(f"q={NEW_WORD}", member) == set()
    # Nothing tells search about a row removed behind its back: only a fresh search misses it.
    IndexEntry.objects.filter(title=HASHING).delete()
    with django_capture_on_commit_callbacks(execute=True):
        create_post(member, forum.hashing, f"Our {NEW_WORD} list is ready.")
    assert HASHING in titles("q=hashing", anonymous)
    assert HASHING not in titles("q=hashing", member)
    assert THREAD in titles(f"q={NEW_WORD}", member)


def test_a_thread_moved_where_members_cannot_see_leaves_their_next_search(cached_search):
    forum = make_discussions()
    people = forum.people
    assert THREAD in titles("q=hash lists", people.member)
    assert THREAD in titles("q=hash lists", people.moderator)
    move_thread(people.moderator, forum.hashing, forum.private.category)
    assert THREAD not in titles("q=hash lists", people.member)
    assert THREAD in titles("q=hash lists", people.moderator)


def test_the_engine_taking_the_outbox_answers_afresh_only_the_audiences_it_changes(
    cached_opensearch, anonymous
):
    forum = make_discussions()
    apply_pending_changes()
    people = forum.people
    assert HASHING in titles("q=hashing", anonymous)
    assert THREAD in titles("q=hash lists", people.member)
    # Taken out of the engine behind search's back: only a fresh search misses it.
    remote_engine().delete([IndexEntry.objects.get(title=HASHING).key])

    move_thread(people.moderator, forum.hashing, forum.private.category)
    change = PendingIndexChange.objects.get(key=thread_key(forum.hashing.pk))
    assert change.visibilities == ["members", "moderators"]
    # Until the engine takes the change, members still find the thread there.
    assert THREAD in titles("q=hash lists", people.member)
    apply_pending_changes()
    assert THREAD not in titles("q=hash lists", people.member)
    assert THREAD in titles("q=hash lists", people.moderator)
    assert HASHING in titles("q=hashing", anonymous)
    assert HASHING not in titles("q=hashing&sort=newest", anonymous)


def test_an_outbox_row_that_names_no_visibility_answers_every_search_afresh(
    cached_opensearch, anonymous
):
    # Rows waiting from before the outbox recorded visibilities: whom they affect is unknown.
    make_discussions()
    apply_pending_changes()
    assert HASHING in titles("q=hashing", anonymous)
    # Taken out of the engine behind search's back: only a fresh search misses it.
    remote_engine().delete([IndexEntry.objects.get(title=HASHING).key])
    PendingIndexChange.objects.create(key="page:0", visibilities=[])
    assert HASHING in titles("q=hashing", anonymous)
    apply_pending_changes()
    assert HASHING not in titles("q=hashing", anonymous)
