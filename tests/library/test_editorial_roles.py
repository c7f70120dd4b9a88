"""The editorial roles (library/migrations/0003_editorial_roles.py), through the Wagtail admin as
each role uses it: contributors draft and submit, editors publish, unpublish, schedule and look
after the taxonomy, moderators approve submissions. The dashboard panel editors see is here too.
"""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from wagtail.models import Revision, Workflow

from library import dashboard
from library.models import LibraryItemPage, Publisher, ResourceType
from search.documents import document_text
from search.models import Synonym
from tests.library.helpers import (
    make_document,
    make_item,
    new_item_form,
    text,
    theme,
)

pytestmark = pytest.mark.django_db

CHOOSER = "wagtailsnippetchoosers_library_publisher"


def item_fields(slug, **extra):
    return {
        "title": slug.replace("-", " ").capitalize(),
        "slug": slug,
        "summary": f"About {slug}.",
        "publisher_links-0-publisher": str(Publisher.objects.get(name="NSPCC").pk),
        "resource_type": str(ResourceType.objects.get(slug="briefing").pk),
        "themes": [str(theme("prevention").pk)],
        "publication_date": "2026-02-01",
        "language": "en",
        **extra,
    }


def test_the_migration_sets_up_three_roles_and_the_moderators_workflow(db):
    assert {"Contributors", "Editors", "Moderators"} <= set(
        Group.objects.values_list("name", flat=True)
    )
    [task] = Workflow.objects.get(name="Moderators approval").tasks.all()
    assert [g.name for g in task.specific.groups.all()] == ["Moderators"]
    editors = Group.objects.get(name="Editors")
    codenames = set(editors.permissions.values_list("codename", flat=True))
    assert {"add_publisher", "change_resourcetype", "delete_synonym", "access_admin"} <= codenames
    contributors = Group.objects.get(name="Contributors")
    assert set(contributors.permissions.values_list("codename", flat=True)) == {"access_admin"}


def test_contributors_draft_and_submit_but_never_publish(library_index, contributor, editor):
    item = make_item("Already published")
    for page in (library_index, item, theme("technology")):
        permissions = page.permissions_for_user(contributor)
        assert permissions.can_edit() and not permissions.can_publish()
        assert page.permissions_for_user(editor).can_publish()
    assert library_index.permissions_for_user(contributor).can_add_subpage()
    assert not item.permissions_for_user(contributor).can_unpublish()
    assert item.permissions_for_user(editor).can_unpublish()
    assert not contributor.has_perm("library.add_publisher")
    assert editor.has_perm("library.add_publisher")


def test_a_contributors_submission_goes_to_the_moderators(demo_site, library_index, contributor):
    client = Client()
    client.force_login(contributor)
    url, data = new_item_form(
        client,
        library_index,
        **item_fields("contributed-briefing", **{"action-submit": "Submit"}),
    )
    assert client.post(url, data).status_code == 302
    page = LibraryItemPage.objects.get(slug="contributed-briefing")
    assert not page.live
    assert page.current_workflow_state.requested_by == contributor
    assert page.current_workflow_task.name == "Moderators approval"
    # It heads the editors' list of what waits for approval.
    assert [(p.pk, s.requested_by) for p, s in dashboard.awaiting_approval()] == [
        (page.pk, contributor)
    ]


def test_editors_publish_directly_and_unpublish(demo_site, library_index, editor):
    client = Client()
    client.force_login(editor)
    url, data = new_item_form(
        client,
        library_index,
        **item_fields("editors-briefing", **{"action-publish": "Publish"}),
    )
    assert client.post(url, data).status_code == 302
    page = LibraryItemPage.objects.get(slug="editors-briefing")
    assert page.live
    assert page.current_workflow_state is None  # no detour through the moderators
    assert Client().get(page.get_url()).status_code == 200
    assert page.pk in [p.pk for p in dashboard.recently_published()]

    response = client.post(reverse("wagtailadmin_pages:unpublish", args=(page.pk,)))
    assert response.status_code == 302
    page.refresh_from_db()
    assert not page.live
    assert Client().get(page.get_url()).status_code == 404


