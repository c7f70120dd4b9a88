"""The public library pages: what they list, how they paginate, and what an item page shows."""

import datetime
import html
import json
import re
import subprocess

import pytest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from wagtail.models import Page, PageViewRestriction, Site

from library import demo
from library.models import (
    HomePage,
    LibraryIndexPage,
    LibraryItemPage,
    Publisher,
    ResourceType,
    ThemeIndexPage,
    ThemeKeyItem,
    ThemePage,
)
from tests.conftest import ROOT
from tests.library.helpers import (
    all_pages_of,
    card_titles,
    key_item_titles,
    make_item,
    make_publisher,
    make_resource_type,
    make_theme,
    text,
    theme,
)

pytestmark = pytest.mark.django_db

CONTENT = demo.read_content()
XSS_TITLE = 'Grooming </script><script>alert(1)</script> & "quotes"'


def demo_titles(**where):
    return {
        item["title"]
        for item in CONTENT["items"]
        if all(
            value in item[key] if isinstance(item[key], list) else item[key] == value
            for key, value in where.items()
        )
    }


# --- Publisher and type listings -----------------------------------------------------------------


def test_publisher_page_lists_only_its_items(demo_site, client):
    draft = make_item(
        "NSPCC draft", publishers=[Publisher.objects.get(name="NSPCC")], publish=False
    )
    for name in ("NSPCC", "Canadian Centre for Child Protection", "ECPAT International"):
        publisher = Publisher.objects.get(name=name)
        titles = all_pages_of(client, f"/library/publishers/{publisher.slug}/")
        assert set(titles) == demo_titles(publishers=name), name
        assert len(titles) == len(set(titles)), name
        assert draft.title not in titles


def test_type_page_lists_only_its_items(demo_site, client):
    for kind in CONTENT["resource_types"]:
        resource_type = ResourceType.objects.get(name=kind["name"])
        response = client.get(f"/library/types/{resource_type.slug}/")
        assert response.status_code == 200
        assert f"<h1>{kind['plural']}</h1>" in text(response)
        titles = all_pages_of(client, f"/library/types/{resource_type.slug}/")
        assert set(titles) == demo_titles(type=kind["name"]), kind["name"]


def test_listings_are_newest_first(demo_site, client):
    titles = all_pages_of(client, "/library/types/report/")
    dates = [LibraryItemPage.objects.get(title=t).publication_date for t in titles]
    assert dates == sorted(dates, reverse=True)


def test_unknown_publisher_or_type_is_404(demo_site, client):
    assert client.get("/library/publishers/no-such-publisher/").status_code == 404
    assert client.get("/library/types/no-such-type/").status_code == 404
    assert client.get("/library/types/").status_code == 404


def test_publisher_page_shows_description_website_and_feed_links(demo_site, client):
    publisher = make_publisher("Example Trust")
    publisher.description = "An example trust."
    publisher.website = "https://example.org/"
    publisher.save()
    make_item("Example Trust report", publishers=[publisher])
    page = text(client.get("/library/publishers/example-trust/"))
    assert "An example trust." in page
    assert 'href="https://example.org/"' in page
    assert 'href="/library/publishers/example-trust/feed/rss/"' in page
    assert 'href="/library/publishers/example-trust/feed/atom/"' in page


def test_publisher_list_counts_only_public_items(demo_site, client):
    only_draft = make_publisher("Only Drafts Ltd")
    make_item("Draft by Only Drafts", publishers=[only_draft], publish=False)
    only_private = make_publisher("Only Private Ltd")
    private = make_item("Private by Only Private", publishers=[only_private])
    PageViewRestriction.objects.create(page=private, restriction_type=PageViewRestriction.LOGIN)
    page = text(client.get("/library/publishers/"))
    assert '>NSPCC</a> <span class="muted">(2 items)</span>' in page
    assert "Only Drafts Ltd" not in page
    assert "Only Private Ltd" not in page


# --- Pagination ----------------------------------------------------------------------------------


@pytest.fixture
def many_items(demo_site):
    publisher = make_publisher("Prolific Publisher")
    kind = make_resource_type("Dataset")
    for number in range(25):
        make_item(
            f"Dataset {number:02d}",
            publishers=[publisher],
            resource_type=kind,
            date=datetime.date(2024, 1, 1) + datetime.timedelta(days=number),
        )
    return publisher


