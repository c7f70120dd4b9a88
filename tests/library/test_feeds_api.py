"""RSS and Atom feeds, and the read-only JSON API: the right items, and only public ones.

Expected items come from the demo's data file (library/demo/content.json), not from the queries
the code under test runs, so a wrong filter cannot agree with itself.
"""

import datetime
import xml.etree.ElementTree as ET

import pytest
from wagtail.models import Page

from library import demo
from library.models import LibraryItemPage, Publisher, ResourceType, ThemePage
from tests.library.helpers import (
    ATOM,
    atom_titles,
    make_item,
    make_publisher,
    make_theme,
    rss_titles,
    theme,
)

pytestmark = pytest.mark.django_db

CONTENT = demo.read_content()
FEED_KINDS = {"rss": rss_titles, "atom": atom_titles}


def expected_titles(**where):
    """Titles of the demo items matching `where`, newest first (ties: later-created first)."""
    items = [
        (item["date"], position, item["title"])
        for position, item in enumerate(CONTENT["items"])
        if all(
            value in item[key] if isinstance(item[key], list) else item[key] == value
            for key, value in where.items()
        )
    ]
    return [title for _, _, title in sorted(items, reverse=True)]


FEEDS = {
    # path under /library/ (before the kind): the demo items it must list
    "": expected_titles(),
    "themes/technology/": expected_titles(themes="technology"),
    "themes/prevention/": expected_titles(themes="prevention"),
    "themes/victim-and-survivor-support/": expected_titles(themes="victim-and-survivor-support"),
    "publishers/nspcc/": expected_titles(publishers="NSPCC"),
    "publishers/lucy-faithfull-foundation/": expected_titles(
        publishers="Lucy Faithfull Foundation"
    ),
    "types/report/": expected_titles(type="Report"),
    "types/briefing/": expected_titles(type="Briefing"),
    "types/guide/": expected_titles(type="Guide"),
}


@pytest.fixture
def unpublished_everywhere(demo_site):
    """A draft on every facet the feeds filter by: it must never appear."""
    return make_item(
        "Unpublished draft on every facet",
        publishers=[
            Publisher.objects.get(name="NSPCC"),
            Publisher.objects.get(slug="lucy-faithfull-foundation"),
        ],
        resource_type=ResourceType.objects.get(slug="report"),
        themes=list(ThemePage.objects.all()),
        date=datetime.date(2030, 1, 1),
        publish=False,
    )


# --- Feeds ---------------------------------------------------------------------------------------


def test_every_feed_lists_exactly_its_items_newest_first(unpublished_everywhere, client):
    assert len(FEEDS[""]) == len(CONTENT["items"]) == 18
    assert len(FEEDS["publishers/nspcc/"]) == 2
    for path, expected in FEEDS.items():
        assert expected, path
        for kind, titles_of in FEED_KINDS.items():
            url = f"/library/{path}feed/{kind}/"
            response = client.get(url)
            assert response.status_code == 200, url
            assert titles_of(response) == expected, url


