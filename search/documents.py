"""What gets indexed: flattening library items, theme pages and forum threads into index entries.

`entry_fields(key)` returns the fields of an IndexEntry for the object the key names, or None when
it must not be searchable (unpublished, restricted, deleted, merged away). Engines are fed from
IndexEntry rows, so an object is flattened once per change, whatever engines run.
"""

import hashlib
import io
import logging

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from portal.sanitize import plain_text
from search.models import DocumentText

logger = logging.getLogger(__name__)
MAX_ATTACHMENT_CHARS = 200_000
# A thread's text is cut here: PostgreSQL refuses a tsvector over 1 MB, and every engine's
# highlighter reads the whole field of each hit, so a thread of thousands of posts would make
# its every appearance in the results slow. Its first 100,000 characters say what it is about.
MAX_THREAD_CHARS = 100_000
THREAD_SUMMARY_CHARS = 300


def item_key(page_id):
    return f"item:{page_id}"


def theme_key(page_id):
    return f"theme:{page_id}"


def thread_key(thread_id):
    return f"thread:{thread_id}"


def key_for(page):
    from library.models import LibraryItemPage, ThemePage

    if isinstance(page, LibraryItemPage):
        return item_key(page.pk)
    if isinstance(page, ThemePage):
        return theme_key(page.pk)
    return None


def entry_fields(key, theme_ids=None):
    """theme_ids: the public themes' ids, when the caller already has them (batches of keys)."""
    from library.models import LibraryItemPage, ThemePage
    from portal.models import Thread

    kind, _, raw_id = key.partition(":")
    if kind == "theme":
        page = ThemePage.objects.live().public().filter(pk=int(raw_id)).first()
        return page and theme_fields(page)
    if kind == "thread":
        found = threads_for_indexing(Thread.objects.filter(pk=int(raw_id)))
        fields = thread_fields
    else:
        found = items_for_indexing(LibraryItemPage.objects.filter(pk=int(raw_id)))
        fields = item_fields
    if not found:
        return None
    return fields(found[0], public_theme_ids() if theme_ids is None else theme_ids)


def all_entries(batch=500):
    """Lists of (key, fields) for every searchable object, a batch at a time: rebuilds read
    everything through here, so they never leave a kind out."""
    from library.models import LibraryItemPage, ThemePage
    from portal.models import Thread

    theme_ids = public_theme_ids()
    yield [
        (theme_key(page.pk), theme_fields(page))
        for page in ThemePage.objects.filter(pk__in=theme_ids)
    ]
    item_ids = list(LibraryItemPage.objects.live().public().values_list("pk", flat=True))
    for start in range(0, len(item_ids), batch):
        pages = items_for_indexing(
            LibraryItemPage.objects.filter(pk__in=item_ids[start : start + batch])
        )
        yield [(item_key(page.pk), item_fields(page, theme_ids)) for page in pages]
    thread_ids = list(Thread.objects.values_list("pk", flat=True))
    for start in range(0, len(thread_ids), batch):
        threads = threads_for_indexing(
            Thread.objects.filter(pk__in=thread_ids[start : start + batch])
        )
        yield [(thread_key(thread.pk), thread_fields(thread, theme_ids)) for thread in threads]


def theme_fields(page):
    return {
        "kind": "theme",
        "object_id": page.pk,
        "title": page.title,
        "summary": page.search_description,
        "body": strip_tags(page.introduction),
        "url": page.url or "",
    }


def public_theme_ids():
    from library.models import ThemePage

    return set(ThemePage.objects.live().public().order_by().values_list("pk", flat=True))


def items_for_indexing(queryset):
    """Live, public items with everything item_fields reads, in a fixed number of queries."""
    return list(
        queryset.live()
        .public()
        .select_related("resource_type")
        .prefetch_related("publisher_links__publisher", "themes", "attachments__document")
    )


