"""portal.actions.reading: follows, read state and notifications."""

import pytest
from django.core.exceptions import PermissionDenied

from portal.actions import forum, reading
from portal.models import Category, Follow, Notification, ReadState
from tests.portal.helpers import make_category, make_thread, person, signed_in_client

pytestmark = pytest.mark.django_db


def test_following_and_unfollowing():
    member = person("member")
    thread = make_thread(person("member"))
    reading.follow(member, thread=thread)
    reading.follow(member, thread=thread)
    reading.follow(member, category=thread.category)
    assert Follow.objects.filter(user=member).count() == 2
    with pytest.raises(PermissionDenied):
        reading.follow(member, category=make_category(Category.Audience.MODERATORS))
    reading.unfollow(member, thread=thread)
    assert list(Follow.objects.filter(user=member).values_list("category", flat=True)) == [
        thread.category.pk
    ]
    with pytest.raises(PermissionDenied):
        reading.follow(person("applicant"), thread=thread)


def test_read_state_only_moves_forward():
    member = person("member")
    thread = make_thread(person("member"))
    reading.note_thread_read(member, thread, 3)
    reading.note_thread_read(member, thread, 2)
    assert ReadState.objects.get(user=member, thread=thread).last_read_number == 3
    reading.note_thread_read(member, thread, 7)
    assert ReadState.objects.get(user=member, thread=thread).last_read_number == 7


def test_opening_a_thread_notes_the_posts_shown_as_read():
    member = person("member")
    author = person("member")
    thread = make_thread(author)
    forum.create_post(author, thread, "A reply.")
    assert not ReadState.objects.filter(user=member).exists()
    assert signed_in_client(member).get(f"/portal/t/{thread.pk}/").status_code == 200
    assert ReadState.objects.get(user=member, thread=thread).last_read_number == 2


def test_marking_notifications_read():
    member = person("member")
    thread = make_thread(member)
    others = [person("member") for _ in range(3)]
    for other in others:
        forum.create_post(other, thread, "Reply")
    first, *rest = Notification.objects.filter(user=member).order_by("pk")
    assert reading.mark_notifications_read(member, [first.pk]) == 1
    assert Notification.objects.filter(user=member, read_at__isnull=True).count() == 2
    assert reading.mark_notifications_read(person("member")) == 0
    assert reading.mark_notifications_read(member) == 2
    assert not Notification.objects.filter(user=member, read_at__isnull=True).exists()
    assert Notification.objects.exclude(user=member).filter(read_at__isnull=True).exists()
