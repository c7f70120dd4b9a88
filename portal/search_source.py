"""Forum threads in search: their index entries (found by members, or by moderators alone where
the category is theirs), their result cards, who may find what, and the changes that re-index
them.

A thread carries its category's theme while the theme page is public. That page is the
library's: portal names its model only by string and reads it as a wagtail Page.
"""

from django.db.models import Prefetch
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Page, PageViewRestriction
from wagtail.signals import page_published, page_unpublished, post_page_move

import search
from portal import policy
from portal.models import Attachment, Category, Post, Thread
from portal.sanitize import plain_text
from search import registry

THEME_PAGE_MODEL = "library.ThemePage"  # Category.theme's model
# A thread's text is cut here: PostgreSQL refuses a tsvector over 1 MB, and every engine's
# highlighter reads the whole field of each hit, so a thread of thousands of posts would make
# its every appearance in the results slow. Its first 100,000 characters say what it is about.
MAX_THREAD_CHARS = 100_000
THREAD_SUMMARY_CHARS = 300


def thread_entries(ids):
    """Index fields of the threads among ids still open (not merged into another): only their
    visible posts' text, read in a fixed number of queries."""
    files = Attachment.objects.filter(state=Attachment.State.READY).only(
        "post", "original_name", "extracted_text"
    )
    visible = (
        Post.objects.filter(state=Post.State.VISIBLE)
        .order_by("number")
        .only("thread", "html")
        .prefetch_related(Prefetch("attachments", queryset=files))
    )
    found = list(
        Thread.objects.filter(pk__in=ids, merged_into__isnull=True)
        .select_related("category__theme")
        .prefetch_related(Prefetch("posts", queryset=visible, to_attr="visible_posts"))
    )
    theme_ids = {thread.category.theme_id for thread in found} - {None}
    public_themes = set(
        Page.objects.live().public().filter(pk__in=theme_ids).values_list("pk", flat=True)
    )
    return {thread.pk: _thread_fields(thread, public_themes) for thread in found}


def _thread_fields(thread, public_themes):
    texts, length = [], 0
    for post in thread.visible_posts:
        if length >= MAX_THREAD_CHARS:
            break
        for text in _post_texts(post):
            texts.append(text)
            length += len(text) + 1
    theme = thread.category.theme
    last_activity = timezone.localdate(thread.last_activity)
    return {
        "visibility": policy.thread_search_visibility(thread),
        "title": thread.title,
        "summary": _shorten(texts[0], THREAD_SUMMARY_CHARS) if texts else "",
        "body": "\n".join(texts)[:MAX_THREAD_CHARS],
        "themes": theme.slug if theme and theme.pk in public_themes else "",
        "date": last_activity,
        "year": last_activity.year,
        "url": reverse("portal:thread", args=[thread.pk]),
    }


def _post_texts(post):
    """A post's words, then its files' names and text: whoever may find the thread may read
    them."""
    files = [f"{file.original_name}\n{file.extracted_text}" for file in post.attachments.all()]
    return [plain_text(post.html), *files]


def _shorten(text, limit):
    """The text, or its first words up to `limit` characters followed by an ellipsis."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


threads = registry.Source(
    kind="thread",
    model=Thread,
    entries=thread_entries,
    all_ids=lambda: Thread.objects.filter(merged_into__isnull=True).values_list("pk", flat=True),
    # A discussion's card shows its category, last activity and replies.
    cards=lambda ids: Thread.objects.select_related("category").in_bulk(ids),
)
thread_key = threads.key

registry.register(threads)
registry.register_audience(policy.search_visibilities)


# --- Changes that reach the index ----------------------------------------------------------------


def _thread_keys(**filters):
    return map(thread_key, Thread.objects.filter(**filters).values_list("pk", flat=True))


def _pages_in_subtree(page):
    return Page.objects.descendant_of(page, inclusive=True).values("pk")


@receiver(page_published)
@receiver(page_unpublished)
def theme_changed(sender, instance, **kwargs):
    if instance._meta.label == THEME_PAGE_MODEL:
        search.record_change(*_thread_keys(category__theme=instance.pk))


@receiver(post_page_move)
def pages_moved(sender, instance, **kwargs):
    """A theme moved under a restricted page is no longer public."""
    search.record_change(*_thread_keys(category__theme__in=_pages_in_subtree(instance)))


@receiver(post_save, sender=PageViewRestriction)
@receiver(post_delete, sender=PageViewRestriction)
def page_restriction_changed(sender, instance, **kwargs):
    search.record_change(*_thread_keys(category__theme__in=_pages_in_subtree(instance.page)))


@receiver(post_save, sender=Category)
def category_changed(sender, instance, created, **kwargs):
    """Its audience decides who finds its threads, and its theme is theirs."""
    if not created:
        search.record_change(*_thread_keys(category=instance))


@receiver(post_delete, sender=Thread)
def thread_deleted(sender, instance, **kwargs):
    search.record_change(thread_key(instance.pk))
