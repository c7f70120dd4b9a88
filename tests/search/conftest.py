"""The engines the contract suite runs against: the database engine always, OpenSearch where
TEST_OPENSEARCH_URL is set (required under CI), Elasticsearch where ELASTICSEARCH_URL is set."""

import os
import unittest
import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import TestCase, override_settings

from portal.actions.forum import create_post, create_thread, hide_post
from portal.models import Category
from search.engines import remote_engine
from search.indexing import rebuild_database_index
from search.models import IndexEntry
from search.service import synonyms_changed
from tests.conftest import require_service
from tests.people import make_person

ENGINES = ["database", "opensearch", "elasticsearch"]


def engine_settings(kind):
    """settings.SEARCH for an engine under test, with an index of its own; skips (or fails
    under CI) when the engine's service is not there."""
    if kind == "database":
        return {"ENGINE": "database", "URL": "", "INDEX": ""}
    if kind == "opensearch":
        try:
            url = require_service("TEST_OPENSEARCH_URL", "OpenSearch")
        except pytest.skip.Exception as skipped:
            raise unittest.SkipTest(str(skipped)) from None
    else:
        url = os.environ.get("ELASTICSEARCH_URL")
        if not url:
            raise unittest.SkipTest("Elasticsearch not available: set ELASTICSEARCH_URL")
    return {"ENGINE": kind, "URL": url, "INDEX": f"test-{uuid.uuid4().hex[:10]}"}


def load_indexed_library():
    """The demo library with the seed synonyms, indexed into the engine under test."""
    from library import demo

    demo.load()
    synonyms_changed()  # the seed synonyms come from a data migration
    rebuild_database_index()
    sync_engine()


def sync_engine():
    """Make the engine under test match IndexEntry (tests run inside one transaction, so the
    after-commit outbox task does not fire)."""
    engine = remote_engine()
    if engine is not None:
        engine.rebuild(IndexEntry.objects.order_by("pk"), IndexEntry.objects.count())


def engine_contents():
    """The engine's documents under the alias, as {key: title}."""
    engine = remote_engine()
    engine.client.indices.refresh(index=engine.alias)
    response = engine.client.search(
        index=engine.alias, body={"size": 1000, "_source": ["title", "visibility"]}
    )
    return {hit["_id"]: hit["_source"]["title"] for hit in response["hits"]["hits"]}


def database_contents():
    """The database index's entries, as {key: title}: what the engine must hold."""
    return dict(IndexEntry.objects.values_list("key", "title"))


# Words found in nothing but the discussions below.
REPLY_WORD = "zebrafish"
HIDDEN_WORD = "quokka"
MODERATORS_WORD = "marmoset"


@override_settings(PORTAL_POST_RATE=(1000, 60))
def make_discussions():
    """Members in every role and three threads, indexed into IndexEntry (call sync_engine after):
    one with a member's reply and a hidden post, one about encryption (which the library covers
    too), and one in a moderators-only category."""
    people = SimpleNamespace(
        anonymous=AnonymousUser(),
        **{role: make_person(role) for role in ("applicant", "member", "moderator", "suspended")},
    )
    # Posting re-indexes its thread once the transaction commits; the test's never does.
    with TestCase.captureOnCommitCallbacks(execute=True):
        general = Category.objects.create(name="General discussion", slug="general")
        private = Category.objects.create(
            name="Moderators' room", slug="moderators-room", audience=Category.Audience.MODERATORS
        )
        hashing = create_thread(
            people.moderator,
            general,
            "Hash lists for small platforms",
            "Where do small sites start?",
        )
        create_post(people.member, hashing, f"We began with a {REPLY_WORD} pipeline.")
        hidden = create_post(people.member, hashing, f"The {HIDDEN_WORD} list leaked.")
        hide_post(people.moderator, hidden, "Shares a private list.")
        encryption = create_thread(
            people.member, general, "Encryption and our reporting duties", "What changes for us?"
        )
        private_thread = create_thread(
            people.moderator, private, "Weekend rota", f"Who covers the {MODERATORS_WORD} queue?"
        )
    return SimpleNamespace(
        people=people,
        general=general,
        hashing=hashing,
        encryption=encryption,
        private=private_thread,
    )


def drop_engine_index():
    engine = remote_engine()
    if engine is not None:
        engine.client.indices.delete(index=f"{engine.alias}-*")


@pytest.fixture
def own_index(settings):
    """The profile's engine with an index of the test's own, dropped after it: what the test
    rebuilds or applies never reaches the index that later tests search."""
    settings.SEARCH = {**settings.SEARCH, "INDEX": f"test-{uuid.uuid4().hex[:10]}"}
    yield
    drop_engine_index()


@pytest.fixture(params=ENGINES)
def engine_kind(request, settings):
    try:
        settings.SEARCH = engine_settings(request.param)
    except unittest.SkipTest as skipped:
        pytest.skip(str(skipped))
    yield request.param
    drop_engine_index()


@pytest.fixture
def indexed_library(engine_kind, db):
    load_indexed_library()


@pytest.fixture
def anonymous():
    return AnonymousUser()
