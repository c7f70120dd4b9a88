"""The audit log of security-relevant events: sign-ins, MFA changes, admissions, suspensions, roles
and every moderation action.

Each event is a database row staff can read in the admin, and a line in the application log. Values
that came from people (reasons, e-mail addresses typed at a failed sign-in) are escaped before they
reach the log, so a newline or control character cannot forge a second log line.
"""

import logging

from allauth.account.signals import (
    email_added,
    email_changed,
    email_removed,
    password_changed,
    password_reset,
    user_logged_in,
)
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.contrib.auth.signals import user_logged_out, user_login_failed
from django.dispatch import receiver

from portal.models import AuditEvent

logger = logging.getLogger("portal.audit")


def escape_for_log(value):
    """One printable line: control characters (CR, LF, ANSI escapes, …) become visible escapes."""
    text = str(value)
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def _label(user):
    if user is None or not getattr(user, "is_authenticated", False):
        return ""
    return f"{user.email} (#{user.pk})"


def client_ip(request):
    return request.META.get("REMOTE_ADDR") if request is not None else None


def record(action, *, actor=None, subject=None, target="", reason="", ip=None, details=None):
    event = AuditEvent.objects.create(
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        actor_label=_label(actor) or "system",
        subject=subject if getattr(subject, "pk", None) else None,
        target=target or _label(subject),
        reason=reason,
        ip_address=ip,
        details=details or {},
    )
    logger.info(
        "%s actor=%s target=%s reason=%s ip=%s",
        action,
        escape_for_log(event.actor_label),
        escape_for_log(event.target),
        escape_for_log(reason),
        ip or "-",
    )
    return event


@receiver(user_logged_in)
def _logged_in(request, user, **kwargs):
    record("login", actor=user, subject=user, ip=client_ip(request))


@receiver(user_login_failed)
def _login_failed(credentials, request=None, **kwargs):
    # Django passes the credentials with the password already masked; only the e-mail is kept.
    attempted = credentials.get("email") or credentials.get("username") or ""
    record(
        "login.failed",
        target=f"attempted {attempted}"[:200],
        ip=client_ip(request),
    )


@receiver(user_logged_out)
def _logged_out(request, user, **kwargs):
    if user is not None:
        record("logout", actor=user, subject=user, ip=client_ip(request))


def _account_event(action):
    def handler(request, user, **kwargs):
        record(action, actor=user, subject=user, ip=client_ip(request))

    return handler


# Each signal is connected with its own handler; weak=False keeps the closures alive.
for _signal, _action in [
    (password_changed, "password.changed"),
    (password_reset, "password.reset"),
    (email_added, "email.added"),
    (email_changed, "email.changed"),
    (email_removed, "email.removed"),
]:
    _signal.connect(_account_event(_action), weak=False, dispatch_uid=f"audit-{_action}")


def _authenticator_event(action):
    def handler(request, user, authenticator=None, **kwargs):
        kind = getattr(authenticator, "type", "")
        record(action, actor=user, subject=user, ip=client_ip(request), details={"type": kind})

    return handler


for _signal, _action in [
    (authenticator_added, "mfa.added"),
    (authenticator_removed, "mfa.removed"),
    (authenticator_reset, "mfa.reset"),
]:
    _signal.connect(_authenticator_event(_action), weak=False, dispatch_uid=f"audit-{_action}")
