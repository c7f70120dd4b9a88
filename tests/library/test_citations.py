"""Briefings as library items (sections, chosen related items) and "Cite this" on every item page:
the formatted reference, the RIS, BibTeX and CSL-JSON downloads read back by parsers, the
citation_* meta tags, and no citation of anything that is not public."""

import datetime
import json
import re

import bibtexparser
import pytest
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors
from django.utils.html import escape
from pylatexenc.latex2text import LatexNodes2Text
from wagtail.models import PageViewRestriction
from wagtail.rich_text import RichText

from library.models import LibraryItemPage, LibraryItemRelated, Publisher, ResourceType
from tests.library.helpers import card_titles, make_document, make_item, make_publisher, text

pytestmark = pytest.mark.django_db

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
