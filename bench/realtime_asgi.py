"""The site's ASGI application without the start-up freeze of config/asgi.py, so that
bench/realtime.py can measure what the freeze is worth (`--server-kinds uvicorn,unfrozen`)."""

import gc

from config.asgi import application  # noqa: F401 - served by uvicorn from here

gc.unfreeze()