def test_pagination_pages_through_every_item(many_items, client):
    for url in ("/library/publishers/prolific-publisher/", "/library/types/dataset/"):
        first = client.get(url)
        assert card_titles(first) == [f"Dataset {n:02d}" for n in range(24, 4, -1)]
        assert "Page 1 of 2" in text(first)
        assert "1–20 of 25" in text(first)
        second = client.get(url, {"page": 2})
        assert card_titles(second) == [f"Dataset {n:02d}" for n in range(4, -1, -1)]
        assert "Page 2 of 2" in text(second)


def test_out_of_range_or_garbage_page_numbers_give_a_sensible_page(many_items, client):
    url = "/library/publishers/prolific-publisher/"
    first_page = card_titles(client.get(url))
    last_page = card_titles(client.get(url, {"page": 2}))
    cases = {
        "999": last_page,
        "99999999999999999999999": last_page,
        "-1": last_page,
        "0": last_page,
        "abc": first_page,
        "1.5": first_page,
        "": first_page,
        "２": last_page,  # a full-width digit is still a number to int()
        "1; DROP TABLE library_publisher": first_page,
    }
    for value, expected in cases.items():
        response = client.get(url, {"page": value})
        assert response.status_code == 200, value
        assert card_titles(response) == expected, value


def test_library_front_page_survives_odd_page_numbers(demo_site, client):
    for value in ("999", "abc", "-1", "0", "99999999999999999999999"):
        response = client.get("/library/", {"page": value})
        assert response.status_code == 200, value
        assert card_titles(response), value


# --- The item page -------------------------------------------------------------------------------


def test_item_page_shows_its_catalogue_details(demo_site, client):
    item = LibraryItemPage.objects.get(title="Internet Watch Foundation Annual Report 2020")
    document = item.attachments.get().document
    page = text(client.get(item.get_url()))

    assert "<h1>Internet Watch Foundation Annual Report 2020</h1>" in page
    assert (
        '<a href="/library/publishers/internet-watch-foundation/">Internet Watch Foundation</a>'
        in page
    )
    assert '<a href="/library/types/report/">Report</a>' in page
    assert '<time datetime="2021-04-21">21 April 2021</time>' in page
    assert "<dd>English</dd>" in page
    assert '<a href="/themes/technology/">Technology</a>' in page
    size = filesizeformat(document.get_file_size())
    assert re.search(
        rf'<a href="{re.escape(document.url)}" download>Download the report</a>\s*'
        rf'<span class="muted">\(PDF, {re.escape(size)}\)</span>',
        page,
    )
    assert client.get(document.url).status_code == 200


def test_item_page_with_several_publishers_and_themes(demo_site, client):
    item = LibraryItemPage.objects.get(title__startswith="Disrupting Harm")
    page = text(client.get(item.get_url()))
    assert "<dt>Publishers</dt>" in page
    for name, slug in (
        ("ECPAT International", "ecpat-international"),
        ("INTERPOL", "interpol"),
        ("UNICEF", "unicef"),
    ):
        assert f'<a href="/library/publishers/{slug}/">{name}</a>' in page
    assert "<dt>Themes</dt>" in page
    assert '<a href="/themes/prevention/">Prevention</a>' in page
    assert '<a href="/themes/victim-and-survivor-support/">Victim and survivor support</a>' in page


def test_item_page_in_another_language_with_an_external_link(demo_site, client):
    item = make_item(
        "Rapport annuel",
        language="fr",
        external_url="https://example.org/rapport.pdf",
        themes=[theme("prevention")],
    )
    page = text(client.get(item.get_url()))
    assert "<dd>French</dd>" in page
    assert '<a href="https://example.org/rapport.pdf" rel="noopener">' in page
    data = json_ld(page)
    assert data["inLanguage"] == "fr"


def test_item_page_hides_unpublished_themes(demo_site, client):
    hidden = make_theme("Hidden theme")
    item = make_item("On a hidden theme", themes=[theme("prevention"), hidden])
    hidden.unpublish()
    page = text(client.get(item.get_url()))
    assert "Hidden theme" not in page
    assert "<dt>Theme</dt>" in page


def og(page, name):
    match = re.search(rf'<meta property="og:{name}" content="([^"]*)">', page)
    assert match, name
    return html.unescape(match.group(1))


def json_ld(page):
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, flags=re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def test_item_page_has_open_graph_and_structured_data(demo_site, client):
    item = LibraryItemPage.objects.get(title__startswith="Outcomes briefing")
    page = text(client.get(item.get_url()))
    assert og(page, "type") == "article"
    assert og(page, "title") == item.title
    assert og(page, "description") == item.summary
    assert og(page, "url") == item.get_full_url()
    assert f'<link rel="canonical" href="{item.get_full_url()}">' in page
    data = json_ld(page)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "CreativeWork"
    assert data["name"] == item.title
    assert data["description"] == item.summary
    assert data["datePublished"] == "2021-06-15"
    assert data["genre"] == "Briefing"
    assert [p["name"] for p in data["publisher"]] == [
        "ECPAT International",
        "WeProtect Global Alliance",
    ]


