"""The editorial workflow end to end, through the Wagtail admin as editors and moderators use it.

A contributor writes a briefing under the library and submits it to Wagtail's default "Moderators
approval" workflow; until a moderator approves it, nothing public knows it exists (page, listing,
theme page, feeds, API, sitemap) and the document attached to it cannot be downloaded. What
editors may do besides (publish directly, schedule, manage the taxonomy) is in
test_editorial.py.
"""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from wagtail.documents import get_document_model
from wagtail.models import Collection, PageViewRestriction, Workflow
from wagtail.rich_text import RichText

from library.demo.pdf import text_pdf
from library.models import LibraryItemDocument, LibraryItemPage, Publisher, ResourceType
from tests.library.helpers import (
    all_pages_of,
    atom_titles,
    card_titles,
    make_document,
    make_item,
    new_item_form,
    rss_titles,
    sitemap_locations,
    text,
    theme,
)

pytestmark = pytest.mark.django_db

TITLE = "Briefing: age assurance roundtable outcomes"
FILENAME = "age-assurance-briefing.pdf"


def api_ids(client, **params):
    """Every id the items API lists, following its offset pagination."""
    ids, offset = [], 0
    while True:
        response = client.get("/api/v2/items/", {**params, "offset": offset, "limit": 20})
        assert response.status_code == 200, response.content
        body = response.json()
        ids.extend(item["id"] for item in body["items"])
        offset += 20
        if offset >= body["meta"]["total_count"]:
            return ids


def on_library_front_page(client, title):
    """Whether the library's front page (/library/, newest first) shows an item."""
    response = client.get("/library/", {"sort": "newest"})
    assert response.status_code == 200
    return escape(title) in text(response)


def upload_document(client, title, filename, content):
    """Someone in the admin uploads a file through the admin's single-document form."""
    response = client.post(
        reverse("wagtaildocs:add"),
        {
            "title": title,
            "file": SimpleUploadedFile(filename, content),
            "collection": Collection.get_first_root_node().pk,
        },
    )
    assert response.status_code == 302, text(response)
    return get_document_model().objects.get(title=title)


def public_view(anonymous, page, document):
    """Where an anonymous visitor can see the item, as a dict of booleans."""
    library_page_url = page.get_url()
    feed = anonymous.get("/library/feed/rss/")
    atom = anonymous.get("/library/themes/technology/feed/atom/")
    prevention_rss = anonymous.get("/library/themes/prevention/feed/rss/")
    sitemap = anonymous.get("/sitemap.xml")
    return {
        "page": anonymous.get(library_page_url).status_code == 200,
        "api_detail": anonymous.get(f"/api/v2/items/{page.pk}/").status_code == 200,
        "api_listing": page.pk in api_ids(anonymous),
        "listing": on_library_front_page(anonymous, TITLE),
        "publisher_listing": TITLE in card_titles(anonymous.get("/library/publishers/nspcc/")),
        "type_listing": TITLE in all_pages_of(anonymous, "/library/types/briefing/"),
        "theme_page": TITLE in card_titles(anonymous.get("/themes/prevention/")),
        "home_page": TITLE in card_titles(anonymous.get("/")),
        "rss": TITLE in rss_titles(feed),
        "theme_atom": TITLE in atom_titles(atom),
        "theme_rss": TITLE in rss_titles(prevention_rss),
        "sitemap": any(loc.endswith(library_page_url) for loc in sitemap_locations(sitemap)),
        "document": anonymous.get(document.url).status_code == 200,
    }


def test_default_workflow_is_moderators_approval_on_the_whole_site(demo_site):
    workflow = Workflow.objects.get(name="Moderators approval")
    assert workflow.active
    [task] = workflow.tasks.all()
    assert [g.name for g in task.specific.groups.all()] == ["Moderators"]
    assert demo_site.get_workflow() == workflow


