"""Chromium on the library search: type a query, pick two publishers and see the counts and
results update in place, remove a chip, and go back through the states with the Back button; on a
phone the filters fold away so the first result is on the first screen, and the notices about
corrected filters are shown (axe-core and screenshots at both widths)."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.browser import SCREENSHOTS, WIDTHS, serious_violations

pytestmark = pytest.mark.browser


def result_count(page):
    return page.locator(".result-count")


def pick(page, facet, label):
    """Click a facet value, opening the facet's "Show more" list first if it is folded there."""
    section = page.locator(".facet", has=page.get_by_role("heading", name=facet))
    link = section.get_by_role("link", name=re.compile(f"^{label}"))
    if not link.is_visible():
        section.locator("summary").click()
    link.click()


def test_search_facets_chips_and_back(browser, running_site):
    page = browser.new_page()
    page.goto(running_site.url + "/library/")
    page.get_by_label("Search the library").fill("child")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=child"))
    expect(result_count(page)).to_contain_text("for “child”")
    unfiltered = result_count(page).inner_text()

    pick(page, "Publisher", "Microsoft")
    expect(page).to_have_url(re.compile(r"publisher=microsoft"))
    expect(page.locator(".chip", has_text="Publisher: Microsoft")).to_be_visible()
    expect(result_count(page)).not_to_have_text(unfiltered)

    pick(page, "Publisher", "Thorn")
    expect(page).to_have_url(re.compile(r"publisher=microsoft&publisher=thorn"))
    expect(page.locator(".chip", has_text="Publisher: Thorn")).to_be_visible()
    # Disjunctive: picking a second publisher widens the results.
    expect(page.locator(".result")).to_have_count(2)
    titles = page.locator(".result h3").all_inner_texts()
    assert set(titles) == {"PhotoDNA", "Introduction to Hashing"}

    page.locator(".chip", has_text="Publisher: Microsoft").click()
    expect(page.locator(".chip", has_text="Publisher: Microsoft")).to_have_count(0)
    expect(page.locator(".result h3")).to_have_text(["Introduction to Hashing"])

    page.go_back()
    expect(page.locator(".chip", has_text="Publisher: Microsoft")).to_be_visible()
    expect(page.locator(".result")).to_have_count(2)
    page.go_back()
    expect(page.locator(".chip", has_text="Publisher: Thorn")).to_have_count(0)
    page.close()


def test_search_works_without_javascript(browser, running_site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(running_site.url + "/library/?q=hashing")
    pick(page, "Publisher", "Thorn")
    expect(page).to_have_url(re.compile(r"publisher=thorn"))
    expect(page.locator(".result h3")).to_have_text(["Introduction to Hashing"])
    context.close()


def test_search_on_a_phone_shows_results_first_and_says_what_it_corrected(browser, running_site):
    context = browser.new_context(
        base_url=running_site.url, viewport={"width": WIDTHS["mobile"], "height": 844}
    )
    page = context.new_page()
    page.goto("/library/?q=child&publisher=nonexistent&year_from=2024&year_to=2015")
    notices = page.locator(".results__status .notice")
    expect(notices).to_have_text(
        [
            "Ignored an unknown publisher filter “nonexistent”.",
            "The years were the wrong way round: showing 2015 to 2024.",
        ]
    )
    panel = page.locator("[data-filter-panel]")
    expect(panel).not_to_have_attribute("open", "")
    title = page.locator(".result h3 a").first
    expect(title).to_be_in_viewport()  # its first line, at least, on the first screen

    # Filters chosen one after another keep the panel open between choices.
    page.get_by_text("Filter results (1 active)").click()
    pick(page, "Publisher", "Thorn")
    expect(page.locator(".chip", has_text="Publisher: Thorn")).to_be_visible()
    expect(panel).to_have_attribute("open", "")

    # The phone first: widening the window opens the filters, narrowing it leaves them be.
    page.goto("/library/?q=child&publisher=nonexistent&year_from=2024&year_to=2015")
    for name in ("mobile", "desktop"):
        page.set_viewport_size({"width": WIDTHS[name], "height": 844})
        page.screenshot(path=SCREENSHOTS / f"search-notices-{name}.png", full_page=True)
        assert serious_violations(Axe().run(page)) == [], f"search at {WIDTHS[name]}px"
    page.reload()
    expect(panel).to_have_attribute("open", "")  # wide screens show the filters beside
    context.close()
