"""Demo accounts for the embedded profile: one person per role, with published passwords.

They exist so someone trying the site can see every side of it; they must never exist on a real
deployment, so `setup_demo` refuses to create them unless DEBUG is on.
"""

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

# Wagtail's migrations create the "Editors" and "Moderators" groups with admin permissions;
# "Members" gives nothing yet and marks approved membership until the membership model exists.
DEMO_ACCOUNTS = [
    {"role": "editor", "email": "editor@example.org", "groups": ["Editors"]},
    {"role": "moderator", "email": "moderator@example.org", "groups": ["Moderators", "Members"]},
    {"role": "member", "email": "member@example.org", "groups": ["Members"]},
    {"role": "applicant", "email": "applicant@example.org", "groups": []},
]


def demo_password(role):
    return f"demo-{role}-portal"


@transaction.atomic
def create_accounts():
    """Create the demo accounts (or reset them to their demo state); returns their log-ins."""
    user_model = get_user_model()
    logins = []
    for account in DEMO_ACCOUNTS:
        user, _ = user_model.objects.get_or_create(
            username=account["role"], defaults={"email": account["email"]}
        )
        user.email = account["email"]
        if not user.check_password(demo_password(account["role"])):
            user.set_password(demo_password(account["role"]))
        user.save()
        user.groups.set([Group.objects.get_or_create(name=name)[0] for name in account["groups"]])
        EmailAddress.objects.update_or_create(
            user=user, email=account["email"], defaults={"verified": True, "primary": True}
        )
        logins.append((account["role"], account["email"], demo_password(account["role"])))
    return logins
