"""Redis behind Sentinel (REDIS_SENTINELS): when the primary dies during live posting, the
Sentinels promote the replica, posting goes on, sockets catch up, no post is lost and the post
rate limit keeps the count it had. And what the channel layer puts in Redis is encrypted.

The failover test runs its own Redis primary, replica and three Sentinels (Debian's redis-server
and redis-sentinel) on free ports; the shared Redis is left alone."""

import asyncio
import contextlib
import os
import random
import shutil
import socket
import subprocess
import time
import uuid

import pytest
import redis
from channels.layers import channel_layers
from django.core.cache import cache

from config.cache import RETRY_SECONDS, redis_caches, standing_in
from config.layers import redis_layer
from portal.actions import ActionError
from portal.actions.forum import create_post
from portal.models import Post
from tests.portal.helpers import (
    in_thread,
    make_thread,
    person,
    receive_until,
    session_key,
    signed_in_client,
)
from tests.portal.test_redis_down import join, numbers, ping_until_live

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("forum_settings", "close_consumer_connections"),
]

SERVICE = "portal-primary"
ENCRYPTION_KEY = "a-channel-layer-key-for-the-tests"


def wait_until(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(redis.RedisError):
            if condition():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds} s")
        time.sleep(0.1)


def quiet_ports(count):
    """Distinct free ports below Linux's ephemeral range: while the other test processes open
    connections, none of them takes one of these between choosing it and the server binding it."""
    ports = []
    while len(ports) < count:
        port = random.randrange(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


class SentinelGroup:
    """A primary, its replica and three Sentinels watching them, all on loopback."""

    def __init__(self, folder):
        self.folder = folder
        self.primary_port, self.replica_port, *self.sentinel_ports = quiet_ports(5)
        self.processes = {}

    @property
    def url(self):
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"sentinel://{hosts}/{SERVICE}"

    def spawn(self, name, command):
        with (self.folder / f"{name}.log").open("a") as log:
            self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def start(self):
        server = ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.spawn("primary", [*server, "--port", str(self.primary_port)])
        self.spawn(
            "replica",
            [*server, "--port", str(self.replica_port)]
            + ["--replicaof", "127.0.0.1", str(self.primary_port)],
        )
        for port in self.sentinel_ports:
            config = self.folder / f"sentinel-{port}.conf"
            config.write_text(
                # Quoted: pytest's folder for the test may hold spaces and commas.
                f'port {port}\nbind 127.0.0.1\ndir "{self.folder}"\n'
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 10000\n"
            )
            self.spawn(f"sentinel-{port}", ["redis-sentinel", str(config)])
        self.check_running()
        replica = redis.Redis(port=self.replica_port, socket_timeout=1)
        wait_until(
            lambda: replica.info("replication")["master_link_status"] == "up",
            15,
            "the replica did not follow the primary",
        )
        # Every Sentinel knows the replica and the two other Sentinels, so they can elect a
        # leader and promote it.
        for port in self.sentinel_ports:
            sentinel = redis.Redis(port=port, socket_timeout=1)
            wait_until(
                lambda sentinel=sentinel: (
                    sentinel.execute_command("SENTINEL", "REPLICAS", SERVICE)
                    and len(sentinel.execute_command("SENTINEL", "SENTINELS", SERVICE)) == 2
                ),
                # Sentinels greet each other every 2 s and ask the primary for its replicas
                # every 10 s; on a busy machine that can take a few rounds.
                90,
                "the Sentinels did not find each other and the replica",
            )

    def check_running(self):
        """A server that refused its configuration fails the test with its own words, not after a
        long wait."""
        time.sleep(0.5)
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.folder / f"{name}.log").read_text()
                raise AssertionError(f"{name} exited ({process.returncode}):\n{log}")

    def primary(self):
        sentinel = redis.Redis(port=self.sentinel_ports[0], socket_timeout=1)
        host, port = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(port)

    def kill(self, name):
        self.processes[name].kill()
        self.processes[name].wait()

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def sentinels(redis_url, tmp_path):
    if not shutil.which("redis-sentinel") or not shutil.which("redis-server"):
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server and redis-sentinel are required under CI=true")
        pytest.skip("redis-sentinel not installed: this test runs Sentinels of its own")
    group = SentinelGroup(tmp_path)
    try:
        group.start()
        yield group
    finally:
        group.stop()


@pytest.fixture
async def through_sentinels(sentinels, settings):
    """The cache and the encrypted channel layer on the Sentinels' primary, as REDIS_SENTINELS
    sets them."""
    settings.CACHES = redis_caches(sentinels.url)
    settings.CHANNEL_LAYERS = {
        "default": redis_layer(
            sentinels.url,
            prefix=f"sentinel-{uuid.uuid4().hex[:8]}",
            encryption_keys=[ENCRYPTION_KEY],
        )
    }
    channel_layers.backends.clear()
    yield
    with contextlib.suppress(Exception):
        await channel_layers["default"].flush()
    channel_layers.backends.clear()


