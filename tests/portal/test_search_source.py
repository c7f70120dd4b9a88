"""Forum threads in the search index: only their visible posts' text, cut to size, with their
category's audience and theme (portal/search_source.py)."""

import pytest
from wagtail.models import PageViewRestriction

from library.models import ThemePage
from portal import search_source
from portal.actions.forum import create_post, create_thread, hide_post, merge_threads
from portal.models import Category
from portal.search_source import thread_key
from search.models import IndexEntry
from tests.people import make_person
from tests.search.conftest import (  # noqa: F401 - own_index is a fixture
    REPLY_WORD,
    load_indexed_library,
    make_discussions,
    own_index,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("own_index")]


@pytest.fixture
def library(db):
    load_indexed_library()


def thread_entry(thread):
    return IndexEntry.objects.filter(key=thread_key(thread.pk)).first()


def test_a_merged_thread_leaves_the_index_and_its_posts_move(library):
    forum = make_discussions()
    merge_threads(forum.people.moderator, forum.hashing, forum.encryption)
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
        thread = create_thread(member, category, "Long thread", "word " * 100)
        for _ in range(3):
            create_post(member, thread, "another " * 50)
    entry = thread_entry(thread)
    assert len(entry.body) == 120
    assert len(entry.summary) <= search_source.THREAD_SUMMARY_CHARS + 1
    assert entry.summary.endswith("word…")


def test_hiding_a_post_takes_it_out_of_the_index_at_once(library, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    forum = make_discussions()
    post = forum.hashing.posts.get(number=2)
    hide_post(forum.people.moderator, post, "Off topic.")
    assert REPLY_WORD not in thread_entry(forum.hashing).body


def test_threads_carry_their_theme_while_it_is_public(library):
    forum = make_discussions()
    technology = ThemePage.objects.get(slug="technology")
    forum.general.theme = technology
    forum.general.save()
    assert thread_entry(forum.encryption).themes == "technology"
    technology.unpublish()
    assert thread_entry(forum.encryption).themes == ""
    technology.save_revision().publish()
    assert thread_entry(forum.encryption).themes == "technology"
    restriction = PageViewRestriction.objects.create(
        page=technology.get_parent(), restriction_type=PageViewRestriction.LOGIN
    )
    assert thread_entry(forum.encryption).themes == ""
    restriction.delete()
    assert thread_entry(forum.encryption).themes == "technology"
