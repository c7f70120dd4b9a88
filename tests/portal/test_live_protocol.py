"""The live thread protocol as plain data (portal.live_protocol): each input to a ThreadStream and
the frames and steps it answers with, without a database, a channel layer or a socket."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from portal import events
from portal.live_protocol import Step, ThreadStream

MEMBER, AUTHOR, MODERATOR = 7, 8, 9


def read(change, held=False):
    """A post's change as a read of the database renders it (portal.events.post_payload): a held
    post's audience is its author (and the moderators)."""
    return {
        "number": change,
        "change": change,
        "state": "pending" if held else "visible",
        "author_id": AUTHOR,
        "audience": [AUTHOR] if held else None,
        "reply_count": 0,
        "member_html": f"<p>Change {change} for members</p>",
        "moderator_html": f"<p>Change {change} for moderators</p>",
    }


def live(change, held=False):
    """A post's change as it arrives live (portal.events.post_changed), its frame encoded for
    each view."""
    post = read(change, held)
    post["frames"] = {
        view: events.post_frame(post, view == "moderator", change - 1)
        for view in ("member", "moderator")
    }
    del post["member_html"], post["moderator_html"]
    return post


def frames(step):
    """The step's frames, decoded, each as (type, change, previous)."""
    decoded = [json.loads(frame) for frame in step.frames]
    return [(frame["type"], frame.get("change"), frame.get("previous")) for frame in decoded]


def caught_up_at(change, user_id=MEMBER, moderator=False):
    """A stream whose client has resumed at the thread's last change."""
    stream = ThreadStream(user_id, moderator)
    stream.start_read(change)
    stream.changes_read([], change, complete=True)
    return stream


# --- Resuming ------------------------------------------------------------------------------------


def test_a_resume_from_an_old_number_replays_what_followed_it():
    stream = ThreadStream(MEMBER)
    assert not stream.resumed
    assert stream.start_read(2) == Step(read=True)
    assert (stream.sent, stream.reading) == (2, True)
    step = stream.changes_read([read(3), read(4)], 4, complete=True)
    assert frames(step) == [("post", 3, 2), ("post", 4, 3), ("caught_up", 4, None)]
    assert not step.read and not step.start_gap_timer
    assert (stream.sent, stream.reading) == (4, False)


def test_a_resume_at_the_last_change_is_caught_up_at_once():
    stream = ThreadStream(MEMBER)
    stream.start_read(4)
    assert frames(stream.changes_read([], 4, complete=True)) == [("caught_up", 4, None)]


def test_a_replay_shows_each_post_in_the_socket_view():
    for moderator, html in ((False, "for members"), (True, "for moderators")):
        stream = ThreadStream(MEMBER, moderator)
        stream.start_read(0)
        (post, _) = stream.changes_read([read(1)], 1, complete=True).frames
        assert f"Change 1 {html}" in json.loads(post)["html"]


def test_a_long_replay_is_read_in_batches():
    stream = ThreadStream(MEMBER)
    stream.start_read(0)
    step = stream.changes_read([read(1), read(2)], 5, complete=False)
    assert frames(step) == [("post", 1, 0), ("post", 2, 1)]
    assert step.read and stream.reading
    step = stream.changes_read([read(3)], 5, complete=True)
    assert frames(step) == [("post", 3, 2), ("skip", 5, 3), ("caught_up", 5, None)]


def test_changes_the_member_may_not_see_move_the_counter_with_a_skip():
    """The read leaves out held posts of others; the last of them still moves the counter."""
    stream = ThreadStream(MEMBER)
    stream.start_read(1)
    step = stream.changes_read([read(3)], 4, complete=True)
    assert frames(step) == [("post", 3, 1), ("skip", 4, 3), ("caught_up", 4, None)]


def test_a_resume_ahead_of_the_thread_is_told_to_resync_and_then_gets_changes_live():
    stream = ThreadStream(MEMBER)
    stream.start_read(9)
    step = stream.changes_read([], 5, complete=True)
    assert frames(step) == [("resync", 5, None)]
    assert (stream.sent, stream.reading) == (5, False)
    assert frames(stream.live_change(live(6))) == [("post", 6, 5)]


def test_a_resume_ahead_of_the_thread_sends_what_arrived_live_during_the_read():
    """While the read is under way `sent` is still the client's number, ahead of the thread: a
    change arriving then waits for the read to settle what was sent."""
    stream = ThreadStream(MEMBER)
    stream.start_read(9)
    assert stream.live_change(live(6)) == Step()
    step = stream.changes_read([], 5, complete=True)
    assert frames(step) == [("resync", 5, None), ("post", 6, 5)]


def test_live_changes_before_the_resume_are_left_to_its_read():
    stream = ThreadStream(MEMBER)
    assert stream.live_change(live(2)) == Step()
    stream.start_read(1)
    assert frames(stream.changes_read([read(2)], 2, complete=True)) == [
        ("post", 2, 1),
        ("caught_up", 2, None),
    ]


# --- Live changes --------------------------------------------------------------------------------


