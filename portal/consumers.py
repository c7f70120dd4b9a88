"""WebSocket consumers.

Every socket is authenticated at connect, checks the policy before joining a group and again on
every message it receives, caps message size and rate, and closes when its session ends or its
member is suspended (portal.events sends `access.revoked` to the user's and session's groups).
Live thread delivery never loses a change: see ThreadConsumer.

Every frame is read by `read_message` against MESSAGES before anything acts on it. A frame it
refuses is answered with `{"type": "error", "code": ..., "message": ..., "key": ...}` (`key`
when the frame was a reply that named one, so the page knows which reply was refused) and the
socket stays open. Sockets close only with CLOSE_FORBIDDEN (access withdrawn) or CLOSE_TOO_BIG
(a frame over the cap that is not a reply: no page sends one).
"""

import asyncio
import collections
import json
import logging
import re
import time

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied

import inputs
from portal import events, fanout, policy, presence, queries
from portal.actions import ActionError, forum
from portal.models import Thread

MAX_MESSAGE_BYTES = 64 * 1024
# No message nests deeper than a list in an object; the limit leaves room and stops a frame such
# as "[[[[…" before the JSON decoder recurses into it.
MAX_DEPTH = 4
MAX_CHANGE = 2**31 - 1  # change numbers are PositiveIntegerFields
MAX_ID = 2**63 - 1  # primary keys are BigAutoFields
MAX_KEY_LENGTH = 64  # Post.idempotency_key
RATE_WINDOW_SECONDS = 10
RATE_LIMIT = 30  # messages per window from one socket; typing and heartbeats included
TYPING_INTERVAL_SECONDS = 2
# Server processes publish independently, so change 11 may arrive just before change 10. An event
# that arrives ahead of a missing one waits this long for it before the gap is read from the
# database, which for a busy thread would otherwise be hundreds of sockets reading at once.
GAP_WAIT_SECONDS = 0.3

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_BIG = 1009

logger = logging.getLogger(__name__)


# The fields of each message type: field -> (type, required, limit). An int is a JSON whole number
# (not true or false) from 0 to the limit; a str has at most `limit` characters (None: as many as
# the frame holds) and is read without control characters; a list is read as its first `limit`
# whole numbers, anything else in it ignored. A field that is not required may be null or absent
# (then it is None). Fields not named are ignored.
MESSAGES = {
    "resume": {"after": (int, True, MAX_CHANGE)},
    "post": {
        "source": (str, True, None),
        "key": (str, True, MAX_KEY_LENGTH),
        "quoted": (int, False, MAX_ID),
    },
    "typing": {},
    "ping": {"payload": (str, False, 200)},
    "watch": {"categories": (list, True, 50)},
}

# A JSON string, or the rest of the frame if it never ends. It cannot backtrack, so removing every
# string from a frame takes time linear in its length.
JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
# A reply's idempotency key, found without decoding a frame too big to decode.
REPLY_KEY = re.compile(rf'"key"\s*:\s*"([^"\\]{{1,{MAX_KEY_LENGTH}}})"')


