from urllib.parse import urlsplit

from django import template
from django.urls import reverse

from portal import policy, queries

register = template.Library()

# The site's menu for signed-in people: (section, first path segments that belong to it), the
# longest paths first so /portal/account/ is the account's, not the discussions'.
SECTIONS = (
    ("application", ("/portal/apply/",)),
    ("notifications", ("/portal/notifications/",)),
    ("moderation", ("/portal/moderation/",)),
    ("account", ("/portal/account/", "/accounts/")),
    ("saved-searches", ("/portal/searches/",)),
    ("discussions", ("/portal/",)),
)


@register.inclusion_tag("portal/includes/signed_in_menu.html", takes_context=True)
def signed_in_menu(context):
    """The site menu's links for a signed-in person, by what the policy lets them do: members
    get the discussions and their notifications, moderators the moderation queue, and people
    who may apply their application instead of discussions they cannot open."""
    request = context["request"]
    user = request.user
    member = policy.is_member(user)
    current, paths = next(
        ((name, paths) for name, paths in SECTIONS if request.path.startswith(paths)), ("", ())
    )
    return {
        "current": current,
        # "page" on the section's own page, "true" on the pages within it
        "aria_current": "page" if request.path in paths else "true",
        "member": member,
        "moderator": policy.is_moderator(user),
        "may_apply": policy.can_apply(user),
        "membership": policy.membership_of(user),
        "unread": queries.unread_notification_count(user) if member else 0,
    }


@register.simple_tag
def sign_in_reason(next_url):
    """Why the sign-in page was asked for, from where it leads: to the application, or into the
    members' discussions."""
    path = urlsplit(next_url or "").path
    if path == reverse("portal:apply"):
        return "Sign in to apply to join the discussions."
    if path.startswith(reverse("portal:home")):
        return (
            "The discussions are for approved members. Sign in to continue; if you are new, "
            "create an account and apply to join."
        )
    return ""


@register.simple_tag(takes_context=True)
def can(context, rule, *args):
    """{% can "edit_post" post as allowed %}: ask portal.policy from a template."""
    return getattr(policy, f"can_{rule}")(context["request"].user, *args)


@register.filter
def author_name(user):
    return user.public_name if user else "Former member"