def test_feed_content_types_and_entries(demo_site, client):
    rss = client.get("/library/publishers/nspcc/feed/rss/")
    assert rss["Content-Type"].startswith("application/rss+xml")
    channel = ET.fromstring(rss.content).find("channel")
    assert channel.findtext("title") == "Protectors' Portal library: NSPCC"
    assert channel.findtext("link") == "http://testserver/library/"
    first = channel.find("item")
    item = LibraryItemPage.objects.get(title=first.findtext("title"))
    assert first.findtext("link") == f"http://testserver{item.get_url()}"
    assert first.findtext("description") == item.summary
    assert first.findtext("category") == item.resource_type.name
    assert first.findtext("pubDate").startswith(item.publication_date.strftime("%a, %d %b %Y"))

    atom = client.get("/library/types/report/feed/atom/")
    assert atom["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(atom.content)
    assert root.findtext(f"{ATOM}title") == "Protectors' Portal library: Reports"
    entry = root.find(f"{ATOM}entry")
    item = LibraryItemPage.objects.get(title=entry.findtext(f"{ATOM}title"))
    assert entry.find(f"{ATOM}author").findtext(f"{ATOM}name") == ", ".join(item.publisher_names)
    assert entry.findtext(f"{ATOM}published").startswith(item.publication_date.isoformat())


def test_feed_is_capped_at_thirty_newest(demo_site, client):
    for number in range(15):
        make_item(f"Recent item {number:02d}", date=datetime.date(2026, 1, 1 + number))
    titles = rss_titles(client.get("/library/feed/rss/"))
    assert len(titles) == 30
    assert titles[:15] == [f"Recent item {n:02d}" for n in reversed(range(15))]
    assert titles[15:] == FEEDS[""][:15]


def test_feed_with_tracking_parameters_lists_the_same_items(unpublished_everywhere, client):
    """Feed readers and newsletters add ?utm_… to links; the feed must not change."""
    for path in ("", "themes/technology/", "publishers/nspcc/"):
        plain = rss_titles(client.get(f"/library/{path}feed/rss/"))
        tagged = rss_titles(client.get(f"/library/{path}feed/rss/?utm_source=newsletter"))
        assert tagged == plain, path


UNKNOWN_FEEDS = [
    "/library/feed/json/",
    "/library/feed/RSS/",
    "/library/feed/rss2/",
    "/library/themes/no-such-theme/feed/rss/",
    "/library/themes/no-such-theme/feed/atom/",
    "/library/publishers/no-such-publisher/feed/rss/",
    "/library/types/no-such-type/feed/atom/",
    "/library/authors/nspcc/feed/rss/",
    "/library/themes/technology/feed/json/",
    "/library/pages/home/feed/rss/",
]


def test_unknown_feeds_are_404(demo_site, client):
    for url in UNKNOWN_FEEDS:
        assert client.get(url).status_code == 404, url


def test_feed_of_an_unpublished_or_private_theme_is_404(demo_site, client):
    draft_theme = make_theme("Draft theme")
    assert client.get("/library/themes/draft-theme/feed/rss/").status_code == 200
    draft_theme.unpublish()
    assert client.get("/library/themes/draft-theme/feed/rss/").status_code == 404


def test_publisher_feed_without_items_is_empty_not_an_error(demo_site, client):
    make_publisher("Quiet Publisher")
    response = client.get("/library/publishers/quiet-publisher/feed/atom/")
    assert response.status_code == 200
    assert atom_titles(response) == []


# --- API -----------------------------------------------------------------------------------------

PUBLIC_FIELDS = {
    "id",
    "meta",
    "title",
    "summary",
    "publication_date",
    "language",
    "external_url",
    "resource_type",
    "publishers",
    "themes",
    "sections",
}
PUBLIC_META = {
    "type",
    "detail_url",
    "html_url",
    "slug",
    "show_in_menus",
    "seo_title",
    "search_description",
    "first_published_at",
    "alias_of",
    "parent",
    "locale",
}
NEVER = ("owner", "revision", "draft", "live", "locked", "expire", "go_live", "body", "password")


def assert_only_public(item):
    assert set(item) <= PUBLIC_FIELDS, set(item) - PUBLIC_FIELDS
    assert set(item["meta"]) <= PUBLIC_META, set(item["meta"]) - PUBLIC_META
    keys = " ".join([*item, *item["meta"]]).lower()
    for word in NEVER:
        assert word not in keys, word


def all_api_items(client, params=""):
    items, offset = [], 0
    while True:
        response = client.get(f"/api/v2/items/?limit=20&offset={offset}{params}")
        assert response.status_code == 200, response.content
        body = response.json()
        items.extend(body["items"])
        offset += 20
        if offset >= body["meta"]["total_count"]:
            return items


def test_api_lists_every_live_item_and_nothing_else(unpublished_everywhere, client):
    items = all_api_items(client)
    assert sorted(i["title"] for i in items) == sorted(FEEDS[""])
    assert unpublished_everywhere.pk not in {i["id"] for i in items}
    for item in items:
        assert_only_public(item)
        assert item["meta"]["type"] == "library.LibraryItemPage"
        assert set(item) == {"id", "meta", "title", "summary", "resource_type"}


def test_api_detail_has_exactly_the_public_fields(demo_site, client):
    item = LibraryItemPage.objects.get(
        title="Disrupting Harm: evidence on online child sexual exploitation and abuse"
    )
    body = client.get(f"/api/v2/items/{item.pk}/").json()
    assert set(body) == PUBLIC_FIELDS
    assert_only_public(body)
    assert body["summary"] == item.summary
    assert body["publication_date"] == "2022-04-05"
    assert body["language"] == "en"
    assert body["resource_type"] == "Report"
    assert body["publishers"] == ["ECPAT International", "INTERPOL", "UNICEF"]
    assert body["themes"] == ["Prevention", "Victim and survivor support"]
    assert body["meta"]["html_url"] == item.get_full_url()


def test_api_fields_star_shows_only_public_fields(demo_site, client):
    for item in all_api_items(client, "&fields=*"):
        assert_only_public(item)
        assert set(item) == PUBLIC_FIELDS


def test_api_refuses_private_fields(demo_site, client):
    item = LibraryItemPage.objects.first()
    for field in [
        "owner",
        "body",
        "latest_revision",
        "draft_title",
        "live",
        "locked_by",
        "content_type",
        "password",
    ]:
        assert client.get(f"/api/v2/items/?fields={field}").status_code == 400, field
        assert client.get(f"/api/v2/items/{item.pk}/?fields={field}").status_code == 400, field


API_QUERIES = [
    "type=wagtailcore.Page",
    "type=library.ThemePage",
    "type=library.HomePage,library.ThemePage",
    "type=library.LibraryIndexPage",
    "child_of=root",
    "descendant_of=1",
    "search=Technology",
    "search=draft",
    "locale=en",
    "order=-id",
    "order=title",
    "show_in_menus=false",
    "site=testserver",
]


def test_api_parameters_cannot_reach_other_pages_or_drafts(unpublished_everywhere, client):
    live_items = set(LibraryItemPage.objects.live().values_list("pk", flat=True))
    for query in API_QUERIES:
        response = client.get(f"/api/v2/items/?limit=20&{query}")
        if response.status_code in (400, 404):
            continue  # refused outright is fine too
        assert response.status_code == 200, query
        items = response.json()["items"]
        assert {i["id"] for i in items} <= live_items, query
        assert all(i["meta"]["type"] == "library.LibraryItemPage" for i in items), query


def test_api_refuses_filters_on_private_fields(demo_site, client):
    for query in [
        "live=false",
        "owner=1",
        "has_unpublished_changes=true",
        "order=owner",
        "limit=1000",
    ]:
        assert client.get(f"/api/v2/items/?{query}").status_code == 400, query


def test_api_detail_is_404_for_drafts_and_other_pages(unpublished_everywhere, client):
    for page in (
        unpublished_everywhere,
        theme("technology"),
        Page.objects.get(slug="library"),
        Page.objects.get(slug="home"),
        Page.get_first_root_node(),
    ):
        assert client.get(f"/api/v2/items/{page.pk}/").status_code == 404, page
    assert client.get("/api/v2/items/999999/").status_code == 404


def test_api_find_by_path_only_finds_live_items(unpublished_everywhere, client):
    live = LibraryItemPage.objects.live().first()
    found = client.get("/api/v2/items/find/", {"html_path": live.get_url()})
    assert found.status_code == 302
    assert f"/api/v2/items/{live.pk}/" in found["Location"]
    for path in (unpublished_everywhere.get_url(), "/themes/technology/", "/", "/library/"):
        assert client.get("/api/v2/items/find/", {"html_path": path}).status_code == 404, path


def test_api_is_read_only(demo_site, client, superuser):
    item = LibraryItemPage.objects.live().first()
    client.force_login(superuser)
    for method in (client.post, client.put, client.patch, client.delete):
        response = method(f"/api/v2/items/{item.pk}/", data={}, content_type="application/json")
        assert response.status_code == 405
    assert client.post("/api/v2/items/", data={}).status_code == 405
    item.refresh_from_db()
    assert item.live


def test_api_drafts_stay_hidden_from_logged_in_editors_too(unpublished_everywhere, client, editor):
    client.force_login(editor)
    assert client.get(f"/api/v2/items/{unpublished_everywhere.pk}/").status_code == 404
    assert unpublished_everywhere.pk not in {i["id"] for i in all_api_items(client)}