def test_live_changes_in_order_are_sent_as_they_come():
    stream = caught_up_at(1)
    assert frames(stream.live_change(live(2))) == [("post", 2, 1)]
    assert frames(stream.live_change(live(3))) == [("post", 3, 2)]
    assert stream.sent == 3


def test_a_live_change_is_sent_in_the_socket_view():
    for user_id, moderator, html in ((MEMBER, False, "members"), (MODERATOR, True, "moderators")):
        stream = caught_up_at(1, user_id, moderator)
        (post,) = stream.live_change(live(2)).frames
        assert f"Change 2 for {html}" in json.loads(post)["html"]


def test_the_view_follows_the_socket_policy_check():
    stream = caught_up_at(1)
    stream.moderator = True
    (post,) = stream.live_change(live(2)).frames
    assert "for moderators" in json.loads(post)["html"]


def test_a_held_post_reaches_its_author_and_moderators_and_is_a_skip_for_others():
    for user_id, moderator, seen in (
        (MEMBER, False, None),
        (AUTHOR, False, "Change 2 for members"),
        (MODERATOR, True, "Change 2 for moderators"),
    ):
        stream = caught_up_at(1, user_id, moderator)
        step = stream.live_change(live(2, held=True))
        if seen is None:
            assert frames(step) == [("skip", 2, 1)]
        else:
            assert frames(step) == [("post", 2, 1)]
            assert seen in json.loads(step.frames[0])["html"]
        assert stream.sent == 2


def test_a_duplicate_is_sent_once():
    stream = caught_up_at(1)
    assert frames(stream.live_change(live(2))) == [("post", 2, 1)]
    assert stream.live_change(live(2)) == Step()


def test_a_change_already_sent_by_a_read_is_not_sent_again():
    stream = ThreadStream(MEMBER)
    stream.start_read(1)
    stream.changes_read([read(2), read(3)], 3, complete=True)
    assert stream.live_change(live(2)) == Step()
    assert stream.live_change(live(3)) == Step()
    assert frames(stream.live_change(live(4))) == [("post", 4, 3)]


def test_a_change_arriving_early_waits_for_the_missing_one():
    stream = caught_up_at(1)
    step = stream.live_change(live(3))
    assert step == Step(start_gap_timer=True)
    assert stream.live_change(live(4)) == Step()  # the timer is already set
    step = stream.live_change(live(2))
    assert frames(step) == [("post", 2, 1), ("post", 3, 2), ("post", 4, 3)]
    assert not step.start_gap_timer
    assert stream.gap_timer_fired() == Step()  # the gap closed in time: nothing to read


def test_a_missing_change_that_never_comes_is_read_when_the_gap_timer_fires():
    stream = caught_up_at(1)
    assert stream.live_change(live(3)) == Step(start_gap_timer=True)
    assert stream.gap_timer_fired() == Step(read=True)
    assert stream.start_read() == Step(read=True)
    assert stream.sent == 1
    step = stream.changes_read([read(2), read(3)], 3, complete=True)
    assert frames(step) == [("post", 2, 1), ("post", 3, 2), ("caught_up", 3, None)]
    assert stream.early == {}
    assert not step.start_gap_timer


def test_a_gap_still_open_after_the_read_sets_a_timer_of_its_own():
    stream = caught_up_at(1)
    stream.live_change(live(4))
    stream.gap_timer_fired()
    stream.start_read()
    step = stream.changes_read([read(2)], 2, complete=True)
    assert frames(step) == [("post", 2, 1), ("caught_up", 2, None)]
    assert step.start_gap_timer
    assert frames(stream.live_change(live(3))) == [("post", 3, 2), ("post", 4, 3)]


def test_changes_arriving_during_a_read_follow_it():
    stream = caught_up_at(1)
    stream.start_read()
    assert stream.live_change(live(3)) == Step()
    assert stream.live_change(live(2)) == Step()
    assert stream.live_change(live(4)) == Step()
    step = stream.changes_read([read(2)], 2, complete=True)
    assert frames(step) == [("post", 2, 1), ("caught_up", 2, None), ("post", 3, 2), ("post", 4, 3)]
    assert not step.start_gap_timer


def test_a_failed_read_holds_what_arrived_until_the_next_change():
    stream = caught_up_at(1)
    stream.start_read()
    stream.live_change(live(3))
    stream.read_failed()
    assert not stream.reading
    assert frames(stream.live_change(live(2))) == [("post", 2, 1), ("post", 3, 2)]


# --- Heartbeats ----------------------------------------------------------------------------------


def test_a_change_still_missing_at_the_next_heartbeat_is_read():
    """A change the thread had at one heartbeat and that has not arrived by the next (it was
    published while the channel layer was down) is read from the database."""
    stream = caught_up_at(1)
    assert stream.heartbeat(1) == Step()
    assert stream.heartbeat(2) == Step()  # change 2 may still be on its way
    assert stream.heartbeat(2) == Step(read=True)
    stream.start_read()
    assert frames(stream.changes_read([read(2)], 2, complete=True)) == [
        ("post", 2, 1),
        ("caught_up", 2, None),
    ]
    assert stream.heartbeat(2) == Step()


