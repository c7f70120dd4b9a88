"""Whatever a client sends, every socket stays up and says what it refused: frames of any shape,
size, depth or encoding reach the three routes; refusals come back as error frames (a reply's
with its key, so the page does not send it again); a socket closes only with the documented
codes; and the server logs no traceback. A client ahead of the thread is told to read it afresh
and then gets every later change live."""

import json
import logging
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.actions.forum import create_post
from portal.frames import MAX_MESSAGE_BYTES
from portal.models import Post, Thread
from tests.portal.helpers import (
    communicator,
    in_thread,
    make_thread,
    person,
    receive,
    receive_until,
    session_key,
    signed_in_client,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("forum_settings", "close_consumer_connections", "in_memory_layer"),
]

TOO_BIG = 1009
# The types each route acts on; anything else is refused.
ACCEPTED = {
    "thread": {"resume", "post", "typing", "ping"},
    "portal": {"watch", "ping"},
    "ping": {"ping"},
}
# A reply key the server can read back out of any refused reply.
KEY = "reply-key"


@pytest.fixture
def forum(transactional_db):
    """A member signed in, another member, and a thread with one post."""
    member = person("member")
    other = person("member")
    thread = make_thread(other, title="Frames", source="Opening post.")
    return SimpleNamespace(
        member=member, other=other, thread=thread, key=session_key(signed_in_client(member))
    )


@pytest.fixture
def paths(forum):
    return {
        "thread": f"/ws/threads/{forum.thread.pk}/",
        "portal": "/ws/portal/",
        "ping": "/ws/ping/",
    }


async def open_socket(path, key):
    socket = communicator(path, key)
    connected, code = await socket.connect(timeout=3)
    assert connected, f"refused with {code}"
    return socket


async def send_frame(socket, frame):
    """Sends text or bytes as they are, the empty text included (the communicator's send_to
    refuses it)."""
    field = "text" if isinstance(frame, str) else "bytes"
    await socket.send_input({"type": "websocket.receive", field: frame})


async def answers_until_pong(socket):
    """What the socket said up to its answer to a ping: proof that it is still up, and all it
    said about the frames before (they are answered in order)."""
    await socket.send_json_to({"type": "ping"})
    return [
        message
        for message in await receive_until(socket, "pong", timeout=5)
        if message.get("type") not in ("presence", "typing")
    ]


def tracebacks(caplog):
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def is_refusal(message):
    return (
        message.get("type") == "error"
        and isinstance(message.get("code"), str)
        and isinstance(message.get("message"), str)
        and message["message"]
    )


# --- Frames of every shape -----------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def nesting(value):
    """How deep lists and objects nest in a JSON value (0 for a number or text)."""
    children = value.values() if isinstance(value, dict) else value
    if not isinstance(value, dict | list) or not children:
        return int(isinstance(value, dict | list))
    return 1 + max(nesting(child) for child in children)


