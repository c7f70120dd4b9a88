"""Members' own data: their profile, their e-mail choices, and deleting their account."""

from django.db import transaction

from portal import audit, events, policy
from portal.actions import ActionError, attachments, checked_text, require
from portal.models import User

PROFILE_FIELDS = {"display_name": 80, "organisation": 120, "bio": 1000}


@transaction.atomic
def update_profile(user, **values):
    require(policy.can_edit_profile(user))
    for field, max_length in PROFILE_FIELDS.items():
        if field in values:
            label = User._meta.get_field(field).verbose_name
            value = checked_text(values[field], field, label, max_length, required=False)
            setattr(user, field, value)
    user.save(update_fields=list(PROFILE_FIELDS))


@transaction.atomic
def update_notification_preferences(user, *, email_frequency, notify_replies, notify_mentions):
    require(policy.can_edit_profile(user))
    if email_frequency not in User.EmailFrequency.values:
        raise ActionError("Choose how often to be e-mailed.", "email_frequency")
    user.email_frequency = email_frequency
    user.notify_replies = bool(notify_replies)
    user.notify_mentions = bool(notify_mentions)
    user.save(update_fields=["email_frequency", "notify_replies", "notify_mentions"])


@transaction.atomic
def update_display_preferences(user, *, blur_images):
    require(policy.can_edit_profile(user))
    user.blur_images = bool(blur_images)
    user.save(update_fields=["blur_images"])


@transaction.atomic
def unsubscribe_from_email(user):
    user.email_frequency = User.EmailFrequency.OFF
    user.save(update_fields=["email_frequency"])
    audit.record("notifications.unsubscribed", actor=user, subject=user)


@transaction.atomic
def delete_account(user, ip=None):
    """The account goes and its files with it; the member's posts stay, shown as by a former
    member."""
    require(user.is_authenticated and not policy.is_staff(user))
    audit.record("account.deleted", actor=user, subject=None, target=f"user {user.pk}", ip=ip)
    attachments.delete_member_files(user)
    transaction.on_commit(lambda: events.access_revoked(user.pk))
    user.delete()
