"""What gets indexed: flattening library items and theme pages into index entries.

`entry_fields(key)` returns the fields of an IndexEntry for the object the key names, or None when
it must not be searchable (unpublished, restricted, deleted). Engines are fed from IndexEntry rows,
so an object is flattened once per change, whatever engines run.
"""

import hashlib
import io
import logging

from django.utils.html import strip_tags
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from search.models import DocumentText

logger = logging.getLogger(__name__)
MAX_ATTACHMENT_CHARS = 200_000


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

    kind, _, raw_id = key.partition(":")
    if kind == "thread":
        return None
    if kind == "theme":
        page = ThemePage.objects.live().public().filter(pk=int(raw_id)).first()
        return page and theme_fields(page)
    pages = items_for_indexing(LibraryItemPage.objects.filter(pk=int(raw_id)))
    if not pages:
        return None
    return item_fields(pages[0], public_theme_ids() if theme_ids is None else theme_ids)


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
