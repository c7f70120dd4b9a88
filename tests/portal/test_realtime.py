"""Live threads and the portal socket through the real ASGI application (origin check, session
authentication, routing), on the in-memory channel layer and on Redis: who may connect, what
arrives live, and that a client which reconnects or misses an event still gets every change."""

import contextlib
import os
import uuid

import pytest
from channels.layers import channel_layers, get_channel_layer

from config.layers import memory_layer, redis_layer
from portal import events, presence
from portal.actions.admission import suspend_member
from portal.actions.forum import create_post, edit_post, hide_post, lock_thread, move_thread
from portal.models import Category, Post, Thread
from tests.portal.helpers import (
    communicator,
    drain,
    in_thread,
    make_category,
    make_thread,
    of_type,
    person,
    receive_until,
    session_key,
    signed_in_client,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("forum_settings", "close_consumer_connections"),
]

FORBIDDEN = 4403
HIDDEN_NOTICE = "This post was hidden by a moderator."


# Without TEST_REDIS_URL the Redis cases skip before a database is set up for them; under CI=true
# they run and the redis_url fixture fails them instead.
REDIS = pytest.param(
    "redis",
    marks=pytest.mark.skipif(
        not os.environ.get("TEST_REDIS_URL") and os.environ.get("CI") != "true",
        reason="Redis not available: set TEST_REDIS_URL to run this test",
    ),
)


@pytest.fixture(params=["memory", REDIS])
async def layer(request, settings):
    """The channel layer of the embedded profile, then Redis as in production."""
    if request.param == "redis":
        redis_url = request.getfixturevalue("redis_url")
        settings.CHANNEL_LAYERS = {
            "default": redis_layer(redis_url, prefix=f"test-rt-{uuid.uuid4().hex[:8]}")
        }
    else:
        settings.CHANNEL_LAYERS = {"default": memory_layer()}
    channel_layers.backends.clear()
    yield request.param
    layer = get_channel_layer()
    await layer.flush()  # the pub/sub layer's flush also closes its connections
    channel_layers.backends.clear()


class Sockets:
    """Opens signed-in sockets and closes whatever is still open at the end of the test."""

    def __init__(self):
        self.open = []

    async def connect(self, path, user=None, *, origin=None, key=None):
        if user is not None and key is None:
            key = await in_thread(lambda: session_key(signed_in_client(user)))
        socket = communicator(path, key, **({"origin": origin} if origin else {}))
        self.open.append(socket)
        connected, code = await socket.connect(timeout=3)
        return socket, connected, code

    async def join(self, user, thread, after=None, key=None):
        """A socket on the thread that has resumed and caught up."""
        socket, connected, code = await self.connect(f"/ws/threads/{thread.pk}/", user, key=key)
        assert connected, f"refused with {code}"
        last_change = await in_thread(lambda: Thread.objects.get(pk=thread.pk).last_change)
        after = last_change if after is None else after
        await socket.send_json_to({"type": "resume", "after": after})
        received = await receive_until(socket, "caught_up")
        assert received[-1] == {"type": "caught_up", "change": last_change}
        return socket

    async def portal(self, user):
        socket, connected, code = await self.connect("/ws/portal/", user)
        assert connected, f"refused with {code}"
        return socket

    async def close_all(self):
        for socket in self.open:
            # The socket may already have closed or failed; what matters is that it goes.
            with contextlib.suppress(Exception):
                await socket.disconnect(timeout=2)


@pytest.fixture
async def sockets():
    opened = Sockets()
    yield opened
    await opened.close_all()


@pytest.fixture
def forum(transactional_db):
    """Two members, a moderator and a thread with one post by the first member."""

    def build():
        alice = person("member", f"alice{uuid.uuid4().hex[:4]}")
        bob = person("member", f"bob{uuid.uuid4().hex[:4]}")
        moderator = person("moderator")
        category = make_category()
        thread = make_thread(alice, category, "Live thread", "Opening post.")
        return alice, bob, moderator, category, thread

    return build


async def build(forum):
    return await in_thread(forum)


def post_messages(received):
    return of_type(received, "post")


async def posts_until_caught_up(socket, timeout=5):
    received = await receive_until(socket, "caught_up", timeout)
    assert [m["type"] for m in received] == ["post"] * (len(received) - 1) + ["caught_up"], received
    return received[:-1]