def test_hostile_title_cannot_break_out_of_script_or_attributes(demo_site, client):
    item = make_item(
        XSS_TITLE,
        summary='Summary with </script><img src=x onerror=alert(2)> and "quotes"',
        themes=[theme("prevention")],
    )
    response = client.get(item.get_url())
    page = text(response)

    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    # Every script element is one we wrote: the JSON-LD, plus any static ones with a src.
    for script in re.findall(r"<script[^>]*>", page):
        assert script == '<script type="application/ld+json">' or " src=" in script, script
    data = json_ld(page)
    assert data["name"] == XSS_TITLE
    assert data["description"].startswith("Summary with </script>")
    raw = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, flags=re.S)
    assert "<" not in raw.group(1) and ">" not in raw.group(1)
    assert og(page, "title") == XSS_TITLE
    assert og(page, "description").startswith("Summary with </script>")
    # Cards elsewhere escape it too.
    for url in ("/themes/prevention/", "/library/publishers/", item.get_parent().url):
        assert "<script>alert(1)" not in text(client.get(url)), url


# --- Themes --------------------------------------------------------------------------------------


def test_technology_shows_the_editors_key_items_in_their_order(demo_site, client):
    technology = CONTENT["themes"][0]
    response = client.get("/themes/technology/")
    assert key_item_titles(response) == technology["key_items"]


def test_demo_orders_every_child_relation(demo_site):
    """Without a sort_order the database picks the order (PostgreSQL does not keep insertion
    order), so the demo loader numbers key items, initiatives, publishers and attachments, and
    repairs a database loaded before it did."""
    from library.models import (
        LibraryItemDocument,
        LibraryItemPublisher,
        ThemeFurtherItem,
        ThemeInitiative,
    )

    models = (
        ThemeKeyItem,
        ThemeFurtherItem,
        ThemeInitiative,
        LibraryItemPublisher,
        LibraryItemDocument,
    )
    for model in models:
        assert not model.objects.filter(sort_order__isnull=True).exists(), model
    technology = theme("technology")
    assert [link.item.title for link in technology.key_item_links.all()] == (
        CONTENT["themes"][0]["key_items"]
    )

    ThemeKeyItem.objects.update(sort_order=None)
    assert demo.load() == ["updated theme page 'Technology'"]
    assert [link.item.title for link in theme("technology").key_item_links.all()] == (
        CONTENT["themes"][0]["key_items"]
    )
    assert demo.load() == []


def test_theme_without_chosen_items_shows_its_newest_eight(demo_site, client):
    for number in range(10):
        make_item(
            f"Prevention item {number}",
            themes=[theme("prevention")],
            date=datetime.date(2025, 1, 1 + number),
        )
    make_item(
        "Prevention draft",
        themes=[theme("prevention")],
        date=datetime.date(2030, 1, 1),
        publish=False,
    )
    titles = card_titles(client.get("/themes/prevention/"))
    assert titles == [f"Prevention item {n}" for n in range(9, 1, -1)]


def test_unpublished_key_item_is_left_out(demo_site, client):
    technology = theme("technology")
    first = LibraryItemPage.objects.get(title=CONTENT["themes"][0]["key_items"][0])
    first.unpublish()
    response = client.get("/themes/technology/")
    assert first.title not in card_titles(response)
    assert key_item_titles(response) == CONTENT["themes"][0]["key_items"][1:]
    assert ThemeKeyItem.objects.filter(theme=technology).count() == 8


def test_theme_index_lists_live_themes(demo_site, client):
    make_theme("Soon").unpublish()
    page = text(client.get("/themes/"))
    for theme_content in CONTENT["themes"]:
        assert theme_content["title"] in page
    assert "Soon" not in page


def test_unpublished_theme_page_is_404(demo_site, client):
    draft = make_theme("Unfinished theme")
    draft.unpublish()
    assert client.get("/themes/unfinished-theme/").status_code == 404


def test_sitemap_lists_live_pages_only(demo_site, client):
    draft = make_item("Sitemap draft", publish=False)
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    body = text(response)
    for item in LibraryItemPage.objects.live():
        assert f"<loc>{item.get_full_url()}</loc>" in body
    assert draft.slug not in body
    assert f"<loc>{theme('technology').get_full_url()}</loc>" in body


