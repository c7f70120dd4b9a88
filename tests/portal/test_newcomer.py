"""A newcomer's way in, as the site says it: the account pages and e-mails in the site's voice
(allauth's wording reworded in locale/, its e-mails by the real flows into Django's locmem
outbox), each leading to the next step; and the pages that tell people who a part of the portal
is for, by the policy's rule."""

import ast
import re
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

from tests.people import APPLICATION, NEWCOMER_PASSWORD, make_person

pytestmark = pytest.mark.django_db

CATALOGUE = Path(__file__).resolve().parents[2] / "locale/en_GB/LC_MESSAGES/django.po"


def catalogue_entries():
    """(msgid, msgstr) pairs of the site's catalogue, read from the .po source."""
    text = CATALOGUE.read_text()
    pattern = r'^msgid ((?:".*"\n)+)msgstr ((?:".*"\n?)+)'
    for msgid, msgstr in re.findall(pattern, text, flags=re.MULTILINE):
        strings = [
            "".join(ast.literal_eval(line) for line in part.split("\n") if line)
            for part in (msgid, msgstr)
        ]
        if strings[0]:
            yield tuple(strings)


def test_every_reworded_string_is_compiled_and_wins_over_allauths():
    entries = list(catalogue_entries())
    assert len(entries) > 100
    with translation.override("en-gb"):
        stale = [(i, s) for i, s in entries if translation.gettext(i) != s]
    assert stale == [], "compile locale/en_GB/LC_MESSAGES/django.po with msgfmt"


def link_in(message, path):
    return re.search(rf"https?://[^/\s]+({path}\S+)", message.body).group(1)


def assert_in_the_sites_voice(message):
    assert message.subject.startswith("[Protectors' Portal] ")
    assert message.body.startswith("Hello")
    assert "Hello from" not in message.body and "testserver!" not in message.body
    assert "Protectors' Portal" in message.body


def test_sign_up_page_explains_vetting_in_sentence_case(client):
    page = client.get("/accounts/signup/").content.decode()
    assert '<h1 id="page-title">Create your account</h1>' in page
    assert "Apply: tell us your organisation and your role." in page
    assert "A moderator reads your application and decides." in page
    assert "The library is open to everyone." in page
    assert '<label for="id_email">E-mail address</label>' in page  # no "Email:"
    sign_in = client.get("/accounts/login/").content.decode()
    assert "Sign in" in sign_in and "Sign In" not in sign_in


def test_sign_up_confirm_apply_and_be_approved_by_email(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    """Every step's e-mail in the site's voice, each leading on: confirming the address in the
    browser that signed up signs the person in and takes them to the application."""
    response = client.post(
        "/accounts/signup/",
        {
            "email": "ada@helpline.example",
            "password1": NEWCOMER_PASSWORD,
            "password2": NEWCOMER_PASSWORD,
        },
    )
    assert response["Location"] == "/accounts/confirm-email/"
    waiting = client.get("/accounts/confirm-email/").content.decode()
    assert "Check your e-mail" in waiting and "application form" in waiting

    (confirm,) = mailoutbox
    assert confirm.subject == "[Protectors' Portal] Confirm your e-mail address"
    assert_in_the_sites_voice(confirm)
    assert "apply to join the discussions" in confirm.body
    assert "organisation and your role" in confirm.body
    response = client.post(link_in(confirm, "/accounts/confirm-email/"))
    assert response["Location"] == "/portal/apply/"
    apply_page = client.get("/portal/apply/").content.decode()
    assert "Thank you: ada@helpline.example is confirmed." in apply_page
    assert "Apply to join" in apply_page

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/portal/apply/", APPLICATION)
    received = mailoutbox[-1]
    assert received.to == ["ada@helpline.example"]
    assert received.subject == "[Protectors' Portal] We have your application"
    assert "Safeguarding lead at Helpline Trust" in received.body
    assert "a moderator reads it and decides" in received.body

    moderator = Client()
    moderator.force_login(make_person("moderator"))
    membership_id = re.search(
        r"/portal/moderation/applications/(\d+)/", moderator.get("/portal/moderation/").text
    ).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        moderator.post(
            f"/portal/moderation/applications/{membership_id}/",
            {"decision": "approve", "reason": ""},
        )
    welcome = mailoutbox[-1]
    assert welcome.subject == "[Protectors' Portal] Welcome: your membership is approved"
    assert "join the discussions: http" in welcome.body


def test_confirming_in_another_browser_leads_to_sign_in_then_the_application(client, mailoutbox):
    client.post(
        "/accounts/signup/",
        {
            "email": "bo@helpline.example",
            "password1": NEWCOMER_PASSWORD,
            "password2": NEWCOMER_PASSWORD,
        },
    )
    other_browser = Client()
    response = other_browser.post(link_in(mailoutbox[0], "/accounts/confirm-email/"))
    assert response["Location"] == "/accounts/login/?next=%2Fportal%2Fapply%2F"
    page = other_browser.get(response["Location"]).content.decode()
    assert "Sign in to apply to join the discussions." in page
    assert "Thank you: bo@helpline.example is confirmed." in page


def test_password_reset_emails_lead_on(client, mailoutbox):
    person = make_person("member")
    client.post("/accounts/password/reset/", {"email": person.email})
    client.post("/accounts/password/reset/", {"email": "stranger@example.org"})
    reset, unknown = mailoutbox
    assert reset.subject == "[Protectors' Portal] Reset your password"
    assert_in_the_sites_voice(reset)
    assert "To choose a new password, open this link:" in reset.body
    assert unknown.subject == "[Protectors' Portal] No account uses this address"
    assert_in_the_sites_voice(unknown)
    assert "/accounts/signup/" in unknown.body

    form = client.get(link_in(reset, "/accounts/password/reset/key/"), follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"password1": "a-fresh-passphrase-for-me", "password2": "a-fresh-passphrase-for-me"},
        follow=True,
    )
    done = client.get("/accounts/password/reset/key/done/").content.decode()
    assert "Your password is changed" in done and 'href="/accounts/login/"' in done


def test_visitors_sent_to_sign_in_are_told_the_forum_is_for_members(client):
    response = client.get("/portal/c/technology/")
    assert response["Location"] == "/accounts/login/?next=/portal/c/technology/"
    page = client.get(response["Location"]).content.decode()
    assert "The discussions are for approved members." in page
    assert "Sign in to apply" not in page
    assert "approved members" not in client.get("/accounts/login/").content.decode()


def test_refusals_name_who_the_page_is_for(client):
    applicant = make_person("applicant")
    client.force_login(applicant)
    page = client.get("/portal/apply/").content.decode()
    menu = page.split('aria-label="Main"')[1].split("</nav>")[0]
    assert 'aria-current="page">Your application' in menu and "Discussions" not in menu
    refused = client.get("/portal/")
    assert refused.status_code == 403
    assert "The discussions are for approved members" in refused.content.decode()
    assert "waiting for a moderator" in refused.content.decode()

    client.force_login(make_person("member"))
    menu = client.get("/portal/").content.decode().split('aria-label="Main"')[1]
    assert 'aria-current="page">Discussions' in menu and "Notifications" in menu
    assert "Moderation" not in menu.split("</nav>")[0]
    refused = client.get("/portal/moderation/")
    assert refused.status_code == 403
    text = refused.content.decode()
    assert "This page is for moderators" in text
    assert "for members" not in text and "approved members" not in text

    client.force_login(make_person("moderator"))
    refused = client.get("/portal/moderation/audit/")
    assert refused.status_code == 403
    assert "This page is for staff" in refused.content.decode()