def test_contributor_submits_briefing_moderator_approves_then_it_is_public(
    demo_site, library_index, contributor, moderator, client
):
    anonymous = Client()
    client.force_login(contributor)
    pdf = text_pdf(TITLE, "What the roundtable agreed on age assurance.")
    document = upload_document(client, f"{TITLE} (PDF)", FILENAME, pdf)

    url, data = new_item_form(
        client,
        library_index,
        **{
            "title": TITLE,
            "slug": "age-assurance-roundtable-outcomes",
            "summary": "What the roundtable agreed on age assurance.",
            "publisher_links-0-publisher": str(Publisher.objects.get(name="NSPCC").pk),
            "resource_type": str(ResourceType.objects.get(slug="briefing").pk),
            "themes": [str(theme("technology").pk), str(theme("prevention").pk)],
            "publication_date": datetime.date.today().isoformat(),
            "language": "en",
            "attachments-TOTAL_FORMS": "1",
            "attachments-0-document": str(document.pk),
            "attachments-0-label": "Download the briefing",
            "attachments-0-ORDER": "1",
            "attachments-0-DELETE": "",
            "attachments-0-id": "",
            "action-submit": "Submit to Moderators approval",
        },
    )
    response = client.post(url, data)
    assert response.status_code == 302, text(response)

    page = LibraryItemPage.objects.get(title=TITLE)
    assert page.get_parent().specific == library_index
    assert not page.live
    assert page.owner == contributor
    assert page.publisher_names == ["NSPCC"]
    assert sorted(page.themes.values_list("slug", flat=True)) == ["prevention", "technology"]
    assert [a.document for a in page.attachments.all()] == [document]
    workflow_state = page.current_workflow_state
    assert workflow_state is not None
    assert workflow_state.status == "in_progress"
    assert workflow_state.requested_by == contributor
    assert page.current_workflow_task.name == "Moderators approval"

    # Submitted, not approved: invisible everywhere; only the admin's users fetch the document.
    seen = public_view(anonymous, page, document)
    assert seen == dict.fromkeys(seen, False)
    assert anonymous.get(document.url).status_code == 404
    download = client.get(document.url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")

    # The moderator approves through the admin's workflow action.
    moderator_client = Client()
    moderator_client.force_login(moderator)
    task_state = page.current_workflow_task_state
    response = moderator_client.post(
        reverse("wagtailadmin_pages:workflow_action", args=(page.pk, "approve", task_state.pk)),
        {"comment": "Checked the sources."},
    )
    assert response.status_code == 302
    page.refresh_from_db()
    assert page.live
    workflow_state.refresh_from_db()
    assert workflow_state.status == "approved"

    # Published: everywhere a visitor looks.
    seen = public_view(anonymous, page, document)
    assert seen == dict.fromkeys(seen, True)
    detail = anonymous.get(f"/api/v2/items/{page.pk}/").json()
    assert detail["title"] == TITLE
    assert detail["resource_type"] == "Briefing"
    assert detail["publishers"] == ["NSPCC"]
    assert sorted(detail["themes"]) == ["Prevention", "Technology"]
    download = anonymous.get(document.url)
    assert b"".join(download.streaming_content) == pdf
    # The demo gives Technology editors' choices, which take the place of the newest items, so
    # the briefing reaches that theme through its feed (checked above), not its key items.
    assert theme("technology").key_item_links.exists()
    assert TITLE not in card_titles(anonymous.get("/themes/technology/"))


def test_contributors_cannot_bypass_moderation_by_publishing(library_index, contributor, client):
    client.force_login(contributor)
    url, data = new_item_form(
        client,
        library_index,
        **{
            "title": "Contributor tries to publish",
            "slug": "contributor-tries-to-publish",
            "summary": "Should wait for a moderator.",
            "publisher_links-0-publisher": str(Publisher.objects.first().pk),
            "resource_type": str(ResourceType.objects.get(slug="report").pk),
            "themes": [str(theme("technology").pk)],
            "publication_date": "2026-01-05",
            "language": "en",
            "action-publish": "Publish",
        },
    )
    client.post(url, data)
    page = LibraryItemPage.objects.get(slug="contributor-tries-to-publish")
    assert not page.live
    assert Client().get(page.get_url()).status_code == 404


def test_moderator_rejection_keeps_the_item_private(library_index, contributor, moderator, client):
    client.force_login(contributor)
    url, data = new_item_form(
        client,
        library_index,
        **{
            "title": "Needs more work",
            "slug": "needs-more-work",
            "summary": "A first draft.",
            "publisher_links-0-publisher": str(Publisher.objects.first().pk),
            "resource_type": str(ResourceType.objects.get(slug="report").pk),
            "themes": [str(theme("technology").pk)],
            "publication_date": "2026-01-05",
            "language": "en",
            "action-submit": "Submit",
        },
    )
    assert client.post(url, data).status_code == 302
    page = LibraryItemPage.objects.get(slug="needs-more-work")
    moderator_client = Client()
    moderator_client.force_login(moderator)
    task_state = page.current_workflow_task_state
    moderator_client.post(
        reverse("wagtailadmin_pages:workflow_action", args=(page.pk, "reject", task_state.pk)),
        {"comment": "Please cite the source."},
    )
    page.refresh_from_db()
    assert not page.live
    assert page.current_workflow_state.status == "needs_changes"
    assert Client().get(page.get_url()).status_code == 404
    assert Client().get(f"/api/v2/items/{page.pk}/").status_code == 404


def test_only_moderators_can_approve(library_index, contributor, editor, member, client):
    page = make_item("Awaiting review", publish=False)
    Workflow.objects.get(name="Moderators approval").start(page, contributor)
    task_state = page.current_workflow_task_state
    approve = reverse(
        "wagtailadmin_pages:workflow_action", args=(page.pk, "approve", task_state.pk)
    )
    # Editors publish their own work directly; approving others' submissions is the moderators'.
    for user in (contributor, editor, member):
        client.force_login(user)
        client.post(approve, {"comment": ""})
        page.refresh_from_db()
        assert not page.live
    client.logout()
    client.post(approve, {"comment": ""})
    page.refresh_from_db()
    assert not page.live


def test_unpublishing_withdraws_page_feed_api_and_document(library_index, client):
    document = make_document("Withdrawn report")
    page = make_item("Withdrawn report", attachments=[document], date=datetime.date.today())
    assert client.get(page.get_url()).status_code == 200
    assert client.get(document.url).status_code == 200

    page.unpublish()

    assert client.get(page.get_url()).status_code == 404
    assert client.get(document.url).status_code == 404
    assert client.get(f"/api/v2/items/{page.pk}/").status_code == 404
    assert "Withdrawn report" not in rss_titles(client.get("/library/feed/rss/"))
    assert not on_library_front_page(client, "Withdrawn report")
    assert "Withdrawn report" not in all_pages_of(client, "/library/types/report/")


def test_items_behind_a_view_restriction_are_not_public(library_index, editor, client):
    document = make_document("Members-only evidence")
    page = make_item("Members-only evidence", attachments=[document], date=datetime.date.today())
    assert page.pk in api_ids(client)
    assert "Members-only evidence" in rss_titles(client.get("/library/feed/rss/"))
    assert client.get(document.url).status_code == 200
    PageViewRestriction.objects.create(page=page, restriction_type=PageViewRestriction.LOGIN)
    assert client.get(page.get_url()).status_code == 302  # to the log-in page
    assert client.get(f"/api/v2/items/{page.pk}/").status_code == 404
    assert page.pk not in api_ids(client)
    assert not on_library_front_page(client, "Members-only evidence")
    assert "Members-only evidence" not in all_pages_of(client, "/library/types/report/")
    assert "Members-only evidence" not in rss_titles(client.get("/library/feed/rss/"))
    assert "Members-only evidence" not in atom_titles(
        client.get("/library/themes/technology/feed/atom/")
    )
    locations = sitemap_locations(client.get("/sitemap.xml"))
    assert not any(loc.endswith(page.get_url()) for loc in locations)
    assert client.get(document.url).status_code == 404
    client.force_login(editor)
    assert client.get(document.url).status_code == 200


def test_a_document_used_only_by_a_draft_of_a_live_page_stays_private(library_index, client):
    """Attaching a file in an unpublished revision of a live item must not publish the file."""
    page = make_item("Live item with a pending attachment")
    document = make_document("Pending attachment")
    draft = page.specific
    draft.attachments.add(LibraryItemDocument(document=document, label="Pending"))
    draft.save_revision()  # a draft revision; the live page is unchanged
    assert client.get(page.get_url()).status_code == 200
    assert client.get(document.url).status_code == 404


def test_orphan_document_is_private(demo_site, client, editor):
    document = make_document("Not attached anywhere")
    assert client.get(document.url).status_code == 404
    client.force_login(editor)
    assert client.get(document.url).status_code == 200


def test_document_url_with_wrong_filename_is_404(library_index, client):
    document = make_document("Right name")
    page = make_item("Has the right name", attachments=[document])
    assert page.live
    assert client.get(document.url).status_code == 200
    assert client.get(f"/documents/{document.pk}/other-name.pdf").status_code == 404


def test_documents_linked_from_a_live_body_are_public(library_index, client):
    """Links in the StreamField body count as use, both the document block and rich text."""
    in_block = make_document("Linked from a block")
    in_text = make_document("Linked from rich text")
    unused = make_document("Linked from nowhere")
    assert client.get(in_block.url).status_code == 404
    make_item(
        "Item with linked documents",
        body=[
            ("document", {"document": in_block, "label": "The block link"}),
            (
                "paragraph",
                RichText(f'<p>See <a linktype="document" id="{in_text.pk}">this</a>.</p>'),
            ),
        ],
    )
    assert client.get(in_block.url).status_code == 200
    assert client.get(in_text.url).status_code == 200
    assert client.get(unused.url).status_code == 404
