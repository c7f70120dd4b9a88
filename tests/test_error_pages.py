"""Missing pages, refusals, server errors and refused forms get the site's own pages, in the
embedded default (`make run`) as in production: the site's header and style, ways on (home,
library, search), and never a traceback or a list of the site's URL patterns."""

import subprocess
import sys

import pytest
from django.test import Client

from tests.conftest import ROOT

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.error_urls")]

# What Django's debug pages show and the site's pages must not.
DEBUG_PAGE_MARKS = ("URLconf", "Traceback", "Request Method:", "only the server should know")


def assert_site_page(response, status, heading):
    assert response.status_code == status
    html = response.content.decode()
    assert 'class="site-header"' in html
    assert '<link rel="stylesheet" href="/static/css/site.css">' in html
    assert f"<h1>{heading}</h1>" in html
    for link in ('href="/"', 'href="/library/"', 'action="/library/"'):
        assert link in html, link
    for mark in DEBUG_PAGE_MARKS:
        assert mark not in html, mark
    return html


@pytest.mark.parametrize("path", ["/no-such-page/", "/no/such/file.php", "/library/no-such-item/"])
def test_missing_page(client, path):
    assert_site_page(client.get(path), 404, "Page not found")


def test_refusal(client):
    assert_site_page(client.get("/test-errors/403/"), 403, "This page is not open to you")


def test_server_error():
    client = Client(raise_request_exception=False)
    assert_site_page(client.get("/test-errors/500/"), 500, "Something went wrong")


def test_refused_form_says_what_was_typed_is_kept():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"login": "someone@example.org", "password": "x"})
    html = assert_site_page(response, 403, "Your form was not sent")
    assert "Back button and what you typed is still in the form" in html


def settings_under(environment):
    """DEVELOPMENT and DEBUG as config.settings reads them from this environment."""
    code = "import config.settings as s; print(s.DEVELOPMENT, s.DEBUG)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "", "VAR_DIR": str(ROOT / "var"), **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_debug_pages_only_when_asked_for_and_never_on_a_deployment():
    production = {
        "DEBUG": "false",
        "SECRET_KEY": "a-production-secret-key-that-is-long-and-random-enough-7f3a9c1e2b4d6f8a0c",
        "ALLOWED_HOSTS": "portal.example.org",
    }
    assert settings_under({}) == ["True", "False"]  # make run
    assert settings_under({"DEBUG_PAGES": "true"}) == ["True", "True"]
    assert settings_under({**production, "DEBUG_PAGES": "true"}) == ["False", "False"]
