"""The Technology theme page reproduces the seed page (../shared/seed/technology-theme-page.txt,
kept in tests/library/data): its sections and items, in the seed's order."""

from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from library import demo
from library.models import ThemeFurtherItem, ThemePage

pytestmark = pytest.mark.django_db

SEED = Path(__file__).with_name("data") / "technology-theme-page.txt"
PANEL_HEADING = "Join the conversation in the Protectors’ Portal"
EMPTY_STATE = "Sorry, there were no discussions found."


def seed_blocks():
    """The seed page as a list of blocks: ("h1"|"h2"|"p", text), ("item", title, publishers,
    type, summary) and ("initiative", title, description), in the seed's order."""
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    blocks = [("h1", lines[0])]
    position = 1
    while lines[position] != PANEL_HEADING:
        blocks.append(("p", lines[position]))
        position += 1
    blocks += [("h2", PANEL_HEADING), ("p", lines[position + 1])]
    position += 2
    while position < len(lines):
        line = lines[position]
        following = lines[position + 1] if position + 1 < len(lines) else ""
        if following.startswith("Publisher: "):
            publishers, kind = following.removeprefix("Publisher: ").rsplit(" (", 1)
            blocks.append(("item", line, publishers, kind.rstrip(")"), lines[position + 2]))
            position += 3
        elif line.startswith(("Key library items", "See what the Alliance")):
            blocks.append(("h2", line))
            position += 1
        else:
            blocks.append(("initiative", line, following))
            position += 2
    return blocks


def rendered_blocks(html):
    """The same blocks read from the rendered page's main content, in document order."""
    main = BeautifulSoup(html, "html.parser").find("main")
    blocks = []
    selector = "h1, h2, .hero__lead p, .empty-state, .card, .initiative"
    for element in main.select(selector):
        classes = element.get("class") or []
        if "card" in classes:
            publishers = element.select_one(".card__publishers").get_text(" ", strip=True)
            blocks.append(
                (
                    "item",
                    element.select_one(".card__title").get_text(strip=True),
                    publishers.removeprefix("Publisher: ").replace(" ,", ","),
                    element.select_one(".tag").get_text(strip=True),
                    element.select_one(".card__summary").get_text(strip=True),
                )
            )
        elif "initiative" in classes:
            blocks.append(
                (
                    "initiative",
                    element.find("h3").get_text(strip=True),
                    element.find("p").get_text(strip=True),
                )
            )
        else:
            blocks.append((element.name, element.get_text(strip=True)))
    return blocks


def comparable(blocks):
    # The seed spells the Alliance "WePROTECT" in one list and "WeProtect" in the other; the
    # demo has one publisher, so names compare without regard to case.
    return [
        tuple(
            part.casefold() if block[0] == "item" and n == 2 else part
            for n, part in enumerate(block)
        )
        for block in blocks
    ]


def test_seed_reads_as_expected():
    blocks = seed_blocks()
    kinds = [block[0] for block in blocks]
    assert (
        kinds
        == ["h1"]
        + ["p"] * 3
        + ["h2", "p", "h2"]
        + ["item"] * 8
        + ["h2"]
        + ["initiative"] * 4
        + ["item"] * 6
    )
    assert blocks[5] == ("p", EMPTY_STATE)


def test_technology_page_follows_the_seed(demo_site, client):
    response = client.get("/themes/technology/")
    assert response.status_code == 200
    assert comparable(rendered_blocks(response.content.decode())) == comparable(seed_blocks())


def test_members_see_the_themes_discussions_where_the_seed_has_the_panel(demo_site, client):
    from portal import demo as portal_demo

    portal_demo.create_accounts()
    portal_demo.load_discussions()
    client.login(username="member", password=portal_demo.demo_password("member"))
    html = client.get("/themes/technology/").content.decode()
    main = BeautifulSoup(html, "html.parser").find("main")
    headings = [h.get_text(strip=True) for h in main.find_all("h2")]
    assert headings[0] == PANEL_HEADING
    threads = [a.get_text(strip=True) for a in main.select(".panel .discussion-list a")]
    assert "Hash matching tools: what do you use?" in threads
    assert EMPTY_STATE not in html


def test_demo_content_carries_the_seeds_closing_items(demo_site):
    technology = ThemePage.objects.get(slug="technology")
    seed_closing = [block[1] for block in seed_blocks()[-6:]]
    assert [link.item.title for link in technology.further_item_links.all()] == seed_closing
    assert demo.load() == []
    ThemeFurtherItem.objects.filter(theme=technology).update(sort_order=None)
    assert demo.load() == ["updated theme page 'Technology'"]
    assert [link.item.title for link in technology.further_item_links.all()] == seed_closing


def test_home_page_has_its_own_introduction(demo_site, client):
    technology = demo.read_content()["themes"][0]
    main = BeautifulSoup(client.get("/").content.decode(), "html.parser").find("main")
    shown = main.get_text(" ", strip=True)
    for paragraph in technology["introduction"]:
        assert paragraph not in shown
    for paragraph in demo.read_content()["site"]["introduction"]:
        assert paragraph in shown


def test_editors_list_the_items_on_the_organisations_work(demo_site, superuser, client):
    client.force_login(superuser)
    technology = ThemePage.objects.get(slug="technology")
    response = client.get(f"/admin/pages/{technology.pk}/edit/")
    assert response.status_code == 200
    assert "Library item on this work" in response.content.decode()
