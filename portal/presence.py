"""Who is viewing a thread, kept in the shared cache (Redis in the services profile) so every
server process counts the same sockets.

Each socket is an entry that expires unless its client's heartbeat renews it, so a process that
dies without saying goodbye stops being counted within PRESENCE_TTL_SECONDS. When the count
changes it is broadcast at most once per BROADCAST_INTERVAL_SECONDS per thread (claim_broadcast),
so a thousand people arriving at once cause a handful of broadcasts, not a thousand; a change that
finds the interval taken tries again once it has passed, and whichever broadcast then goes out
reads the count after that change. Sockets use the async functions at the end: arrive, depart and
count_viewing.

Presence uses the "shared" cache, which has no stand-in (config.cache): while Redis is away each
process would count only its own sockets, so presence goes quiet instead (no counts, no
broadcasts) and comes back with the next heartbeats.
"""

import asyncio
import functools
import logging
import threading
import time

from asgiref.sync import sync_to_async
from django.core.cache import caches

from portal import events

logger = logging.getLogger(__name__)

PRESENCE_TTL_SECONDS = 60
BROADCAST_INTERVAL_SECONDS = 1


def _quiet_when_unreachable(quiet):
    """Any failure of the cache's transport makes the function return `quiet`, logged once per
    outage rather than once per socket."""

    def decorate(function):
        @functools.wraps(function)
        def call(*args):
            try:
                result = function(*args)
            except Exception as error:  # noqa: BLE001 - the cache is only a hint here
                if not _outage.is_set():
                    _outage.set()
                    logger.warning("presence paused: the cache is unreachable (%s)", error)
                return quiet
            _outage.clear()
            return result

        return call

    return decorate


_outage = threading.Event()  # set while the cache is unreachable


def _cache():
    return caches["shared"]


def _key(thread_id):
    return f"portal:presence:{thread_id}"


def _update(thread_id, change):
    """Apply a change to the thread's entries; returns whether the number of members viewing
    changed, and that number."""
    now = time.time()
    entries = {
        channel: (user_id, expires)
        for channel, (user_id, expires) in (_cache().get(_key(thread_id)) or {}).items()
        if expires > now
    }
    before = len({user_id for user_id, _ in entries.values()})
    change(entries, now)
    _cache().set(_key(thread_id), entries, PRESENCE_TTL_SECONDS)
    after = len({user_id for user_id, _ in entries.values()})
    return after != before, after


@_quiet_when_unreachable((False, None))
def join(thread_id, channel_name, user_id):
    """Count this socket in (or renew it); returns whether the number of members viewing
    changed, and that number (None while presence is paused)."""

    def add(entries, now):
        entries[channel_name] = (user_id, now + PRESENCE_TTL_SECONDS)

    return _update(thread_id, add)


@_quiet_when_unreachable((False, None))
def leave(thread_id, channel_name):
    return _update(thread_id, lambda entries, now: entries.pop(channel_name, None))


@_quiet_when_unreachable(False)
def claim_broadcast(thread_id):
    """True for the one caller per interval that may broadcast the thread's count."""
    return _cache().add(f"{_key(thread_id)}:sent", 1, BROADCAST_INTERVAL_SECONDS)


@_quiet_when_unreachable(None)
def viewing(thread_id):
    """How many members are viewing the thread; None while presence is paused."""
    now = time.time()
    entries = _cache().get(_key(thread_id)) or {}
    return len({user_id for user_id, expires in entries.values() if expires > now})


# --- From sockets (portal.consumers) -------------------------------------------------------------


def _in_pool(function):
    """Run a function that only touches the cache in the thread pool, not on the one database
    thread, where it would wait behind every post being written."""
    return sync_to_async(function, thread_sensitive=False)


async def arrive(thread_id, channel_name, user_id):
    """Count a socket in, or renew it at its heartbeat, and announce a changed count; returns the
    count (None while presence is paused)."""
    changed, count = await _in_pool(join)(thread_id, channel_name, user_id)
    await _announce(thread_id, changed)
    return count


async def depart(thread_id, channel_name):
    changed, _ = await _in_pool(leave)(thread_id, channel_name)
    await _announce(thread_id, changed)


async def count_viewing(thread_id):
    """How many members are viewing the thread; None while presence is paused."""
    return await _in_pool(viewing)(thread_id)


async def _announce(thread_id, changed):
    if not changed:
        return
    if await _in_pool(claim_broadcast)(thread_id):
        await _broadcast(thread_id)
    else:
        # Someone broadcast within the interval, perhaps before this change: try again after it;
        # if another broadcast wins that slot, it was sent after this change.
        asyncio.get_running_loop().create_task(_broadcast_later(thread_id))


async def _broadcast_later(thread_id):
    await asyncio.sleep(BROADCAST_INTERVAL_SECONDS + 0.05)
    if await _in_pool(claim_broadcast)(thread_id):
        await _broadcast(thread_id)


async def _broadcast(thread_id):
    count = await count_viewing(thread_id)
    if count is not None:
        await events.send_each([events.thread_event(thread_id, "presence.count", count=count)])
