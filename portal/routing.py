"""WebSocket routes; config.asgi wraps them in origin validation and session authentication."""

from django.urls import path

from portal.consumers import PingConsumer, PortalConsumer, ThreadConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi(), name="ws-ping"),
    path("ws/portal/", PortalConsumer.as_asgi(), name="ws-portal"),
    path("ws/threads/<int:pk>/", ThreadConsumer.as_asgi(), name="ws-thread"),
]
