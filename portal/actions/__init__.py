"""Every write to the portal, as a named action, one module per domain: admission (applications,
suspensions, roles, sessions), account (members' own data), forum (threads, posts and their
moderation) and reading (follows, read state, notifications).

An action checks the policy, validates, sanitises, saves in one transaction, writes the audit entry
and, only after commit, publishes its live event. HTML views and WebSocket consumers call the same
actions, so a rule is enforced the same way whichever door a request comes through. Actions raise
`PermissionDenied` when the policy says no and `ActionError` (with a message for people) when the
input is wrong.
"""

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.utils import timezone


class ActionError(Exception):
    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field


def require(allowed):
    if not allowed:
        raise PermissionDenied


def checked_text(value, field, label, max_length, required=True):
    """The text stripped, or ActionError naming the field when it is missing or too long."""
    value = (value or "").strip()
    if required and not value:
        raise ActionError(f"Please enter {label}.", field)
    if len(value) > max_length:
        raise ActionError(
            f"{label[0].upper()}{label[1:]} is too long: {len(value):,} characters, the limit is "
            f"{max_length:,}.",
            field,
        )
    return value


def count_in_window(name, user, rate, amount=1):
    """Count `amount` against the member's `rate` (count, seconds), a fixed window in the shared
    cache so every process counts the same; whether the member is still within it."""
    limit, seconds = rate
    key = f"portal:{name}:{user.pk}:{int(timezone.now().timestamp()) // seconds}"
    cache.add(key, 0, seconds)
    return cache.incr(key, amount) <= limit