# --- Connecting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "applicant", "suspended", "editor"])
async def test_outsiders_are_refused(role, forum, sockets):
    _, _, _, _, thread = await build(forum)
    user = None if role == "anonymous" else await in_thread(person, role)
    for path in (f"/ws/threads/{thread.pk}/", "/ws/portal/"):
        _, connected, code = await sockets.connect(path, user)
        assert (connected, code) == (False, FORBIDDEN)


async def test_members_are_refused_threads_for_moderators_only(forum, sockets):
    alice, _, moderator, _, _ = await build(forum)

    def private_thread():
        return make_thread(moderator, make_category(Category.Audience.MODERATORS), "Staff room")

    thread = await in_thread(private_thread)
    _, connected, code = await sockets.connect(f"/ws/threads/{thread.pk}/", alice)
    assert (connected, code) == (False, FORBIDDEN)
    _, connected, _ = await sockets.connect(f"/ws/threads/{thread.pk}/", moderator)
    assert connected
    _, connected, code = await sockets.connect("/ws/threads/999999/", alice)
    assert (connected, code) == (False, FORBIDDEN)


async def test_foreign_origins_are_refused(forum, sockets):
    alice, _, _, _, thread = await build(forum)
    _, connected, _ = await sockets.connect(
        f"/ws/threads/{thread.pk}/", alice, origin=(b"origin", b"http://evil.example")
    )
    assert not connected
    _, connected, _ = await sockets.connect(f"/ws/threads/{thread.pk}/", alice)
    assert connected


async def test_resuming_at_the_latest_change_catches_up_at_once(layer, forum, sockets):
    alice, _, _, _, thread = await build(forum)
    socket, connected, _ = await sockets.connect(f"/ws/threads/{thread.pk}/", alice)
    assert connected
    await socket.send_json_to({"type": "resume", "after": 1})
    received = await receive_until(socket, "caught_up")
    assert received == [{"type": "caught_up", "change": 1}]
    presence_after = await receive_until(socket, "presence", skip=())
    assert presence_after[-1] == {"type": "presence", "count": 1}


async def test_resuming_from_zero_replays_the_thread(forum, sockets):
    alice, _, _, _, thread = await build(forum)
    socket, _, _ = await sockets.connect(f"/ws/threads/{thread.pk}/", alice)
    await socket.send_json_to({"type": "resume", "after": 0})
    (opening,) = await posts_until_caught_up(socket)
    assert (opening["number"], opening["change"], opening["previous"]) == (1, 1, 0)
    assert "Opening post." in opening["html"]
    await socket.send_json_to({"type": "resume", "after": -1})
    assert (await receive_until(socket, "error"))[-1]["code"] == "after"


# --- Live delivery -------------------------------------------------------------------------------


async def test_posts_and_edits_arrive_live(layer, forum, sockets):
    alice, bob, _, _, thread = await build(forum)
    watching = await sockets.join(alice, thread)
    post = await in_thread(create_post, bob, thread, "Hello from **Bob**")
    (live,) = post_messages(await receive_until(watching, "post"))
    assert (live["number"], live["change"], live["previous"]) == (2, 2, 1)
    assert (live["state"], live["author_id"]) == ("visible", bob.pk)
    assert "<strong>Bob</strong>" in live["html"]
    await in_thread(edit_post, bob, post, "Second version")
    (edit,) = post_messages(await receive_until(watching, "post"))
    assert (edit["number"], edit["change"], edit["previous"]) == (2, 3, 2)
    assert "Second version" in edit["html"]
    assert "Hello from" not in edit["html"]


async def test_hidden_posts_show_a_notice_to_members_and_the_text_to_moderators(
    layer, forum, sockets
):
    alice, bob, moderator, _, thread = await build(forum)
    post = await in_thread(create_post, bob, thread, "Something unkind")
    member_socket = await sockets.join(alice, thread)
    moderator_socket = await sockets.join(moderator, thread)
    await in_thread(hide_post, moderator, post, "Unkind")
    (for_member,) = post_messages(await receive_until(member_socket, "post"))
    (for_moderator,) = post_messages(await receive_until(moderator_socket, "post"))
    assert for_member["number"] == for_moderator["number"] == 2
    assert for_member["state"] == for_moderator["state"] == "hidden"
    assert HIDDEN_NOTICE in for_member["html"]
    assert "Something unkind" not in for_member["html"]
    assert "Something unkind" in for_moderator["html"]
    assert "Hidden: Unkind" in for_moderator["html"]
    assert HIDDEN_NOTICE not in for_moderator["html"]


