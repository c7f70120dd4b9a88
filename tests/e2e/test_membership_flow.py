"""Chromium through admission: a new person signs up, verifies their e-mail, applies, and waits;
a moderator sees the application arrive, reads and approves it; the approval e-mail goes out and
the new member enters the portal. axe-core on the sign-up, apply and pending pages at two widths
(with screenshots)."""

import re
import time
import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.browser import SCREENSHOTS, WIDTHS, serious_violations

pytestmark = pytest.mark.browser

PASSWORD = "a long and unlikely passphrase"
LIVE = 5_000  # ms


def check(page, name):
    """One h1, nothing serious for axe-core, and a screenshot, at each width."""
    expect(page.locator("h1")).to_have_count(1)
    for size, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SCREENSHOTS / f"membership-{name}-{size}.png", full_page=True)
        assert serious_violations(Axe().run(page)) == [], f"{name} at {width}px"


def mail_after(site, offset, pattern):
    """The first match of `pattern` in what the site printed after `offset` in its log (the
    console e-mail backend prints every message there)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(pattern, site.log()[offset:])
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no e-mail matching {pattern!r}")


def sign_in(page, email, password):
    page.get_by_label("E-mail address").fill(email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_sign_up_apply_approve_and_enter(browser, running_site):
    tag = uuid.uuid4().hex[:8]
    email = f"applicant-{tag}@example.net"
    name = f"Ada Applicant {tag}"
    applicant = browser.new_context(base_url=running_site.url).new_page()
    applicant.set_default_timeout(10_000)
    moderator = browser.new_context(base_url=running_site.url).new_page()
    moderator.set_default_timeout(10_000)

    # Sign up and verify the address.
    applicant.goto("/accounts/signup/")
    check(applicant, "signup")
    offset = len(running_site.log())
    applicant.get_by_label("E-mail address").fill(email)
    applicant.locator("#id_password1").fill(PASSWORD)
    applicant.locator("#id_password2").fill(PASSWORD)
    applicant.get_by_role("button", name="Create your account").click()
    expect(applicant).to_have_url(re.compile("/accounts/confirm-email/$"))
    link = mail_after(running_site, offset, r"(http://\S+/accounts/confirm-email/\S+/)")
    applicant.goto(link.group(1))
    applicant.get_by_role("button", name="Confirm", exact=True).click()
    expect(applicant.get_by_text(f"Thank you: {email} is confirmed.")).to_be_visible()

    # Confirming in the browser that signed up signs the person in and leads to the
    # application; the menu offers it, not discussions they cannot open yet.
    expect(applicant).to_have_url(re.compile("/portal/apply/$"))
    menu = applicant.get_by_role("navigation", name="Main")
    expect(menu.get_by_role("link", name="Apply to join")).to_have_attribute("aria-current", "page")
    expect(menu.get_by_role("link", name="Discussions")).to_have_count(0)
    check(applicant, "apply")

    # A moderator is watching the queue.
    moderator.goto("/accounts/login/?next=/portal/moderation/")
    with moderator.expect_websocket(lambda socket: "/ws/portal/" in socket.url):
        sign_in(moderator, "moderator@example.org", "demo-moderator-portal")
    expect(moderator.locator("h1")).to_have_text("Moderation")
    expect(moderator.get_by_role("link", name=name)).to_have_count(0)

    # Forgetting the code of conduct keeps everything typed.
    applicant.get_by_label("Your name").fill(name)
    applicant.get_by_label("Organisation").fill("Helpline North")
    applicant.get_by_label("Your role").fill("Online safety lead")
    applicant.get_by_label("Country").fill("Ireland")
    applicant.get_by_label("Why you want to join").fill("To learn how others handle E2EE.")
    applicant.get_by_role("button", name="Send application").click()
    expect(applicant.get_by_text("Please agree to the code of conduct to apply.")).to_be_visible()
    expect(applicant.get_by_label("Your name")).to_have_value(name)
    expect(applicant.get_by_label("Why you want to join")).to_have_value(
        "To learn how others handle E2EE."
    )
    check(applicant, "apply-error")
    applicant.get_by_label("I have read and agree to the code of conduct").check()
    applicant.get_by_role("button", name="Send application").click()
    expect(applicant.locator("h1")).to_have_text("Thank you for applying")
    expect(applicant.locator("main")).to_contain_text(email)
    check(applicant, "pending")
    applicant.goto("/portal/")
    expect(applicant.locator("main")).to_contain_text("waiting for a moderator's decision")

    # The queue refreshes itself; the moderator reads the application and approves it.
    application = moderator.get_by_role("link", name=name)
    expect(application).to_be_visible(timeout=LIVE)
    application.click()
    expect(moderator.locator("h1")).to_have_text(f"Application from {name}")
    facts = moderator.locator(".facts")
    for fact in (email, "Helpline North", "Online safety lead", "Ireland"):
        expect(facts).to_contain_text(fact)
    expect(moderator.locator("main")).to_contain_text("To learn how others handle E2EE.")
    offset = len(running_site.log())
    moderator.get_by_role("button", name="Approve").click()
    expect(moderator).to_have_url(re.compile("/portal/moderation/$"))
    expect(moderator.get_by_text(f"{name}: Approved.")).to_be_visible()
    expect(moderator.get_by_role("link", name=name)).to_have_count(0)
    mail_after(
        running_site,
        offset,
        r"Subject: \[Protectors' Portal\] Welcome: your membership is approved\n"
        rf"From: [^\n]*\nTo: {re.escape(email)}\n",
    )

    # The new member is in.
    response = applicant.goto("/portal/")
    assert response.status == 200
    expect(applicant.locator("h1")).to_have_text("Discussions")
    expect(applicant.get_by_role("link", name="Introductions")).to_be_visible()

    applicant.context.close()
    moderator.context.close()
