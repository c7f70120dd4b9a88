"""Builders and readers for the tests of portal.actions."""

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from portal.models import AuditEvent
from tests.portal.helpers import person


def actor(role):
    return person(role) if role != "anonymous" else AnonymousUser()


def new_user(email):
    user = get_user_model().objects.create_user(
        username=email.split("@")[0], email=email, password="a long passphrase 123"
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def fresh(user):
    """The user as a new request would load it, without cached relations."""
    return get_user_model().objects.get(pk=user.pk)


def audit_of(action):
    return list(AuditEvent.objects.filter(action=action))


def groups(messages):
    return [group for group, _ in messages]


def first_post(thread):
    return thread.posts.get(number=1)
