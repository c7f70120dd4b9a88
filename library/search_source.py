"""The library in search: library items and theme pages as search sources (their index entries,
result cards, facet labels and publisher suggestions), and the content changes that re-index them.

Only live pages without view restrictions are searchable, and they are public.
"""

from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.html import strip_tags
from wagtail.models import Page, PageViewRestriction
from wagtail.signals import page_published, page_unpublished, post_page_move

import search
from library.models import (
    LANGUAGES,
    LibraryIndexPage,
    LibraryItemPage,
    Publisher,
    ResourceType,
    ThemePage,
)
from search import registry
from search.documents import MAX_ATTACHMENT_CHARS, document_text

AUTOCOMPLETE_PUBLISHERS = 3


# --- Theme pages ---------------------------------------------------------------------------------


def theme_entries(ids):
    """The theme's introduction and the initiatives its page lists are its body: people look
    for an initiative ("victim identification") by its own words."""
    pages = ThemePage.objects.live().public().filter(pk__in=ids).prefetch_related("initiatives")
    return {
        page.pk: {
            "visibility": registry.PUBLIC,
            "title": page.title,
            "summary": page.search_description,
            "body": "\n".join(
                [
                    strip_tags(page.introduction),
                    *(f"{i.title}. {i.description}" for i in page.initiatives.all()),
                ]
            ),
            "url": page.url or "",
        }
        for page in pages
    }


def theme_labels():
    # .order_by(): labels need no order, and the default one walks the page tree.
    return {"theme": dict(ThemePage.objects.order_by().values_list("slug", "title"))}


themes = registry.Source(
    kind="theme",
    model=ThemePage,
    entries=theme_entries,
    all_ids=lambda: ThemePage.objects.live().public().values_list("pk", flat=True),
    facet_labels=theme_labels,
)
theme_key = themes.key


# --- Library items -------------------------------------------------------------------------------


def item_entries(ids):
    """Index fields of the live, public items among ids, read in a fixed number of queries."""
    public_themes = set(ThemePage.objects.live().public().order_by().values_list("pk", flat=True))
    pages = (
        LibraryItemPage.objects.filter(pk__in=ids)
        .live()
        .public()
        .select_related("resource_type")
        .prefetch_related("publisher_links__publisher", "themes", "attachments__document")
    )
    return {page.pk: _item_fields(page, public_themes) for page in pages}


def _item_fields(page, public_themes):
    publishers = [link.publisher for link in page.publisher_links.all()]
    themes_shown = [theme for theme in page.themes.all() if theme.pk in public_themes]
    return {
        "visibility": registry.PUBLIC,
        "title": page.title,
        "summary": page.summary,
        "body": stream_text(page.body),
        "attachments": "\n".join(
            document_text(attachment.document) for attachment in page.attachments.all()
        )[:MAX_ATTACHMENT_CHARS],
        "publishers": " ".join(p.slug for p in publishers),
        "publisher_names": ", ".join(p.name for p in publishers),
        "type": page.resource_type.slug,
        "type_name": page.resource_type.name,
        "themes": " ".join(theme.slug for theme in sorted(themes_shown, key=lambda t: t.path)),
        "language": page.language,
        "date": page.publication_date,
        "year": page.publication_date.year,
        "url": page.url or "",
    }


def stream_text(stream):
    """The plain text of a StreamField's blocks."""
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


def item_labels():
    return {
        # .order_by(): labels need no order.
        "publisher": dict(Publisher.objects.order_by().values_list("slug", "name")),
        "type": dict(ResourceType.objects.order_by().values_list("slug", "name")),
        "language": dict(LANGUAGES),
    }


def matching_publishers(text):
    """Publishers whose name (or short name) starts with, then contains, the text."""
    found = Publisher.objects.filter(
        Q(name__icontains=text) | Q(short_name__istartswith=text)
    ).values_list("name", "slug", "short_name")[:50]
    lowered = text.lower()
    ranked = sorted(
        found,
        key=lambda p: (
            not (p[0].lower().startswith(lowered) or p[2].lower().startswith(lowered)),
            p[0].lower(),
        ),
    )
    return [
        {"label": name, "url": "", "kind": "publisher", "value": slug}
        for name, slug, _ in ranked[:AUTOCOMPLETE_PUBLISHERS]
    ]


items = registry.Source(
    kind="item",
    model=LibraryItemPage,
    entries=item_entries,
    all_ids=lambda: LibraryItemPage.objects.live().public().values_list("pk", flat=True),
    facet_labels=item_labels,
    suggestions=matching_publishers,
)
item_key = items.key

registry.register(themes)
registry.register(items)


def search_page_url():
    """The library index is the search page."""
    library = LibraryIndexPage.objects.live().first()
    return library.url if library else ""


registry.register_search_page(search_page_url)


# --- Changes that reach the index ----------------------------------------------------------------


def _keys_in_subtree(page):
    """Keys of the page and every item or theme below it (their URL or visibility changed)."""
    subtree = Page.objects.descendant_of(page, inclusive=True)
    return [
        *map(theme_key, subtree.type(ThemePage).values_list("pk", flat=True)),
        *map(item_key, subtree.type(LibraryItemPage).values_list("pk", flat=True)),
    ]


def _item_keys(**filters):
    return map(item_key, LibraryItemPage.objects.filter(**filters).values_list("pk", flat=True))


@receiver(page_published)
@receiver(page_unpublished)
def page_changed(sender, instance, **kwargs):
    if isinstance(instance, ThemePage):
        # its items carry its slug
        search.record_change(theme_key(instance.pk), *_item_keys(themes=instance))
    elif isinstance(instance, LibraryItemPage):
        search.record_change(item_key(instance.pk))


@receiver(post_delete, sender=LibraryItemPage)
@receiver(post_delete, sender=ThemePage)
def page_deleted(sender, instance, **kwargs):
    search.record_change(registry.source_of(instance).key(instance.pk))


@receiver(post_page_move)
def page_moved(sender, instance, **kwargs):
    search.record_change(*_keys_in_subtree(instance))


@receiver(post_save, sender=PageViewRestriction)
@receiver(post_delete, sender=PageViewRestriction)
def page_restriction_changed(sender, instance, **kwargs):
    search.record_change(*_keys_in_subtree(instance.page))


@receiver(post_save, sender=Publisher)
@receiver(post_delete, sender=Publisher)
@receiver(post_save, sender=ResourceType)
@receiver(post_delete, sender=ResourceType)
@receiver(post_save, sender=ThemePage)
@receiver(post_delete, sender=ThemePage)
def label_changed(sender, instance, **kwargs):
    """Publishers', types' and themes' names are the facets' labels."""
    registry.facet_labels_changed()


@receiver(post_save, sender=Publisher)
def publisher_changed(sender, instance, created, **kwargs):
    if not created:
        search.record_change(*_item_keys(publisher_links__publisher=instance))


@receiver(post_save, sender=ResourceType)
def resource_type_changed(sender, instance, created, **kwargs):
    if not created:
        search.record_change(*_item_keys(resource_type=instance))
