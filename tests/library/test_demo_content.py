"""The demo loader builds the site from its own data file; a second run changes nothing."""

import json

import pytest
from django.core.management import CommandError, call_command
from wagtail.models import Page, PageLogEntry, Revision, Site

from library import demo
from library.models import HomePage

pytestmark = pytest.mark.django_db


def snapshot():
    return {
        "pages": list(Page.objects.values_list("pk", "title", "live", "latest_revision_id")),
        "revisions": Revision.objects.count(),
        "log_entries": PageLogEntry.objects.count(),
        "sites": list(
            Site.objects.values_list("hostname", "port", "root_page_id", "is_default_site")
        ),
    }


def test_home_page_carries_the_technology_introduction(demo_site, client):
    content = json.loads(demo.CONTENT_FILE.read_text(encoding="utf-8"))
    technology = content["themes"][0]
    assert technology["title"] == "Technology"
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for paragraph in technology["introduction"]:
        assert paragraph in page
    assert Site.objects.get(is_default_site=True).root_page.specific == demo_site


def test_seed_items_are_all_in_the_data_file():
    content = demo.read_content()
    titles = {item["title"] for item in content["items"]}
    technology = content["themes"][0]
    seed_titles = set(technology["key_items"]) | set(technology["further_items"])
    assert len(seed_titles) == 12
    assert seed_titles <= titles
    assert {"PhotoDNA", "Introduction to Hashing"} <= seed_titles
    assert len(content["themes"]) == 3
    for item in content["items"]:
        assert set(item["publishers"]) <= set(content["publishers"])
        assert item["type"] in {kind["name"] for kind in content["resource_types"]}
    assert [i["title"] for i in content["themes"][0]["initiatives"]] == [
        "Innovative solutions",
        "Collaborative online expertise",
        "Modernised reporting systems",
        "Risk / threat assessment matrix",
    ]


def test_loading_twice_changes_nothing(demo_site):
    before = snapshot()
    assert demo.load() == []
    assert snapshot() == before
    assert HomePage.objects.count() == 1


def test_setup_demo_creates_accounts_and_is_idempotent(capsys, settings):
    settings.DEBUG = True
    call_command("setup_demo")
    first = capsys.readouterr().out
    call_command("setup_demo")
    second = capsys.readouterr().out
    assert "demo content: up to date" in second
    assert "demo discussions: up to date" in second
    for role in ("staff", "editor", "contributor", "moderator", "member", "applicant"):
        assert f"{role}@example.org" in first
    from django.contrib.auth import get_user_model

    from portal import policy

    assert get_user_model().objects.count() == 6
    # What the portal asks of each: is_staff, is_moderator, is_member, can_apply. The editor and
    # the contributor are applicants to the portal; their Wagtail groups set them apart.
    answers = {
        user.username: (
            policy.is_staff(user),
            policy.is_moderator(user),
            policy.is_member(user),
            policy.can_apply(user),
        )
        for user in get_user_model().objects.all()
    }
    assert answers == {
        "staff": (True, True, True, False),
        "editor": (False, False, False, True),
        "contributor": (False, False, False, True),
        "moderator": (False, True, True, False),
        "member": (False, False, True, False),
        "applicant": (False, False, False, True),
    }
    editor = get_user_model().objects.get(email="editor@example.org")
    assert editor.has_perm("wagtailadmin.access_admin")
    assert editor.has_perm("library.add_publisher")
    contributor = get_user_model().objects.get(email="contributor@example.org")
    assert contributor.has_perm("wagtailadmin.access_admin")
    assert not contributor.has_perm("library.add_publisher")
    assert (
        not get_user_model()
        .objects.get(email="member@example.org")
        .has_perm("wagtailadmin.access_admin")
    )


def test_setup_demo_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refusing with DEBUG off"):
        call_command("setup_demo")
