"""A post's live change names its audience when it is made (policy.post_audience, through
portal.events): each socket's stream asks only whether it is in it, and sends a skip if not."""

import json

import pytest

from portal import events, policy
from portal.actions.forum import create_post
from portal.live_protocol import ThreadStream
from tests.portal.helpers import make_thread, person

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("forum_settings")]


@pytest.fixture
def published(monkeypatch, django_capture_on_commit_callbacks):
    """Runs an action as if its transaction committed; returns the last post change it
    published."""
    messages = []
    monkeypatch.setattr(events, "send_all", messages.extend)

    def run(action, *args):
        with django_capture_on_commit_callbacks(execute=True):
            action(*args)
        changes = [message for _, message in messages if message["type"] == "thread.change"]
        return changes[-1]["post"]

    return run


def received(change, user, thread):
    """What a socket of the user, up to date until the change, sends for it; decoded."""
    stream = ThreadStream(user.pk, policy.can_moderate_thread(user, thread))
    stream.start_read(change["change"] - 1)
    stream.changes_read([], change["change"] - 1, complete=True)
    (frame,) = stream.live_change(change).frames
    return json.loads(frame)


def test_a_held_post_reaches_its_author_and_moderators_and_is_a_skip_for_others(
    published, settings
):
    settings.PORTAL_HOLD_FIRST_POSTS = 1
    author, other, moderator = person("member"), person("member"), person("moderator")
    thread = make_thread(moderator)
    change = published(create_post, author, thread, "Held back")
    assert change["audience"] == [author.pk]
    assert received(change, other, thread) == {"type": "skip", "change": 2, "previous": 1}
    for reader in (author, moderator):
        frame = received(change, reader, thread)
        assert (frame["type"], frame["number"], frame["state"]) == ("post", 2, "pending")
        assert "Held back" in frame["html"]


@pytest.mark.parametrize("held", [False, True])
def test_who_receives_a_post_live_is_who_may_view_it(held, published, settings):
    settings.PORTAL_HOLD_FIRST_POSTS = int(held)
    author, other, moderator = person("member"), person("member"), person("moderator")
    thread = make_thread(moderator)
    change = published(create_post, author, thread, "A reply")
    post = thread.posts.get(number=2)
    for reader in (author, other, moderator):
        shown = received(change, reader, thread)["type"] == "post"
        assert shown == policy.can_view_post(reader, post)
