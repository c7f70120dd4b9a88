"""Who may see or do what: the single place that answers it.

Views, feeds, the API, search, document downloads and WebSocket consumers ask these functions
rather than testing groups, flags or membership fields themselves. The roles, from the outside in:
anonymous, applicant (signed in, not approved), member, moderator, editor (works in the Wagtail
admin), staff, and suspended (a member whose access is withdrawn).
"""

from django.contrib.contenttypes.models import ContentType
from wagtail.documents import get_document_model
from wagtail.models import Page, ReferenceIndex
from wagtail.permissions import policy_registry

# --- Library documents ---------------------------------------------------------------------------


def can_manage_documents(user):
    permissions = policy_registry.get_by_type(get_document_model())
    return permissions.user_has_any_permission(user, ["change", "choose"])


def document_is_published(document):
    """A document is public once a live page without view restrictions links to it."""
    page_type = ContentType.objects.get_for_model(Page)
    page_ids = (
        ReferenceIndex.get_references_to(document)
        .filter(base_content_type=page_type)
        .values_list("object_id", flat=True)
    )
    return Page.objects.live().public().filter(pk__in=[int(pk) for pk in page_ids]).exists()


def can_view_document(user, document):
    """Editors see every document; everyone else only documents that published pages use, so a
    file uploaded for a draft stays unreachable until the draft goes live."""
    return can_manage_documents(user) or document_is_published(document)


# --- Membership ----------------------------------------------------------------------------------


def membership_of(user):
    """The user's membership row, or None (anonymous users and those who never applied)."""
    if not user.is_authenticated:
        return None
    from portal.models import Membership

    try:
        return user.membership
    except Membership.DoesNotExist:
        return None


def is_staff(user):
    return user.is_authenticated and user.is_active and (user.is_staff or user.is_superuser)


def is_suspended(user):
    membership = membership_of(user)
    return bool(membership and membership.suspended_at)


def is_member(user):
    """An approved member in good standing (staff count as members)."""
    if not user.is_authenticated or not user.is_active or is_suspended(user):
        return False
    if is_staff(user):
        return True
    membership = membership_of(user)
    return bool(membership and membership.status == membership.Status.APPROVED)


def is_moderator(user):
    if is_staff(user) and not is_suspended(user):
        return True
    membership = membership_of(user)
    return is_member(user) and membership.role == membership.Role.MODERATOR


def role_of(user):
    """The one role that best describes the user, for the authorisation matrix and the admin."""
    if not user.is_authenticated:
        return "anonymous"
    if is_suspended(user):
        return "suspended"
    if is_staff(user):
        return "staff"
    if is_moderator(user):
        return "moderator"
    if is_member(user):
        return "member"
    if user.groups.filter(name="Editors").exists():
        return "editor"
    return "applicant"


def can_apply(user):
    """Signed-in people who are not (yet) members may send or resend an application."""
    return user.is_authenticated and not is_member(user) and not is_suspended(user)


def can_review_applications(user):
    return is_moderator(user)


def can_suspend(user, member):
    """Moderators suspend members; only staff suspend moderators; nobody suspends staff or
    themselves."""
    if not is_moderator(user) or member.pk == user.pk or is_staff(member):
        return False
    return is_staff(user) or not is_moderator(member)


def can_edit_profile(user):
    """Suspended members keep their data (export, deletion) but cannot rename themselves."""
    return user.is_authenticated and not is_suspended(user)


def can_set_role(user, member):
    return is_staff(user) and member.pk != user.pk


def can_view_audit_log(user):
    return is_staff(user)


def search_visibilities(user):
    """Which index entries a user's searches may return: members also see forum content, and
    moderators that of moderators-only categories too."""
    if not is_member(user):
        return ["public"]
    return ["public", "members", "moderators"] if is_moderator(user) else ["public", "members"]


def thread_search_visibility(thread):
    """The visibility of a thread's index entry: who search_visibilities lets find it is who
    can_view_thread lets read it."""
    moderators_only = thread.category.audience == thread.category.Audience.MODERATORS
    return "moderators" if moderators_only else "members"


# --- Forum ---------------------------------------------------------------------------------------


def visible_categories(user):
    from portal.models import Category

    if not is_member(user):
        return Category.objects.none()
    if is_moderator(user):
        return Category.objects.all()
    return Category.objects.filter(audience=Category.Audience.MEMBERS)


def can_view_category(user, category):
    if not is_member(user):
        return False
    return category.audience == category.Audience.MEMBERS or is_moderator(user)


def can_view_thread(user, thread):
    return can_view_category(user, thread.category)


def can_post_in(user, thread):
    return can_view_thread(user, thread) and (not thread.locked or is_moderator(user))


def can_start_thread(user, category):
    return can_view_category(user, category)


def can_view_post(user, post):
    """Hidden posts show as a notice to members; pending ones only to their author."""
    if not can_view_thread(user, post.thread):
        return False
    if post.state == post.State.PENDING:
        return post.author_id == user.pk or is_moderator(user)
    return True


def can_read_post_content(user, post):
    if post.state in (post.State.HIDDEN, post.State.DELETED):
        return is_moderator(user)
    return can_view_post(user, post)


def can_edit_post(user, post):
    return (
        post.author_id == user.pk
        and post.state in (post.State.VISIBLE, post.State.PENDING)
        and can_post_in(user, post.thread)
    )


def can_delete_post(user, post):
    return can_edit_post(user, post)


def can_report_post(user, post):
    return (
        can_view_thread(user, post.thread)
        and post.author_id != user.pk
        and post.state == post.State.VISIBLE
    )


def can_moderate_thread(user, thread):
    return is_moderator(user) and can_view_thread(user, thread)


def can_see_edit_history(user, post):
    return can_moderate_thread(user, post.thread)


def can_mention(user, member):
    """Only members can be mentioned, so a mention never reaches someone outside the portal."""
    return is_member(member)
