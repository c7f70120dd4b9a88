"""People in every portal role, for tests: one builder, so each suite means the same by "member"."""

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from portal.models import Membership

ROLES = ("anonymous", "applicant", "member", "moderator", "editor", "staff", "suspended")
PASSWORD = "correct-horse-battery-staple-9"
# What a newcomer signs up with and writes in the application form, in the suites that follow one.
NEWCOMER_PASSWORD = "a-long-and-unusual-passphrase-42"
APPLICATION = {
    "full_name": "Ada Practitioner",
    "organisation": "Helpline Trust",
    "job_title": "Safeguarding lead",
    "country": "Ireland",
    "reason": "I run our online safety training.",
    "agreed": "on",
}


def make_person(role, name=None):
    """A user in the given role with a verified e-mail (None for "anonymous")."""
    if role == "anonymous":
        return None
    name = name or role
    user = get_user_model().objects.create_user(
        username=name,
        email=f"{name}@example.org",
        password=PASSWORD,
        is_staff=role == "staff",
        is_superuser=role == "staff",
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    if role == "editor":
        user.groups.add(Group.objects.get_or_create(name="Editors")[0])
    if role in {"applicant", "member", "moderator", "suspended"}:
        Membership.objects.create(
            user=user,
            status=Membership.Status.PENDING if role == "applicant" else Membership.Status.APPROVED,
            role=Membership.Role.MODERATOR if role == "moderator" else Membership.Role.MEMBER,
            full_name=f"{name.title()} Person",
            organisation="Example Trust",
            job_title="Practitioner",
            country="United Kingdom",
            reason="Testing.",
            agreed_to_code_at=timezone.now(),
            suspended_at=timezone.now() if role == "suspended" else None,
            suspension_reason="Testing." if role == "suspended" else "",
        )
    return user
