"""When Redis, the channel layer, goes away, posting still works and nothing is lost: the database
holds every post; a socket that stayed open gets what it missed with its next heartbeat, and one
that reconnects once Redis is back gets it when it resumes.

The test runs its own redis-server so it can stop and start it; the shared one is left alone."""

import asyncio
import contextlib
import logging
import os
import shutil
import subprocess
import time
import uuid

import pytest
import redis
from channels.layers import channel_layers
from django.core.cache import cache
from django.test import Client

from config.cache import RETRY_SECONDS, redis_caches, standing_in
from config.layers import redis_layer
from portal.actions.forum import create_post
from portal.models import Post
from tests.conftest import free_port
from tests.people import PASSWORD
from tests.portal.helpers import (
    communicator,
    in_thread,
    make_thread,
    person,
    receive_until,
    session_key,
    signed_in_client,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("forum_settings", "close_consumer_connections"),
]


class RedisServer:
    """A redis-server of our own on a fixed port, without persistence."""

    def __init__(self, binary, port, log_path):
        self.binary = binary
        self.port = port
        self.log_path = log_path
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = None

    def start(self):
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError as error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.log_path.read_text()
                    raise RuntimeError(f"redis-server did not start:\n{log}") from error
                time.sleep(0.05)
            finally:
                client.close()

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis(redis_url, tmp_path):
    binary = shutil.which("redis-server")
    if not binary:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required under CI=true, but it is not installed")
        pytest.skip("redis-server not installed: this test starts and stops a Redis of its own")
    server = RedisServer(binary, free_port(), tmp_path / "redis.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def layer_on(own_redis, settings):
    """The project's Redis channel layer, on the test's own Redis."""
    settings.CHANNEL_LAYERS = {
        "default": redis_layer(own_redis.url, prefix=f"down-{uuid.uuid4().hex[:8]}")
    }
    channel_layers.backends.clear()
    yield
    with contextlib.suppress(Exception):  # its Redis may be gone
        await channel_layers["default"].flush()
    channel_layers.backends.clear()


async def join(key, thread, after):
    socket = communicator(f"/ws/threads/{thread.pk}/", key)
    connected, code = await socket.connect(timeout=3)
    assert connected, f"refused with {code}"
    await socket.send_json_to({"type": "resume", "after": after})
    return socket, await receive_until(socket, "caught_up", timeout=5)


async def test_posts_made_while_redis_is_down_reach_open_and_reconnecting_clients(
    own_redis, layer_on, caplog
):
    def forum():
        alice, bob = person("member"), person("member")
        thread = make_thread(alice, title="Outage", source="Before the outage.")
        return thread, session_key(signed_in_client(alice)), signed_in_client(bob)

    thread, alice_key, bob_browser = await in_thread(forum)
    socket, received = await join(alice_key, thread, after=0)
    assert [(m["type"], m.get("number")) for m in received] == [("post", 1), ("caught_up", None)]
    last_change = received[-1]["change"]

    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="portal.events"):
        started = time.monotonic()
        response = await in_thread(
            bob_browser.post,
            f"/portal/t/{thread.pk}/reply/",
            {"source": "Written during the outage.", "idempotency_key": "outage-1"},
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 302
    assert response["Location"].endswith("#post-2")
    assert elapsed < 10
    post = await in_thread(Post.objects.get, thread=thread, number=2)
    assert post.source == "Written during the outage."
    dropped = [r.getMessage() for r in caplog.records if r.name == "portal.events"]
    assert f"channel layer unavailable: live event to thread.{thread.pk} dropped" in dropped

    own_redis.start()
    # The open socket never heard of post 2. The next heartbeat notes that the thread has it; if
    # it has still not arrived by the heartbeat after, that one reads it from the database.
    await socket.send_json_to({"type": "ping"})
    assert [m["type"] for m in await receive_until(socket, "pong", timeout=5)] == ["pong"]
    await socket.send_json_to({"type": "ping"})
    missed = await receive_until(socket, "pong", timeout=5)
    assert [(m["type"], m.get("number"), m.get("previous")) for m in missed] == [
        ("post", 2, last_change),
        ("caught_up", None, None),
        ("pong", None, None),
    ]
    assert "Written during the outage." in missed[0]["html"]

    # A browser that reconnects resumes from the last change it holds and gets the same.
    second, received = await join(alice_key, thread, after=last_change)
    assert [(m["type"], m.get("number"), m.get("previous")) for m in received] == [
        ("post", 2, last_change),
        ("caught_up", None, None),
    ]
    assert received[-1]["change"] == post.change

    # Once the layer has resubscribed, live events flow again to both sockets, in order.
    bob = await in_thread(lambda: post.author)
    await in_thread(create_post, bob, thread, "After the outage.")
    for open_socket in (socket, second):
        live = (await receive_until(open_socket, "post", timeout=10))[-1]
        assert (live["number"], live["previous"]) == (3, post.change)
        await open_socket.disconnect()


@pytest.fixture
async def redis_everywhere(own_redis, settings):
    """The cache and the channel layer both on the test's own Redis, as in production."""
    settings.CACHES = redis_caches(own_redis.url)
    settings.CHANNEL_LAYERS = {
        "default": redis_layer(own_redis.url, prefix=f"down-{uuid.uuid4().hex[:8]}")
    }
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
    # The cache's stand-in is per process: wait until it has handed back to Redis, so the
    # tests that follow count in Redis again.
    deadline = time.monotonic() + RETRY_SECONDS + 5
    while standing_in() and time.monotonic() < deadline:
        await in_thread(cache.get, "any")
        await asyncio.sleep(0.2)


async def ping_until_live(socket, seconds):
    """Heartbeats until the server says live events flow again; returns every frame received."""
    received = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await socket.send_json_to({"type": "ping"})
        frames = await receive_until(socket, "pong", timeout=5)
        received += frames
        if frames[-1]["live"]:
            return received
        await asyncio.sleep(0.5)
    raise AssertionError(f"live events did not resume within {seconds} s: {received}")


def numbers(frames):
    return [frame["number"] for frame in frames if frame.get("type") == "post"]


async def test_the_forum_works_through_a_redis_outage(redis_everywhere, own_redis, caplog):
    """Redis stopped for real: posting by form and by socket, signing in and opening sockets all
    work; presence pauses and the page hears that live updates are paused; once Redis is back
    every client has every post and live delivery resumes."""
    caplog.set_level(logging.WARNING)

    def forum():
        alice, bob, carol = person("member"), person("member"), person("member")
        thread = make_thread(alice, title="Outage", source="Before the outage.")
        return thread, alice, bob, carol, session_key(signed_in_client(alice))

    thread, alice, bob, carol, alice_key = await in_thread(forum)
    alice_socket, received = await join(alice_key, thread, after=0)
    assert numbers(received) == [1]

    own_redis.stop()

    bob_browser = await in_thread(Client)
    signed_in = await in_thread(
        bob_browser.post, "/accounts/login/", {"login": bob.email, "password": PASSWORD}
    )
    assert signed_in.status_code == 302, "signing in needs its rate limit, counted meanwhile"
    response = await in_thread(
        bob_browser.post,
        f"/portal/t/{thread.pk}/reply/",
        {"source": "Bob, by form, during the outage.", "idempotency_key": "outage-form"},
    )
    assert (response.status_code, response["Location"][-7:]) == (302, "#post-2")

    await alice_socket.send_json_to(
        {"type": "post", "source": "Alice, by socket, during the outage.", "key": "outage-ws"}
    )
    acknowledged = await receive_until(alice_socket, "posted", timeout=10)
    assert acknowledged[-1]["number"] == 3

    # A socket opened during the outage is accepted and reads the thread from the database.
    bob_socket, received = await join(session_key(bob_browser), thread, after=0)
    assert numbers(received) == [1, 2, 3]

    # Heartbeats: no presence count, the page is told live events are paused, and what the open
    # socket missed comes from the database.
    await alice_socket.send_json_to({"type": "ping"})
    first = await receive_until(alice_socket, "pong", timeout=5, skip=())
    assert first[-1]["live"] is False
    assert not [frame for frame in first if frame["type"] == "presence"]
    await alice_socket.send_json_to({"type": "ping"})
    second = await receive_until(alice_socket, "pong", timeout=5)
    assert numbers(first + second) == [2, 3]  # her own post too: its live event was lost

    own_redis.start()
    for socket in (alice_socket, bob_socket):
        await ping_until_live(socket, seconds=15)

    await in_thread(create_post, carol, thread, "Carol, after the outage.")
    for socket in (alice_socket, bob_socket):
        live = await receive_until(socket, "post", timeout=10)
        assert numbers(live) == [4]
        await socket.disconnect()
    stored = await in_thread(
        lambda: list(Post.objects.filter(thread=thread).values_list("number", flat=True))
    )
    assert sorted(stored) == [1, 2, 3, 4]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info
    ]
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "cache: Redis unreachable" in said
    assert "channel layer: Redis unreachable" in said
