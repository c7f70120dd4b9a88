"""Chromium through saved searches and the search report: a member saves a library search, sees
its new result counted once an item is published, chooses a daily alert; the alert job e-mails
the new item with one-click unsubscribe headers, and the one-click POST stops the alert. An editor
reads the search report. axe-core and screenshots at both widths for both pages."""

import re
import textwrap

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.conftest import manage
from tests.e2e.browser import SCREENSHOTS, WIDTHS, serious_violations
from tests.e2e.test_forum import sign_in

pytestmark = pytest.mark.browser

NEW_ITEM = "Hashing in practice: a field guide for small platforms"
# Run in the site's own database: a new item published; then the saved search's last alert moved
# a day back, as if a day had passed, and the daily alert job (manage.py send_search_alerts).
PUBLISH_ITEM = textwrap.dedent(
    f"""
    from tests.library.helpers import make_item
    make_item({NEW_ITEM!r}, summary="How small platforms start hashing.")
    """
)
A_DAY_LATER_THE_ALERT_JOB = textwrap.dedent(
    """
    import datetime
    from django.core.management import call_command
    from portal.models import SavedSearch
    for saved in SavedSearch.objects.filter(name="Hashing tools"):
        SavedSearch.objects.filter(pk=saved.pk).update(
            alerted_at=saved.alerted_at - datetime.timedelta(days=1)
        )
    call_command("send_search_alerts")
    """
)


def check(page, name, context=None):
    for size, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SCREENSHOTS / f"{name}-{size}.png", full_page=True)
        results = Axe().run(page, context=context) if context else Axe().run(page)
        assert serious_violations(results) == [], f"{name} at {width}px"


def test_save_a_search_get_its_alert_and_read_the_report(browser, running_site):
    site = running_site
    member = browser.new_context(base_url=site.url).new_page()
    member.set_default_timeout(10_000)
    sign_in(member, "member@example.org", "demo-member-portal")

    member.goto("/library/?q=hashing&content=library")
    member.get_by_text("Save this search").click()
    member.get_by_label("Name it").fill("Hashing tools")
    check(member, "save-this-search")
    member.get_by_role("button", name="Save search").click()
    expect(member).to_have_url(re.compile(r"/portal/searches/$"))
    card = member.locator(".saved-search", has_text="Hashing tools")
    expect(card).to_contain_text("Nothing new")

    manage("shell", "-c", PUBLISH_ITEM, env=site.environment)
    member.reload()
    expect(card.locator(".badge")).to_have_text("1 new")
    card.get_by_label("E-mail alert").select_option(label="Once a day")
    card.get_by_role("button", name="Save").click()
    expect(member.locator(".notice--success")).to_contain_text("once a day")
    check(member, "saved-searches")

    job = manage("shell", "-c", A_DAY_LATER_THE_ALERT_JOB, env=site.environment)
    assert "search alerts sent: 1" in job.stdout
    # The console e-mail backend prints each message; long headers are folded onto two lines.
    mail = re.sub(r"\n[ \t]+", " ", job.stdout)
    assert "To: member@example.org" in mail
    assert NEW_ITEM in mail
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in mail
    unsubscribe = re.search(r"List-Unsubscribe:\s*<(https?://[^>]+)>", mail).group(1)
    path = re.sub(r"^https?://[^/]+", "", unsubscribe)

    # The one-click POST, as a mail client sends it: no session, no CSRF token.
    outsider = browser.new_context(base_url=site.url)
    response = outsider.request.post(path)
    assert response.status == 200 and "no more e-mails" in response.text()
    member.reload()
    expect(card.get_by_label("E-mail alert")).to_have_value("off")

    # Enough anonymous searches for a query to reach the report, then the editor reads it.
    for _ in range(5):
        assert outsider.request.get("/library/?q=photodna").ok
    outsider.close()
    editor = browser.new_context(base_url=site.url).new_page()
    editor.set_default_timeout(10_000)
    sign_in(editor, "editor@example.org", "demo-editor-portal")
    editor.goto("/admin/reports/searches/")
    expect(editor.get_by_role("heading", name="Top queries")).to_be_visible()
    top = editor.locator("section[aria-labelledby=top-heading]")
    row = top.locator("tr", has=editor.locator(".search-report__query", has_text="photodna"))
    expect(row.get_by_role("link", name=re.compile("Add synonym"))).to_be_visible()
    expect(editor.locator(".search-report__chart svg rect.segment").first).to_be_visible()
    check(editor, "search-report", context=".search-report")
    member.context.close()
    editor.context.close()
