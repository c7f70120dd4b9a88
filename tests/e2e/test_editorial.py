"""Chromium through an editor's day: sign in to the admin, create a publisher from the item editor's
chooser, write a briefing in sections and publish it; then a visitor finds it by search and on its
theme page, cites it (the RIS, BibTeX and CSL-JSON downloads parse), and axe-core finds nothing
serious on its page. Screenshots: the briefing and the editors' dashboard panel at both widths."""

import json
import re

import bibtexparser
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.browser import SCREENSHOTS, WIDTHS, serious_violations

pytestmark = pytest.mark.browser

PUBLISHER = "Harbour Child Safety Lab"
TITLE = "Briefing: shared hash lists for harbour platforms"
SUMMARY = "What small platforms told the harbour roundtable about sharing hash lists."
SECTION = "What we heard"
SECTION_TEXT = "Platforms with no trust and safety team asked for one shared list."


def write_and_publish_briefing(page, base):
    page.goto(base + "/admin/login/")
    page.locator("#id_username").fill("editor")
    page.locator("#id_password").fill("demo-editor-portal")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Add a library item or briefing").click()

    page.get_by_placeholder("Page title*").fill(TITLE)
    page.locator("#id_summary").fill(SUMMARY)
    page.get_by_role("button", name="Choose publisher").click()
    modal = page.locator(".modal-dialog")
    modal.get_by_role("tab", name="Create publisher").click()
    modal.locator("#id_name").fill(PUBLISHER)
    modal.get_by_role("button", name="Create publisher").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#id_publisher_links-0-publisher-title")).to_have_text(PUBLISHER)
    page.get_by_role("button", name="Choose resource type").click()
    modal.get_by_label("Search term").fill("brief")
    modal.get_by_role("link", name="Briefing", exact=True).click()
    expect(modal).to_be_hidden()
    page.get_by_role("checkbox", name="Prevention").check()
    page.locator("#id_publication_date").fill("2026-11-30")

    body = page.locator("#body-root")
    body.get_by_role("button", name="Insert a block").click()
    page.get_by_role("option", name="Section").click()
    page.locator("input[name='body-0-value-heading']").fill(SECTION)
    text = body.locator(".public-DraftEditor-content")
    text.click()
    page.keyboard.type(SECTION_TEXT)
    expect(text).to_contain_text(SECTION_TEXT)
    # The editor writes its content to the form field a moment after the typing stops.
    expect(page.locator("input[name='body-0-value-text']")).to_have_value(re.compile("shared list"))

    page.get_by_role("button", name="More actions").click()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_text(f"Page '{TITLE}' created and published.")).to_be_visible()


def test_editor_publishes_a_briefing_that_visitors_find_and_cite(browser, running_site):
    base = running_site.url
    editor = browser.new_context(viewport={"width": WIDTHS["desktop"], "height": 900})
    admin = editor.new_page()
    write_and_publish_briefing(admin, base)
    admin.goto(base + "/admin/")
    panel = admin.locator("#library-editorial-section")
    expect(panel.get_by_role("link", name=TITLE)).to_be_visible()
    for size, width in WIDTHS.items():
        admin.set_viewport_size({"width": width, "height": 900})
        panel.screenshot(path=SCREENSHOTS / f"admin-editorial-panel-{size}.png")
    editor.close()

    visitor = browser.new_page(viewport={"width": WIDTHS["desktop"], "height": 900})
    visitor.goto(base + "/library/?q=harbour")
    expect(visitor.locator(".result h3")).to_have_text([TITLE])
    visitor.goto(base + "/themes/prevention/")
    visitor.get_by_role("link", name=TITLE).click()
    expect(visitor.locator("h1")).to_have_text(TITLE)
    expect(visitor.get_by_role("heading", level=2, name=SECTION)).to_be_visible()
    cite = visitor.locator("section.cite")
    expect(cite.locator(".cite__reference")).to_contain_text(f"{PUBLISHER}. (2026). {TITLE}")
    assert visitor.locator('meta[name="citation_author"]').get_attribute("content") == PUBLISHER

    failures = {}
    for size, width in WIDTHS.items():
        visitor.set_viewport_size({"width": width, "height": 900})
        visitor.screenshot(path=SCREENSHOTS / f"briefing-{size}.png", full_page=True)
        violations = serious_violations(Axe().run(visitor))
        if violations:
            failures[size] = violations
    assert failures == {}

    downloads = {
        style: visitor.request.get(base + cite.get_by_role("link", name=name).get_attribute("href"))
        for style, name in (("ris", "RIS"), ("bibtex", "BibTeX"), ("csl-json", "CSL-JSON"))
    }
    assert all(response.ok for response in downloads.values())
    ris = dict(
        re.fullmatch(r"([A-Z][A-Z0-9])  - (.*)", line).groups()
        for line in downloads["ris"].text().split("\r\n")
        if line
    )
    assert (ris["TY"], ris["TI"], ris["AU"], ris["M3"]) == ("RPRT", TITLE, PUBLISHER, "Briefing")
    library = bibtexparser.parse_string(downloads["bibtex"].text())
    assert library.failed_blocks == []
    [entry] = library.entries
    assert entry.entry_type == "techreport"
    assert entry.fields_dict["author"].value == "{" + PUBLISHER + "}"
    [record] = json.loads(downloads["csl-json"].text())
    assert (record["title"], record["author"]) == (TITLE, [{"literal": PUBLISHER}])
    visitor.close()