# --- Where pages may be created ------------------------------------------------------------------


def test_library_items_only_under_the_library_index(demo_site):
    library = LibraryIndexPage.objects.get()
    themes = ThemeIndexPage.objects.get()
    item = LibraryItemPage.objects.first()
    assert LibraryItemPage.can_create_at(library)
    for parent in (demo_site, themes, theme("technology"), item, Page.get_first_root_node()):
        assert not LibraryItemPage.can_create_at(parent), parent
    assert LibraryIndexPage.allowed_subpage_models() == [LibraryItemPage]
    assert LibraryItemPage.allowed_parent_page_models() == [LibraryIndexPage]
    assert LibraryItemPage.allowed_subpage_models() == []


def test_themes_only_under_the_theme_index(demo_site):
    library = LibraryIndexPage.objects.get()
    themes = ThemeIndexPage.objects.get()
    assert ThemePage.can_create_at(themes)
    for parent in (demo_site, library, theme("technology"), Page.get_first_root_node()):
        assert not ThemePage.can_create_at(parent), parent
    assert ThemeIndexPage.allowed_subpage_models() == [ThemePage]
    assert ThemePage.allowed_subpage_models() == []


def test_single_home_library_and_theme_index(demo_site):
    root = Page.get_first_root_node()
    assert not HomePage.can_create_at(root)  # max_count = 1, and it exists
    assert not LibraryIndexPage.can_create_at(demo_site)
    assert not ThemeIndexPage.can_create_at(demo_site)
    assert set(HomePage.allowed_subpage_models()) >= {LibraryIndexPage, ThemeIndexPage}


def test_admin_refuses_an_item_under_the_wrong_parent(demo_site, superuser, client):
    client.force_login(superuser)
    themes = ThemeIndexPage.objects.get()
    url = reverse("wagtailadmin_pages:add", args=("library", "libraryitempage", themes.pk))
    assert client.get(url).status_code != 200
    before = LibraryItemPage.objects.count()
    client.post(url, {"title": "Misplaced", "slug": "misplaced", "action-publish": "1"})
    assert LibraryItemPage.objects.count() == before
    url = reverse(
        "wagtailadmin_pages:add", args=("library", "themepage", LibraryIndexPage.objects.get().pk)
    )
    assert client.get(url).status_code != 200


@pytest.mark.parametrize("slug", ["publishers", "types", "themes", "feed"])
def test_items_cannot_take_a_library_route_as_slug(demo_site, slug):
    from django.core.exceptions import ValidationError

    item = LibraryItemPage.objects.first()
    item.slug = slug
    with pytest.raises(ValidationError, match="library address of its own"):
        item.full_clean()


# --- The site's address --------------------------------------------------------------------------
# Served on another address (`make run PORT=8101`, or SITE_URL on a deployment), the site names that
# address everywhere it gives a full URL: sitemap, API, canonical link, OpenGraph and JSON-LD.

SITE_ADDRESS = "http://portal.test:8101"


def test_full_urls_follow_site_url(demo_site, client, settings):
    settings.SITE_URL = SITE_ADDRESS
    assert demo.load() == ["updated the default site"]
    site = Site.objects.get(is_default_site=True)
    assert (site.hostname, site.port) == ("portal.test", 8101)

    item = LibraryItemPage.objects.get(title="PhotoDNA")
    expected = f"{SITE_ADDRESS}/library/{item.slug}/"
    page = text(client.get(item.url))
    assert f'<link rel="canonical" href="{expected}">' in page
    assert f'<meta property="og:url" content="{expected}">' in page
    structured = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert json.loads(structured.group(1))["url"] == expected

    assert f"<loc>{expected}</loc>" in text(client.get("/sitemap.xml"))
    listing = client.get("/api/v2/items/", {"fields": "*"}).json()["items"]
    assert {entry["meta"]["html_url"].split("/library/")[0] for entry in listing} == {SITE_ADDRESS}
    every_url = " ".join([page, text(client.get("/sitemap.xml")), json.dumps(listing)])
    assert ":8000" not in every_url


def test_make_run_passes_its_port_as_the_site_address():
    plan = subprocess.run(
        ["make", "-n", "run", "PORT=8101"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "SITE_URL=http://127.0.0.1:8101 .venv/bin/python manage.py setup_demo" in plan
    assert "SITE_URL=http://127.0.0.1:8101 .venv/bin/python manage.py runserver" in plan