async def test_held_posts_reach_their_author_and_moderators_only(layer, forum, sockets, settings):
    settings.PORTAL_HOLD_FIRST_POSTS = 1
    alice, bob, moderator, _, thread = await build(forum)
    others = await sockets.join(alice, thread)
    author = await sockets.join(bob, thread)
    moderating = await sockets.join(moderator, thread)
    await in_thread(create_post, bob, thread, "Held back")
    skipped = (await receive_until(others, "skip"))[-1]
    assert skipped == {"type": "skip", "change": 2, "previous": 1}
    for socket in (author, moderating):
        (held,) = post_messages(await receive_until(socket, "post"))
        assert (held["number"], held["state"]) == (2, "pending")
        assert "Held back" in held["html"]
    assert not post_messages(await drain(others, 0.2))


async def test_typing_reaches_the_others_but_not_the_typist(layer, forum, sockets):
    alice, bob, _, _, thread = await build(forum)
    typist = await sockets.join(alice, thread)
    reader = await sockets.join(bob, thread)
    await typist.send_json_to({"type": "typing"})
    typing = (await receive_until(reader, "typing"))[-1]
    assert typing == {"type": "typing", "name": alice.public_name, "user": alice.pk}
    assert not of_type(await drain(typist, 0.3), "typing")


async def test_presence_counts_members_not_sockets(layer, forum, sockets):
    alice, bob, _, _, thread = await build(forum)
    await sockets.join(alice, thread)
    await sockets.join(alice, thread)
    second = await sockets.join(bob, thread)
    assert (await receive_until(second, "presence", skip=()))[-1] == {
        "type": "presence",
        "count": 2,
    }
    assert await in_thread(presence.viewing, thread.pk) == 2
    await second.disconnect()
    assert await in_thread(presence.viewing, thread.pk) == 1


# --- Limits and revocation -----------------------------------------------------------------------


async def test_oversized_messages_close_the_socket(forum, sockets):
    alice, _, _, _, thread = await build(forum)
    socket = await sockets.join(alice, thread)
    await socket.send_to(text_data="x" * (64 * 1024 + 1))
    closed = (await receive_until(socket, "websocket.close"))[-1]
    assert closed == {"type": "websocket.close", "code": 1009}


async def test_more_than_thirty_messages_in_ten_seconds_are_refused(forum, sockets):
    alice, _, _, _, thread = await build(forum)
    socket = await sockets.join(alice, thread)  # the resume was message 1
    for _ in range(29):
        await socket.send_json_to({"type": "typing"})
    assert not of_type(await drain(socket, 0.3), "error")
    await socket.send_json_to({"type": "typing"})
    error = (await receive_until(socket, "error"))[-1]
    assert (error["code"], error["message"]) == ("rate", "Too many messages: slow down.")


async def test_suspension_closes_the_socket_within_a_second(layer, forum, sockets):
    alice, _, moderator, _, thread = await build(forum)
    socket = await sockets.join(alice, thread)
    await in_thread(suspend_member, moderator, alice, "Spam")
    closed = (await receive_until(socket, "websocket.close", timeout=1))[-1]
    assert closed["code"] == FORBIDDEN


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "ping"},
        # A reply is checked in the same database call that would write it.
        {"type": "post", "source": "Still here?", "key": "after-suspension"},
        {"type": "no-such-type"},
    ],
    ids=["heartbeat", "reply", "refused frame"],
)
async def test_a_member_suspended_unheard_is_refused_at_the_next_message(
    layer, forum, sockets, monkeypatch, frame
):
    alice, _, moderator, _, thread = await build(forum)
    socket = await sockets.join(alice, thread)
    with monkeypatch.context() as patch:
        patch.setattr(events, "send", lambda group, message: None)
        await in_thread(suspend_member, moderator, alice, "Spam")
    await socket.send_json_to(frame)
    received = await receive_until(socket, "websocket.close")
    assert received[-1]["code"] == FORBIDDEN
    assert of_type(received, "posted") == of_type(received, "error") == []
    assert not await in_thread(lambda: Post.objects.filter(source="Still here?").exists())


async def test_logging_out_closes_that_sessions_sockets_only(layer, forum, sockets):
    alice, _, _, _, thread = await build(forum)
    browser = await in_thread(signed_in_client, alice)
    leaving = await sockets.join(alice, thread, key=await in_thread(session_key, browser))
    staying = await sockets.join(alice, thread)
    response = await in_thread(browser.post, "/accounts/logout/")
    assert response.status_code == 302
    closed = (await receive_until(leaving, "websocket.close", timeout=1))[-1]
    assert closed["code"] == FORBIDDEN
    await staying.send_json_to({"type": "ping"})
    assert (await receive_until(staying, "pong"))[-1] == {"type": "pong", "live": True}


