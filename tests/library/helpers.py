"""Builders and readers shared by the library tests (the fixtures live in conftest.py)."""

import datetime
import html
import itertools
import re
import xml.etree.ElementTree as ET

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils.text import slugify
from wagtail.documents import get_document_model
from wagtail.test.utils.form_data import querydict_from_html

from library.demo.pdf import text_pdf
from library.models import (
    LibraryIndexPage,
    LibraryItemDocument,
    LibraryItemPage,
    LibraryItemPublisher,
    Publisher,
    ResourceType,
    ThemeIndexPage,
    ThemePage,
)

ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def make_user(username, groups=(), **extra):
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.org", password="unused-in-tests", **extra
    )
    # The groups portal/demo.py gives the demo accounts (library/migrations/0003_editorial_roles).
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in groups])
    return user


def theme(slug):
    return ThemePage.objects.get(slug=slug)


_numbers = itertools.count(1)


def make_document(title="Evidence pack", filename=None, content=None):
    document = get_document_model()(title=title)
    filename = filename or f"{slugify(title)}.pdf"
    document.file.save(
        filename, ContentFile(content or text_pdf(title, f"The text of {title}.")), save=False
    )
    document.save()
    return document


def make_item(
    title=None,
    *,
    parent=None,
    publishers=None,
    resource_type=None,
    themes=None,
    date=datetime.date(2025, 1, 1),
    language="en",
    summary=None,
    attachments=(),
    external_url="",
    body=(),
    publish=True,
):
    """A library item under the library index, published unless publish=False."""
    number = next(_numbers)
    title = title or f"Test item {number}"
    parent = parent or LibraryIndexPage.objects.get()
    publishers = publishers or [Publisher.objects.order_by("pk").first()]
    resource_type = resource_type or ResourceType.objects.get(slug="report")
    page = LibraryItemPage(
        title=title,
        slug=f"{slugify(title)[:60] or 'item'}-{number}",
        summary=summary or f"Summary of {title}.",
        resource_type=resource_type,
        publication_date=date,
        language=language,
        external_url=external_url,
        body=list(body),
        live=False,
    )
    page.publisher_links = [LibraryItemPublisher(publisher=p) for p in publishers]
    page.attachments = [
        LibraryItemDocument(document=d, label=f"Download {d.title}") for d in attachments
    ]
    page.themes.set(themes if themes is not None else [theme("technology")])
    parent.add_child(instance=page)
    revision = page.save_revision()
    if publish:
        revision.publish()
    page.refresh_from_db()
    return page


def make_publisher(name):
    return Publisher.objects.create(name=name, slug=slugify(name))


def make_resource_type(name, plural=None):
    return ResourceType.objects.create(name=name, plural=plural or f"{name}s", slug=slugify(name))


def make_theme(title, parent=None):
    parent = parent or ThemeIndexPage.objects.get()
    page = ThemePage(title=title, slug=slugify(title), introduction=f"<p>About {title}.</p>")
    parent.add_child(instance=page)
    page.save_revision().publish()
    page.refresh_from_db()
    return page


# --- The admin's forms ------------------------------------------------------------------------


def new_item_form(client, parent, **fields):
    """The admin's create form for a library item, as the browser would send it."""
    url = reverse("wagtailadmin_pages:add", args=("library", "libraryitempage", parent.pk))
    response = client.get(url)
    assert response.status_code == 200
    data = querydict_from_html(text(response), form_id="page-edit-form")
    for key in [key for key in data if "__prefix__" in key]:
        del data[key]
    data["body-count"] = "0"  # the StreamField's inputs are drawn by JavaScript
    for name, value in fields.items():
        if isinstance(value, list):
            data.setlist(name, value)
        else:
            data[name] = value
    # The test client would send only the last value of a QueryDict key; send them all.
    return url, {key: data.getlist(key) for key in data}


# --- Reading responses -------------------------------------------------------------------------


def text(response):
    return response.content.decode()


def card_titles(response):
    """Titles of the item cards on a listing, theme or home page, in order."""
    return [
        unescape(t)
        for t in re.findall(
            r'<h3 class="card__title"><a href="[^"]*">(.*?)</a></h3>', text(response), flags=re.S
        )
    ]


def unescape(value):
    return html.unescape(value)


def rss_titles(response):
    root = ET.fromstring(response.content)
    return [item.findtext("title") for item in root.iter("item")]


def atom_titles(response):
    root = ET.fromstring(response.content)
    return [entry.findtext(f"{ATOM}title") for entry in root.iter(f"{ATOM}entry")]


def sitemap_locations(response):
    root = ET.fromstring(response.content)
    return [loc.text for loc in root.iter(f"{SITEMAP}loc")]


def all_pages_of(client, url):
    """Follow a paginated listing to its end; returns every card title in order."""
    titles, page = [], 1
    while True:
        response = client.get(url, {"page": page})
        assert response.status_code == 200
        titles.extend(card_titles(response))
        if 'rel="next"' not in text(response):
            return titles
        page += 1
