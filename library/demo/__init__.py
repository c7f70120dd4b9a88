"""Demo content: the site as the seed Technology theme page describes it (introduction,
discussion panel, key items, initiatives and the items on that work, in the seed's order), plus
two more themes.

The content lives in content.json beside this module, so a fresh checkout needs nothing else to
show a realistic site. `load()` is idempotent: it creates what is missing and publishes a page only
when something about it differs, so a second run changes nothing.
"""

import datetime
import json
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.html import escape
from django.utils.text import slugify
from wagtail.documents import get_document_model
from wagtail.models import Page, Site

from library.demo.pdf import text_pdf
from library.models import (
    HomePage,
    LibraryIndexPage,
    LibraryItemDocument,
    LibraryItemPage,
    LibraryItemPublisher,
    Publisher,
    ResourceType,
    ThemeFurtherItem,
    ThemeIndexPage,
    ThemeInitiative,
    ThemeKeyItem,
    ThemePage,
)

CONTENT_FILE = Path(__file__).with_name("content.json")


def read_content():
    return json.loads(CONTENT_FILE.read_text(encoding="utf-8"))


def paragraphs_html(paragraphs):
    return "".join(f"<p>{escape(text)}</p>" for text in paragraphs)


@transaction.atomic
def load():
    """Create or update the demo site; returns a list of what changed (empty when nothing did)."""
    content = read_content()
    changes = []
    home = _home_page(content, changes)
    _site(content["site"], home, changes)
    publishers = {
        name: _upsert(Publisher, {"name": name}, {"slug": slugify(name)}, changes)
        for name in content["publishers"]
    }
    types = {
        kind["name"]: _upsert(
            ResourceType,
            {"name": kind["name"]},
            {
                "plural": kind["plural"],
                "slug": slugify(kind["name"]),
                "description": kind.get("description", ""),
                "sort_order": position,
            },
            changes,
        )
        for position, kind in enumerate(content["resource_types"])
    }
    theme_index = _child_page(
        home, ThemeIndexPage, "themes", {"title": content["site"]["themes_title"]}, {}, changes
    )
    library_index = _child_page(
        home,
        LibraryIndexPage,
        "library",
        {
            "title": content["site"]["library_title"],
            "introduction": f"<p>{escape(content['site']['library_introduction'])}</p>",
        },
        {},
        changes,
    )
    themes = {
        theme["slug"]: _child_page(
            theme_index,
            ThemePage,
            theme["slug"],
            {
                "title": theme["title"],
                "introduction": paragraphs_html(theme["introduction"]),
                "search_description": theme.get("description", ""),
                "key_items_heading": theme.get("key_items_heading", ""),
                "initiatives_heading": theme.get("initiatives_heading", ""),
            },
            {"initiatives": [(ThemeInitiative, i) for i in theme["initiatives"]]},
            changes,
        )
        for theme in content["themes"]
    }
    items = {}
    for item in content["items"]:
        items[item["title"]] = _child_page(
            library_index,
            LibraryItemPage,
            slugify(item["title"])[:80],
            {
                "title": item["title"],
                "summary": item["summary"],
                "resource_type_id": types[item["type"]].pk,
                "publication_date": datetime.date.fromisoformat(item["date"]),
                "language": item["language"],
            },
            {
                "publisher_links": [
                    (LibraryItemPublisher, {"publisher_id": publishers[name].pk})
                    for name in item["publishers"]
                ],
                "attachments": _attachments(item["title"], content["documents"], changes),
            },
            changes,
            themes=[themes[slug] for slug in item["themes"]],
        )
    for theme in content["themes"]:
        _child_relations_publish(
            themes[theme["slug"]],
            {
                "key_item_links": [
                    (ThemeKeyItem, {"item_id": items[title].pk}) for title in theme["key_items"]
                ],
                "further_item_links": [
                    (ThemeFurtherItem, {"item_id": items[title].pk})
                    for title in theme["further_items"]
                ],
            },
            changes,
        )
    return changes


def describe():
    """What the demo site holds, in a few words for `setup_demo`'s summary."""
    counts = [
        (ThemePage.objects.live().count(), "themes"),
        (LibraryItemPage.objects.live().count(), "library items"),
        (Publisher.objects.count(), "publishers"),
        (ResourceType.objects.count(), "resource types"),
    ]
    return ", ".join(f"{count} {noun}" for count, noun in counts)