async def test_moving_a_thread_out_of_reach_closes_members_sockets(layer, forum, sockets):
    alice, _, moderator, _, thread = await build(forum)
    member_socket = await sockets.join(alice, thread)
    moderator_socket = await sockets.join(moderator, thread)
    private = await in_thread(make_category, Category.Audience.MODERATORS)
    await in_thread(move_thread, moderator, thread, private)
    closed = (await receive_until(member_socket, "websocket.close"))[-1]
    assert closed["code"] == FORBIDDEN
    meta = (await receive_until(moderator_socket, "thread"))[-1]
    assert meta["thread"]["category_id"] == private.pk


# --- Never losing a change -----------------------------------------------------------------------


async def test_a_reconnecting_client_gets_exactly_what_it_missed(layer, forum, sockets):
    alice, bob, moderator, _, thread = await build(forum)
    first = await sockets.join(alice, thread)
    await first.disconnect()
    last_seen = 1

    def five_posts():
        for index in range(5):
            create_post((bob, moderator)[index % 2], thread, f"Missed {index}")

    await in_thread(five_posts)
    second, connected, _ = await sockets.connect(f"/ws/threads/{thread.pk}/", alice)
    assert connected
    await second.send_json_to({"type": "resume", "after": last_seen})
    replay = await posts_until_caught_up(second)
    assert [m["number"] for m in replay] == [2, 3, 4, 5, 6]
    assert [m["previous"] for m in replay] == [1, 2, 3, 4, 5]
    assert [m["change"] for m in replay] == [2, 3, 4, 5, 6]
    assert [f"Missed {index}" in m["html"] for index, m in enumerate(replay)] == [True] * 5
    assert not post_messages(await drain(second, 0.2))


async def test_a_missed_event_is_read_from_the_database(layer, forum, sockets, monkeypatch):
    alice, bob, _, _, thread = await build(forum)
    socket = await sockets.join(alice, thread)
    with monkeypatch.context() as patch:
        patch.setattr(events, "send", lambda group, message: None)
        await in_thread(create_post, bob, thread, "Lost in transit")
    assert not post_messages(await drain(socket, 0.2))
    await in_thread(create_post, bob, thread, "Delivered")
    received = await posts_until_caught_up(socket)
    assert [(m["number"], m["previous"], m["change"]) for m in received] == [(2, 1, 2), (3, 2, 3)]
    assert "Lost in transit" in received[0]["html"]
    assert "Delivered" in received[1]["html"]


async def test_events_arriving_out_of_order_are_delivered_in_order(
    layer, forum, sockets, monkeypatch
):
    """Two server processes may publish changes 2 and 3 the wrong way round: change 3 waits for
    change 2, and nothing is read from the database (no caught_up)."""
    alice, bob, _, _, thread = await build(forum)
    socket = await sockets.join(alice, thread)
    published = []
    with monkeypatch.context() as patch:
        patch.setattr(events, "send_all", published.extend)
        await in_thread(create_post, bob, thread, "Second")
        await in_thread(create_post, bob, thread, "Third")
    changes = [m for group, m in published if m["type"] == "thread.change"]
    layer_now = get_channel_layer()
    for message in reversed(changes):
        await layer_now.group_send(events.thread_group(thread.pk), message)
    received = [m for m in await drain(socket, 1) if m["type"] in ("post", "skip", "caught_up")]
    assert [(m["type"], m.get("number"), m.get("previous")) for m in received] == [
        ("post", 2, 1),
        ("post", 3, 2),
    ]


def subscribers(group):
    """The channels this event loop has subscribed to a group, on either layer."""
    channel_layer = get_channel_layer()
    if hasattr(channel_layer, "_get_layer"):  # Redis pub/sub: this loop's own connection
        loop_layer = channel_layer._get_layer()
        return set(loop_layer.groups.get(loop_layer._get_group_channel_name(group), ()))
    return set(channel_layer.groups.get(group, ()))