def test_a_change_that_arrives_between_heartbeats_is_not_read():
    stream = caught_up_at(1)
    stream.heartbeat(2)
    stream.live_change(live(2))
    assert stream.heartbeat(2) == Step()


def test_heartbeats_before_the_resume_read_nothing():
    stream = ThreadStream(MEMBER)
    stream.heartbeat(5)
    assert stream.heartbeat(5) == Step()


# --- Any order, any loss -------------------------------------------------------------------------


# A thread's changes, each one the member may see or not (someone else's held post).
THREADS = st.lists(st.booleans(), min_size=1, max_size=12)


class Socket:
    """A stream driven as the consumer drives it: one read at a time, reads asked for while one
    is under way wait for it, and a read finds the changes committed when it queries."""

    def __init__(self, held):
        self.held = held  # held[change - 1]: a post the member may not see
        self.stream = ThreadStream(MEMBER)
        self.committed = 0
        self.in_flight = []  # live events published and not yet handed to the socket
        self.reads_wanted = 0
        self.query = None  # a read under way: the changes it found, once it has queried
        self.timer = False
        self.received = []

    def perform(self, step):
        self.received += [json.loads(frame) for frame in step.frames]
        self.timer = self.timer or step.start_gap_timer
        return step

    def commit(self, lost):
        self.committed += 1
        if not lost:
            self.in_flight.append(self.committed)

    def deliver(self, index, duplicate):
        change = self.in_flight[index]
        if not duplicate:
            del self.in_flight[index]
        self.perform(self.stream.live_change(live(change, self.held[change - 1])))

    def start_read(self, after=None):
        self.query = None
        self.perform(self.stream.start_read(after))

    def run_query(self):
        changes = range(self.stream.sent + 1, self.committed + 1)
        posts = [read(change) for change in changes if not self.held[change - 1]]
        self.query = (posts, self.committed)

    def finish_read(self):
        (posts, last_change), self.query = self.query, None
        self.perform(self.stream.changes_read(posts, last_change, complete=True))

    def fire_timer(self):
        self.timer = False
        if self.perform(self.stream.gap_timer_fired()).read:
            self.reads_wanted += 1

    def heartbeat(self):
        if self.perform(self.stream.heartbeat(self.committed)).read:
            self.reads_wanted += 1

    def idle(self):
        return not (self.stream.reading or self.reads_wanted or self.timer or self.in_flight)


@settings(max_examples=300, deadline=None)
@given(held=THREADS, data=st.data())
def test_any_order_duplication_or_loss_of_live_changes_yields_every_change_once(held, data):
    socket = Socket(held)
    socket.commit(lost=data.draw(st.booleans()))
    resume_at = data.draw(st.integers(0, 1))
    socket.start_read(resume_at)
    actions = st.sampled_from(["commit", "deliver", "query", "finish", "timer", "heartbeat"])
    for _ in range(data.draw(st.integers(0, 60))):
        action = data.draw(actions)
        if action == "commit" and socket.committed < len(held):
            socket.commit(lost=data.draw(st.booleans()))
        elif action == "deliver" and socket.in_flight:
            index = data.draw(st.integers(0, len(socket.in_flight) - 1))
            socket.deliver(index, duplicate=data.draw(st.booleans()))
        elif action == "query" and socket.stream.reading and socket.query is None:
            socket.run_query()
        elif action == "finish" and socket.query is not None:
            socket.finish_read()
        elif action == "timer" and socket.timer:
            socket.fire_timer()
        elif action == "heartbeat":
            socket.heartbeat()
        if not socket.stream.reading and socket.reads_wanted:
            socket.reads_wanted -= 1
            socket.start_read()

    # Everything is committed and every event that was not lost arrives; reads, timers and two
    # heartbeats follow until the socket has nothing left to do.
    while socket.committed < len(held):
        socket.commit(lost=data.draw(st.booleans()))
    quiet_heartbeats = 0
    for _ in range(1000):
        if quiet_heartbeats == 2 and socket.idle():
            break
        if socket.in_flight:
            socket.deliver(0, duplicate=False)
        elif socket.stream.reading:
            socket.run_query()
            socket.finish_read()
        elif socket.reads_wanted:
            socket.reads_wanted -= 1
            socket.start_read()
        elif socket.timer:
            socket.fire_timer()
        else:
            before = len(socket.received)
            socket.heartbeat()
            quiet = not socket.reads_wanted and len(socket.received) == before
            quiet_heartbeats = quiet_heartbeats + 1 if quiet else 0
    else:
        raise AssertionError(f"the socket never settled: {socket.received}")

    # Each post or skip follows the one before it; caught_up says where the client stands.
    position, posts = resume_at, []
    for frame in socket.received:
        if frame["type"] == "caught_up":
            assert frame["change"] == position, socket.received
            continue
        assert frame["type"] in ("post", "skip"), socket.received
        assert frame["previous"] == position < frame["change"], socket.received
        position = frame["change"]
        if frame["type"] == "post":
            posts.append(position)
    assert socket.stream.sent == position == len(held)
    changes = range(resume_at + 1, len(held) + 1)
    assert posts == [change for change in changes if not held[change - 1]]
