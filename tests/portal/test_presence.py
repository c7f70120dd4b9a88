"""Presence across server processes: each process's share of a thread's viewers, in the shared
cache (Redis in the services profile, the process's memory in the embedded one)."""

import asyncio
import time
import types

from django.core.cache import caches

from portal import presence

THREAD = 41


def test_members_are_counted_once_across_processes():
    assert presence.write_shares("first", {THREAD: [1, 2]}) == {THREAD: (0, 2)}
    # Member 2 has sockets on both processes: still one member.
    assert presence.write_shares("second", {THREAD: [2, 3]}) == {THREAD: (2, 3)}
    assert presence.viewing(THREAD) == 3
    assert presence.write_shares("first", {THREAD: []}) == {THREAD: (3, 2)}
    assert presence.viewing(THREAD) == 2


def test_a_process_that_stops_renewing_its_share_stops_being_counted(monkeypatch):
    presence.write_shares("gone", {THREAD: [1, 2]})
    later = time.time() + presence.PRESENCE_TTL_SECONDS + 1
    clock = types.SimpleNamespace(time=lambda: later, monotonic=time.monotonic)
    monkeypatch.setattr(presence, "time", clock)
    assert presence.write_shares("alive", {THREAD: [3]}) == {THREAD: (0, 1)}
    assert presence.viewing(THREAD) == 1


def test_a_share_waits_while_another_process_writes_the_thread():
    lock = f"portal:presence:{THREAD}:lock"
    caches["shared"].add(lock, "other", presence.LOCK_SECONDS)
    assert presence.write_shares("waiting", {THREAD: [1], THREAD + 1: [2]}) == {THREAD + 1: (0, 1)}
    caches["shared"].delete(lock)
    assert presence.write_shares("waiting", {THREAD: [1]}) == {THREAD: (0, 1)}


def test_nobody_counted_is_no_number_rather_than_nought():
    # A socket asking is itself viewing: a missing number means Redis lost it, not an empty room.
    assert presence.viewing(THREAD) is None


async def test_a_crowd_arriving_together_is_in_the_number_each_of_them_is_told():
    members = range(1, 51)
    for member in members:
        for _ in range(4):  # four sockets each, as tabs and devices add up
            presence.arrive(THREAD, member)
    counts = await asyncio.gather(*(presence.count_settled(THREAD) for _ in members))
    assert set(counts) == {50}
    for member in members:
        for _ in range(4):
            await presence.depart(THREAD, member)
    assert await presence.count_viewing(THREAD) == 0
