"""Chromium on the library's public pages: the seed Technology theme page and a document download,
axe-core on every public page type at two widths (with screenshots), and the skip link."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import SCREENSHOTS, WIDTHS, page_problems

pytestmark = pytest.mark.browser

THEME = "/themes/technology/"
ITEM_TITLE = "End-To-End Encryption: Understanding the impacts for child safety online"
ITEM = "/library/end-to-end-encryption-understanding-the-impacts-for-child-safety-online/"
MISSING = "/this-page-does-not-exist/"

# One of each public page type: screenshot name → path.
PUBLIC_PAGES = {
    "home": "/",
    "themes": "/themes/",
    "theme": THEME,
    "library": "/library/",
    "item": ITEM,
    "publisher": "/library/publishers/nspcc/",
    "type": "/library/types/report/",
    "publishers": "/library/publishers/",
    "sign-in": "/accounts/login/",
    "not-found": MISSING,
}


def test_theme_page_item_and_download(browser, running_site):
    page = browser.new_page(accept_downloads=True)
    page.goto(running_site.url + THEME)
    main = page.locator("main")
    expect(page.locator("h1")).to_have_text("Technology")

    key_items = main.locator(
        "section",
        has=page.get_by_role(
            "heading", level=2, name=re.compile("Key library items about technology", re.I)
        ),
    )
    expect(key_items).to_have_count(1)
    cards = key_items.locator(".card")
    expect(cards).to_have_count(8)
    for card in cards.all():
        expect(card.locator(".card__title a")).not_to_be_empty()
        expect(card.locator(".card__meta")).to_contain_text(re.compile(r"Publisher: \S"))
        expect(card.locator(".card__meta .tag")).to_have_text(
            re.compile("^(Briefing|Report|Tool|Media|Guide)$")
        )
    expect(cards.first.locator(".card__title")).to_have_text(
        "Outcomes briefing – technology, privacy and rights roundtable"
    )

    portal = main.locator(".panel")
    expect(portal.get_by_role("heading", level=2)).to_have_text(
        re.compile("Join the conversation in the Protectors[’'] Portal")
    )
    # Visitors get the invitation, never the members' thread titles.
    expect(portal.get_by_role("link", name="Join the portal")).to_be_visible()
    expect(portal.locator("a[href^='/portal/t/']")).to_have_count(0)

    initiatives = main.locator("section.initiatives")
    expect(initiatives.get_by_role("heading", level=2)).to_have_text(
        "See what the Alliance is doing on: Technology"
    )
    expect(initiatives.locator("li.initiative")).to_have_count(4)
    for initiative in initiatives.locator("li.initiative").all():
        expect(initiative.get_by_role("heading", level=3)).not_to_be_empty()

    key_items.get_by_role("link", name=ITEM_TITLE, exact=True).click()
    expect(page).to_have_url(running_site.url + ITEM)
    expect(page.locator("h1")).to_have_text(ITEM_TITLE)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the report").click()
    download = download_info.value
    assert download.failure() is None
    assert download.suggested_filename.endswith(".pdf")
    with open(download.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    page.close()


def test_public_pages_pass_axe_at_both_widths(browser, running_site):
    failures = {}
    for size, width in WIDTHS.items():
        page = browser.new_page(viewport={"width": width, "height": 900})
        for name, path in PUBLIC_PAGES.items():
            response = page.goto(running_site.url + path)
            assert response.status == (404 if path == MISSING else 200), path
            page.screenshot(path=SCREENSHOTS / f"{name}-{size}.png", full_page=True)
            problems = page_problems(page)
            if problems:
                failures[f"{path} at {width}px"] = problems
        page.close()
    assert failures == {}


def test_the_real_server_answers_404_for_a_missing_page(browser, running_site):
    page = browser.new_page()
    assert page.goto(running_site.url + MISSING).status == 404
    page.close()


def test_first_tab_focuses_a_visible_skip_link(browser, running_site):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(running_site.url + THEME)
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    expect(skip).to_have_text("Skip to main content")
    expect(skip).to_have_attribute("href", "#main")
    expect(skip).to_be_in_viewport(ratio=1)
    box = skip.bounding_box()
    assert box["width"] > 0 and box["height"] > 0
    page.screenshot(path=SCREENSHOTS / "skip-link-focused.png")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("main")
    page.close()
