"""Demo accounts and discussions for the embedded profile: one person per role, with published
passwords, and a few threads to look at.

They exist so someone trying the site can see every side of it; they must never exist on a real
deployment, so `setup_demo` refuses to create them unless DEBUG is on.
"""

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from wagtail.models import Page

from portal.actions import forum
from portal.models import Category, Membership, Thread

# The library's editorial groups (Contributors, Editors, Moderators: library/migrations/
# 0003_editorial_roles.py) carry the admin permissions; portal roles live on the membership.
DEMO_ACCOUNTS = [
    {"role": "staff", "email": "staff@example.org", "membership": "moderator", "staff": True},
    {"role": "editor", "email": "editor@example.org", "groups": ["Editors"]},
    {"role": "contributor", "email": "contributor@example.org", "groups": ["Contributors"]},
    {
        "role": "moderator",
        "email": "moderator@example.org",
        "groups": ["Moderators"],
        "membership": "moderator",
    },
    {"role": "member", "email": "member@example.org", "membership": "member"},
    {"role": "applicant", "email": "applicant@example.org", "membership": None},
]

DEMO_CATEGORIES = [
    ("Technology", "technology", "technology", "Encryption, AI, platform design and safety tech."),
    ("Prevention", "prevention", "prevention", "Stopping abuse before it happens."),
    (
        "Victim and survivor support",
        "victim-and-survivor-support",
        "victim-and-survivor-support",
        "Supporting children and adults affected by abuse.",
    ),
    ("Introductions", "introductions", None, "New here? Say hello and tell us about your work."),
    ("Moderators' room", "moderators", None, "Only moderators see this category."),
]

DEMO_THREADS = [
    (
        "technology",
        "moderator",
        "How are you responding to end-to-end encrypted messaging?",
        "We are reviewing our guidance for parents after the latest platform changes. "
        "What has worked for your teams when explaining **E2EE** and its trade-offs?",
        [
            (
                "member",
                "We lean on the NSPCC briefing in the library and run short workshops. "
                "Happy to share our slides.",
            ),
        ],
    ),
    (
        "technology",
        "member",
        "Hash matching tools: what do you use?",
        "Looking for experiences with hash matching for known material, especially for small "
        "platforms with no trust and safety team.",
        [],
    ),
    (
        "introductions",
        "member",
        "Hello from a helpline practitioner",
        "I work on a children's helpline and joined to learn from your prevention work.",
        [("moderator", "Welcome! The _Prevention_ category is a good place to start.")],
    ),
]


def demo_password(role):
    return f"demo-{role}-portal"


@transaction.atomic
def create_accounts():
    """Create the demo accounts (or reset them to their demo state); returns their log-ins."""
    user_model = get_user_model()
    logins = []
    for account in DEMO_ACCOUNTS:
        role = account["role"]
        user, _ = user_model.objects.get_or_create(
            username=role, defaults={"email": account["email"]}
        )
        user.email = account["email"]
        user.is_staff = user.is_superuser = account.get("staff", False)
        user.display_name = f"Demo {role}"
        # A digest rather than an e-mail per reply keeps `make run`'s console readable.
        user.email_frequency = user.EmailFrequency.DAILY
        if not user.check_password(demo_password(role)):
            user.set_password(demo_password(role))
        user.save()
        user.groups.set(
            [Group.objects.get_or_create(name=name)[0] for name in account.get("groups", [])]
        )
        EmailAddress.objects.update_or_create(
            user=user, email=account["email"], defaults={"verified": True, "primary": True}
        )
        _set_membership(user, account)
        logins.append((role, account["email"], demo_password(role)))
    return logins


def _set_membership(user, account):
    if "membership" not in account:
        Membership.objects.filter(user=user).delete()
        return
    approved = account["membership"] is not None
    Membership.objects.update_or_create(
        user=user,
        defaults={
            "status": Membership.Status.APPROVED if approved else Membership.Status.PENDING,
            "role": account["membership"] or Membership.Role.MEMBER,
            "full_name": f"Demo {account['role']}",
            "organisation": "Demo organisation",
            "job_title": "Practitioner",
            "country": "United Kingdom",
            "reason": "To try the Protectors' Portal.",
            "agreed_to_code_at": timezone.now(),
            "suspended_at": None,
        },
    )


def load_discussions():
    """Categories tied to the demo themes and a few threads; returns what it created."""
    # The library's theme pages, named by string: portal never imports the library.
    theme_pages = Page.objects.filter(
        content_type__app_label="library", content_type__model="themepage"
    )
    created = []
    with transaction.atomic():
        for order, (name, slug, theme_slug, description) in enumerate(DEMO_CATEGORIES):
            theme_id = theme_pages.filter(slug=theme_slug).values_list("pk", flat=True).first()
            _, new = Category.objects.update_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "description": description,
                    "order": order,
                    "theme_id": theme_id,
                    "audience": Category.Audience.MODERATORS
                    if slug == "moderators"
                    else Category.Audience.MEMBERS,
                },
            )
            if new:
                created.append(f"category {name}")
    users = {user.username: user for user in get_user_model().objects.all()}
    for category_slug, author, title, source, replies in DEMO_THREADS:
        if Thread.objects.filter(title=title).exists():
            continue
        category = Category.objects.get(slug=category_slug)
        thread = forum.create_thread(users[author], category, title, source)
        for reply_author, text in replies:
            forum.create_post(users[reply_author], thread, text)
        created.append(f"thread {title!r}")
    return created
