"""A member's reading: what they follow, how far they have read each thread, and which of their
notifications they have seen."""

from django.db import transaction
from django.utils import timezone

from portal import policy
from portal.actions import require
from portal.models import Follow, Notification, ReadState


@transaction.atomic
def follow(user, *, thread=None, category=None):
    require(
        policy.can_view_thread(user, thread) if thread else policy.can_view_category(user, category)
    )
    Follow.objects.get_or_create(user=user, thread=thread, category=category)


@transaction.atomic
def unfollow(user, *, thread=None, category=None):
    require(policy.is_member(user))
    Follow.objects.filter(user=user, thread=thread, category=category).delete()


def note_thread_read(user, thread, number):
    """Note how far the member has read the thread: the highest post number they have been shown
    (opening a page of it, or posting in it). It never moves back."""
    # Moving forward is the common case (every post by a member who has read the thread), so it
    # is tried first: one query, not a read and then a write.
    if ReadState.objects.filter(user=user, thread=thread, last_read_number__lt=number).update(
        last_read_number=number
    ):
        return
    ReadState.objects.get_or_create(user=user, thread=thread, defaults={"last_read_number": number})


@transaction.atomic
def mark_notifications_read(user, ids=None):
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
