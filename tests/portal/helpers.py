"""Builders for portal tests: categories, threads, signed-in sessions and WebSocket clients."""

import asyncio
import json
import time
import uuid

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from config.asgi import application  # imported early: it sets up Django (and logging) again
from portal.actions import forum
from portal.models import Category
from tests.people import make_person

SITE_ORIGIN = (b"origin", b"http://127.0.0.1:8000")
SITE_HOST = (b"host", b"127.0.0.1")


def person(role, name=None):
    """A user in the role with a short unique @handle (letters only, so mentions match it)."""
    return make_person(role, name or f"{role}{uuid.uuid4().hex[:6]}")


def make_category(audience=Category.Audience.MEMBERS, name=None):
    name = name or f"Category {uuid.uuid4().hex[:6]}"
    return Category.objects.create(
        name=name, slug=name.lower().replace(" ", "-"), audience=audience
    )


def make_thread(author, category=None, title="A thread", source="The first post."):
    category = category or make_category()
    return forum.create_thread(author, category, title, source)


def signed_in_client(user):
    client = Client()
    client.force_login(user)
    return client


def session_key(client):
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def socket_headers(key=None, origin=SITE_ORIGIN):
    headers = [origin, SITE_HOST]
    if key:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode()))
    return headers


def communicator(path, key=None, origin=SITE_ORIGIN):
    return WebsocketCommunicator(application, path, headers=socket_headers(key, origin))


async def receive(socket, timeout=3):
    """The next frame the consumer sends, decoded; a close event is returned as it is."""
    output = await socket.receive_output(timeout)
    if output["type"] == "websocket.send":
        return json.loads(output["text"])
    return output


async def receive_until(socket, kind, timeout=3, skip=("presence",)):
    """Frames up to and including the first of the given type, leaving out the types in `skip`
    (presence counts come and go at their own pace); fails if none arrives in time."""
    received = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {kind!r} within {timeout}s; received {received}"
        try:
            message = await receive(socket, remaining)
        except TimeoutError:
            raise AssertionError(f"no {kind!r} within {timeout}s; received {received}") from None
        if message.get("type") == kind:
            return [*received, message]
        if message.get("type") not in skip:
            received.append(message)


async def drain(socket, quiet=0.3):
    """Frames that arrive until the socket has been quiet for `quiet` seconds."""
    received = []
    while not await socket.receive_nothing(quiet):
        received.append(await receive(socket))
    return received


async def settle(seconds=0.05):
    await asyncio.sleep(seconds)


def of_type(messages, kind):
    return [message for message in messages if message.get("type") == kind]


async def in_thread(function, *args, **kwargs):
    """Runs blocking ORM code (actions, queries) from an async test."""
    return await sync_to_async(function, thread_sensitive=True)(*args, **kwargs)
