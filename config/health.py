"""Health of the parts the site depends on, for /healthz and `manage.py check_services`.

Each check names the environment variable that configures its part, so a failure tells the
operator what to fix. Only the database is required. When the search engine is down, public search
falls back to the database engine; when Redis is down, rate limits count in each process's memory,
presence pauses and live events wait for the sockets' heartbeats (config.cache, config.layers); when
clamd is down, attachments wait as "pending scan". The site is then "degraded", not down.
"""

import asyncio
import contextlib
import time
import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.utils import timezone

from portal.attachments import clamd
from search.engines import engine_status


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"vendor": connection.vendor}


def _cache():
    cache = caches["shared"]  # Redis itself, not the stand-in that covers for it
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=10)
    if cache.get(key) != "ok":
        raise RuntimeError("a value written to the cache did not come back")
    cache.delete(key)
    return {"backend": settings.CACHES["shared"]["BACKEND"].rsplit(".", 1)[-1]}


def _channel_layer():
    layer = get_channel_layer()

    async def round_trip():
        channel = await layer.new_channel("healthz.")
        await layer.send(channel, {"type": "healthz.ping"})
        message = await asyncio.wait_for(layer.receive(channel), 5)
        # A receive that is cancelled is how a consumer leaves its channel: the pub/sub layer
        # then drops the channel's subscription, which would otherwise outlive every check.
        leaving = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0)
        leaving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leaving
        return message

    message = async_to_sync(round_trip)()
    if message.get("type") != "healthz.ping":
        raise RuntimeError("a message sent through the channel layer did not come back")
    return {"backend": type(layer).__name__}


def _search():
    from django.db import DatabaseError

    from search.models import PendingIndexChange

    status = engine_status()
    # When the database is down its own check says so; the engine itself may be fine.
    with contextlib.suppress(DatabaseError):
        pending = PendingIndexChange.objects.order_by("created_at")
        status["pending_index_changes"] = pending.count()
        oldest = pending.values_list("created_at", flat=True).first()
        # A backlog that only grows older means the task worker is not draining the outbox.
        status["oldest_pending_seconds"] = (
            round((timezone.now() - oldest).total_seconds()) if oldest else None
        )
    return status


def _scanner():
    if settings.ATTACHMENT_SCAN == "off":
        return {"scan": "off"}
    if not settings.CLAMD_URL:
        # Not an outage: `check --deploy` warns about it, and files wait until it is set.
        return {"configured": False}
    if not clamd.ping(settings.CLAMD_URL):
        raise RuntimeError("clamd did not answer PONG")
    return {"configured": True}


CHECKS = [
    # (part, environment variable, required, check)
    ("database", "DATABASE_URL", True, _database),
    ("cache", "REDIS_URL", False, _cache),
    ("channel_layer", "REDIS_URL", False, _channel_layer),
    ("search", "SEARCH_URL", False, _search),
    ("scanner", "CLAMD_URL", False, _scanner),
]


def run_checks():
    """Run every check; returns (status, {part: result}) with status "ok", "degraded" or "down"."""
    results = {}
    status = "ok"
    for part, variable, required, check in CHECKS:
        started = time.perf_counter()
        try:
            result = {"ok": True, **check()}
        except Exception as error:  # any failure of a backing service is a health finding
            result = {"ok": False, "variable": variable, "error": str(error).splitlines()[0]}
            status = "down" if required else ("degraded" if status == "ok" else status)
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        result["required"] = required
        results[part] = result
    return status, results
