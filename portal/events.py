"""Live events: what actions tell connected browsers, through the channel layer.

The channel layer delivers at most once, so an event is only ever a hint: the database holds the
truth, every thread change carries its number, and a socket that sees a gap reads the missing
changes from the database (portal.live_protocol). Events are published only after the
transaction that made the change commits, so nobody hears of a post that was rolled back. A
post's change names its audience when it is made (policy.post_audience): a socket does not
decide who may see a post, it asks whether it is in the audience named.
"""

import hashlib
import json
import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import prefetch_related_objects
from django.template.loader import render_to_string

import metrics
from portal import policy

logger = logging.getLogger(__name__)


def thread_group(thread_id):
    return f"thread.{thread_id}"


def thread_event(thread_id, kind, **fields):
    """The group and message for an event for everyone viewing a thread. The message names the
    thread because each server process hands it to its own sockets (portal.fanout)."""
    return thread_group(thread_id), {"type": kind, "thread_id": thread_id, **fields}


def category_group(category_id):
    return f"category.{category_id}"


def user_group(user_id):
    return f"user.{user_id}"


def session_group(session_key):
    # Channel layer group names allow only a short ASCII alphabet; hashing also keeps the session
    # key itself out of Redis.
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


MODERATION_GROUP = "moderation"


def send(group, message):
    """Send now; a channel layer that is down loses the hint, never the change."""
    send_all([(group, message)])


def send_all(events):
    """Send (group, message) pairs in one trip to the event loop, in order."""
    async_to_sync(send_each)(events)


async def send_each(events):
    """Send (group, message) pairs from async code; a channel layer that is down loses them."""
    layer = get_channel_layer()
    for group, message in events:
        try:
            await layer.group_send(group, message)
        except Exception:  # noqa: BLE001 - any transport failure; clients catch up
            logger.warning("channel layer unavailable: live event to %s dropped", group)


def send_timed(group, message):
    """Send a post's change, recording how long after the commit it reached the channel layer
    (metrics.LIVE_DELIVERY). It runs as a commit hook, so the time starts right after the commit
    and the hooks registered before it."""
    committed = time.perf_counter()
    send(group, message)
    metrics.LIVE_DELIVERY.observe(time.perf_counter() - committed)


def publish(group, message):
    transaction.on_commit(lambda: send(group, message))


def publish_all(events):
    if events:
        transaction.on_commit(lambda: send_all(events))


def post_payload(post):
    """Everything a client needs to show one post, rendered once for each audience: members see
    a notice in place of hidden posts, moderators see them with their controls."""
    if not hasattr(post, "revision_count"):
        post.revision_count = post.revisions.count()
    # Both renderings show the files: read them once (nothing is read if they are known).
    prefetch_related_objects([post], "attachments", "quarantined_files")
    context = {"post": post, "thread": post.thread, "live": True}
    return {
        "number": post.number,
        "change": post.change,
        "state": post.state,
        "author_id": post.author_id,
        "audience": policy.post_audience(post),
        "reply_count": post.thread.reply_count,
        "member_html": render_to_string(
            "portal/includes/post.html", {**context, "moderator_view": False}
        ),
        "moderator_html": render_to_string(
            "portal/includes/post.html", {**context, "moderator_view": True}
        ),
    }


def post_frame(payload, moderator, previous):
    """The WebSocket frame that shows one post to a member or a moderator, `previous` being the
    change number the socket had before it (portal.live_protocol)."""
    return json.dumps(
        {
            "type": "post",
            "change": payload["change"],
            "previous": previous,
            "number": payload["number"],
            "state": payload["state"],
            "author_id": payload["author_id"],
            "reply_count": payload["reply_count"],
            "html": payload["moderator_html" if moderator else "member_html"],
        }
    )


def post_changed(post):
    """A post was created, edited, hidden, restored, approved or deleted."""
    payload = post_payload(post)
    # Every socket that is up to date gets the same frame, so it is encoded once, here, rather
    # than once per socket; the frames carry the HTML, so it does not travel twice.
    payload["frames"] = {
        audience: post_frame(payload, audience == "moderator", payload["change"] - 1)
        for audience in ("member", "moderator")
    }
    del payload["member_html"], payload["moderator_html"]
    group, message = thread_event(
        post.thread_id, "thread.change", post=payload, thread=thread_state(post.thread)
    )
    transaction.on_commit(lambda: send_timed(group, message))
    publish(category_group(post.thread.category_id), {"type": "list.changed"})


def thread_state(thread):
    return {
        "id": thread.pk,
        "locked": thread.locked,
        "pinned": thread.pinned,
        "category_id": thread.category_id,
        "last_change": thread.last_change,
        "reply_count": thread.reply_count,
    }


def thread_changed(thread, previous_category_id=None):
    """Lock, pin, move or merge: viewers re-check their access and update the page."""
    publish(*thread_event(thread.pk, "thread.meta", thread=thread_state(thread)))
    for category_id in {thread.category_id, previous_category_id} - {None}:
        publish(category_group(category_id), {"type": "list.changed"})


def notifications_created(notifications):
    publish_all(
        [(user_group(n.user_id), {"type": "notification.new", "id": n.pk}) for n in notifications]
    )


def moderation_queue_changed():
    publish(MODERATION_GROUP, {"type": "queue.changed"})


def access_revoked(user_id):
    """Suspension or role change: every socket of the user closes at once."""
    publish(user_group(user_id), {"type": "access.revoked"})


def session_ended(session_key):
    send(session_group(session_key), {"type": "access.revoked"})
