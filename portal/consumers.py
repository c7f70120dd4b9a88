"""WebSocket consumers.

Every socket is authenticated at connect, checks the policy before joining a group and again on
every message it receives, caps message size and rate, and closes when its session ends or its
member is suspended (portal.events sends `access.revoked` to the user's and session's groups).
Live thread delivery never loses a change: see ThreadConsumer.

Every frame is read by `portal.frames.read_message` before anything acts on it. A frame it
refuses is answered with `{"type": "error", "code": ..., "message": ..., "key": ...}` (`key`
when the frame was a reply that named one, so the page knows which reply was refused) and the
socket stays open. Sockets close only with CLOSE_FORBIDDEN (access withdrawn) or CLOSE_TOO_BIG
(a frame over the cap that is not a reply: no page sends one).
"""

import asyncio
import collections
import json
import logging
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied

import metrics
from portal import events, fanout, policy, presence, queries
from portal.actions import ActionError, forum
from portal.frames import Refused, read_message
from portal.live_protocol import GAP_WAIT_SECONDS, ThreadStream
from portal.models import Thread, User

RATE_WINDOW_SECONDS = 10
RATE_LIMIT = 30  # messages per window from one socket; typing and heartbeats included
TYPING_INTERVAL_SECONDS = 2

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_BIG = 1009

logger = logging.getLogger(__name__)


class MessageConsumer(AsyncJsonWebsocketConsumer):
    """A socket that acts on the message types in `handlers` (type -> name of the method that
    takes the message's fields) and answers every other frame with an error frame."""

    handlers = {}
    # Message types whose handler checks the policy itself, in the same database call as its
    # work: the frame then waits for the database thread once, not twice.
    checked_by_handler = frozenset()
    counted = False  # whether this socket is in metrics.OPEN_SOCKETS

    async def accept(self, *args, **kwargs):
        await super().accept(*args, **kwargs)
        if not self.counted:
            self.counted = True
            metrics.OPEN_SOCKETS.inc()

    async def websocket_disconnect(self, message):
        # Runs for every socket that closes, accepted or refused at connect; only accepted ones
        # were counted.
        if self.counted:
            self.counted = False
            metrics.OPEN_SOCKETS.dec()
        await super().websocket_disconnect(message)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if not await self.within_rate():
            return
        try:
            kind, fields = read_message(text_data, bytes_data, self.handlers)
        except Refused as refusal:
            if not await self.still_allowed():
                return
            if refusal.code == "too_big" and refusal.key is None:
                # Not a reply, so no page sent it: closed, as frames over the cap always were.
                await self.close(code=CLOSE_TOO_BIG)
            else:
                await self.answer(refusal.frame())
            return
        if kind in self.checked_by_handler or await self.still_allowed():
            await getattr(self, self.handlers[kind])(fields)

    async def within_rate(self):
        """Whether to read the frame that has just arrived, given how many came before it."""
        return True

    async def still_allowed(self):
        """Whether the socket may still act on what it is sent; if not, it is closed."""
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
        # The user in the scope may be stale (suspended since connecting): read it afresh, with
        # its membership, in one query.
        user = User.objects.select_related("membership").filter(pk=self.user.pk).first()
        if user is None:
            return False
        self.user = user
        return policy.is_member(user)

    async def within_rate(self):
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
        return True

    async def still_allowed(self):
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


class Outbox:
    """A socket's frames, sent in the order they were written, whether they were read from the
    database, handed out live or are answers; a client that reads slowly only delays itself.

    It sends through the ASGI `send`, not a method of the consumer, so that the consumer and
    its outbox hold no reference to each other: a closed socket frees itself by reference
    counting, without waiting for the garbage collector (config.asgi)."""

    def __init__(self, send):
        self.send = send
        self.frames = collections.deque()
        self.writer = None

    def write(self, frame):
        self.frames.append(frame)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self.write_out())

    async def write_out(self):
        try:
            while self.frames:
                await self.send({"type": "websocket.send", "text": self.frames.popleft()})
        except Exception:  # noqa: BLE001 - the client has gone; its disconnect follows
            self.frames.clear()
        finally:
            self.writer = None

    def close(self):
        if self.writer is not None:
            self.writer.cancel()


