"""Who may see or do what: the single place that answers it.

Views, feeds, the API, search, document downloads and WebSocket consumers ask these functions
rather than testing groups, flags or membership fields themselves. The roles, from the outside in:
anonymous, applicant (signed in, not approved), member, moderator, editor (works in the Wagtail
admin), staff, and suspended (a member whose access is withdrawn).

A rule that decides what someone sees has two forms side by side: yes or no for one object
(`can_view_thread(user, thread)`) and a queryset for lists (`visible_threads(user)`), built from
the same parts, so pages that list and pages that show one thing never disagree
(tests/portal/test_policy.py checks every pair role by role).
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from wagtail.documents import get_document_model
from wagtail.models import Page, ReferenceIndex
from wagtail.permissions import policy_registry

from portal.models import Category, Membership, Post, Thread, User

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


def members():
    """Everyone is_member says yes to: the users a mention reaches and autocomplete offers."""
    return User.objects.filter(
        Q(is_staff=True) | Q(is_superuser=True) | Q(membership__status=Membership.Status.APPROVED),
        Q(membership__isnull=True) | Q(membership__suspended_at__isnull=True),
        is_active=True,
    )


def moderators():
    """Everyone is_moderator says yes to: who hears of a hash-list match."""
    return members().filter(
        Q(is_staff=True) | Q(is_superuser=True) | Q(membership__role=Membership.Role.MODERATOR)
    )


def is_moderator(user):
    if is_staff(user) and not is_suspended(user):
        return True
    membership = membership_of(user)
    return is_member(user) and membership.role == membership.Role.MODERATOR


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
    """Which index entries a user's searches may return: public ones, and the forum's for the
    category audiences the user belongs to (thread_visibility)."""
    return ["public", *category_audiences(user)]


def thread_search_visibility(thread):
    """The visibility of a thread's index entry: who search_visibilities lets find it is who
    can_view_thread lets read it."""
    moderators_only = thread.category.audience == thread.category.Audience.MODERATORS
    return "moderators" if moderators_only else "members"


# --- Forum ---------------------------------------------------------------------------------------


def category_audiences(user):
    """The category audiences whose categories, threads and posts the user sees: members see the
    members' categories, moderators those of moderators too."""
    if not is_member(user):
        return []
    if is_moderator(user):
        return [Category.Audience.MEMBERS, Category.Audience.MODERATORS]
    return [Category.Audience.MEMBERS]


def visible_categories(user):
    return Category.objects.filter(audience__in=category_audiences(user))


def can_view_category(user, category):
    return category.audience in category_audiences(user)


def visible_threads(user):
    """Threads merged into another stay visible: their address leads to the thread they joined."""
    return Thread.objects.filter(category__audience__in=category_audiences(user))


def can_view_thread(user, thread):
    return can_view_category(user, thread.category)


def thread_visibility(thread):
    """The visibility of a thread's search entry: its category's audience, so a search finds the
    thread for exactly those who can view it (search_visibilities)."""
    return thread.category.audience


def can_post_in(user, thread):
    return can_view_thread(user, thread) and (not thread.locked or is_moderator(user))


def can_start_thread(user, category):
    return can_view_category(user, category)


def post_audience(post):
    """Who, of those who view a post's thread, sees the post: None for all of them, or the ids of
    the only ones besides the moderators. A post held for approval is seen by its author and the
    moderators alone. Plain data, so a live event can carry it to the sockets (portal.events)."""
    return [post.author_id] if post.state == post.State.PENDING else None


def in_post_audience(audience, user_id, moderator):
    """Whether a viewer of a thread is in the audience of one of its posts; `moderator`: whether
    the viewer moderates the thread."""
    return audience is None or moderator or user_id in audience


def can_view_post(user, post):
    """Hidden posts show as a notice to members; pending ones only to their author."""
    return can_view_thread(user, post.thread) and in_post_audience(
        post_audience(post), user.pk, is_moderator(user)
    )


def visible_posts(user):
    """The queryset form of can_view_post."""
    posts = Post.objects.filter(thread__category__audience__in=category_audiences(user))
    if is_moderator(user):
        return posts
    return posts.filter(~Q(state=Post.State.PENDING) | Q(author_id=user.pk))


def can_read_post_content(user, post):
    if post.state in (post.State.HIDDEN, post.State.DELETED):
        return is_moderator(user)
    return can_view_post(user, post)


def can_view_attachment(user, attachment):
    """A file is served to whoever may read its post, once the safety pipeline has passed it."""
    return attachment.state == attachment.State.READY and can_read_post_content(
        user, attachment.post
    )


def can_set_content_warning(user, post):
    """The author of a post, or a moderator of its thread, marks it or its files sensitive."""
    return can_edit_post(user, post) or can_moderate_thread(user, post.thread)


def can_remove_attachment(user, attachment):
    return attachment.state != attachment.State.REMOVED and can_moderate_thread(
        user, attachment.post.thread
    )


def can_view_quarantine(user):
    """Staff see what the hash list held back: its records, never its files."""
    return is_staff(user)


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
