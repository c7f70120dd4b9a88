"""The Wagtail admin makes no calls to third parties: no Gravatar avatars (they would hand staff
e-mail hashes to an outside service) and no release-news or upgrade checks. Links editors may
follow (the help menu's guide) are not calls and stay."""

import re

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

# Gravatar, the upgrade check's controller and feed, and the "what's new" banner.
THIRD_PARTY_CALLS = re.compile(
    r"gravatar\.com|releases\.wagtail\.io|latest\.txt|w-upgrade|whats_new_in_wagtail"
)


def test_admin_dashboard_calls_no_third_party(client):
    staff = get_user_model().objects.create_superuser(
        username="staff", email="staff@example.org", password="unused-in-tests"
    )
    client.force_login(staff)
    response = client.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    assert THIRD_PARTY_CALLS.findall(html) == []
    avatars = re.findall(r'<img src="([^"]*avatar[^"]*)"', html)
    assert avatars, "the admin shows the user's avatar"
    assert all(src.startswith("/static/") for src in avatars), avatars
