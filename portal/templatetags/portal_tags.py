from django import template

from portal import policy, queries

register = template.Library()


@register.inclusion_tag("portal/includes/portal_nav.html", takes_context=True)
def portal_nav(context, current=""):
    user = context["request"].user
    return {
        "current": current,
        "is_moderator": policy.is_moderator(user),
        "is_staff": policy.can_view_audit_log(user),
        "unread": queries.unread_notification_count(user),
    }


@register.simple_tag(takes_context=True)
def can(context, rule, *args):
    """{% can "edit_post" post as allowed %}: ask portal.policy from a template."""
    return getattr(policy, f"can_{rule}")(context["request"].user, *args)


@register.filter
def author_name(user):
    return user.public_name if user else "Former member"
