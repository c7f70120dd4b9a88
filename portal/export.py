"""A member's own data, as one JSON document they can download."""

from portal.models import Attachment, AuditEvent, Follow, Notification, Post, Report


def _rows(queryset, *fields):
    return list(queryset.values(*fields))


def member_data(user):
    membership = getattr(user, "membership", None)
    return {
        "account": {
            "email": user.email,
            "username": user.username,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
            "display_name": user.display_name,
            "organisation": user.organisation,
            "bio": user.bio,
            "email_frequency": user.email_frequency,
            "notify_replies": user.notify_replies,
            "notify_mentions": user.notify_mentions,
        },
        "email_addresses": _rows(user.emailaddress_set.all(), "email", "verified", "primary"),
        "membership": None
        if membership is None
        else {
            field: getattr(membership, field)
            for field in (
                "status",
                "role",
                "full_name",
                "organisation",
                "job_title",
                "country",
                "reason",
                "agreed_to_code_at",
                "applied_at",
                "decided_at",
                "decision_reason",
                "suspended_at",
                "suspension_reason",
            )
        },
        "posts": _rows(
            Post.objects.filter(author=user).order_by("created"),
            "thread_id",
            "thread__title",
            "number",
            "source",
            "created",
            "edited_at",
            "state",
        ),
        # The files themselves are downloaded from their posts; files the hash list held back
        # are evidence, not listed here.
        "attachments": _rows(
            Attachment.objects.filter(uploader=user).order_by("created"),
            "post__thread_id",
            "post__number",
            "original_name",
            "size",
            "content_type",
            "state",
            "sensitive_reason",
            "created",
        ),
        "reports_made": _rows(
            Report.objects.filter(reporter=user), "post_id", "reason", "created", "resolution"
        ),
        "follows": _rows(Follow.objects.filter(user=user), "thread_id", "category_id"),
        "notifications": _rows(
            Notification.objects.filter(user=user), "kind", "post_id", "created", "read_at"
        ),
        "security_events": _rows(
            AuditEvent.objects.filter(subject=user), "created", "action", "ip_address"
        ),
    }
