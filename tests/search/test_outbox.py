"""Indexing never loses an update: with the engine unreachable, writes succeed and wait in the
outbox, searches fall back to the database engine, and once the engine is back the outbox drains
and the engine's index equals the database's exactly."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import QueryDict

import search
from library.models import LibraryItemPage
from portal.policy import search_visibilities
from search import service
from search.indexing import apply_pending_changes
from search.models import PendingIndexChange
from search.query import SearchRequest
from tests.conftest import closed_port_url
from tests.search.conftest import (
    database_contents,
    drop_engine_index,
    engine_contents,
    engine_settings,
    load_indexed_library,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def opensearch(settings):
    settings.SEARCH = engine_settings("opensearch")
    yield settings
    drop_engine_index()


def test_engine_outage_loses_nothing(opensearch):
    load_indexed_library()
    assert engine_contents() == database_contents()
    working = dict(opensearch.SEARCH)

    opensearch.SEARCH = {**working, "URL": closed_port_url("http")}
    photodna = LibraryItemPage.objects.get(slug="photodna")
    photodna.unpublish()
    hashing = LibraryItemPage.objects.get(slug="introduction-to-hashing")
    hashing.title = "Introduction to Hashing (updated)"
    hashing.save_revision().publish()
    applied, waiting = apply_pending_changes()
    assert applied == 0 and waiting == PendingIndexChange.objects.count() > 0
    assert PendingIndexChange.objects.filter(attempts__gte=1).exists()

    anonymous = search_visibilities(AnonymousUser())
    results = service.run_search(SearchRequest.from_params(QueryDict("q=hashing")), anonymous)
    assert results.degraded is True
    assert [hit.title for hit in results.hits][0] == "Introduction to Hashing (updated)"

    opensearch.SEARCH = working
    applied, waiting = apply_pending_changes()
    assert waiting == 0 and applied > 0
    assert not PendingIndexChange.objects.exists()
    assert engine_contents() == database_contents()
    results = service.run_search(SearchRequest.from_params(QueryDict("q=hashing")), anonymous)
    assert results.degraded is False


def test_changes_reach_the_engine_after_commit(opensearch, django_capture_on_commit_callbacks):
    load_indexed_library()
    with django_capture_on_commit_callbacks(execute=True):
        page = LibraryItemPage.objects.get(slug="photodna")
        page.title = "PhotoDNA for images and video"
        page.save_revision().publish()
    assert not PendingIndexChange.objects.exists()
    assert engine_contents()[f"item:{page.pk}"] == "PhotoDNA for images and video"


def test_record_change_of_a_deleted_object_removes_it(opensearch):
    load_indexed_library()
    page = LibraryItemPage.objects.get(slug="photodna")
    key = f"item:{page.pk}"
    page.delete()
    search.record_change(key)  # deleting already recorded it; a second time is harmless
    apply_pending_changes()
    assert key not in engine_contents()
    assert key not in database_contents()
