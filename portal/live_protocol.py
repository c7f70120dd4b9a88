"""A thread socket's changes, as plain data: what to send the client and when to read the
database, decided without I/O (no event loop, database or channel layer), so that every turn of
the protocol can be tested directly. portal.consumers.ThreadConsumer carries out its steps.

The protocol. The client starts with `{"type": "resume", "after": N}`, N being the last change
number it has (the page embeds the one it rendered). The changes after N are read from the
database, then live ones stream. Every post or skip frame carries `previous`, the change number
sent before it on this socket, so a client that ever sees `previous` differ from what it holds
resumes again and gets the gap from the database. A change the member may not see (someone
else's held post) still moves the counter, as a skip. A client ahead of the thread is told to
resync.

Server processes publish independently, so change 11 may arrive just before change 10: a live
change that arrives ahead of a missing one is held for GAP_WAIT_SECONDS for it (another process
may publish it a moment later); if it does not come, the gap is read from the database. So is a
change the thread already had at the previous heartbeat that has still not arrived: that covers
events lost while the channel layer was down.
"""

import json
from typing import NamedTuple

from portal import events, policy

# Waiting this long for a missing change, rather than reading it at once, spares a busy thread
# hundreds of sockets reading the database together whenever two changes cross.
GAP_WAIT_SECONDS = 0.3


class Step(NamedTuple):
    """What the socket does after an input: write `frames` (JSON text), in order; if `read`, read
    the changes after `ThreadStream.sent` from the database and hand them to `changes_read` (a
    read begins with `start_read`, after any read in progress has ended); if `start_gap_timer`,
    call `gap_timer_fired` after GAP_WAIT_SECONDS."""

    frames: tuple = ()
    read: bool = False
    start_gap_timer: bool = False


def encode(kind, **fields):
    return json.dumps({"type": kind, **fields})


class ThreadStream:
    """The changes of one thread on one socket, for a member (`moderator`: the moderators' view,
    which the consumer's policy checks keep current).

    Inputs, each returning a Step: a read starting, from where the client resumes or from what
    was sent (`start_read`); a batch of changes read from the database (`changes_read`); a live
    change (`live_change`); a heartbeat (`heartbeat`); the gap timer firing (`gap_timer_fired`).
    A read that fails ends with `read_failed`. One read at a time: the socket waits for a read to
    end before it starts the next.
    """

    def __init__(self, user_id, moderator=False):
        self.user_id = user_id
        self.moderator = moderator
        self.sent = None  # the last change number the client has; None until it resumes
        self.overdue = 0  # changes up to this one should have reached the socket by now
        self.early = {}  # live changes that arrived ahead of a missing one, by number
        self.reading = False
        self.gap_timer_set = False

    @property
    def resumed(self):
        return self.sent is not None

    def start_read(self, after=None):
        """A read of the database starts: from `after` when the client resumes from there, else
        from what was sent."""
        if after is not None:
            self.sent = after
        self.reading = True
        return Step(read=True)

    def changes_read(self, posts, last_change, complete):
        """The posts changed after `sent` that this member may see, in change order
        (portal.events.post_payload), the thread's last change, and whether that was all."""
        if self.sent > last_change:
            # The client holds changes the thread never had (its page is from before a restore,
            # or it made the number up): it has to read the thread afresh, and is sent the
            # thread's changes from where the thread really is.
            self.sent = last_change
            return self.read_ended([encode("resync", change=last_change)])
        frames = []
        for post in posts:
            frames.append(events.post_frame(post, self.moderator, self.sent))
            self.sent = post["change"]
        if not complete:
            return Step(tuple(frames), read=True)
        if last_change > self.sent:
            # Changes this member may not see still move the counter.
            frames.append(encode("skip", change=last_change, previous=self.sent))
            self.sent = last_change
        frames.append(encode("caught_up", change=self.sent))
        return self.read_ended(frames)

    def read_failed(self):
        """The read ends without a word to the client: the changes held meanwhile wait for the
        next live change, read or heartbeat."""
        self.reading = False

    def live_change(self, post):
        """A post's change, live from the channel layer (portal.events.post_changed)."""
        if not self.resumed:
            return Step()  # the resume reads the thread from the database
        if post["change"] <= self.sent and not self.reading:
            return Step()  # already sent by a read
        # During a read `sent` may still be a resuming client's number, ahead of the thread: the
        # change waits until the read has settled what was sent.
        self.early[post["change"]] = post
        return Step() if self.reading else self.deliver_early()

    def heartbeat(self, last_change):
        """The client's heartbeat, with the thread's last change as the socket's policy check has
        just read it. A change the thread had at the last heartbeat that has still not arrived
        (it was published while the channel layer was down) is read from the database; a newer
        one may simply be on its way, so it gets until the next heartbeat."""
        overdue = self.resumed and self.sent < self.overdue
        self.overdue = last_change
        return Step(read=overdue)

    def gap_timer_fired(self):
        """A change still missing after GAP_WAIT_SECONDS is read from the database; a gap still
        open after that read sets a timer of its own."""
        self.gap_timer_set = False
        return Step(read=bool(self.early))

    def read_ended(self, frames):
        self.reading = False
        delivered = self.deliver_early()
        return delivered._replace(frames=(*frames, *delivered.frames))

    def deliver_early(self):
        """Send the held changes that now follow on; wait a little for any still missing."""
        for number in [number for number in self.early if number <= self.sent]:
            del self.early[number]
        frames = []
        while self.sent + 1 in self.early:
            frames.append(self.addressed_frame(self.early.pop(self.sent + 1)))
        start_gap_timer = bool(self.early) and not self.gap_timer_set
        self.gap_timer_set = self.gap_timer_set or start_gap_timer
        return Step(tuple(frames), start_gap_timer=start_gap_timer)

    def addressed_frame(self, post):
        """The change's frame in this socket's view, or a skip when the post's audience, named
        when the change was made, leaves the socket out. Frames are encoded once for every
        socket, with `previous` = change - 1 = sent."""
        previous, self.sent = self.sent, post["change"]
        if policy.in_post_audience(post["audience"], self.user_id, self.moderator):
            return post["frames"]["moderator" if self.moderator else "member"]
        return encode("skip", change=self.sent, previous=previous)