NOT_A_WHOLE_NUMBER = st.one_of(
    st.integers(max_value=-1),
    st.integers(min_value=2**63),
    st.booleans(),
    st.floats(),
    st.text(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NOT_TEXT = st.one_of(
    st.integers(), st.booleans(), st.floats(), st.lists(st.text(max_size=3), max_size=3)
)
# Messages of an accepted type with one field of the wrong shape: (message, the field).
WRONG_FIELDS = st.one_of(
    NOT_A_WHOLE_NUMBER.map(lambda after: ({"type": "resume", "after": after}, "after")),
    st.just(({"type": "resume"}, "after")),
    NOT_TEXT.map(lambda source: ({"type": "post", "source": source, "key": KEY}, "source")),
    NOT_TEXT.map(lambda key: ({"type": "post", "source": "Hello", "key": key}, "key")),
    st.text(min_size=65, max_size=80).map(
        lambda key: ({"type": "post", "source": "Hello", "key": key}, "key")
    ),
    st.just(({"type": "post", "key": KEY}, "source")),
    NOT_A_WHOLE_NUMBER.map(
        lambda quoted: ({"type": "post", "source": "Hello", "key": KEY, "quoted": quoted}, "quoted")
    ),
    NOT_TEXT.map(lambda payload: ({"type": "ping", "payload": payload}, "payload")),
    # Nested no deeper than a frame may be, or the frame is refused for its depth instead.
    JSON_VALUES.filter(lambda value: not isinstance(value, list) and nesting(value) <= 3).map(
        lambda categories: ({"type": "watch", "categories": categories}, "categories")
    ),
)
TEXT_FRAMES = st.one_of(
    st.text(),
    # Control characters, lone surrogates and brackets, which JSON escapes or refuses.
    st.text(st.characters(categories=["Cc", "Cs", "Ps", "Pe", "Po", "Ll"]), max_size=50),
    JSON_VALUES.map(json.dumps),
    st.builds(lambda depth: "[" * depth, st.integers(5, MAX_MESSAGE_BYTES)),
    st.builds(lambda depth: '{"type":' * depth, st.integers(5, 8000)),
    st.builds(
        lambda digits: '{"type": "resume", "after": 1' + "0" * digits + "}", st.integers(1, 6000)
    ),
    st.sampled_from(["", " ", "null", "NaN", '"ping"', "{}", '{"type": null}', "\ufeff{}"]),
)


def expected_refusal(frame, route):
    """The field a frame must be refused for (None: it must be refused; False: it may be
    accepted)."""
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError):
        return None
    if not isinstance(message, dict) or message.get("type") not in ACCEPTED[route]:
        return None
    return False


@pytest.mark.parametrize("route", ["thread", "portal", "ping"])
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(frame=st.one_of(TEXT_FRAMES, st.binary(max_size=100)))
async def test_any_frame_is_answered_and_the_socket_stays_up(route, frame, forum, paths, caplog):
    caplog.clear()
    socket = await open_socket(paths[route], forum.key)
    try:
        await send_frame(socket, frame)
        if len(frame) > MAX_MESSAGE_BYTES:
            # Not a reply (no key): the one frame a socket closes for.
            assert await receive(socket) == {"type": "websocket.close", "code": TOO_BIG}
        elif isinstance(frame, bytes):
            assert (await answers_until_pong(socket))[0]["code"] == "binary"
        else:
            answers = await answers_until_pong(socket)
            if expected_refusal(frame, route) is None:
                assert is_refusal(answers[0]), answers
            else:
                assert all(is_refusal(m) for m in answers if m["type"] == "error"), answers
    finally:
        await socket.disconnect()
    assert not tracebacks(caplog)


@pytest.mark.parametrize("route", ["thread", "portal", "ping"])
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=WRONG_FIELDS)
async def test_a_field_of_the_wrong_shape_is_refused_by_name(route, case, forum, paths, caplog):
    caplog.clear()
    message, field = case
    socket = await open_socket(paths[route], forum.key)
    try:
        await socket.send_json_to(message)
        refusal = (await answers_until_pong(socket))[0]
    finally:
        await socket.disconnect()
    assert is_refusal(refusal), refusal
    if message["type"] in ACCEPTED[route]:
        assert refusal["code"] == field
        # A reply is refused with its key whenever the key itself can be read.
        assert refusal.get("key") == (KEY if message.get("key") == KEY else None)
    else:
        assert refusal["code"] == "type"
    assert not tracebacks(caplog)


# --- The frames that crashed sockets -------------------------------------------------------------


@pytest.mark.parametrize("route", ["thread", "portal"])
async def test_a_type_that_is_not_text_is_refused(route, forum, paths, caplog):
    socket = await open_socket(paths[route], forum.key)
    await socket.send_json_to({"type": ["post"]})
    assert (await answers_until_pong(socket))[0]["code"] == "type"
    await socket.disconnect()
    assert not tracebacks(caplog)


@pytest.mark.parametrize("route", ["thread", "portal", "ping"])
async def test_deep_nesting_is_refused_before_it_is_decoded(route, forum, paths, caplog):
    socket = await open_socket(paths[route], forum.key)
    for frame in ("[" * 60_000, '{"type": "ping", "payload": ' + "[" * 30_000 + "]" * 30_000 + "}"):
        await send_frame(socket, frame)
        refusal = (await answers_until_pong(socket))[0]
        assert (refusal["code"], refusal["message"]) == (
            "json",
            "This message is nested too deeply.",
        )
    await socket.disconnect()
    assert not tracebacks(caplog)


async def test_a_quoted_object_refuses_the_reply_by_its_key(forum, paths, caplog):
    socket = await open_socket(paths["thread"], forum.key)
    await socket.send_json_to({"type": "post", "source": "Hello", "key": KEY, "quoted": {}})
    refusal = (await answers_until_pong(socket))[0]
    assert (refusal["code"], refusal["key"]) == ("quoted", KEY)
    await socket.disconnect()
    assert await in_thread(Post.objects.count) == 1
    assert not tracebacks(caplog)


