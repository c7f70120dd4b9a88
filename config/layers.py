"""The channel layer between server processes: one definition, used by the settings, the tests and
the benchmark.

Redis publish/subscribe (channels-redis's RedisPubSubChannelLayer): a group message is published
once and each server process hands it to its own sockets in memory, so a post reaching 1,000
sockets costs Redis one message per process, where the list-based RedisChannelLayer stores and
pops one copy per socket. Pub/sub keeps nothing for a process that is not listening; that costs
nothing here, because live events are only hints and every thread socket reads what it missed
from the database (portal.consumers).

Because events are only hints, Redis being unreachable must not stop a socket from opening:
channels-redis subscribes every new socket's channel and groups at once and raises when Redis is
down, which refused every reconnect during an outage. ResilientPubSubLayer remembers what it
could not subscribe, says the layer is not `live`, and subscribes it all when Redis answers again.

Sentinel (REDIS_SENTINELS): channels-redis asks the Sentinels for the primary whenever it opens a
connection, so after a fail-over the layer's probe finds the promoted replica, and the pub/sub
connection is opened afresh there with every channel subscribed again, as after any outage.

Encryption (CHANNEL_LAYER_ENCRYPTION_KEYS): posts, their audiences and presence pass through
Redis, so in production each message is encrypted (Fernet, by channels-redis) with the first key
and read with any of them; a key is rotated by putting the new one first on every process.
"""

import asyncio
import logging
import time

import redis
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close

from config.env import sentinel_parts

REDIS_BACKEND = "config.layers.ResilientPubSubLayer"
MEMORY_BACKEND = "channels.layers.InMemoryChannelLayer"
# How often a process checks that Redis answers, and retries what it could not subscribe.
PROBE_SECONDS = 2

logger = logging.getLogger(__name__)
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError)


def redis_layer(url, prefix="portal", encryption_keys=()):
    """The layer on the Redis at `url` (redis://, or sentinel:// for the primary the Sentinels
    name), its messages encrypted when `encryption_keys` are given."""
    # A refused or silent Redis is noticed within seconds, not after the kernel's TCP timeout.
    host = {"socket_connect_timeout": 2, "socket_keepalive": True}
    if url.startswith("sentinel://"):
        service, sentinels, db = sentinel_parts(url)
        host.update(
            master_name=service,
            sentinels=sentinels,
            db=db,
            sentinel_kwargs={"socket_connect_timeout": 1, "socket_timeout": 1},
        )
    else:
        host["address"] = url
    config = {"hosts": [host], "prefix": prefix}
    if encryption_keys:
        config["symmetric_encryption_keys"] = list(encryption_keys)
    return {"BACKEND": REDIS_BACKEND, "CONFIG": config}


def memory_layer():
    return {"BACKEND": MEMORY_BACKEND}


class ResilientPubSubLayer(RedisPubSubChannelLayer):
    """channels-redis's pub/sub layer, one per event loop, that survives Redis going away."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        if loop not in self._layers:
            self._layers[loop] = ResilientLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)  # flushes the layer when its loop closes, as the parent does
        return self._layers[loop]

    @property
    def live(self):
        """False while this process cannot reach Redis: live events are not flowing."""
        return self._get_layer().live


class ResilientLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unsubscribed = set()  # (shard, channel) that Redis was down for
        self.unreachable_since = None
        self.monitor = None

    @property
    def live(self):
        return self.unreachable_since is None

    async def _subscribe_to_channel(self, channel):
        self.channels[channel] = asyncio.Queue()
        await self._subscribe(self._get_shard(channel), channel)

    async def group_add(self, group, channel):
        if channel not in self.channels:
            await super().group_add(group, channel)  # the parent's error for a foreign channel
            return
        group_channel = self._get_group_channel_name(group)
        self.groups.setdefault(group_channel, set()).add(channel)
        await self._subscribe(self._get_shard(group_channel), group_channel)

    async def group_discard(self, group, channel):
        try:
            await super().group_discard(group, channel)
        except UNREACHABLE:
            # Redis resubscribes what it had when it returns; messages for a group nobody here
            # listens to any more are dropped on arrival.
            group_channel = self._get_group_channel_name(group)
            self.unsubscribed.discard((self._get_shard(group_channel), group_channel))

    async def _subscribe(self, shard, channel):
        if self.monitor is None:
            self.monitor = asyncio.get_running_loop().create_task(self.watch_redis())
        try:
            await shard.subscribe(channel)
        except UNREACHABLE as error:
            self.unsubscribed.add((shard, channel))
            self.became_unreachable(error)

    def became_unreachable(self, error):
        if self.unreachable_since is None:
            self.unreachable_since = time.monotonic()
            logger.warning(
                "channel layer: Redis unreachable (%s); live events paused, sockets stay open "
                "and catch up from the database",
                str(error).splitlines()[0] or type(error).__name__,
            )

    async def watch_redis(self):
        """Ask Redis every few seconds whether it answers; once it does again after an outage,
        listen on a fresh connection with everything subscribed."""
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            try:
                for shard in self._shards:
                    shard._ensure_redis()
                    await shard._redis.ping()
                if self.unreachable_since is None:
                    continue
                for shard in self._shards:
                    await self.listen_afresh(shard)
            except UNREACHABLE as error:
                self.became_unreachable(error)
                continue
            logger.warning(
                "channel layer: Redis answers again after %.0f s; live events resume",
                time.monotonic() - self.unreachable_since,
            )
            self.unreachable_since = None

    async def listen_afresh(self, shard):
        """Subscribe the shard's channels again on a new connection. redis-py reconnects a
        pub/sub connection by itself, but a subscribe that meets the connection while it is being
        re-established reads the handshake's replies alongside the receiving task, and the
        connection stays wedged ("readuntil() called while another coroutine is already
        waiting"): seen under load after a restart of Redis. Events published in between are lost
        like any other during the outage; sockets catch up at their heartbeats."""
        channels = set(shard._subscribed_to)
        channels.update(channel for owner, channel in self.unsubscribed if owner is shard)
        await shard.flush()  # ends the receiving task and the connection, forgets subscriptions
        for channel in channels:
            await shard.subscribe(channel)
            self.unsubscribed.discard((shard, channel))

    async def send(self, channel, message):
        await self._publishing(super().send(channel, message))

    async def group_send(self, group, message):
        await self._publishing(super().group_send(group, message))

    async def _publishing(self, publish):
        try:
            await publish
        except UNREACHABLE as error:
            self.became_unreachable(error)
            raise

    async def flush(self):
        if self.monitor is not None:
            self.monitor.cancel()
            self.monitor = None
        self.unsubscribed.clear()
        await super().flush()


class QuietOutage(logging.Filter):
    """Drops channels-redis's traceback for every failed read while Redis is away (one a second
    per process); the layer above reports the outage and the recovery once each."""

    def filter(self, record):
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, UNREACHABLE)
