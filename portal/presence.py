"""Who is viewing a thread, counted across every server process.

Each server process knows its own sockets. For each thread it writes its share, the members its
sockets there belong to, into the shared cache (Redis in the services profile), beside the other
processes' shares and the number of distinct members across them. A socket arriving or leaving
changes its process's share; the share is written a moment later, together with whatever else
changed meanwhile, so a crowd arriving at once costs a few writes, not one each. A heartbeat only
reads the number. (Rewriting one entry per socket of the thread at every heartbeat, work that
grows with the crowd on every heartbeat, held replies up for seconds at 2,000 sockets:
bench/realtime.py.)

Each share expires unless its process renews it (every RENEW_SECONDS), so a process that dies
without saying goodbye stops being counted within PRESENCE_TTL_SECONDS. Processes write a thread's
shares one at a time (a short lock in the cache), so no write is lost to another. When the number
changes it is broadcast at most once per BROADCAST_INTERVAL_SECONDS per thread (claim_broadcast);
a change that finds the interval taken tries again once it has passed, and whichever broadcast
then goes out reads the number after that change. Sockets use the async functions at the end:
arrive, depart, count_viewing and count_settled.

Presence uses the "shared" cache, which has no stand-in (config.cache): while Redis is away each
process would count only its own sockets, so presence goes quiet instead (no counts, no
broadcasts) and comes back once its shares are written again.
"""

import asyncio
import collections
import contextlib
import functools
import logging
import threading
import time
import uuid
import weakref

from asgiref.sync import sync_to_async
from django.core.cache import caches

from portal import events

logger = logging.getLogger(__name__)

PRESENCE_TTL_SECONDS = 60
RENEW_SECONDS = PRESENCE_TTL_SECONDS / 3
BROADCAST_INTERVAL_SECONDS = 1
# Between two writes of a process's shares: arrivals in the meantime are written together.
WRITE_GAP_SECONDS = 0.05
LOCK_SECONDS = 2  # a thread's shares are rewritten within milliseconds; a dead writer's lock lapses
SETTLE_TIMEOUT_SECONDS = 2  # how long a socket waits for its process's share to be written


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


def _count_key(thread_id):
    return f"{_key(thread_id)}:count"


def _members_in(shares):
    return len({member for _, members in shares.values() for member in members})


def _write_share(thread_id, process, members):
    """Replace this process's share of the thread; returns the number of members viewing before
    and after, or None if another process is writing the thread's shares right now."""
    lock = f"{_key(thread_id)}:lock"
    if not _cache().add(lock, process, LOCK_SECONDS):
        return None
    try:
        now = time.time()
        shares = {
            owner: (expires, owned)
            for owner, (expires, owned) in (_cache().get(_key(thread_id)) or {}).items()
            if expires > now
        }
        before = _members_in(shares)
        if members:
            shares[process] = (now + PRESENCE_TTL_SECONDS, members)
        else:
            shares.pop(process, None)
        after = _members_in(shares)
        _cache().set_many(
            {_key(thread_id): shares, _count_key(thread_id): after}, PRESENCE_TTL_SECONDS
        )
        return before, after
    finally:
        _cache().delete(lock)


@_quiet_when_unreachable(None)
def write_shares(process, shares):
    """Write a process's shares ({thread id: its members there}); returns {thread id: (members
    viewing before, after)} for the threads written (one whose lock another process holds is
    left for the next pass), or None while presence is paused."""
    written = {}
    for thread_id, members in shares.items():
        counts = _write_share(thread_id, process, members)
        if counts is not None:
            written[thread_id] = counts
    return written


@_quiet_when_unreachable(False)
def claim_broadcast(thread_id):
    """True for the one caller per interval that may broadcast the thread's count."""
    return _cache().add(f"{_key(thread_id)}:sent", 1, BROADCAST_INTERVAL_SECONDS)


@_quiet_when_unreachable(None)
def viewing(thread_id):
    """How many members are viewing the thread; None while presence is paused, and when no
    number is stored (a socket asking is itself viewing: Redis has lost it, restarting)."""
    return _cache().get(_count_key(thread_id))


