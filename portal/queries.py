"""What the portal's pages and sockets read, filtered through portal.policy."""

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from portal import policy
from portal.models import Follow, Membership, Notification, Post, ReadState, Report, User

POSTS_PER_PAGE = 20


def categories_with_counts(user):
    return policy.visible_categories(user).annotate(
        thread_count=Count("threads", filter=Q(threads__merged_into__isnull=True))
    )


def thread_list(user, category=None):
    """Threads the user may see, pinned first, then by last activity, each with the number of the
    last post the user read, so templates can mark unread threads."""
    threads = policy.visible_threads(user).filter(merged_into__isnull=True)
    if category is not None:
        threads = threads.filter(category=category)
    last_read = ReadState.objects.filter(user=user, thread=OuterRef("pk")).values(
        "last_read_number"
    )[:1]
    threads = threads.annotate(
        last_read=Coalesce(Subquery(last_read), Value(0), output_field=IntegerField())
    )
    ordering = ["-pinned", "-last_activity"] if category is not None else ["-last_activity"]
    return threads.select_related("category", "author").order_by(*ordering, "-pk")


def latest_threads_for_theme(user, theme, limit=5):
    """The theme page's portal panel: only those who may view a thread ever get its title."""
    return list(
        policy.visible_threads(user)
        .filter(category__theme=theme, merged_into__isnull=True)
        .select_related("category")
        .order_by("-last_activity")[:limit]
    )


def is_following(user, *, thread=None, category=None):
    return Follow.objects.filter(user=user, thread=thread, category=category).exists()


def visible_posts(user, thread):
    posts = policy.visible_posts(user).filter(thread=thread)
    return (
        posts.select_related("author", "thread")
        .prefetch_related("attachments", "quarantined_files")
        .annotate(revision_count=Count("revisions"))
    )


def thread_page(user, thread, page_number=None):
    """One page of posts; without a page number, the page with the first unread post."""
    posts = visible_posts(user, thread).order_by("number")
    paginator = Paginator(posts, POSTS_PER_PAGE)
    if page_number is None:
        state = ReadState.objects.filter(user=user, thread=thread).first()
        if state is not None:
            read = posts.filter(number__lte=state.last_read_number).count()
            page_number = min(read // POSTS_PER_PAGE + 1, paginator.num_pages)
    page = paginator.get_page(page_number)
    page.object_list = list(page.object_list)
    return page


def post_url(user, post):
    before = visible_posts(user, post.thread).filter(number__lt=post.number).count()
    page = before // POSTS_PER_PAGE + 1
    return f"{reverse('portal:thread', args=[post.thread_id])}?page={page}#post-{post.number}"


def quotable_post(user, thread, post_id):
    if not post_id:
        return None
    post = visible_posts(user, thread).filter(pk=post_id, state=Post.State.VISIBLE).first()
    return post if post and policy.can_read_post_content(user, post) else None


def quote_source(post):
    author = post.author.username if post.author else "former member"
    quoted = "\n".join(f"> {line}" for line in post.source.splitlines())
    return f"> @{author} wrote (#{post.number}):\n{quoted}\n\n"


def live_state(user, thread, page):
    """What the thread page embeds for its live connection: the last change it reflects and
    whether it shows the newest posts (only then are new posts appended in place)."""
    return {
        "thread": thread.pk,
        "after": thread.last_change,
        "on_last_page": not page.has_next(),
        "moderator": policy.can_moderate_thread(user, thread),
        "user": user.pk,
        "socket": f"/ws/threads/{thread.pk}/",
        "max_post_length": settings.PORTAL_MAX_POST_LENGTH,  # checked before a reply is sent
    }


REPLAY_BATCH = 200


def changes_after(user, thread, change):
    """Posts changed after the given change number, in change order: what a reconnecting or
    gap-seeing client missed."""
    return list(
        visible_posts(user, thread).filter(change__gt=change).order_by("change")[:REPLAY_BATCH]
    )


def mention_candidates(prefix, limit=8):
    prefix = prefix.strip().lstrip("@")
    if len(prefix) < 1:
        return []
    members = (
        policy.members()
        .filter(Q(username__istartswith=prefix) | Q(display_name__istartswith=prefix))
        .order_by("username")[:limit]
    )
    return [{"handle": m.username, "name": m.public_name} for m in members]


def notifications_for(user):
    return Notification.objects.filter(user=user).select_related("post__thread", "actor")


def unread_notification_count(user):
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def moderation_queue(user):
    threads = policy.visible_threads(user)
    return {
        "applications": Membership.objects.filter(status=Membership.Status.PENDING)
        .select_related("user")
        .order_by("applied_at"),
        "reports": Report.objects.filter(
            resolved_at__isnull=True, post__thread__in=threads
        ).select_related("post__thread", "post__author", "reporter"),
        "held_posts": policy.visible_posts(user)
        .filter(state=Post.State.PENDING)
        .select_related("thread", "author"),
    }


def member_directory(query):
    members = User.objects.filter(membership__isnull=False).select_related("membership")
    if query:
        members = members.filter(
            Q(email__icontains=query)
            | Q(username__icontains=query)
            | Q(membership__full_name__icontains=query)
            | Q(membership__organisation__icontains=query)
        )
    return members.order_by("membership__full_name")
