"""Live events: what actions tell connected browsers, through the channel layer.

The channel layer delivers at most once, so an event is only ever a hint: the database holds the
truth, every thread change carries its number, and a consumer that sees a gap reads the missing
changes from the database (portal.consumers). Events are published only after the transaction
that made the change commits, so nobody hears of a post that was rolled back.
"""

import hashlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def thread_group(thread_id):
    return f"thread.{thread_id}"


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
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:  # noqa: BLE001 - any transport failure; clients catch up on reconnect
        logger.warning("channel layer unavailable: live event to %s dropped", group)


def publish(group, message):
    transaction.on_commit(lambda: send(group, message))


def post_payload(post):
    """Everything a client needs to show one post, rendered once for each audience: members see
    a notice in place of hidden posts, moderators see them with their controls."""
    if not hasattr(post, "revision_count"):
        post.revision_count = post.revisions.count()
    context = {"post": post, "thread": post.thread, "live": True}
    return {
        "number": post.number,
        "change": post.change,
        "state": post.state,
        "author_id": post.author_id,
        "reply_count": post.thread.reply_count,
        "member_html": render_to_string(
            "portal/includes/post.html", {**context, "moderator_view": False}
        ),
        "moderator_html": render_to_string(
            "portal/includes/post.html", {**context, "moderator_view": True}
        ),
    }


def post_changed(post):
    """A post was created, edited, hidden, restored, approved or deleted."""
    publish(
        thread_group(post.thread_id),
        {"type": "thread.change", "post": post_payload(post), "thread": thread_state(post.thread)},
    )
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
    publish(thread_group(thread.pk), {"type": "thread.meta", "thread": thread_state(thread)})
    for category_id in {thread.category_id, previous_category_id} - {None}:
        publish(category_group(category_id), {"type": "list.changed"})


def notification_created(notification):
    publish(user_group(notification.user_id), {"type": "notification.new", "id": notification.pk})


def moderation_queue_changed():
    publish(MODERATION_GROUP, {"type": "queue.changed"})


def access_revoked(user_id):
    """Suspension or role change: every socket of the user closes at once."""
    publish(user_group(user_id), {"type": "access.revoked"})


def session_ended(session_key):
    send(session_group(session_key), {"type": "access.revoked"})
