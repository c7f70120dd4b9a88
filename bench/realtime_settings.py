"""Settings for bench/realtime.py's servers: the project's settings, with one optional change.

BENCH_CHANNEL_LAYER=list runs the servers on channels-redis's list-based RedisChannelLayer in
place of the project's pub/sub layer (config/layers.py), so one run measures both side by side
(`bench/realtime.py --layers pubsub,list`). The list layer stores one copy of a group message per
socket and each server pops them one by one; its BZPOPMIN waits 5 s, as long as redis-py 8's
default read timeout, so it is given a 10 s read timeout to keep quiet servers' sockets open.
"""

import os

from config.settings import *  # noqa: F403
from config.settings import REDIS_URL

if os.environ.get("BENCH_CHANNEL_LAYER") == "list":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 10}],
                "prefix": "portal",
            },
        }
    }
