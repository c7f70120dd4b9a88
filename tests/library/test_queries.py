"""Public pages make the same number of SQL queries however big the library is.

Each page is requested with 5 items in a small library and again after it has grown to 50; the
query counts must match. A count that grows with the number of items is an N+1: a card, a feed
entry or an API row that fetches its own publisher, type or theme.
"""

import datetime
import os
import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from wagtail.models import Page, Site

from library.models import (
    HomePage,
    LibraryIndexPage,
    Publisher,
    ResourceType,
    ThemeIndexPage,
    ThemeKeyItem,
)
from tests.library.helpers import (
    atom_titles,
    card_titles,
    make_document,
    make_item,
    make_theme,
    rss_titles,
)

pytestmark = pytest.mark.django_db

SMALL, LARGE = 5, 50


@pytest.fixture
def small_site(db):
    """A home page, the two indexes, two themes and three publishers; no items yet."""
    root = Page.get_first_root_node()
    for placeholder in root.get_children():
        placeholder.delete()
    home = HomePage(title="Home", slug="home")
    root.add_child(instance=home)
    home.save_revision().publish()
    Site.objects.update_or_create(
        is_default_site=True, defaults={"hostname": "localhost", "root_page": home}
    )
    for child in (
        ThemeIndexPage(title="Themes", slug="themes"),
        LibraryIndexPage(title="Library", slug="library"),
    ):
        home.add_child(instance=child)
        child.save_revision().publish()
    ResourceType.objects.create(name="Report", plural="Reports", slug="report")
    ResourceType.objects.create(name="Briefing", plural="Briefings", slug="briefing")
    for name in ("Alpha Trust", "Beta Network", "Gamma Institute"):
        Publisher.objects.create(name=name, slug=name.lower().replace(" ", "-"))
    make_theme("Technology")
    make_theme("Prevention")
    make_theme("Curated")
    return home


def grow_library(to):
    """Add items until the library holds `to`, spread over publishers, themes and dates, each
    with two publishers, two themes and an attachment."""
    technology = Page.objects.get(slug="technology").specific
    prevention = Page.objects.get(slug="prevention").specific
    publishers = list(Publisher.objects.order_by("name"))
    types = list(ResourceType.objects.order_by("name"))
    start = LibraryIndexPage.objects.get().get_children().count()
    for number in range(start, to):
        make_item(
            f"Library item {number:03d}",
            publishers=[publishers[0], publishers[1 + number % 2]],
            resource_type=types[number % 2],
            themes=[technology, prevention],
            date=datetime.date(2020, 1, 1) + datetime.timedelta(days=number),
            attachments=[make_document(f"Attachment {number:03d}")],
        )


def count_queries(client, url):
    """Queries for one anonymous request, after a warm-up request fills per-process caches."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response, [q["sql"] for q in queries.captured_queries]


def growth(small_sql, large_sql):
    """The query shapes that ran more often with more items, for the failure message."""
    shapes = lambda sql: Counter(re.sub(r"\b\d+\b", "N", q)[:160] for q in sql)  # noqa: E731
    before, after = shapes(small_sql), shapes(large_sql)
    return "\n".join(
        f"  {before[shape]} → {after[shape]}: {shape}"
        for shape in after
        if after[shape] != before[shape]
    )


def report(name, small, large):
    """Print the measurement; QUERY_REPORT=path appends it to a file as well."""
    line = f"{name}: {small} queries with {SMALL} items, {large} with {LARGE}"
    print(line)
    if os.environ.get("QUERY_REPORT"):
        with open(os.environ["QUERY_REPORT"], "a", encoding="utf-8") as out:
            out.write(line + "\n")


PAGES = {
    # name: (url, how many entries the page should show for n items)
    "library index": ("/library/", lambda n: min(n, 20)),
    "publisher listing": ("/library/publishers/beta-network/", None),
    "type listing": ("/library/types/report/", None),
    "theme page (newest items)": ("/themes/technology/", lambda n: min(n, 8)),
    "theme page (chosen key items)": ("/themes/curated/", None),
    "home page": ("/", lambda n: min(n, 6)),
    "publisher list": ("/library/publishers/", None),
    "rss feed": ("/library/feed/rss/", lambda n: min(n, 30)),
    "publisher atom feed": ("/library/publishers/alpha-trust/feed/atom/", lambda n: min(n, 30)),
    "theme rss feed": ("/library/themes/prevention/feed/rss/", lambda n: min(n, 30)),
    "api listing": ("/api/v2/items/?fields=*", lambda n: min(n, 20)),
}


def shown(name, response):
    """How many of the grown items a page shows (search results may also list themes)."""
    if "feed" in name:
        titles = atom_titles(response) if "atom" in name else rss_titles(response)
    elif name == "api listing":
        titles = [item["title"] for item in response.json()["items"]]
    else:
        titles = card_titles(response)
    return len([title for title in titles if title.startswith("Library item")])


def test_listing_pages_do_not_grow_with_the_library(small_site, client):
    curated = Page.objects.get(slug="curated").specific
    grow_library(SMALL)
    # The curated theme shows editors' choices: every item, chosen in reverse order.
    for order, item in enumerate(reversed(list(LibraryIndexPage.objects.get().get_children()))):
        ThemeKeyItem.objects.create(theme=curated, item=item.specific, sort_order=order)

    small = {}
    for name, (url, expected) in PAGES.items():
        count, response, sql = count_queries(client, url)
        if expected:
            assert shown(name, response) == expected(SMALL), name
        small[name] = count, sql

    grow_library(LARGE)
    for item in LibraryIndexPage.objects.get().get_children()[SMALL:]:
        ThemeKeyItem.objects.create(theme=curated, item=item.specific, sort_order=100)

    failures = []
    for name, (url, expected) in PAGES.items():
        count, response, sql = count_queries(client, url)
        if expected:
            assert shown(name, response) == expected(LARGE), name
        small_count, small_sql = small[name]
        report(name, small_count, count)
        if count != small_count:
            failures.append(f"{name}: {small_count} → {count} queries\n{growth(small_sql, sql)}")
    assert not failures, "\n\n".join(failures)


def test_item_page_does_not_grow_with_the_library(small_site, client):
    grow_library(SMALL)
    item = LibraryIndexPage.objects.get().get_children().first().specific
    url = item.get_url()
    small, response, small_sql = count_queries(client, url)
    assert "Related items" in response.content.decode()

    grow_library(LARGE)
    large, response, sql = count_queries(client, url)
    report("item page", small, large)
    assert large == small, growth(small_sql, sql)


def test_api_detail_does_not_grow_with_the_library(small_site, client):
    grow_library(SMALL)
    item = LibraryIndexPage.objects.get().get_children().first()
    url = f"/api/v2/items/{item.pk}/"
    small, _, small_sql = count_queries(client, url)
    grow_library(LARGE)
    large, response, sql = count_queries(client, url)
    report("api detail", small, large)
    assert response.json()["id"] == item.pk
    assert large == small, growth(small_sql, sql)