async def test_a_process_listens_to_a_thread_once_for_all_its_sockets(layer, forum, sockets):
    """The server process subscribes to the thread once, hands each event to every socket on
    it, and lets the subscription go with the last of them (portal.fanout)."""
    alice, bob, moderator, _, thread = await build(forum)
    group = events.thread_group(thread.pk)
    viewers = [await sockets.join(user, thread) for user in (alice, bob, moderator)]
    assert len(subscribers(group)) == 1
    await in_thread(create_post, bob, thread, "For everyone")
    for socket in viewers:
        (post,) = post_messages(await receive_until(socket, "post"))
        assert "For everyone" in post["html"]
    for socket in viewers[:2]:
        await socket.disconnect()
    assert len(subscribers(group)) == 1
    await in_thread(create_post, bob, thread, "For the last one")
    (post,) = post_messages(await receive_until(viewers[2], "post"))
    assert "For the last one" in post["html"]
    await viewers[2].disconnect()
    assert subscribers(group) == set()


# --- Posting over the socket ---------------------------------------------------------------------


async def test_the_same_key_posts_once(layer, forum, sockets):
    alice, _, _, _, thread = await build(forum)
    socket = await sockets.join(alice, thread)
    for _ in range(2):
        await socket.send_json_to({"type": "post", "source": "x", "key": "k1"})
    received = await receive_until(socket, "posted")
    received += await receive_until(socket, "posted")
    received += await drain(socket, 0.2)
    assert of_type(received, "posted") == [{"type": "posted", "key": "k1", "number": 2}] * 2
    assert [m["number"] for m in post_messages(received)] == [2]
    assert await in_thread(lambda: Post.objects.filter(idempotency_key="k1").count()) == 1


async def test_socket_posts_are_validated_like_forms(forum, sockets):
    alice, _, _, _, thread = await build(forum)
    socket = await sockets.join(alice, thread)
    await socket.send_json_to({"type": "post", "source": "   ", "key": "k2"})
    error = (await receive_until(socket, "error"))[-1]
    assert error == {
        "type": "error",
        "code": "post",
        "key": "k2",
        "message": "Please write something before posting.",
    }
    await socket.send_json_to({"type": "shout"})
    assert (await receive_until(socket, "error"))[-1]["code"] == "type"
    await socket.send_to(text_data="{not json")
    assert (await receive_until(socket, "error"))[-1]["code"] == "json"
    assert await in_thread(lambda: Post.objects.count()) == 1


async def test_members_posting_into_a_locked_thread_are_disconnected(layer, forum, sockets):
    alice, _, moderator, _, thread = await build(forum)
    member_socket = await sockets.join(alice, thread)
    moderator_socket = await sockets.join(moderator, thread)
    await in_thread(lock_thread, moderator, thread)
    meta = (await receive_until(member_socket, "thread"))[-1]
    assert meta["thread"]["locked"] is True
    await member_socket.send_json_to({"type": "post", "source": "Let me in", "key": "m1"})
    closed = (await receive_until(member_socket, "websocket.close"))[-1]
    assert closed["code"] == FORBIDDEN
    await moderator_socket.send_json_to({"type": "post", "source": "Closing note", "key": "m2"})
    assert (await receive_until(moderator_socket, "posted"))[-1]["number"] == 2
    assert await in_thread(lambda: list(Post.objects.values_list("source", flat=True))) == [
        "Opening post.",
        "Closing note",
    ]


# --- The portal socket ---------------------------------------------------------------------------


async def test_mentions_raise_the_unread_count_live(layer, forum, sockets):
    alice, bob, _, _, thread = await build(forum)
    socket = await sockets.portal(bob)
    await in_thread(create_post, alice, thread, f"Thoughts, @{bob.username}?")
    assert (await receive_until(socket, "notification"))[-1] == {
        "type": "notification",
        "unread": 1,
    }
    await in_thread(create_post, alice, thread, f"@{bob.username}, again")
    assert (await receive_until(socket, "notification"))[-1]["unread"] == 2


async def test_watched_categories_announce_new_activity(layer, forum, sockets):
    alice, bob, moderator, category, thread = await build(forum)

    def private_thread():
        return make_thread(moderator, make_category(Category.Audience.MODERATORS), "Staff room")

    hidden_thread = await in_thread(private_thread)
    socket = await sockets.portal(bob)
    await socket.send_json_to(
        {"type": "watch", "categories": [category.pk, hidden_thread.category_id, "x"]}
    )
    watching = (await receive_until(socket, "watching"))[-1]
    assert watching == {"type": "watching", "categories": [category.pk]}
    await in_thread(create_post, moderator, hidden_thread, "Private note")
    await in_thread(create_post, alice, thread, "Public note")
    received = await receive_until(socket, "list.changed")
    received += await drain(socket, 0.2)
    assert len(of_type(received, "list.changed")) == 1
