"""Chromium on what a newcomer meets first on the real server: the theme page in the seed's order
at both widths, the site's own 404, 403 and refused-form pages (screenshots, axe-core), full URLs
that name the address the site is served at, and its icon."""

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import WIDTHS, check_at_both_widths

pytestmark = pytest.mark.browser

THEME = "/themes/technology/"
ITEM = "/library/photodna/"


def test_theme_page_keeps_the_seeds_order_at_both_widths(browser, running_site):
    page = browser.new_page()
    page.goto(running_site.url + THEME)
    parts = {
        "introduction": page.locator(".hero__lead"),
        "discussions": page.locator(".theme-discussions .panel"),
        "first key item": page.locator(".theme-key-items .card").first,
        "last key item": page.locator(".theme-key-items .card").last,
        "initiatives": page.locator(".initiative").first,
        "items on that work": page.locator(".initiatives__items .card").first,
    }
    expect(page.locator(".initiatives__items .card")).to_have_count(6)
    for width in WIDTHS.values():
        page.set_viewport_size({"width": width, "height": 900})
        tops = {name: part.bounding_box()["y"] for name, part in parts.items()}
        assert list(tops) == sorted(tops, key=tops.get), (width, tops)
    page.close()


def test_error_pages_in_the_sites_style(browser, running_site):
    context = browser.new_context(base_url=running_site.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    heading = page.locator("h1")
    failures = {}

    assert page.goto("/this-page-does-not-exist/").status == 404
    expect(heading).to_have_text("Page not found")
    expect(page.locator(".site-header")).to_be_visible()
    expect(page.get_by_role("link", name="The library")).to_be_visible()
    check_at_both_widths(page, "error-404", failures)

    # A form sent without its CSRF cookie (as after the session ended in another tab).
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill("member@example.org")
    page.locator("input[name=password]").fill("demo-member-portal")
    context.clear_cookies()
    page.locator("input[name=password]").press("Enter")
    expect(heading).to_have_text("Your form was not sent")
    check_at_both_widths(page, "error-csrf", failures)
    page.go_back()
    expect(page.locator("input[name=login]")).to_have_value("member@example.org")

    page.reload()
    page.locator("input[name=login]").fill("member@example.org")
    page.locator("input[name=password]").fill("demo-member-portal")
    page.locator("input[name=password]").press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # The member opens the editor of a post someone else wrote.
    page.goto("/portal/c/technology/")
    page.get_by_role(
        "link", name="How are you responding to end-to-end encrypted messaging?"
    ).click()
    edit = page.locator("#post-1 a[href$='/edit/']").get_attribute("href")
    assert page.goto(edit).status == 403
    expect(heading).to_have_text("This page is not open to you")
    check_at_both_widths(page, "error-403", failures)
    context.close()
    assert failures == {}


def test_full_urls_name_the_address_served_at(browser, running_site):
    page = browser.new_page()
    page.goto(running_site.url + ITEM)
    expected = running_site.url + ITEM
    expect(page.locator("link[rel=canonical]")).to_have_attribute("href", expected)
    expect(page.locator("meta[property='og:url']")).to_have_attribute("content", expected)
    sitemap = page.request.get(running_site.url + "/sitemap.xml").text()
    assert f"<loc>{expected}</loc>" in sitemap
    icon = page.request.get(running_site.url + "/favicon.ico")
    assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")
    page.close()


def test_setup_demo_prints_a_short_summary(running_site):
    lines = running_site.setup_output.splitlines()
    assert len(lines) < 20, running_site.setup_output
    assert max(len(line) for line in lines) < 120, running_site.setup_output
