"""The site's ASGI application with Python's own garbage collector settings, without
config/asgi.py's start-up freeze and thresholds, so that bench/realtime.py can measure what they
are worth (`--server-kinds uvicorn,stock-gc`)."""

import gc

from config.asgi import application  # noqa: F401 - served by uvicorn from here

gc.unfreeze()
gc.set_threshold(700, 10, 10)