@pytest.mark.parametrize("route", ["thread", "portal", "ping"])
async def test_binary_frames_are_refused(route, forum, paths, caplog):
    socket = await open_socket(paths[route], forum.key)
    await send_frame(socket, b"\xff\xfe\x00 not UTF-8")
    refusal = (await answers_until_pong(socket))[0]
    assert (refusal["type"], refusal["code"]) == ("error", "binary")
    await socket.disconnect()
    assert not tracebacks(caplog)


async def test_a_reply_over_the_cap_is_refused_by_its_key_and_the_socket_stays_up(
    forum, paths, caplog
):
    socket = await open_socket(paths["thread"], forum.key)
    await socket.send_json_to({"type": "resume", "after": 1})
    await receive_until(socket, "caught_up")
    await socket.send_json_to({"type": "post", "source": "x" * MAX_MESSAGE_BYTES, "key": KEY})
    refusal = (await answers_until_pong(socket))[0]
    assert (refusal["type"], refusal["code"], refusal["key"]) == ("error", "too_big", KEY)
    assert "too long" in refusal["message"]
    # The same socket still posts.
    await socket.send_json_to({"type": "post", "source": "Shorter", "key": "second"})
    assert (await receive_until(socket, "posted"))[-1] == {
        "type": "posted",
        "key": "second",
        "number": 2,
    }
    await socket.disconnect()
    assert await in_thread(lambda: list(Post.objects.values_list("source", flat=True))) == [
        "Opening post.",
        "Shorter",
    ]
    assert not tracebacks(caplog)


async def test_brackets_inside_text_are_not_nesting(forum, paths, caplog):
    socket = await open_socket(paths["thread"], forum.key)
    source = '[[[[[[[[[[ {{{{{{{{ "\\"[[[[[[ ]] see [this](https://example.org)'
    await socket.send_json_to({"type": "post", "source": source, "key": KEY})
    assert (await receive_until(socket, "posted"))[-1]["key"] == KEY
    await socket.disconnect()
    stored = await in_thread(lambda: Post.objects.get(number=2, thread=forum.thread))
    assert stored.source == source
    assert not tracebacks(caplog)


async def test_deep_nesting_over_the_cap_closes_with_the_documented_code(forum, paths):
    socket = await open_socket(paths["thread"], forum.key)
    await send_frame(socket, "[" * 100_000)
    assert await receive(socket) == {"type": "websocket.close", "code": TOO_BIG}
    await socket.disconnect()


async def test_text_fields_are_stored_without_what_the_database_refuses(forum, paths, caplog):
    socket = await open_socket(paths["thread"], forum.key)
    source = "Hello\x00 wo\ud800rld\x07"
    await socket.send_to(text_data=json.dumps({"type": "post", "source": source, "key": "k\x00ey"}))
    assert (await receive_until(socket, "posted"))[-1]["key"] == "key"
    await socket.disconnect()
    stored = await in_thread(lambda: Post.objects.get(number=2, thread=forum.thread))
    assert (stored.source, stored.idempotency_key) == ("Hello world", "key")
    assert not tracebacks(caplog)


# --- A client ahead of the thread ----------------------------------------------------------------


async def test_a_client_ahead_of_the_thread_is_told_to_resync_and_then_gets_changes_live(
    forum, paths, caplog
):
    socket = await open_socket(paths["thread"], forum.key)
    await socket.send_json_to({"type": "resume", "after": 50})
    assert (await receive_until(socket, "resync"))[-1] == {"type": "resync", "change": 1}
    await in_thread(create_post, forum.other, forum.thread, "After the resync")
    (live,) = [m for m in await receive_until(socket, "post") if m["type"] == "post"]
    assert (live["number"], live["change"], live["previous"]) == (2, 2, 1)
    # Resuming from the thread's own number is an ordinary catch-up again.
    last_change = await in_thread(lambda: Thread.objects.get(pk=forum.thread.pk).last_change)
    await socket.send_json_to({"type": "resume", "after": last_change})
    assert (await receive_until(socket, "caught_up"))[-1] == {
        "type": "caught_up",
        "change": last_change,
    }
    await socket.disconnect()
    assert not tracebacks(caplog)
