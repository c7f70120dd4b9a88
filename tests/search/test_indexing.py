"""The index is rebuilt from every source by the management commands, and busy threads are
re-indexed after commit, one task at a time. What each app's changes do to its entries is tested
with the app (tests/library/test_search_source.py, tests/portal/test_search_source.py)."""

import io

import pytest
from django.core.management import call_command

from portal.actions.forum import create_post, create_thread
from portal.models import Category
from portal.search_source import thread_key
from search import indexing
from search.models import IndexEntry
from tests.people import make_person
from tests.search.conftest import (
    HIDDEN_WORD,
    REPLY_WORD,
    load_indexed_library,
    make_discussions,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def library(db, own_index):
    load_indexed_library()


def test_search_reindex_and_status_commands(library):
    IndexEntry.objects.filter(kind="item").delete()
    out = io.StringIO()
    call_command("search_reindex", stdout=out)
    assert IndexEntry.objects.filter(kind="item").count() == 18
    assert IndexEntry.objects.filter(kind="theme").count() == 3
    status = io.StringIO()
    call_command("search_status", stdout=status)
    assert "database index: 21 entries" in status.getvalue()
    assert "outbox: " in status.getvalue()


def thread_entry(thread):
    return IndexEntry.objects.filter(key=thread_key(thread.pk)).first()


def test_search_reindex_rebuilds_threads_from_their_visible_posts(library):
    forum = make_discussions()
    IndexEntry.objects.all().delete()
    call_command("search_reindex", stdout=io.StringIO())
    hashing = thread_entry(forum.hashing)
    assert hashing.visibility == "members"
    assert hashing.summary == "Where do small sites start?"
    assert REPLY_WORD in hashing.body and HIDDEN_WORD not in hashing.body
    assert thread_entry(forum.private).visibility == "moderators"
    assert IndexEntry.objects.filter(kind="thread").count() == 3
    assert IndexEntry.objects.filter(kind__in=["item", "theme"]).count() == 21


def test_posts_reach_the_index_in_one_task_per_busy_thread(
    library, settings, django_capture_on_commit_callbacks
):
    """New posts re-index their thread after commit: posts that arrive while its task waits
    share that task, which reads them all when it runs; the next post queues the next task."""
    settings.PORTAL_POST_RATE = (1000, 60)
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    results = indexing.reindex_task.get_backend().results

    def queued():
        return [r for r in results if r.task.module_path == indexing.reindex_task.module_path]

    member = make_person("member")
    category = Category.objects.create(name="Busy", slug="busy")
    with django_capture_on_commit_callbacks(execute=True):
        thread = create_thread(member, category, "Busy thread", "Opening words.")
        create_post(member, thread, f"A {REPLY_WORD} reply.")
        assert thread_entry(thread) is None  # nothing in the request itself
    with django_capture_on_commit_callbacks(execute=True):
        create_post(member, thread, "A third post.")
    assert [result.args for result in queued()] == [[[thread_key(thread.pk)]]]
    task = queued()[0]
    assert task.task.run_after is not None  # deferred, so a burst of posts shares it

    task.task.call(*task.args)
    assert REPLY_WORD in thread_entry(thread).body
    assert "A third post." in thread_entry(thread).body
    with django_capture_on_commit_callbacks(execute=True):
        create_post(member, thread, "A fourth post.")
    assert len(queued()) == 2
