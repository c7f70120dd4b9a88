"""The channel layer between server processes: one definition, used by the settings, the tests and
the benchmark.

Redis publish/subscribe (channels-redis's RedisPubSubChannelLayer): a group message is published
once and each server process hands it to its own sockets in memory, so a post reaching 1,000
sockets costs Redis one message per process, where the list-based RedisChannelLayer stores and
pops one copy per socket. Pub/sub keeps nothing for a process that is not listening; that costs
nothing here, because live events are only hints and every thread socket reads what it missed
from the database (portal.consumers).
"""

REDIS_BACKEND = "channels_redis.pubsub.RedisPubSubChannelLayer"
MEMORY_BACKEND = "channels.layers.InMemoryChannelLayer"


def redis_layer(url, prefix="portal"):
    return {"BACKEND": REDIS_BACKEND, "CONFIG": {"hosts": [url], "prefix": prefix}}


def memory_layer():
    return {"BACKEND": MEMORY_BACKEND}
