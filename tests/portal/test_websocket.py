"""The WebSocket route: origin validation, session authentication, and a round trip through the
channel layer, in memory and through Redis."""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.test import Client

from config.asgi import application
from config.layers import memory_layer, redis_layer

# Consumers close stale database connections and read the session, so every test may touch the
# database from the consumer's thread.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_consumer_connections"),
]

SITE_ORIGIN = (b"origin", b"http://127.0.0.1:8000")


async def ping(headers=()):
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=list(headers))
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "ping", "payload": "hello"})
    reply = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    return reply


@pytest.fixture
def use_layer(settings):
    def switch(layers):
        settings.CHANNEL_LAYERS = layers
        channel_layers.backends.clear()

    yield switch
    channel_layers.backends.clear()


async def test_round_trip_through_the_configured_layer():
    reply = await ping([SITE_ORIGIN])
    assert reply == {"type": "pong", "payload": "hello", "authenticated": False}


async def test_round_trip_through_in_memory_layer(use_layer):
    use_layer({"default": memory_layer()})
    assert (await ping([SITE_ORIGIN]))["payload"] == "hello"


async def test_round_trip_through_redis(use_layer, redis_url):
    use_layer({"default": redis_layer(redis_url, prefix="test-ws")})
    assert (await ping([SITE_ORIGIN]))["payload"] == "hello"


@pytest.mark.parametrize("origin", [b"https://evil.example", b"null"])
async def test_foreign_origin_is_refused(origin):
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=[(b"origin", origin)])
    connected, _ = await communicator.connect()
    assert not connected


async def test_missing_origin_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/ping/")
    connected, _ = await communicator.connect()
    assert not connected


async def test_oversized_message_closes_the_socket():
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=[SITE_ORIGIN])
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data="x" * (64 * 1024 + 1))
    closed = await communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 1009}


async def test_session_cookie_authenticates_the_socket():
    def log_in():
        user = get_user_model().objects.create_user("ws", "ws@example.org", "a-long-password-1")
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    session = await sync_to_async(log_in)()
    reply = await ping([SITE_ORIGIN, (b"cookie", f"sessionid={session}".encode())])
    assert reply["authenticated"] is True
