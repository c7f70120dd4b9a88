"""The one ASGI application: Django and Wagtail over HTTP, Channels consumers over WebSocket.

WebSocket connections must come from one of ALLOWED_HOSTS (Origin header) and carry the Django
session, so consumers see `scope["user"]` exactly as views see `request.user`.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_http = get_asgi_application()  # sets Django up before consumers import models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from portal.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_http,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)

# What is loaded by now (Django, Wagtail, the project: some 200,000 objects) lives as long as the
# process. Freezing it keeps the garbage collector from walking it in every full collection, a
# pause of about 200 ms that every socket waiting on this process would feel.
gc.freeze()
# Each open socket still keeps ~260 objects alive (consumer, scope, session, connection), so with
# 500 sockets a full collection pauses the process ~100 ms; by default one came every 20-40 s
# under load. Full collections after 100 young ones instead of 10 make that every few minutes;
# what they reclaim is small (sockets free themselves by reference counting: ~4 objects left
# per closed socket), so memory does not grow meanwhile. bench/realtime.py measures both
# (--server-kinds uvicorn,stock-gc).
gc.set_threshold(700, 10, 100)