class ThreadConsumer(MemberConsumer):
    """/ws/threads/<id>/: one thread, live, without loss.

    The socket's ThreadStream (portal.live_protocol, which describes the protocol) decides what
    the client is sent and when the database is read; the consumer carries out its steps: it
    reads the database, runs the gap timer and writes the frames. The thread's events come from
    this process's fan-out (portal.fanout), not through the socket's own channel, and everything
    the socket says leaves through one outbox, in order.
    """

    handlers = {"resume": "resume", "post": "post", "typing": "typing", "ping": "heartbeat"}
    checked_by_handler = frozenset({"post"})

    async def connect(self):
        self.thread_id = int(self.scope["url_route"]["kwargs"]["pk"])
        self.stream = ThreadStream(self.scope["user"].pk)
        self.reading = asyncio.Lock()  # one read of the database at a time
        self.gap_timer = None
        self.outbox = Outbox(self.base_send)
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
        self.stream.moderator = policy.can_moderate_thread(self.user, thread)
        return True

    async def join_groups(self):
        self.viewing = True
        await fanout.current().add(self.thread_id, self)
        presence.arrive(self.thread_id, self.user.pk)

    async def disconnect(self, code):
        if self.gap_timer is not None:
            self.gap_timer.cancel()
        self.outbox.close()
        if self.viewing:
            await fanout.current().remove(self.thread_id, self)
            await presence.depart(self.thread_id, self.user.pk)
        await super().disconnect(code)

    def write_json(self, content):
        self.outbox.write(json.dumps(content))

    async def answer(self, content):
        self.write_json(content)

    def write_presence(self, count):
        if count is not None:  # None: presence is paused (portal.presence)
            self.write_json({"type": "presence", "count": count})

    # --- the stream's steps ---

    def perform(self, step):
        """Write the step's frames and start the gap timer if it asks; reads are catch_up's."""
        for frame in step.frames:
            self.outbox.write(frame)
        if step.start_gap_timer:
            self.gap_timer = self.background(self.wait_for_gap())

    async def catch_up(self, after=None):
        """Read what the client misses from the database: the changes after `after` when it
        resumes from there, else after what it was sent."""
        async with self.reading:
            step = self.stream.start_read(after)
            try:
                while step.read:
                    read = await database_sync_to_async(self.read_changes)(self.stream.sent)
                    step = self.stream.changes_read(*read)
                    self.perform(step)
            except Exception:
                self.stream.read_failed()
                raise

    def read_changes(self, after):
        """The next batch of changes after `after`, rendered; the thread's last change; and
        whether that was all of them."""
        last_change = Thread.objects.values_list("last_change", flat=True).get(pk=self.thread_id)
        posts = queries.changes_after(self.user, self.thread, after)
        complete = len(posts) < queries.REPLAY_BATCH
        return [events.post_payload(post) for post in posts], last_change, complete

    async def wait_for_gap(self):
        await asyncio.sleep(GAP_WAIT_SECONDS)
        if self.stream.gap_timer_fired().read:
            await self.catch_up()

    # --- what the client says ---

    async def resume(self, fields):
        await self.catch_up(fields["after"])
        self.write_presence(await presence.count_settled(self.thread_id))

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
        if not self.check_policy():
            raise PermissionDenied
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
        # The policy check that let this frame through has just read the thread.
        if self.stream.heartbeat(self.thread.last_change).read:
            await self.catch_up()
        self.write_presence(await presence.count_viewing(self.thread_id))
        # `live` false: the channel layer cannot reach Redis, so other people's changes arrive
        # only with heartbeats; the page says live updates are paused.
        self.write_json({"type": "pong", "live": getattr(self.channel_layer, "live", True)})

    # --- the thread's events, from this process's fan-out ---

    def thread_event(self, event):
        kind = event["type"]
        if kind == "thread.change":
            self.perform(self.stream.live_change(event["post"]))
        elif not self.stream.resumed:
            return  # before the client resumes it is sent nothing live
        elif kind == "typing.event":
            if event["user_id"] != self.user.pk:
                self.write_json({"type": "typing", "name": event["name"], "user": event["user_id"]})
        elif kind == "presence.count":
            self.write_presence(event["count"])
        elif kind == "thread.meta":
            self.background(self.thread_meta(event))

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
