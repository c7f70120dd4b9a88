"""The shared cache: Redis, one connection pool per process, and a stand-in while Redis is away.

Rate limits (posting, allauth's sign-in and sign-up limits), the search synonyms' version and
index marks live in the cache. Redis is a helper: when it cannot be reached, writes must still
work, so each process counts in its own memory until Redis answers again (limits then hold per
process rather than across them) and says so in the log, once when it starts and once when it
ends. The "shared" cache is the same Redis without the stand-in, for what is shared or nothing:
presence goes quiet instead (a per-process count of who is viewing would be wrong), and the
health check asks Redis itself.

Pools: Django keeps a cache backend per thread and per asyncio task, and each Redis backend opened
its own connection pool. Every WebSocket consumer is a task of its own, so a server process with
500 sockets held 540 Redis connections, and the ~50,000 objects behind them were walked by every
full garbage collection. redis-py's pools are thread-safe and reset themselves after a fork, so the
backends share one per URL instead.

Sentinel: with a `sentinel://` location (REDIS_SENTINELS) the pool asks the Sentinels which Redis
is the primary, and asks again when a connection to it fails, so after a fail-over the cache
follows the promoted replica. While no primary answers, the stand-in counts as in any outage.
"""

import functools
import logging
import threading
import time

import redis
import redis.sentinel
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from config.env import sentinel_parts

# After a failed call, go straight to the stand-in for this long before asking Redis again, so
# an outage costs one refused connection per interval, not one per cache call.
RETRY_SECONDS = 5
# Short enough that a Redis that stops answering delays a request by a second, not a minute.
CONNECTION_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 2}
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError)

logger = logging.getLogger(__name__)


class SharedConnectionPool(redis.ConnectionPool):
    _pools = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url, **kwargs):
        key = (url, tuple(sorted(kwargs.items())))
        with cls._lock:
            if key not in cls._pools:
                if url.startswith("sentinel://"):
                    cls._pools[key] = sentinel_pool(url, **kwargs)
                else:
                    cls._pools[key] = super().from_url(url, **kwargs)
            return cls._pools[key]


def sentinel_pool(url, **kwargs):
    """A pool whose connections go to whichever Redis the Sentinels name as primary."""
    service, hosts, db = sentinel_parts(url)
    sentinels = redis.sentinel.Sentinel(hosts, sentinel_kwargs=CONNECTION_OPTIONS)
    return redis.sentinel.SentinelConnectionPool(service, sentinels, db=db, **kwargs)


class _Outage:
    """Whether Redis is being skipped, shared by every backend of the process."""

    lock = threading.Lock()
    since = None  # when the current outage was noticed
    retry_at = 0.0
    stand_in = LocMemCache("redis-stand-in", {"OPTIONS": {"MAX_ENTRIES": 100_000}})

    @classmethod
    def skipping(cls):
        return cls.since is not None and time.monotonic() < cls.retry_at

    @classmethod
    def began(cls, error):
        with cls.lock:
            cls.retry_at = time.monotonic() + RETRY_SECONDS
            if cls.since is None:
                cls.since = time.monotonic()
                logger.warning(
                    "cache: Redis unreachable (%s); rate limits count in this process's memory "
                    "until it answers",
                    str(error).splitlines()[0] or type(error).__name__,
                )

    @classmethod
    def ended(cls):
        with cls.lock:
            if cls.since is not None:
                logger.warning(
                    "cache: Redis answers again after %.0f s; rate limits are shared again",
                    time.monotonic() - cls.since,
                )
                cls.since = None


def standing_in():
    """Whether this process is counting in its own memory because Redis did not answer."""
    return _Outage.since is not None


def _with_stand_in(name):
    redis_call = getattr(RedisCacheClient, name)
    stand_in_call = getattr(LocMemCache, name)

    @functools.wraps(redis_call)
    def call(self, *args):
        if not _Outage.skipping():
            try:
                result = redis_call(self, *args)
            except UNREACHABLE as error:
                _Outage.began(error)
            else:
                if _Outage.since is not None:
                    _Outage.ended()
                return result
        return stand_in_call(_Outage.stand_in, *args)

    return call


class ResilientRedisCacheClient(RedisCacheClient):
    """Django's Redis client whose every call falls back to the process's stand-in. Timeouts reach
    the client already in seconds (or None for ever), which LocMemCache reads the same way."""


for _name in (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "set_many",
    "delete_many",
    "clear",
):
    setattr(ResilientRedisCacheClient, _name, _with_stand_in(_name))


class ResilientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ResilientRedisCacheClient


def redis_caches(url):
    """The CACHES setting for a Redis at `url` (redis:// or sentinel://): the resilient default,
    and "shared"."""
    options = {"pool_class": "config.cache.SharedConnectionPool", **CONNECTION_OPTIONS}
    # A list, because Django splits a LOCATION string at commas into a primary and replicas,
    # and a sentinel:// URL lists its Sentinels with commas.
    location = [url]
    return {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": location,
            "KEY_PREFIX": "portal",
            "OPTIONS": options,
        },
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": "portal",
            "OPTIONS": options,
        },
    }


def memory_caches():
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "shared",
        },
    }
