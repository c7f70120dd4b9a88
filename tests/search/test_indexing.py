"""Content changes reach the index: taxonomy renames, theme changes, view restrictions, forum
threads, and the management commands that rebuild and report on it."""

import io

import pytest
from django.core.management import call_command
from wagtail.models import PageViewRestriction

from library.models import LibraryItemPage, Publisher, ResourceType, ThemePage
from library.search_source import item_key
from portal import actions, search_source
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
def library(db):
    load_indexed_library()


def entry(slug):
    return IndexEntry.objects.get(key=item_key(LibraryItemPage.objects.get(slug=slug).pk))


def test_publisher_rename_reaches_its_items(library):
    publisher = Publisher.objects.get(slug="microsoft")
    publisher.name = "Microsoft Corporation"
    publisher.save()
    assert entry("photodna").publisher_names == "Microsoft Corporation"


def test_resource_type_rename_reaches_its_items(library):
    tool = ResourceType.objects.get(slug="tool")
    tool.name = "Toolkit"
    tool.save()
    assert entry("photodna").type_name == "Toolkit"


def test_theme_slug_change_reaches_its_items(library):
    theme = ThemePage.objects.get(slug="technology")
    theme.slug = "tech"
    theme.save_revision().publish()
    assert "tech" in entry("photodna").themes.split()


def test_view_restriction_removes_an_item_from_the_index(library):
    page = LibraryItemPage.objects.get(slug="photodna")
    PageViewRestriction.objects.create(page=page, restriction_type=PageViewRestriction.LOGIN)
    assert not IndexEntry.objects.filter(key=item_key(page.pk)).exists()


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


def test_a_merged_thread_leaves_the_index_and_its_posts_move(library):
    forum = make_discussions()
    actions.merge_threads(forum.people.moderator, forum.hashing, forum.encryption)
    assert thread_entry(forum.hashing) is None
    assert REPLY_WORD in thread_entry(forum.encryption).body


def test_category_audience_and_theme_reach_its_threads(library):
    forum = make_discussions()
    forum.general.audience = Category.Audience.MODERATORS
    forum.general.theme = ThemePage.objects.get(slug="technology")
    forum.general.save()
    entry = thread_entry(forum.encryption)
    assert entry.visibility == "moderators"
    assert entry.themes == "technology"


def test_long_threads_are_cut_and_summaries_shortened(
    library, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_POST_RATE = (1000, 60)
    monkeypatch.setattr(search_source, "MAX_THREAD_CHARS", 120)
    member = make_person("member")
    category = Category.objects.create(name="Long", slug="long")
    with django_capture_on_commit_callbacks(execute=True):
        thread = actions.create_thread(member, category, "Long thread", "word " * 100)
        for _ in range(3):
            actions.create_post(member, thread, "another " * 50)
    entry = thread_entry(thread)
    assert len(entry.body) == 120
    assert len(entry.summary) <= search_source.THREAD_SUMMARY_CHARS + 1
    assert entry.summary.endswith("word…")


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
        thread = actions.create_thread(member, category, "Busy thread", "Opening words.")
        actions.create_post(member, thread, f"A {REPLY_WORD} reply.")
        assert thread_entry(thread) is None  # nothing in the request itself
    with django_capture_on_commit_callbacks(execute=True):
        actions.create_post(member, thread, "A third post.")
    assert [result.args for result in queued()] == [[[thread_key(thread.pk)]]]
    task = queued()[0]
    assert task.task.run_after is not None  # deferred, so a burst of posts shares it

    task.task.call(*task.args)
    assert REPLY_WORD in thread_entry(thread).body
    assert "A third post." in thread_entry(thread).body
    with django_capture_on_commit_callbacks(execute=True):
        actions.create_post(member, thread, "A fourth post.")
    assert len(queued()) == 2


def test_hiding_a_post_takes_it_out_of_the_index_at_once(library, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    forum = make_discussions()
    post = forum.hashing.posts.get(number=2)
    actions.hide_post(forum.people.moderator, post, "Off topic.")
    assert REPLY_WORD not in thread_entry(forum.hashing).body