def item_fields(page, theme_ids):
    """Index fields of an item prepared by items_for_indexing; theme_ids are the public themes."""
    publishers = [link.publisher for link in page.publisher_links.all()]
    themes = sorted((t for t in page.themes.all() if t.pk in theme_ids), key=lambda t: t.path)
    return {
        "kind": "item",
        "object_id": page.pk,
        "title": page.title,
        "summary": page.summary,
        "body": _stream_text(page.body),
        "attachments": "\n".join(
            document_text(attachment.document) for attachment in page.attachments.all()
        )[:MAX_ATTACHMENT_CHARS],
        "publishers": " ".join(p.slug for p in publishers),
        "publisher_names": ", ".join(p.name for p in publishers),
        "type": page.resource_type.slug,
        "type_name": page.resource_type.name,
        "themes": " ".join(theme.slug for theme in themes),
        "language": page.language,
        "date": page.publication_date,
        "year": page.publication_date.year,
        "url": page.url or "",
    }


def threads_for_indexing(queryset):
    """Threads still open (not merged into another), with their category and visible posts, in
    a fixed number of queries."""
    from portal.models import Post

    visible = (
        Post.objects.filter(state=Post.State.VISIBLE).order_by("number").only("thread", "html")
    )
    return list(
        queryset.filter(merged_into__isnull=True)
        .select_related("category__theme")
        .prefetch_related(Prefetch("posts", queryset=visible, to_attr="visible_posts"))
    )


def thread_fields(thread, theme_ids):
    """Index fields of a thread prepared by threads_for_indexing: only its visible posts' text,
    seen by members, or by moderators alone where its category is theirs."""
    category = thread.category
    texts, length = [], 0
    for post in thread.visible_posts:
        if length >= MAX_THREAD_CHARS:
            break
        texts.append(plain_text(post.html))
        length += len(texts[-1]) + 1
    theme = category.theme
    moderators_only = category.audience == category.Audience.MODERATORS
    last_activity = timezone.localdate(thread.last_activity)
    return {
        "kind": "thread",
        "object_id": thread.pk,
        "visibility": "moderators" if moderators_only else "members",
        "title": thread.title,
        "summary": _shorten(texts[0], THREAD_SUMMARY_CHARS) if texts else "",
        "body": "\n".join(texts)[:MAX_THREAD_CHARS],
        "themes": theme.slug if theme and theme.pk in theme_ids else "",
        "date": last_activity,
        "year": last_activity.year,
        "url": reverse("portal:thread", args=[thread.pk]),
    }


def _shorten(text, limit):
    """The text, or its first words up to `limit` characters followed by an ellipsis."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def _stream_text(stream):
    parts = []
    for block in stream:
        value = block.value
        if hasattr(value, "source"):  # RichText
            parts.append(strip_tags(value.source))
        elif isinstance(value, dict) or hasattr(value, "items"):
            for inner in value.values():
                text = getattr(inner, "source", inner)
                if isinstance(text, str):
                    parts.append(strip_tags(text))
        elif isinstance(value, str):
            parts.append(value)
    return "\n".join(part for part in parts if part)


def document_text(document):
    """The text of a PDF document, extracted once per file content and stored."""
    if document.file_extension.lower() != "pdf":
        return ""
    try:
        document.file.open("rb")
        content = document.file.read()
    except OSError:
        logger.warning("document %s: file missing, not indexed", document.pk)
        return ""
    finally:
        document.file.close()
    digest = hashlib.sha1(content, usedforsecurity=False).hexdigest()
    stored = DocumentText.objects.filter(document=document).first()
    if stored and stored.file_hash == digest:
        return stored.text
    try:
        reader = PdfReader(io.BytesIO(content))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except (PdfReadError, ValueError, KeyError) as error:
        logger.warning("document %s: text extraction failed (%s)", document.pk, error)
        text = ""
    DocumentText.objects.update_or_create(
        document=document, defaults={"file_hash": digest, "text": text[:MAX_ATTACHMENT_CHARS]}
    )
    return text
