"""The Redis cache's connections: one pool per process.

Django keeps a cache backend per thread and per asyncio task, and each Redis backend opens its own
connection pool. Every WebSocket consumer is a task of its own, so a server process with 500
sockets held 540 Redis connections, and the ~50,000 objects behind them were walked by every full
garbage collection. redis-py's pools are thread-safe and reset themselves after a fork, so the
backends share one per URL instead.
"""

import threading

import redis


class SharedConnectionPool(redis.ConnectionPool):
    _pools = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url, **kwargs):
        key = (url, tuple(sorted(kwargs.items())))
        with cls._lock:
            if key not in cls._pools:
                cls._pools[key] = super().from_url(url, **kwargs)
            return cls._pools[key]