class Refused(Exception):
    """A frame the socket does not act on, and what the client is told about it."""

    def __init__(self, code, message, key=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.key = key

    def frame(self):
        frame = {"type": "error", "code": self.code, "message": self.message}
        if self.key:
            frame["key"] = self.key
        return frame


def read_message(text_data, bytes_data, accepted):
    """The type of a message of one of the `accepted` types and its fields, read as MESSAGES
    describes them; raises Refused for anything else."""
    if len(text_data if text_data is not None else bytes_data) > MAX_MESSAGE_BYTES:
        key = REPLY_KEY.search(text_data) if text_data is not None else None
        raise Refused(
            "too_big",
            "This message is too long to send. Please shorten your post; it has not been posted.",
            inputs.clean_text(key[1]) if key else None,
        )
    if text_data is None:
        raise Refused("binary", "Messages are JSON text, not binary.")
    if nests_deeper_than(text_data, MAX_DEPTH):
        raise Refused("json", "This message is nested too deeply.")
    try:
        message = json.loads(text_data)
    except ValueError:
        raise Refused("json", "Expected JSON.") from None
    if not isinstance(message, dict):
        raise Refused("json", "Expected a JSON object.")
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in accepted:
        raise Refused("type", "Unknown message.")
    # A refused reply is named by its key when that can be read: the page will not send it again.
    key = clean_field(message.get("key"), str, MAX_KEY_LENGTH)
    fields = {}
    for name, (python_type, required, limit) in MESSAGES[kind].items():
        value = message.get(name)
        fields[name] = None if value is None else clean_field(value, python_type, limit)
        if fields[name] is None and (required or value is not None):
            raise Refused(name, f"{name} must be {describe(python_type, limit)}.", key)
    return kind, fields


def nests_deeper_than(text, limit):
    """Whether the JSON in `text` nests deeper than `limit`, counted without decoding it:
    brackets inside strings do not count."""
    depth = 0
    for bracket in NOT_BRACKETS.sub("", JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def clean_field(value, python_type, limit):
    """`value` read as a field of the type, or None when it is not one."""
    if python_type is int:
        return inputs.integer(value, low=0, high=limit) if isinstance(value, int) else None
    if python_type is str:
        fits = isinstance(value, str) and (limit is None or len(value) <= limit)
        return inputs.clean_text(value) if fits else None
    return (
        inputs.integers(value, low=0, high=MAX_ID, limit=limit) if isinstance(value, list) else None
    )


def describe(python_type, limit):
    if python_type is int:
        return f"a whole number from 0 to {limit:,}"
    if python_type is str:
        return f"text of at most {limit:,} characters" if limit else "text"
    return "a list of numbers"


def in_cache(function):
    """Run a function that only touches the cache (presence) in the thread pool, not on the one
    database thread, where it would wait behind every post being written."""
    return sync_to_async(function, thread_sensitive=False)


class MessageConsumer(AsyncJsonWebsocketConsumer):
    """A socket that acts on the message types in `handlers` (type -> name of the method that
    takes the message's fields) and answers every other frame with an error frame."""

    handlers = {}

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if not await self.admit():
            return
        try:
            kind, fields = read_message(text_data, bytes_data, self.handlers)
        except Refused as refusal:
            if refusal.code == "too_big" and refusal.key is None:
                # Not a reply, so no page sent it: closed, as frames over the cap always were.
                await self.close(code=CLOSE_TOO_BIG)
            else:
                await self.answer(refusal.frame())
            return
        await getattr(self, self.handlers[kind])(fields)

    async def admit(self):
        """Whether to read the frame that has just arrived."""
        return True

    async def answer(self, content):
        await self.send_json(content)


class PingConsumer(MessageConsumer):
    """Answers `{"type": "ping"}` with a pong that has travelled through the channel layer.

    It carries no content, so anyone may connect; it lets monitoring and the tests prove that the
    WebSocket route, the session and the channel layer work end to end.
    """

    handlers = {"ping": "ping"}

    async def connect(self):
        self.group = f"ping.{self.channel_name.replace('!', '_')}"[:99]
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def ping(self, fields):
        # While the layer is down the pong never comes back: that is what a monitor asks about.
        await events.send_each([(self.group, {"type": "pong.event", "payload": fields["payload"]})])

    async def pong_event(self, event):
        user = self.scope.get("user")
        await self.send_json(
            {
                "type": "pong",
                "payload": event["payload"],
                "authenticated": bool(user and user.is_authenticated),
            }
        )


class MemberConsumer(MessageConsumer):
    """What every members' socket shares: authentication, groups, size and rate caps, and closing
    when access is revoked."""

    async def dispatch(self, message):
        # Channels' own dispatch first closes stale database connections, a hop onto the one
        # shared database thread for every message, so a post reaching 500 sockets would queue
        # 500 hops. Here every database call is a database_sync_to_async call, which closes stale
        # connections itself, so the handler runs straight away.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.user = self.scope.get("user")
        self.joined = []
        self.window = (0.0, 0)
        if not self.user or not self.user.is_authenticated or not await self.allowed():
            await self.close(code=CLOSE_FORBIDDEN)
            return
        session = self.scope.get("session")
        await self.join(events.user_group(self.user.pk))
        if session is not None and session.session_key:
            await self.join(events.session_group(session.session_key))
        await self.join_groups()
        await self.accept()

    async def join(self, group):
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.append(group)

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def allowed(self):
        return await database_sync_to_async(self.check_policy)()

    def check_policy(self):
        # The cached user in the scope may be stale (suspended since connecting): reload it.
        self.user.refresh_from_db()
        if hasattr(self.user, "_state"):
            self.user._state.fields_cache.pop("membership", None)
        return policy.is_member(self.user)

    async def admit(self):
        # Every frame counts, refused ones too.
        now = time.monotonic()
        started, count = self.window
        if now - started > RATE_WINDOW_SECONDS:
            started, count = now, 0
        self.window = (started, count + 1)
        if count + 1 > RATE_LIMIT:
            await self.answer(
                {"type": "error", "code": "rate", "message": "Too many messages: slow down."}
            )
            return False
        if not await self.allowed():
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        return True

    async def access_revoked(self, event):
        await self.close(code=CLOSE_FORBIDDEN)

    async def notification_new(self, event):
        """The user's group also carries notifications; only the portal socket shows them."""


class PortalConsumer(MemberConsumer):
    """/ws/portal/: notifications, live thread lists and the moderation queue for one member."""

    handlers = {"watch": "watch", "ping": "pong"}

    async def join_groups(self):
        if await database_sync_to_async(policy.is_moderator)(self.user):
            await self.join(events.MODERATION_GROUP)

    async def watch(self, fields):
        allowed = await database_sync_to_async(self.visible_category_ids)(fields["categories"])
        for category_id in allowed:
            group = events.category_group(category_id)
            if group not in self.joined:
                await self.join(group)
        await self.send_json({"type": "watching", "categories": allowed})

    async def pong(self, fields):
        await self.send_json({"type": "pong"})

    def visible_category_ids(self, category_ids):
        visible = policy.visible_categories(self.user).filter(pk__in=category_ids)
        return list(visible.values_list("pk", flat=True))

    async def list_changed(self, event):
        await self.send_json({"type": "list.changed"})

    async def notification_new(self, event):
        unread = await database_sync_to_async(queries.unread_notification_count)(self.user)
        await self.send_json({"type": "notification", "unread": unread})

    async def queue_changed(self, event):
        await self.send_json({"type": "queue.changed"})


class ThreadConsumer(MemberConsumer):
    """/ws/threads/<id>/: one thread, live, without loss.

    The client starts with `{"type": "resume", "after": N}`, N being the last change number it has
    (the page embeds the one it rendered). The server replays every change after N from the
    database, then streams live ones. Each message carries `previous`, the change number sent
    before it on this socket, so a client that ever sees `previous` differ from what it holds
    sends `resume` again and gets the gap from the database. A live event that skips a number
    is held for GAP_WAIT_SECONDS for the missing one (another process may have published it a
    moment later); if it does not come, the server reads the gap itself. So does a heartbeat that
    finds a change the thread already had at the previous heartbeat still missing: that covers
    events lost while the channel layer was down.

    The thread's events come from this process's fan-out (portal.fanout), not through the
    socket's own channel, and everything the socket says leaves through one outbox, in order.
    """

    async def connect(self):
        self.thread_id = int(self.scope["url_route"]["kwargs"]["pk"])
        self.sent = None  # the last change number this client has; None until it resumes
        self.overdue = 0  # changes up to this one should have reached the socket by now
        self.early = {}  # live changes that arrived ahead of a missing one, by number
        self.reading = asyncio.Lock()  # held while changes are read from the database
        self.gap_timer = None
        self.outbox = collections.deque()
        self.writer = None
        self.viewing = False  # registered with this process's fan-out
        self.last_typing = 0.0
        await super().connect()

    def check_policy(self):
        if not super().check_policy():
            return False
        thread = Thread.objects.select_related("category").filter(pk=self.thread_id).first()
        if thread is None or not policy.can_view_thread(self.user, thread):
            return False
        self.thread = thread
        self.moderator = policy.can_moderate_thread(self.user, thread)
        return True

    async def join_groups(self):
        self.viewing = True
        await fanout.current().add(self.thread_id, self)
        changed, _ = await in_cache(presence.join)(self.thread_id, self.channel_name, self.user.pk)
        await self.announce_presence(changed)

    async def disconnect(self, code):
        for task in (self.gap_timer, self.writer):
            if task is not None:
                task.cancel()
        if self.viewing:
            await fanout.current().remove(self.thread_id, self)
            changed, _ = await in_cache(presence.leave)(self.thread_id, self.channel_name)
            await self.announce_presence(changed)
        await super().disconnect(code)

    # --- the outbox ---

    def write(self, frame):
        """Queue a frame for the client. Frames leave in the order they were written, whether
        they were read from the database, handed out live or are answers; a client that reads
        slowly only delays itself."""
        self.outbox.append(frame)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self.write_out())

    def write_json(self, content):
        self.write(json.dumps(content))

    async def answer(self, content):
        self.write_json(content)

    async def write_out(self):
        try:
            while self.outbox:
                await self.send(text_data=self.outbox.popleft())
        except Exception:  # noqa: BLE001 - the client has gone; its disconnect follows
            self.outbox.clear()
        finally:
            self.writer = None

    # --- presence ---

    async def announce_presence(self, changed):
        if not changed:
            return
        if await in_cache(presence.claim_broadcast)(self.thread_id):
            await self.broadcast_presence()
        else:
            # Someone broadcast within the interval, perhaps before this change: try again
            # after it; if another broadcast wins that slot, it was sent after this change.
            asyncio.get_running_loop().create_task(self.broadcast_presence_later())

    async def broadcast_presence_later(self):
        await asyncio.sleep(presence.BROADCAST_INTERVAL_SECONDS + 0.05)
        if await in_cache(presence.claim_broadcast)(self.thread_id):
            await self.broadcast_presence()

    async def broadcast_presence(self):
        count = await in_cache(presence.viewing)(self.thread_id)
        if count is not None:
            await events.send_each(
                [events.thread_event(self.thread_id, "presence.count", count=count)]
            )

    # --- what the client says ---

    handlers = {"resume": "resume", "post": "post", "typing": "typing", "ping": "heartbeat"}

    async def resume(self, fields):
        await self.catch_up(fields["after"])
        self.write_presence(await in_cache(presence.viewing)(self.thread_id))

    async def catch_up(self, after=None):
        """Send every change after `after` (or after what was sent) from the database, then
        the live changes that arrived meanwhile."""
        async with self.reading:
            if after is not None:
                self.sent = after
            while True:
                payloads, last_change, complete = await database_sync_to_async(self.read_changes)(
                    self.sent
                )
                if self.sent > last_change:
                    # The client holds changes the thread never had (its page is from before a
                    # restore, or it made the number up): it has to read the thread afresh, and
                    # is sent the thread's changes from where the thread really is.
                    self.sent = last_change
                    self.write_json({"type": "resync", "change": last_change})
                    break
                for payload in payloads:
                    self.write(events.post_frame(payload, self.moderator, self.sent))
                    self.sent = payload["change"]
                if complete:
                    if last_change > self.sent:
                        # Changes this member may not see (someone else's held post) still move
                        # the counter.
                        self.write_json(
                            {"type": "skip", "change": last_change, "previous": self.sent}
                        )
                        self.sent = last_change
                    self.write_json({"type": "caught_up", "change": self.sent})
                    break
        self.deliver_early()

    def read_changes(self, after):
        """The next batch of changes after `after`, rendered; and whether that was all of them."""
        last_change = Thread.objects.values_list("last_change", flat=True).get(pk=self.thread_id)
        posts = queries.changes_after(self.user, self.thread, after)
        complete = len(posts) < queries.REPLAY_BATCH
        return [events.post_payload(post) for post in posts], last_change, complete

    async def post(self, fields):
        key = fields["key"]
        try:
            number = await database_sync_to_async(self.create_post)(fields)
        except PermissionDenied:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        except ActionError as error:
            self.write_json({"type": "error", "code": "post", "key": key, "message": error.message})
            return
        self.write_json({"type": "posted", "key": key, "number": number})

    def create_post(self, fields):
        quoted = queries.quotable_post(self.user, self.thread, fields["quoted"])
        post = forum.create_post(
            self.user, self.thread, fields["source"], quoted=quoted, idempotency_key=fields["key"]
        )
        return post.number

    async def typing(self, fields):
        now = time.monotonic()
        if now - self.last_typing < TYPING_INTERVAL_SECONDS:
            return
        self.last_typing = now
        await events.send_each(
            [
                events.thread_event(
                    self.thread_id, "typing.event", user_id=self.user.pk, name=self.user.public_name
                )
            ]
        )

    async def heartbeat(self, fields):
        if self.sent is not None and self.sent < self.overdue:
            # A change the thread had at the last heartbeat has still not arrived (it was
            # published while the channel layer was down): read it from the database. A change
            # newer than that may simply be on its way, so it gets until the next heartbeat.
            await self.catch_up()
        self.overdue = self.thread.last_change  # the policy check has just read the thread
        changed, count = await in_cache(presence.join)(
            self.thread_id, self.channel_name, self.user.pk
        )
        await self.announce_presence(changed)
        self.write_presence(count)
        # `live` false: the channel layer cannot reach Redis, so other people's changes arrive
        # only with heartbeats; the page says live updates are paused.
        self.write_json({"type": "pong", "live": getattr(self.channel_layer, "live", True)})

    def write_presence(self, count):
        if count is not None:  # None: presence is paused (portal.presence)
            self.write_json({"type": "presence", "count": count})

    # --- the thread's events, from this process's fan-out ---

    def thread_event(self, event):
        if self.sent is None:
            return  # not resumed yet: the resume replay reads the thread from the database
        kind = event["type"]
        if kind == "thread.change":
            self.thread_change(event["post"])
        elif kind == "typing.event":
            if event["user_id"] != self.user.pk:
                self.write_json({"type": "typing", "name": event["name"]})
        elif kind == "presence.count":
            self.write_json({"type": "presence", "count": event["count"]})
        elif kind == "thread.meta":
            self.background(self.thread_meta(event))

    def thread_change(self, payload):
        if payload["change"] <= self.sent and not self.reading.locked():
            return  # already sent by a replay
        # During a read `sent` may still be a resuming client's number, ahead of the thread: the
        # change waits until the read has settled what was sent (deliver_early drops it if sent).
        self.early[payload["change"]] = payload
        if not self.reading.locked():  # else the reader delivers it when it is done
            self.deliver_early()

    def deliver_early(self):
        """Send the held changes that now follow on; wait a little for any still missing."""
        for change in [change for change in self.early if change <= self.sent]:
            del self.early[change]
        while self.sent + 1 in self.early:
            self.deliver(self.early.pop(self.sent + 1))
        if self.early and (self.gap_timer is None or self.gap_timer.done()):
            self.gap_timer = self.background(self.check_gap_later())

    def deliver(self, payload):
        if not policy.in_post_audience(payload["audience"], self.user.pk, self.moderator):
            self.write_json({"type": "skip", "change": payload["change"], "previous": self.sent})
        else:
            # Encoded once for every socket, with `previous` = change - 1 = self.sent.
            self.write(payload["frames"]["moderator" if self.moderator else "member"])
        self.sent = payload["change"]

    async def check_gap_later(self):
        await asyncio.sleep(GAP_WAIT_SECONDS)
        self.gap_timer = None  # a gap still open after this read gets a timer of its own
        if self.early:
            await self.catch_up()  # the missing change never came: read it from the database

    async def thread_meta(self, event):
        if not await self.allowed():
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.write_json({"type": "thread", "thread": event["thread"]})

    def background(self, coroutine):
        task = asyncio.get_running_loop().create_task(coroutine)
        task.add_done_callback(self.report_failure)
        return task

    @staticmethod
    def report_failure(task):
        if not task.cancelled() and task.exception() is not None:
            logger.error("thread socket task failed", exc_info=task.exception())
