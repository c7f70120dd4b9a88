"""Who is viewing a thread, kept in the shared cache (Redis in the services profile) so every
server process counts the same sockets.

Each socket is an entry that expires unless its client's heartbeat renews it, so a process that
dies without saying goodbye stops being counted within PRESENCE_TTL_SECONDS. When the count
changes it is broadcast at most once per BROADCAST_INTERVAL_SECONDS per thread (claim_broadcast),
so a thousand people arriving at once cause a handful of broadcasts, not a thousand; a change that
finds the interval taken tries again once it has passed (portal.consumers), and whichever
broadcast then goes out reads the count after that change.

Presence uses the "shared" cache, which has no stand-in (config.cache): while Redis is away each
process would count only its own sockets, so presence goes quiet instead (no counts, no
broadcasts) and comes back with the next heartbeats.
"""

import functools
import logging
import threading
import time

from django.core.cache import caches

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
