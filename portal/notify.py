"""Telling members what happened: in-app notifications, delivered live, and e-mail.

E-mail goes out from background tasks, immediately or as a daily digest per the member's choice,
each with a one-click unsubscribe link (RFC 8058) signed so it needs no sign-in.
"""

import datetime

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from portal import events, policy
from portal.models import Follow, Notification, User

UNSUBSCRIBE_SALT = "portal.unsubscribe"


def post_published(post, mentioned):
    """Create one notification per person for a newly visible post: quote beats mention beats
    reply, and nobody hears of their own post or of a thread they may not see."""
    kinds = {}
    followers = Follow.objects.filter(thread=post.thread, user__notify_replies=True).exclude(
        user=post.author_id
    )
    # The membership comes along: the policy asks about it for every follower.
    for follow in followers.select_related("user__membership"):
        kinds[follow.user] = Notification.Kind.REPLY
    for member in mentioned:
        if member.notify_mentions:
            kinds[member] = Notification.Kind.MENTION
    if post.quoted and post.quoted.author and post.quoted.author.notify_mentions:
        kinds[post.quoted.author] = Notification.Kind.QUOTE
    created = Notification.objects.bulk_create(
        Notification(user=member, kind=kind, post=post, actor_id=post.author_id)
        for member, kind in kinds.items()
        if member.pk != post.author_id and policy.can_view_post(member, post)
    )
    events.notifications_created(created)
    immediate = [n.pk for n in created if n.user.email_frequency == User.EmailFrequency.IMMEDIATE]
    if immediate:
        transaction.on_commit(lambda: send_notification_emails.enqueue(immediate))
    return created


def hash_list_matched(post, uploader):
    """Alert staff and the moderators who see the held post: in the site, live, and by e-mail at
    once, whatever their digest choice (only "never" is respected), since this cannot wait."""
    created = Notification.objects.bulk_create(
        Notification(user=moderator, kind=Notification.Kind.HASH_MATCH, post=post, actor=uploader)
        for moderator in policy.moderators().select_related("membership")
        if policy.can_view_post(moderator, post)
    )
    events.notifications_created(created)
    emailed = [n.pk for n in created if n.user.email_frequency != User.EmailFrequency.OFF]
    if emailed:
        transaction.on_commit(lambda: send_notification_emails.enqueue(emailed))
    return created


def unsubscribe_token(user):
    return signing.dumps({"user": user.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def user_for_unsubscribe_token(token):
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    return User.objects.filter(pk=data.get("user")).first()


def _send(user, subject, template, context):
    unsubscribe = settings.SITE_URL + reverse("portal:unsubscribe", args=[unsubscribe_token(user)])
    context = {**context, "user": user, "site_url": settings.SITE_URL, "unsubscribe": unsubscribe}
    message = EmailMultiAlternatives(
        subject=f"[Protectors' Portal] {subject}",
        body=render_to_string(f"portal/email/{template}.txt", context),
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.send()


def _deliverable(notifications):
    """Notifications still worth e-mailing: unread, unsent, and still visible to the member."""
    return [
        n
        for n in notifications
        if n.read_at is None and n.emailed_at is None and policy.can_view_post(n.user, n.post)
    ]


@task()
def send_notification_emails(notification_ids):
    notifications = Notification.objects.filter(pk__in=notification_ids).select_related(
        "user", "post__thread__category", "actor"
    )
    for notification in _deliverable(notifications):
        thread = notification.post.thread
        _send(
            notification.user,
            f"{thread.title}",
            "notification",
            {"notification": notification},
        )
        Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())


@task()
def send_daily_digests():
    """One e-mail per member who chose the digest and has unread, unsent notifications."""
    since = timezone.now() - datetime.timedelta(hours=23)
    members = User.objects.filter(email_frequency=User.EmailFrequency.DAILY).exclude(
        digest_sent_at__gt=since
    )
    sent = 0
    for member in members:
        notifications = _deliverable(
            member.notifications.select_related("post__thread", "actor").order_by("created")
        )
        if not notifications:
            continue
        _send(member, "Your daily digest", "digest", {"notifications": notifications})
        Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(
            emailed_at=timezone.now()
        )
        User.objects.filter(pk=member.pk).update(digest_sent_at=timezone.now())
        sent += 1
    return sent


def send_application_received_email(membership):
    """Tell an applicant their application arrived, and what happens next."""
    context = {
        "membership": membership,
        "site_url": settings.SITE_URL,
        "application_url": settings.SITE_URL + reverse("portal:apply"),
    }
    EmailMultiAlternatives(
        subject="[Protectors' Portal] We have your application",
        body=render_to_string("portal/email/application_received.txt", context),
        to=[membership.user.email],
    ).send()


def send_decision_email(membership):
    approved = membership.status == membership.Status.APPROVED
    context = {
        "membership": membership,
        "site_url": settings.SITE_URL,
        "portal_url": settings.SITE_URL + reverse("portal:home"),
    }
    template = "application_approved" if approved else "application_declined"
    EmailMultiAlternatives(
        subject="[Protectors' Portal] "
        + ("Welcome: your membership is approved" if approved else "Your membership application"),
        body=render_to_string(f"portal/email/{template}.txt", context),
        to=[membership.user.email],
    ).send()
