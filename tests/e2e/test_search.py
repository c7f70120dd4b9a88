"""Chromium on the library search: type a query, pick two publishers and see the counts and
results update in place, remove a chip, and go back through the states with the Back button."""

import re

import pytest
from playwright.sync_api import expect

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
