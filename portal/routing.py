"""WebSocket routes; config.asgi wraps them in origin validation and session authentication."""

from django.urls import path

from portal.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi(), name="ws-ping"),
]