class _Process:
    """This process's sockets per thread, and the task that writes its shares."""

    def __init__(self):
        self.name = uuid.uuid4().hex  # names this process's shares
        self.sockets = {}  # thread id -> Counter of member id -> sockets
        self.unwritten = set()  # threads whose share changed since it was last written
        self.writing = set()  # threads whose share is being written now
        self.renewed = {}  # thread id -> when its share was last written (monotonic)
        self.paused = False  # the last write found the cache unreachable
        self.written = asyncio.Condition()  # notified after every write
        self.woken = asyncio.Event()  # set by a change the writer has not seen yet
        self.writer = None

    def rewrite(self, thread_id):
        """Write this process's share of the thread again, as if it had changed."""
        if thread_id in self.sockets:
            self.unwritten.add(thread_id)
            self.woken.set()
            self.start_writing()

    def start_writing(self):
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self.write_out())

    def change(self, thread_id, member_id, sockets):
        """Count a member's socket in (sockets=1) or out (-1)."""
        counter = self.sockets.setdefault(thread_id, collections.Counter())
        counter[member_id] += sockets
        if counter[member_id] <= 0:  # the member's last socket here: the share loses them
            del counter[member_id]
            altered = True
        else:  # the share gains a member with their first socket here
            altered = sockets == 1 == counter[member_id]
        if altered:
            self.unwritten.add(thread_id)
            self.woken.set()
        if not counter:
            del self.sockets[thread_id]
        self.start_writing()

    def settled_now(self, thread_id):
        return self.paused or not ({thread_id} & (self.unwritten | self.writing))

    async def settled(self, thread_id):
        """Wait until this process's share of the thread is written as it stands (or presence
        is paused, when nothing is counted)."""
        async with self.written:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.written.wait_for(lambda: self.settled_now(thread_id)),
                    SETTLE_TIMEOUT_SECONDS,
                )

    async def write_out(self):
        """Write changed shares, and renew the others before they expire, for as long as this
        process has sockets on a thread or shares still to write."""
        try:
            while self.sockets or self.unwritten:
                self.woken.clear()
                now = time.monotonic()
                due = {t for t in self.sockets if now - self.renewed.get(t, 0) >= RENEW_SECONDS}
                self.writing = self.unwritten | due
                self.unwritten -= self.writing
                shares = {t: sorted(self.sockets.get(t, ())) for t in self.writing}
                written = await _in_pool(write_shares)(self.name, shares)
                self.paused = written is None
                if self.paused:  # tried again shortly
                    self.unwritten |= self.writing
                    await self.done_writing()
                    await asyncio.sleep(BROADCAST_INTERVAL_SECONDS)
                    continue
                self.unwritten |= self.writing - written.keys()  # another process was writing
                for thread_id in written:
                    if thread_id in self.sockets:
                        self.renewed[thread_id] = now
                    else:
                        self.renewed.pop(thread_id, None)
                await self.done_writing()
                for thread_id, (before, after) in written.items():
                    if before != after:
                        await _announce(thread_id)
                await self.next_pass()
        finally:
            self.writer = None

    async def done_writing(self):
        async with self.written:
            self.writing = set()
            self.written.notify_all()

    async def next_pass(self):
        """Wait a moment, so that changes arriving together are written together; with nothing
        to write, wait for a change or for the next renewal."""
        await asyncio.sleep(WRITE_GAP_SECONDS)
        if self.unwritten or not self.sockets:
            return
        renew_at = min(self.renewed.get(t, 0) for t in self.sockets) + RENEW_SECONDS
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.woken.wait(), max(0, renew_at - time.monotonic()))


_by_loop = weakref.WeakKeyDictionary()


def _process():
    loop = asyncio.get_running_loop()
    if loop not in _by_loop:
        _by_loop[loop] = _Process()
    return _by_loop[loop]


# --- From sockets (portal.consumers) -------------------------------------------------------------


def _in_pool(function):
    """Run a function that only touches the cache in the thread pool, not on the one database
    thread, where it would wait behind every post being written."""
    return sync_to_async(function, thread_sensitive=False)


def arrive(thread_id, member_id):
    """Count a socket in; its process's share is written a moment later."""
    _process().change(thread_id, member_id, 1)


async def depart(thread_id, member_id):
    """Count a socket out, and wait for its process's share to be written."""
    process = _process()
    process.change(thread_id, member_id, -1)
    await process.settled(thread_id)


async def count_viewing(thread_id):
    """How many members are viewing the thread; None while presence is paused."""
    count = await _in_pool(viewing)(thread_id)
    if count is None:
        # Paused, or the shares are gone with a restarted Redis: this process writes its own again.
        _process().rewrite(thread_id)
    return count


async def count_settled(thread_id):
    """count_viewing once this process's share of the thread is written as it stands, so a
    socket that has just arrived is in the number it is told."""
    await _process().settled(thread_id)
    return await count_viewing(thread_id)


async def _announce(thread_id):
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
