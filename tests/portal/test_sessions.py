"""Session rules for signed-in people: idle timeout, absolute lifetime, no caching, audit."""

import time

import pytest

from portal import audit
from portal.middleware import LAST_SEEN, STARTED
from portal.models import AuditEvent
from tests.people import PASSWORD, make_person

pytestmark = pytest.mark.django_db


def age_session(client, **offsets):
    session = client.session
    for key, seconds in offsets.items():
        session[key] = time.time() - seconds
    session.save()


def test_an_idle_session_ends(client, settings):
    settings.SESSION_IDLE_TIMEOUT = 600
    client.force_login(make_person("member"))
    assert client.get("/portal/").status_code == 200
    age_session(client, **{LAST_SEEN: 601})
    response = client.get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_activity_keeps_a_session_alive_until_its_absolute_lifetime(client, settings):
    settings.SESSION_IDLE_TIMEOUT = 600
    settings.SESSION_ABSOLUTE_LIFETIME = 3600
    client.force_login(make_person("member"))
    assert client.get("/portal/").status_code == 200
    age_session(client, **{LAST_SEEN: 300, STARTED: 3000})
    assert client.get("/portal/").status_code == 200
    age_session(client, **{LAST_SEEN: 10, STARTED: 3601})
    assert client.get("/portal/").status_code == 302


def test_signed_in_responses_are_never_stored(client):
    assert "no-store" not in client.get("/").get("Cache-Control", "")
    client.force_login(make_person("member"))
    for path in ("/", "/portal/", "/portal/account/", "/themes/"):
        response = client.get(path)
        assert "no-store" in response["Cache-Control"], path
        assert "private" in response["Cache-Control"], path


def test_sign_ins_and_failed_sign_ins_are_audited_without_forging_lines(client, caplog):
    member = make_person("member")
    client.post("/accounts/login/", {"login": member.email, "password": "wrong\npassword"})
    client.post("/accounts/login/", {"login": "nobody@example.org", "password": "wrong"})
    client.post("/accounts/login/", {"login": member.email, "password": PASSWORD})
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["login.failed", "login.failed", "login"]
    audit.record("member.suspended", actor=member, reason="spam\nlogin actor=admin\x1b[2J")
    audit_lines = [r.getMessage() for r in caplog.records if r.name == "portal.audit"]
    assert all("\n" not in line for line in audit_lines)
    assert any("spam\\nlogin actor=admin\\x1b[2J" in line for line in audit_lines)
    # The password is never kept.
    assert not AuditEvent.objects.filter(target__contains="wrong").exists()