def post_rate_count(user):
    """The member's post count in this hour's rate-limit window, as Redis holds it."""
    return cache.get(f"portal:post-rate:{user.pk}:{int(time.time()) // 3600}")


async def test_posting_goes_on_through_a_failover(through_sentinels, sentinels, settings):
    settings.PORTAL_POST_RATE = (12, 3600)

    def forum():
        alice, bob = person("member"), person("member")
        thread = make_thread(alice, title="Failover", source="Before.")
        return thread, bob, session_key(signed_in_client(alice))

    thread, bob, alice_key = await in_thread(forum)
    socket, received = await join(alice_key, thread, after=0)
    assert numbers(received) == [1]

    for text in ("One", "Two", "Three"):
        await in_thread(create_post, bob, thread, text)
    assert numbers(await receive_until(socket, "post", timeout=5)) == [2]
    assert await in_thread(post_rate_count, bob) == 3
    # The replica has every write so far, as it would after any quiet moment.
    primary = redis.Redis(port=sentinels.primary_port)
    assert primary.execute_command("WAIT", 1, 2000) == 1

    sentinels.kill("primary")
    started = time.monotonic()
    # Bob keeps posting, one post a second, while the Sentinels notice and promote the replica.
    # (Faster, and this process's own count, standing in for Redis, would stop him at the limit.)
    during = 0
    while sentinels.primary() != sentinels.replica_port:
        assert time.monotonic() - started < 20, "the replica was not promoted"
        await in_thread(create_post, bob, thread, f"During {during}")
        during += 1
        await asyncio.sleep(1)
    promoted = time.monotonic() - started
    print(f"\nreplica promoted {promoted:.1f} s after the primary died; {during} posts meanwhile")
    assert during >= 1

    # The cache finds the new primary once its retry interval has passed, with the count the
    # replica was given before the failover; posts counted meanwhile stayed in this process.
    deadline = time.monotonic() + RETRY_SECONDS + 10
    while (standing_in() or await in_thread(post_rate_count, bob) is None) and (
        time.monotonic() < deadline
    ):
        await in_thread(cache.get, "any")
        await in_thread(time.sleep, 0.2)
    assert not standing_in()
    assert await in_thread(post_rate_count, bob) == 3
    frames = await ping_until_live(socket, seconds=20)
    for text in range(12 - 3):
        await in_thread(create_post, bob, thread, f"After {text}")
    with pytest.raises(ActionError, match="posting faster"):
        await in_thread(create_post, bob, thread, "One too many")
    assert await in_thread(post_rate_count, bob) == 13

    # Alice's socket has every post: live, or read from the database at a heartbeat (the one
    # after a heartbeat that noticed a gap).
    total = 1 + 3 + during + 9
    for _ in range(2):
        await socket.send_json_to({"type": "ping"})
        frames += await receive_until(socket, "pong", timeout=10)
    seen = {1, 2, *numbers(frames)}
    stored = await in_thread(
        lambda: sorted(Post.objects.filter(thread=thread).values_list("number", flat=True))
    )
    assert stored == list(range(1, total + 1))
    assert seen == set(stored), f"never reached the socket: {set(stored) - seen}"
    await socket.disconnect()


async def test_channel_layer_messages_are_encrypted_in_redis(redis_url, settings):
    """A raw subscriber on Redis sees the live event of a post, but not its text; with no keys
    (development) it would."""

    def posted_through_layer(keys):
        prefix = f"secret-{uuid.uuid4().hex[:8]}"
        settings.CHANNEL_LAYERS = {
            "default": redis_layer(redis_url, prefix=prefix, encryption_keys=keys)
        }
        channel_layers.backends.clear()
        listener = redis.Redis.from_url(redis_url).pubsub()
        listener.psubscribe(f"{prefix}*")
        listener.get_message(timeout=1)  # the subscription's confirmation
        author = person("member")
        thread = make_thread(author, title="Secret")
        text = f"Private words {uuid.uuid4().hex}"
        create_post(author, thread, text)
        published = []
        while message := listener.get_message(timeout=1):
            published.append(message["data"])
        listener.close()
        assert published, "nothing crossed Redis"
        return text.encode(), b"".join(published)

    text, data = await in_thread(posted_through_layer, [ENCRYPTION_KEY])
    assert text not in data and b"Private" not in data
    text, data = await in_thread(posted_through_layer, [])
    assert text in data
    channel_layers.backends.clear()