def test_editors_schedule_publication(demo_site, library_index, editor):
    client = Client()
    client.force_login(editor)
    go_live_at = timezone.localtime() + datetime.timedelta(days=2)
    url, data = new_item_form(
        client,
        library_index,
        **item_fields(
            "scheduled-briefing",
            go_live_at=go_live_at.strftime("%Y-%m-%d %H:%M"),
            **{"action-publish": "Publish"},
        ),
    )
    assert client.post(url, data).status_code == 302
    page = LibraryItemPage.objects.get(slug="scheduled-briefing")
    assert not page.live
    [(scheduled_page, when)] = dashboard.scheduled()
    assert scheduled_page.pk == page.pk
    assert when.date() == go_live_at.date()

    # When the time comes, Wagtail's publish_scheduled (run by cron in production) publishes it:
    # the revision's time is moved into the past rather than the clock forward.
    revision = Revision.objects.get(pk=page.latest_revision_id)
    past = timezone.now() - datetime.timedelta(minutes=1)
    revision.approved_go_live_at = past
    revision.content["go_live_at"] = past.isoformat()
    revision.save()
    call_command("publish_scheduled")
    page.refresh_from_db()
    assert page.live
    assert dashboard.scheduled() == []


def test_editors_manage_resource_types_and_synonyms(demo_site, editor, contributor):
    client = Client()
    client.force_login(contributor)
    refused = client.post(
        reverse("wagtailsnippets_library_resourcetype:add"),
        {"name": "Dataset", "plural": "Datasets", "slug": "dataset", "sort_order": "9"},
    )
    assert refused.status_code == 302  # back to the dashboard, nothing made
    assert not ResourceType.objects.filter(name="Dataset").exists()

    client.force_login(editor)
    response = client.post(
        reverse("wagtailsnippets_library_resourcetype:add"),
        {"name": "Dataset", "plural": "Datasets", "slug": "dataset", "sort_order": "9"},
    )
    assert response.status_code == 302
    assert ResourceType.objects.filter(name="Dataset").exists()
    response = client.post(
        reverse("wagtailsnippets_site_search_synonym:add"), {"terms": "OCSEA, online CSEA"}
    )
    assert response.status_code == 302
    assert Synonym.objects.filter(terms="OCSEA, online CSEA").exists()


def test_the_publisher_chooser_searches_and_lets_editors_create(demo_site, editor, contributor):
    client = Client()
    client.force_login(editor)
    modal = client.get(reverse(f"{CHOOSER}:choose")).json()
    assert 'name="q"' in modal["html"]
    assert "Create publisher" in modal["html"]

    response = client.post(
        reverse(f"{CHOOSER}:create"),
        {"name": "Global Partnership to End Violence", "short_name": "End Violence"},
    )
    assert response.status_code == 200
    chosen = response.json()
    assert chosen["step"] == "chosen"
    publisher = Publisher.objects.get(name="Global Partnership to End Violence")
    assert chosen["result"]["id"] == str(publisher.pk)
    assert publisher.slug == "global-partnership-to-end-violence"

    # Found by the start of its name or of its short name.
    for query in ("Global Part", "End Viol"):
        results = client.get(reverse(f"{CHOOSER}:choose_results"), {"q": query})
        assert "Global Partnership to End Violence" in text(results), query

    # A name whose address is taken is refused with a message, not a server error.
    clash = client.post(reverse(f"{CHOOSER}:create"), {"name": "nspcc"})
    assert clash.json()["step"] == "reshow_creation_form"
    assert "already the address of another entry" in clash.json()["htmlFragment"]

    client.force_login(contributor)
    assert "Create publisher" not in client.get(reverse(f"{CHOOSER}:choose")).json()["html"]
    refused = client.post(reverse(f"{CHOOSER}:create"), {"name": "Made by a contributor"})
    assert refused.status_code == 302  # Wagtail's refusal: back to the dashboard
    assert not Publisher.objects.filter(name="Made by a contributor").exists()


def test_the_dashboard_panel_lists_problems_for_editors_only(demo_site, editor, contributor):
    unreadable = make_document("Scanned letter", content=b"%PDF-1.4 not really a PDF")
    readable = make_document("Readable report")
    broken = make_item("Item with an unreadable PDF", attachments=[unreadable, readable])
    for document in (unreadable, readable):
        document_text(document)  # as indexing the published item does
    orphaned = make_item("Item that lost its publisher")
    orphaned.publisher_links.all().delete()
    LibraryItemPage.objects.filter(pk=orphaned.pk).update(summary="")

    found = {problem.page.pk: problem.reasons for problem in dashboard.problems()}
    assert found == {
        broken.pk: ["no text could be read from “Scanned letter”"],
        orphaned.pk: ["no summary", "no publisher"],
    }

    client = Client()
    client.force_login(editor)
    page = text(client.get(reverse("wagtailadmin_home")))
    assert "The library at a glance" in page
    assert "Item that lost its publisher</a>:\n            no summary; no publisher" in page
    client.force_login(contributor)
    assert "The library at a glance" not in text(client.get(reverse("wagtailadmin_home")))


def test_the_demo_library_has_no_problems(demo_site):
    assert dashboard.problems() == []
