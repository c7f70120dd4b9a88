"""Settings for bench/realtime.py's servers: the project's settings, with one optional change.

BENCH_LAYER_SOCKET_TIMEOUT=<seconds> gives the channel layer's Redis connections that read
timeout. redis-py 8 reads with a 5 s timeout by default, the same 5 s that channels-redis blocks
for in BZPOPMIN, so on a quiet server the read times out just before Redis answers, the receiving
consumer raises and daphne closes its socket (1011). The benchmark measures the project as it is
unless this is set (`bench/realtime.py --layer-socket-timeout 10`).
"""

import os

from config.settings import *  # noqa: F403
from config.settings import CHANNEL_LAYERS, REDIS_URL

if os.environ.get("BENCH_LAYER_SOCKET_TIMEOUT") and REDIS_URL:
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
        {"address": REDIS_URL, "socket_timeout": float(os.environ["BENCH_LAYER_SOCKET_TIMEOUT"])}
    ]
