"""How to cite a library item: the reference shown under "Cite this", the files reference managers
import (RIS, BibTeX, CSL-JSON) and the Highwire `citation_*` meta tags that Zotero and the like
read from the page. One Citation is built from the page and every form is written from it.

Items are cited with their publishers as authors (organisations, never split into given and family
names) and their publication date.
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import urljoin

from django.http import Http404, HttpResponse
from django.utils.html import format_html
from django.utils.http import content_disposition_header
from django.utils.text import slugify

# How each resource type is filed by reference managers: (RIS type, BibTeX entry, CSL type).
# Types editors add later are filed as generic documents until they are named here.
REPORT_KIND = ("RPRT", "techreport", "report")
GENERIC_KIND = ("GEN", "misc", "document")
KINDS = {"report": REPORT_KIND, "briefing": REPORT_KIND, "guide": REPORT_KIND}

# LaTeX's special characters, as BibTeX values must write them.
_BIBTEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def _one_line(value):
    return " ".join(value.split())


def _bibtex_text(value):
    return "".join(_BIBTEX_ESCAPES.get(char, char) for char in _one_line(value))


@dataclass(frozen=True)
class Citation:
    key: str
    title: str
    publishers: tuple
    date: object  # datetime.date
    type_name: str
    type_slug: str
    url: str
    language: str
    summary: str
    pdf_urls: tuple

    @classmethod
    def of(cls, page, request):
        url = page.get_full_url(request)
        pdf_urls = tuple(
            urljoin(url, link.document.url)
            for link in page.attachments.select_related("document")
            if link.document.file_extension.lower() == "pdf"
        )
        first = page.publishers[0] if page.publishers else None
        first_author = slugify(first.short_name or first.name) if first else "item"
        title_word = slugify(page.title).split("-")[0]
        key = f"{first_author}{page.publication_date.year}{title_word}"
        return cls(
            key=re.sub(r"[^a-z0-9]", "", key),
            title=page.title,
            publishers=tuple(page.publisher_names),
            date=page.publication_date,
            type_name=page.resource_type.name,
            type_slug=page.resource_type.slug,
            url=url,
            language=page.language,
            summary=page.summary,
            pdf_urls=pdf_urls,
        )

    @property
    def kind(self):
        return KINDS.get(self.type_slug, GENERIC_KIND)

    @property
    def authors(self):
        """The publishers as APA lists group authors: "A", "A, & B", "A, B, & C"."""
        names = list(self.publishers)
        if len(names) < 2:
            return "".join(names)
        return ", ".join(names[:-1]) + ", & " + names[-1]

    def formatted(self):
        """APA-like: Publishers. (Year). <i>Title</i> [Type]. URL"""
        authors = self.authors
        return format_html(
            "{}{} ({}). <i>{}</i> [{}]. {}",
            authors,
            "" if authors.endswith(".") else ".",
            self.date.year,
            self.title,
            self.type_name,
            self.url,
        )

    def ris(self):
        ris_type = self.kind[0]
        lines = [("TY", ris_type), ("TI", self.title)]
        lines += [("AU", name) for name in self.publishers]
        lines += [
            ("PY", str(self.date.year)),
            ("DA", self.date.strftime("%Y/%m/%d/")),
            ("PB", ", ".join(self.publishers)),
            ("M3", self.type_name),
            ("AB", self.summary),
            ("LA", self.language),
            ("UR", self.url),
        ]
        lines += [("L1", url) for url in self.pdf_urls]
        lines.append(("ER", ""))
        return "".join(f"{tag}  - {_one_line(value)}\r\n" for tag, value in lines)

    def bibtex(self):
        entry = self.kind[1]
        publishers = ", ".join(self.publishers)
        fields = [
            ("title", "{" + _bibtex_text(self.title) + "}"),
            # Each organisation in braces: BibTeX must not read "Thorn" as a family name.
            ("author", " and ".join("{" + _bibtex_text(name) + "}" for name in self.publishers)),
            ("institution" if entry == "techreport" else "publisher", _bibtex_text(publishers)),
            ("type", _bibtex_text(self.type_name)),
            ("year", str(self.date.year)),
            ("date", self.date.isoformat()),
            ("abstract", _bibtex_text(self.summary)),
            ("language", self.language),
            ("url", self.url),
        ]
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
        return f"@{entry}{{{self.key},\n{body}\n}}\n"

    def csl(self):
        return {
            "id": self.key,
            "type": self.kind[2],
            "title": self.title,
            "author": [{"literal": name} for name in self.publishers],
            "publisher": ", ".join(self.publishers),
            "genre": self.type_name,
            "issued": {"date-parts": [[self.date.year, self.date.month, self.date.day]]},
            "abstract": self.summary,
            "language": self.language,
            "URL": self.url,
        }

    def csl_json(self):
        return json.dumps([self.csl()], ensure_ascii=False, indent=2) + "\n"

    def meta_tags(self):
        """(name, content) of the Highwire Press tags, as Zotero's and Google Scholar's readers
        expect them."""
        tags = [("citation_title", self.title)]
        tags += [("citation_author", name) for name in self.publishers]
        tags += [
            ("citation_publication_date", self.date.strftime("%Y/%m/%d")),
            ("citation_publisher", ", ".join(self.publishers)),
            ("citation_language", self.language),
            ("citation_abstract_html_url", self.url),
        ]
        if self.kind == REPORT_KIND:
            tags.append(("citation_technical_report_institution", ", ".join(self.publishers)))
        tags += [("citation_pdf_url", url) for url in self.pdf_urls]
        return tags


# style in the URL → (how to write it, media type, file extension)
DOWNLOADS = {
    "ris": (Citation.ris, "application/x-research-info-systems", "ris"),
    "bibtex": (Citation.bibtex, "application/x-bibtex", "bib"),
    "csl-json": (Citation.csl_json, "application/vnd.citationstyles.csl+json", "json"),
}


def download(page, request, style):
    """The citation file of a live item (Wagtail routes only live, permitted pages here)."""
    if style not in DOWNLOADS:
        raise Http404
    write, media_type, extension = DOWNLOADS[style]
    citation = Citation.of(page, request)
    response = HttpResponse(write(citation), content_type=f"{media_type}; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{page.slug}.{extension}"
    )
    return response
