"""Security headers: a strict CSP on the site, a looser one only under the Wagtail admin."""

import pytest

pytestmark = pytest.mark.django_db


def directives(response):
    return dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )


def test_public_pages_get_the_strict_policy(client, demo_site):
    response = client.get("/")
    assert response.status_code == 200
    policy = directives(response)
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


def test_only_the_admin_gets_the_looser_policy(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert "'unsafe-inline'" in directives(response)["script-src"]
    account = client.get("/accounts/login/")
    assert "unsafe" not in account["Content-Security-Policy"]
