"""Editors publishing briefings, through the Wagtail admin as each role uses it: contributors draft
and submit, editors publish, unpublish, schedule and look after the taxonomy, moderators approve
submissions (library/migrations/0003_editorial_roles.py); the editors' dashboard panel; briefings in
sections with chosen related items; and "Cite this" on every item page: the formatted reference,
the RIS, BibTeX and CSL-JSON downloads read back by parsers, the citation_* meta tags, and no
citation of anything that is not public. One module, so the demo site is built once for all.
"""

import datetime
import json
import re

import bibtexparser
import pytest
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from pylatexenc.latex2text import LatexNodes2Text
from wagtail.models import PageViewRestriction, Revision, Workflow
from wagtail.rich_text import RichText

from library import dashboard
from library.models import LibraryItemPage, LibraryItemRelated, Publisher, ResourceType
from search.documents import document_text
from search.models import Synonym
from tests.library.helpers import (
    card_titles,
    make_document,
    make_item,
    make_publisher,
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


# --- Briefings and citations ---------------------------------------------------------------------


OUTCOMES = "Outcomes briefing – technology, privacy and rights roundtable"
STYLES = ("ris", "bibtex", "csl-json")
# LaTeX's specials, an accent and a long dash: what BibTeX and RIS writers most often break.
AWKWARD_TITLE = "Risk & response: 50% of {reports} cost $0 #1 – naïve_mode ~ 3"


def cite(client, item, style):
    return client.get(f"{item.get_url()}cite/{style}/")


def ris_records(content):
    """RIS as reference managers read it: one "TAG  - value" per line, records ended by ER."""
    records, current = [], []
    for line in content.decode().split("\r\n"):
        if not line:
            continue
        match = re.fullmatch(r"([A-Z][A-Z0-9])  - (.*)", line)
        assert match, f"not an RIS line: {line!r}"
        tag, value = match.groups()
        if tag == "ER":
            records.append(current)
            current = []
        else:
            current.append((tag, value))
    assert current == [], "record not closed by ER"
    return records


def bibtex_entry(content):
    """The one BibTeX entry in a download and its fields as LaTeX renders them, authors split
    where BibTeX splits them (at "and" outside braces)."""
    source = content.decode()
    decoded = bibtexparser.parse_string(source, append_middleware=[LatexDecodingMiddleware()])
    raw = bibtexparser.parse_string(source, append_middleware=[SeparateCoAuthors()])
    assert decoded.failed_blocks == [] and raw.failed_blocks == []
    [entry], [raw_entry] = decoded.entries, raw.entries
    fields = {field.key: field.value for field in entry.fields}
    fields["author"] = [
        LatexNodes2Text().latex_to_text(name) for name in raw_entry.fields_dict["author"].value
    ]
    return entry, fields


def meta_tags(page):
    return re.findall(r'<meta name="(citation_[a-z_]+)" content="([^"]*)">', page)


def test_cite_this_on_a_briefing_with_two_publishers_and_a_pdf(demo_site, client):
    item = LibraryItemPage.objects.get(title=OUTCOMES)
    url = item.get_full_url()
    [attachment] = item.attachments.all()
    pdf_url = f"http://127.0.0.1:8000{attachment.document.url}"
    page = text(client.get(item.get_url()))

    assert (
        "ECPAT International, &amp; WeProtect Global Alliance. (2021). "
        f"<i>{escape(OUTCOMES)}</i> [Briefing]. {url}"
    ) in page
    for style in STYLES:
        assert f'href="{item.get_url()}cite/{style}/" download' in page
    assert meta_tags(page) == [
        ("citation_title", escape(OUTCOMES)),
        ("citation_author", "ECPAT International"),
        ("citation_author", "WeProtect Global Alliance"),
        ("citation_publication_date", "2021/06/15"),
        ("citation_publisher", "ECPAT International, WeProtect Global Alliance"),
        ("citation_language", "en"),
        ("citation_abstract_html_url", url),
        ("citation_technical_report_institution", "ECPAT International, WeProtect Global Alliance"),
        ("citation_pdf_url", pdf_url),
    ]

    response = cite(client, item, "ris")
    assert response["Content-Type"] == "application/x-research-info-systems; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{item.slug}.ris"'
    [record] = ris_records(response.content)
    assert record == [
        ("TY", "RPRT"),
        ("TI", OUTCOMES),
        ("AU", "ECPAT International"),
        ("AU", "WeProtect Global Alliance"),
        ("PY", "2021"),
        ("DA", "2021/06/15/"),
        ("PB", "ECPAT International, WeProtect Global Alliance"),
        ("M3", "Briefing"),
        ("AB", item.summary),
        ("LA", "en"),
        ("UR", url),
        ("L1", pdf_url),
    ]

    response = cite(client, item, "bibtex")
    assert response["Content-Type"] == "application/x-bibtex; charset=utf-8"
    entry, fields = bibtex_entry(response.content)
    assert entry.entry_type == "techreport"
    assert entry.key == "ecpatinternational2021outcomes"
    assert fields["title"] == OUTCOMES
    assert fields["author"] == ["ECPAT International", "WeProtect Global Alliance"]
    assert fields["institution"] == "ECPAT International, WeProtect Global Alliance"
    assert (fields["year"], fields["date"], fields["type"]) == ("2021", "2021-06-15", "Briefing")
    assert fields["url"] == url

    response = cite(client, item, "csl-json")
    assert response["Content-Type"] == "application/vnd.citationstyles.csl+json; charset=utf-8"
    [record] = json.loads(response.content)
    assert record == {
        "id": "ecpatinternational2021outcomes",
        "type": "report",
        "title": OUTCOMES,
        "author": [{"literal": "ECPAT International"}, {"literal": "WeProtect Global Alliance"}],
        "publisher": "ECPAT International, WeProtect Global Alliance",
        "genre": "Briefing",
        "issued": {"date-parts": [[2021, 6, 15]]},
        "abstract": item.summary,
        "language": "en",
        "URL": url,
    }


def test_awkward_characters_survive_every_format(demo_site, client):
    publisher = make_publisher("Save the Children_UK & Partners {Intl} and Friends")
    item = make_item(
        AWKWARD_TITLE,
        publishers=[publisher],
        resource_type=ResourceType.objects.get(slug="tool"),
        summary="Two lines\nof summary\r\nwith 100% & more.",
        date=datetime.date(2024, 2, 29),
    )
    [record] = ris_records(cite(client, item, "ris").content)
    assert ("TI", AWKWARD_TITLE) in record
    assert ("TY", "GEN") in record  # a tool is filed as a generic document
    assert ("AB", "Two lines of summary with 100% & more.") in record

    entry, fields = bibtex_entry(cite(client, item, "bibtex").content)
    assert entry.entry_type == "misc"
    assert fields["title"] == AWKWARD_TITLE
    assert fields["author"] == ["Save the Children_UK & Partners {Intl} and Friends"]
    assert fields["abstract"] == "Two lines of summary with 100% & more."

    [csl] = json.loads(cite(client, item, "csl-json").content)
    assert (csl["title"], csl["type"]) == (AWKWARD_TITLE, "document")
    assert csl["issued"] == {"date-parts": [[2024, 2, 29]]}


def test_no_citation_of_what_is_not_public(demo_site, client):
    draft = make_item("Draft awaiting review", publish=False)
    restricted = make_item("Behind a log-in")
    PageViewRestriction.objects.create(page=restricted, restriction_type=PageViewRestriction.LOGIN)
    withdrawn = make_item("Withdrawn later")
    withdrawn.unpublish()
    for style in STYLES:
        assert cite(client, draft, style).status_code == 404
        assert cite(client, withdrawn, style).status_code == 404
        assert cite(client, restricted, style).status_code == 302  # to the log-in page
    assert cite(client, LibraryItemPage.objects.get(title=OUTCOMES), "endnote").status_code == 404


def test_a_briefing_in_sections_with_chosen_related_items(demo_site, client):
    sources = [
        LibraryItemPage.objects.get(title__startswith="Internet Watch Foundation Annual"),
        LibraryItemPage.objects.get(title__startswith="PhotoDNA"),
    ]
    unpublished_source = make_item("Unpublished source", publish=False)
    briefing = make_item(
        "Briefing: hash matching for small platforms",
        resource_type=ResourceType.objects.get(slug="briefing"),
        publishers=[Publisher.objects.get(name="NSPCC")],
        attachments=[make_document("Hash matching briefing")],
        body=[
            ("paragraph", RichText("<p>Why this matters now.</p>")),
            ("section", {"heading": "What we heard", "text": RichText("<p>Costs.</p>")}),
            ("section", {"heading": "What to do next", "text": RichText("<p>Share.</p>")}),
        ],
        publish=False,
    )
    briefing.related_item_links = [
        LibraryItemRelated(item=item) for item in [*reversed(sources), unpublished_source]
    ]
    briefing.save_revision().publish()

    page = text(client.get(briefing.get_url()))
    contents = re.search(r'<nav class="contents".*?</nav>', page, flags=re.S).group(0)
    assert "In this briefing" in contents
    anchors = re.findall(r'href="#(section-[0-9a-f-]+)">([^<]+)</a>', contents)
    assert [heading for _, heading in anchors] == ["What we heard", "What to do next"]
    for anchor, heading in anchors:
        assert f'<h2 id="{anchor}">{heading}</h2>' in page
    related = card_titles(client.get(briefing.get_url()))
    # The editors' choice first, in their order; the unpublished one is left out.
    assert related[:2] == [sources[1].title, sources[0].title]
    assert "Unpublished source" not in related

    detail = client.get(f"/api/v2/items/{briefing.pk}/").json()
    assert detail["resource_type"] == "Briefing"
    assert detail["sections"] == ["What we heard", "What to do next"]
    assert briefing.title in card_titles(client.get("/library/types/briefing/"))
