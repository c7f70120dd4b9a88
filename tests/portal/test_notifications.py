"""Notifications reach members in the site and by e-mail; unsubscribing is one click."""

import json
import re

import pytest
from django.test import Client

from portal.actions import forum, reading
from portal.models import Category, Notification, User
from portal.notify import send_daily_digests, unsubscribe_token
from tests.people import make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def thread(django_capture_on_commit_callbacks):
    author = make_person("member", "author")
    category = Category.objects.create(name="Prevention", slug="prevention")
    with django_capture_on_commit_callbacks(execute=True):
        return forum.create_thread(author, category, "Helpline scripts", "What works for you?")


def reply(django_capture_on_commit_callbacks, user, thread, text):
    with django_capture_on_commit_callbacks(execute=True):
        return forum.create_post(user, thread, text)


def test_mentions_are_e_mailed_at_once_with_a_one_click_unsubscribe(
    thread, mailoutbox, django_capture_on_commit_callbacks
):
    mentioned = make_person("member", "reader")
    reply(django_capture_on_commit_callbacks, thread.author, thread, "Any thoughts, @reader?")
    message = mailoutbox[-1]
    assert message.to == ["reader@example.org"]
    assert "Helpline scripts" in message.subject
    assert "Any thoughts" not in message.body  # posts stay in the portal
    unsubscribe = re.search(r"<https?://[^/]+(/\S+)>", message.extra_headers["List-Unsubscribe"])
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Mail clients POST without a CSRF token or a session.
    response = Client(enforce_csrf_checks=True).post(unsubscribe.group(1))
    assert response.status_code == 200
    mentioned.refresh_from_db()
    assert mentioned.email_frequency == User.EmailFrequency.OFF
    reply(django_capture_on_commit_callbacks, thread.author, thread, "@reader again")
    assert len(mailoutbox) == 1
    assert Notification.objects.filter(user=mentioned).count() == 2  # still told in the site


def test_a_forged_unsubscribe_link_changes_nothing(client):
    member = make_person("member")
    token = unsubscribe_token(member)
    response = client.post(f"/portal/unsubscribe/{token[:-2]}xx/")
    assert response.status_code == 400
    member.refresh_from_db()
    assert member.email_frequency == User.EmailFrequency.IMMEDIATE


def test_digest_readers_get_one_e_mail_a_day(
    thread, mailoutbox, django_capture_on_commit_callbacks
):
    reader = make_person("member", "reader")
    reader.email_frequency = User.EmailFrequency.DAILY
    reader.save()
    reading.follow(reader, thread=thread)
    for text in ("First answer", "Second answer"):
        reply(django_capture_on_commit_callbacks, thread.author, thread, text)
    assert mailoutbox == []
    assert send_daily_digests.call() == 1
    assert mailoutbox[-1].to == ["reader@example.org"]
    assert mailoutbox[-1].body.count("Helpline scripts") == 2
    assert send_daily_digests.call() == 0  # nothing new, and not twice a day


def test_nobody_is_told_about_posts_they_cannot_see(
    thread, mailoutbox, django_capture_on_commit_callbacks
):
    suspended = make_person("suspended")
    applicant = make_person("applicant")
    reply(django_capture_on_commit_callbacks, thread.author, thread, "@suspended @applicant hi")
    assert not Notification.objects.filter(user__in=[suspended, applicant]).exists()
    assert mailoutbox == []


def test_the_notification_list_marks_read(client, thread, django_capture_on_commit_callbacks):
    reader = make_person("member", "reader")
    reply(django_capture_on_commit_callbacks, thread.author, thread, "@reader look")
    client.force_login(reader)
    page = client.get("/portal/notifications/")
    assert b"mentioned you in" in page.content
    client.post("/portal/notifications/")
    assert not Notification.objects.filter(user=reader, read_at__isnull=True).exists()


def test_members_download_their_data_and_can_leave(client, thread):
    author = thread.author
    client.force_login(author)
    response = client.get("/portal/account/export/")
    assert response["Content-Disposition"].startswith("attachment")
    data = json.loads(response.content)
    assert data["account"]["email"] == "author@example.org"
    assert data["membership"]["status"] == "approved"
    assert [post["source"] for post in data["posts"]] == ["What works for you?"]

    assert client.post("/portal/account/delete/", {"confirm": "wrong"}).status_code == 200
    assert User.objects.filter(pk=author.pk).exists()
    client.post("/portal/account/delete/", {"confirm": author.email})
    assert not User.objects.filter(pk=author.pk).exists()
    reader = Client()
    reader.force_login(make_person("member", "reader"))
    page = reader.get(f"/portal/t/{thread.pk}/")
    assert b"Former member" in page.content
    assert b"What works for you?" in page.content
