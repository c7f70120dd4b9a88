"""Chromium on the account pages, signed out and signed in: every page has one h1 and no serious
axe-core findings at both widths (with screenshots), errors are announced and tied to their
fields, and a member sets up an authenticator app and a passkey and signs in with each."""

import re
import time
import uuid

import pytest
from allauth.mfa.totp.internal import auth as totp_auth
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.conftest import manage
from tests.e2e.browser import SCREENSHOTS, WIDTHS, serious_violations

pytestmark = pytest.mark.browser

PASSWORD = "a long and unlikely passphrase"
MEMBER = ("member@example.org", "demo-member-portal")

CREATE_ACCOUNT = """
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
user = get_user_model().objects.create_user(
    username={email!r}, email={email!r}, password={password!r}
)
EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
"""


def check(page, name):
    """One h1, nothing serious for axe-core, and a screenshot, at each width."""
    expect(page.locator("h1")).to_have_count(1)
    for width_name, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=SCREENSHOTS / f"account-{name}-{width_name}.png", full_page=True)
        assert serious_violations(Axe().run(page)) == [], f"{name} at {width}px"


def open_page(browser, site_url):
    page = browser.new_page(base_url=site_url)
    page.set_default_timeout(10_000)
    return page


def mail_after(site, offset, pattern):
    """The first match of `pattern` in e-mail the site printed after `offset` in its log."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(pattern, site.log()[offset:])
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no e-mail matching {pattern!r}")


def sign_in(page, email, password):
    page.goto("/accounts/login/")
    page.get_by_label("E-mail address").fill(email)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def current_totp_code(secret):
    counter = int(time.time()) // 30
    return totp_auth.format_hotp_value(totp_auth.hotp_value(secret, counter))


def test_sign_in_and_password_reset_pages(browser, running_site):
    page = open_page(browser, running_site.url)
    page.goto("/accounts/login/")
    check(page, "login")

    sign_in(page, "nobody@example.org", "not the password")
    summary = page.locator(".error-summary")
    expect(summary).to_contain_text("do not match an account")
    expect(summary).to_be_focused()
    check(page, "login-error")

    page.goto("/accounts/password/reset/")
    check(page, "password-reset")
    offset = len(running_site.log())
    page.get_by_label("E-mail address").fill("applicant@example.org")
    page.get_by_role("button", name="Send me the link").click()
    expect(page).to_have_url(re.compile("/accounts/password/reset/done/$"))
    check(page, "password-reset-done")
    page.goto(mail_after(running_site, offset, r"(http://\S+/accounts/password/reset/key/\S+/)"))
    expect(page.locator("#id_password1")).to_be_visible()
    check(page, "password-reset-from-key")
    page.close()


def test_sign_up_verify_and_sign_in_by_code(browser, running_site):
    email = f"newcomer-{uuid.uuid4().hex[:8]}@example.org"
    page = open_page(browser, running_site.url)
    page.goto("/accounts/signup/")
    check(page, "signup")

    page.get_by_label("E-mail address").fill(email)
    page.locator("#id_password1").fill("password1234")
    page.locator("#id_password2").fill("password1234")
    page.get_by_role("button", name="Create your account").click()
    password = page.locator("#id_password1")
    expect(password).to_have_attribute("aria-invalid", "true")
    error_id = password.get_attribute("aria-describedby").split()[-1]
    expect(page.locator(f"#{error_id}")).to_have_text("This password is too common.")
    expect(page.get_by_label("E-mail address")).to_have_value(email)
    check(page, "signup-errors")

    offset = len(running_site.log())
    password.fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    page.get_by_role("button", name="Create your account").click()
    expect(page).to_have_url(re.compile("/accounts/confirm-email/$"))
    check(page, "verification-sent")

    page.goto(mail_after(running_site, offset, r"(http://\S+/accounts/confirm-email/\S+/)"))
    check(page, "confirm-email")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.locator(".notice", has_text="is confirmed")).to_be_visible()
    expect(page).to_have_url(re.compile("/portal/apply/$"))  # signed in, on to apply
    page.get_by_role("button", name="Sign out").click()

    page.goto("/accounts/login/code/")
    check(page, "login-code")
    offset = len(running_site.log())
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Send me the code").click()
    expect(page).to_have_url(re.compile("/accounts/login/code/confirm/$"))
    check(page, "login-code-confirm")
    page.get_by_label("Code").fill(mail_after(running_site, offset, r"window\.\s+(\S+)\s"))
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.close()


def test_member_account_pages(browser, running_site):
    page = open_page(browser, running_site.url)
    sign_in(page, *MEMBER)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    for name, path in {
        "email": "/accounts/email/",
        "password-change": "/accounts/password/change/",
        "mfa": "/accounts/2fa/",
        "webauthn-list": "/accounts/2fa/webauthn/",
        "sessions": "/accounts/sessions/",
        "logout": "/accounts/logout/",
    }.items():
        page.goto(path)
        check(page, name)
    page.goto("/accounts/2fa/")
    expect(page.get_by_role("navigation", name="Your account").get_by_role("link")).to_have_text(
        [
            "Profile and notifications",
            "E-mail addresses",
            "Password",
            "Two-factor authentication",
            "Sessions",
        ]
    )
    expect(page.locator(".account-nav [aria-current=page]")).to_have_text(
        "Two-factor authentication"
    )

    page.goto("/accounts/2fa/totp/activate/")
    expect(page).to_have_url(re.compile("/accounts/reauthenticate/"))
    check(page, "reauthenticate")
    page.get_by_label("Password").fill(MEMBER[1])
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page).to_have_url(re.compile("/accounts/2fa/totp/activate/$"))
    check(page, "totp-activate")
    page.goto("/accounts/2fa/webauthn/add/")
    check(page, "webauthn-add")
    page.close()


def test_authenticator_app_and_passkey(browser, running_site, fresh_database_url):
    """An account of its own, since it ends with two second factors. The site is opened as
    localhost: WebAuthn takes a domain as the relying party, never an IP address."""
    email = f"two-factor-{uuid.uuid4().hex[:8]}@example.org"
    create = CREATE_ACCOUNT.format(email=email, password=PASSWORD)
    manage("shell", "-c", create, env={"DATABASE_URL": fresh_database_url})
    page = open_page(browser, running_site.url.replace("127.0.0.1", "localhost"))
    sign_in(page, email, PASSWORD)

    page.goto("/accounts/2fa/totp/activate/")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm", exact=True).click()
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(current_totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page).to_have_url(re.compile("/accounts/2fa/recovery-codes/$"))
    check(page, "recovery-codes")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download codes").click()
    assert download.value.suggested_filename.endswith(".txt")
    page.goto("/accounts/2fa/recovery-codes/generate/")
    check(page, "recovery-codes-generate")
    page.goto("/accounts/2fa/totp/deactivate/")
    check(page, "totp-deactivate")
    page.goto("/accounts/2fa/")
    check(page, "mfa-enabled")

    # A passkey from Chromium's virtual authenticator, through allauth's own page and script.
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    page.goto("/accounts/2fa/webauthn/add/")
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page).not_to_have_url(re.compile("/add/$"))
    page.goto("/accounts/2fa/webauthn/")
    expect(page.locator(".account-table tbody tr")).to_have_count(1)
    check(page, "webauthn-list-with-key")

    page.goto("/accounts/logout/")
    page.get_by_role("main").get_by_role("button", name="Sign out", exact=True).click()
    sign_in(page, email, PASSWORD)
    expect(page).to_have_url(re.compile("/accounts/2fa/authenticate/$"))
    check(page, "mfa-authenticate")
    page.get_by_label("Code").fill(current_totp_code(secret))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.goto("/accounts/logout/")
    page.get_by_role("main").get_by_role("button", name="Sign out", exact=True).click()
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.close()
