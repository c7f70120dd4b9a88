"""Searching among given entries (what saved searches find new) on every engine: only those
entries, still narrowed by the query, the filters and what the person may find."""

from django.http import QueryDict

from portal.policy import search_visibilities
from search import service
from search.models import IndexEntry
from search.query import SearchRequest
from tests.search.conftest import make_discussions, sync_engine

HASHING = "Introduction to Hashing"  # Media, by Thorn
TALKING = "Talking to children about staying safe online"  # a Guide, no hashing in it
THREAD = "Hash lists for small platforms"  # a members' discussion


def keys_found(user, query, *titles, limit=10):
    keys = IndexEntry.objects.filter(title__in=titles).values_list("key", flat=True)
    request = SearchRequest.from_params(QueryDict(query))
    results = service.search_among(request, keys, search_visibilities(user), limit=limit)
    found = set(
        IndexEntry.objects.filter(key__in=[h.key for h in results.hits]).values_list(
            "title", flat=True
        )
    )
    return found, results.total


def test_search_among_given_entries(indexed_library, anonymous):
    people = make_discussions().people
    sync_engine()

    assert keys_found(anonymous, "q=hashing", HASHING, TALKING) == ({HASHING}, 1)
    assert keys_found(anonymous, "q=hashing", TALKING) == (set(), 0)
    assert keys_found(anonymous, "q=hashing") == (set(), 0)  # nothing given, nothing found
    # Filters still apply.
    assert keys_found(anonymous, "type=media", HASHING, TALKING) == ({HASHING}, 1)
    assert keys_found(anonymous, "type=guide&publisher=thorn", HASHING, TALKING) == (set(), 0)
    # A discussion among them is found only by those who may read it.
    everything = (HASHING, TALKING, THREAD)
    assert keys_found(people.member, "", *everything) == (set(everything), 3)
    assert keys_found(anonymous, "", *everything) == ({HASHING, TALKING}, 2)
    assert keys_found(people.suspended, "", *everything) == ({HASHING, TALKING}, 2)
    # The total counts them all, however few are listed.
    assert keys_found(people.member, "", *everything, limit=0) == (set(), 3)
