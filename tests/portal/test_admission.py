"""From sign-up to the forum: verify the e-mail, apply, a moderator decides, the e-mails say so."""

import re

import pytest

from portal.models import AuditEvent, Membership, TrustedDomain
from tests.people import APPLICATION, NEWCOMER_PASSWORD, make_person

pytestmark = pytest.mark.django_db


def link_in(message):
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


def sign_up_and_verify(client, mailoutbox, email="ada@helpline.example"):
    response = client.post(
        "/accounts/signup/",
        {"email": email, "password1": NEWCOMER_PASSWORD, "password2": NEWCOMER_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get("/portal/").status_code == 302  # not signed in until verified
    confirmation = link_in(mailoutbox[-1])
    assert "/accounts/confirm-email/" in confirmation
    client.post(confirmation)
    response = client.post("/accounts/login/", {"login": email, "password": NEWCOMER_PASSWORD})
    assert response.status_code == 302
    return response


def test_sign_up_verify_apply_approve_enter(client, mailoutbox, django_capture_on_commit_callbacks):
    response = sign_up_and_verify(client, mailoutbox)
    assert response["Location"] == "/portal/apply/"
    assert client.get("/portal/").status_code == 403  # an applicant, not a member

    form = client.get("/portal/apply/")
    assert b"code of conduct" in form.content
    missing = client.post("/portal/apply/", {**APPLICATION, "agreed": ""})
    assert b"Please agree to the code of conduct" in missing.content
    assert b"Helpline Trust" in missing.content  # nothing typed is lost
    response = client.post("/portal/apply/", APPLICATION)
    assert response.status_code == 302
    assert b"waiting for a moderator" in client.get("/portal/apply/").content

    moderator_client = client.__class__()
    moderator_client.force_login(make_person("moderator"))
    queue = moderator_client.get("/portal/moderation/")
    assert b"Ada Practitioner" in queue.content
    membership = Membership.objects.get(full_name="Ada Practitioner")
    with django_capture_on_commit_callbacks(execute=True):
        moderator_client.post(
            f"/portal/moderation/applications/{membership.pk}/",
            {"decision": "approve", "reason": ""},
        )

    welcome = mailoutbox[-1]
    assert welcome.to == ["ada@helpline.example"]
    assert "approved" in welcome.subject
    assert "/portal/" in welcome.body
    assert client.get("/portal/").status_code == 200
    assert AuditEvent.objects.filter(action="membership.approved").exists()


def test_declined_applicants_are_told_why_and_stay_out(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    sign_up_and_verify(client, mailoutbox, email="eve@example.net")
    client.post("/portal/apply/", {**APPLICATION, "full_name": "Eve Unknown"})
    moderator_client = client.__class__()
    moderator_client.force_login(make_person("moderator"))
    membership = Membership.objects.get(full_name="Eve Unknown")
    url = f"/portal/moderation/applications/{membership.pk}/"
    no_reason = moderator_client.post(url, {"decision": "decline", "reason": ""})
    assert no_reason.status_code == 400
    assert b"Please enter a reason" in no_reason.content
    with django_capture_on_commit_callbacks(execute=True):
        moderator_client.post(
            url, {"decision": "decline", "reason": "We could not verify your role."}
        )

    declined = mailoutbox[-1]
    assert declined.to == ["eve@example.net"]
    assert "We could not verify your role." in declined.body
    assert client.get("/portal/").status_code == 403
    again = client.get("/portal/apply/")
    assert b"We could not verify your role." in again.content  # they may apply again


def test_trusted_domains_are_approved_on_applying(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    TrustedDomain.objects.create(domain="@NSPCC.example", organisation="NSPCC")
    sign_up_and_verify(client, mailoutbox, email="sam@nspcc.example")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/portal/apply/", APPLICATION)
    assert response["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
    assert "approved" in mailoutbox[-1].subject