def _upsert(model, lookup, fields, changes):
    instance, created = model.objects.get_or_create(**lookup, defaults=fields)
    differing = {name: value for name, value in fields.items() if getattr(instance, name) != value}
    if differing:
        for name, value in differing.items():
            setattr(instance, name, value)
        instance.save()
    if created or differing:
        changes.append(
            f"{'created' if created else 'updated'} {model._meta.verbose_name} {instance}"
        )
    return instance


def _attachments(title, documents, changes):
    if title not in documents:
        return []
    document_model = get_document_model()
    document = document_model.objects.filter(title=f"{title} (PDF)").first()
    if document is None:
        document = document_model(title=f"{title} (PDF)")
        document.file.save(
            f"{slugify(title)[:60]}.pdf", ContentFile(text_pdf(title, documents[title])), save=False
        )
        document.save()
        changes.append(f"created document {document.title!r}")
    return [(LibraryItemDocument, {"document_id": document.pk, "label": "Download the report"})]


def _relation_rows(page, relations):
    """The current and wanted rows of each child relation, as comparable lists of dicts."""
    current, wanted = {}, {}
    for name, rows in relations.items():
        keys = sorted({key for _, values in rows for key in values} | {"sort_order"})
        current[name] = [
            {key: getattr(child, key) for key in keys} for child in getattr(page, name).all()
        ]
        wanted[name] = [{**values, "sort_order": n} for n, (_, values) in enumerate(rows)]
    return current, wanted


def _apply_relations(page, relations):
    # Every relation here is Orderable: without a sort_order the order is the database's whim
    # (PostgreSQL does not keep insertion order), e.g. the Technology theme's key items.
    for name, rows in relations.items():
        getattr(page, name).set(
            [model(**values, sort_order=n) for n, (model, values) in enumerate(rows)]
        )


def _child_page(parent, model, slug, fields, relations, changes, themes=None):
    page = model.objects.child_of(parent).filter(slug=slug).first()
    created = page is None
    if created:
        page = model(slug=slug, **fields)
        _apply_relations(page, relations)
        if themes is not None:
            page.themes.set(themes)
        parent.add_child(instance=page)
        page.save_revision().publish()
        changes.append(f"created {model._meta.verbose_name} {page.title!r}")
        return page
    differing = {name: value for name, value in fields.items() if getattr(page, name) != value}
    current, wanted = _relation_rows(page, relations)
    themes_differ = themes is not None and {t.pk for t in page.themes.all()} != {
        t.pk for t in themes
    }
    if differing or current != wanted or themes_differ or not page.live:
        for name, value in differing.items():
            setattr(page, name, value)
        _apply_relations(page, relations)
        if themes is not None:
            page.themes.set(themes)
        page.save_revision().publish()
        changes.append(f"updated {model._meta.verbose_name} {page.title!r}")
    return page


def _child_relations_publish(page, relations, changes):
    current, wanted = _relation_rows(page, relations)
    if current != wanted:
        _apply_relations(page, relations)
        page.save_revision().publish()
        changes.append(f"updated {page._meta.verbose_name} {page.title!r}")


def _home_page(content, changes):
    fields = {
        "title": content["site"]["title"],
        "introduction": paragraphs_html(content["site"]["introduction"]),
    }
    # Wagtail's first migration leaves a placeholder "Welcome" page (slug "home"); the demo site
    # replaces it.
    for placeholder in Page.objects.filter(depth=2, content_type__model="page"):
        changes.append(f"removed placeholder page {placeholder.title!r}")
        placeholder.delete()
    return _child_page(Page.get_first_root_node(), HomePage, "home", fields, {}, changes)


def site_address():
    """The host name and port of SITE_URL, which the Wagtail site takes so that the sitemap, feeds,
    API, canonical links and structured data name the address the site is served at."""
    address = urlsplit(settings.SITE_URL)
    return address.hostname, address.port or (443 if address.scheme == "https" else 80)


def _site(site_content, home, changes):
    site = Site.objects.filter(is_default_site=True).first()
    hostname, port = site_address()
    wanted = {
        "hostname": hostname,
        "port": port,
        "site_name": site_content["title"],
        "root_page_id": home.pk,
    }
    if site is None:
        Site.objects.create(is_default_site=True, **wanted)
        changes.append("created the default site")
        return
    differing = {name: value for name, value in wanted.items() if getattr(site, name) != value}
    if differing:
        for name, value in differing.items():
            setattr(site, name, value)
        site.save()
        changes.append("updated the default site")
