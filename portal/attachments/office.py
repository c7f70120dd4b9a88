"""Office files (DOCX, XLSX, PPTX, ODT): which kind a zip archive is, and the text inside it.

Each is a zip archive of XML parts. An archive can claim to unpack to far more than it holds (a
"zip bomb"), so `open_archive` refuses one whose parts add up to more than a limit before anything
is unpacked; zipfile then stops every read at the size the archive declared. The XML is read by
defusedxml's SAX parser, which refuses entity tricks and keeps no tree in memory.
"""

import io
import re
import zipfile
from xml.sax import SAXException
from xml.sax.handler import ContentHandler

import defusedxml.sax
from defusedxml import DefusedXmlException

ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
# Where each kind keeps the text a reader sees, in reading order after sorting by number.
TEXT_PARTS = {
    "DOCX": re.compile(r"word/(document|footnotes|endnotes|header\d*|footer\d*)\.xml"),
    "XLSX": re.compile(r"xl/sharedStrings\.xml"),
    "PPTX": re.compile(r"ppt/(slides/slide|notesSlides/notesSlide)\d+\.xml"),
    "ODT": re.compile(r"content\.xml"),
}
# Elements after which a line ends: paragraphs and headings, spreadsheet strings, table rows.
_LINE_ENDS = {"p", "h", "si", "tr", "table-row", "br", "line-break"}
_SPACES = {"tab", "s"}


class UnsafeArchive(Exception):
    """The archive cannot be opened safely; the message says why, for the member."""


def open_archive(data, max_unpacked, max_members=10_000):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UnsafeArchive("it is damaged (not a readable zip archive)") from error
    members = archive.infolist()
    if len(members) > max_members:
        raise UnsafeArchive(f"it holds more than {max_members:,} parts")
    if sum(member.file_size for member in members) > max_unpacked:
        raise UnsafeArchive(f"it unpacks to more than {max_unpacked // (1024 * 1024)} MB")
    return archive


def archive_kind(archive):
    """DOCX, XLSX, PPTX or ODT from the archive's own parts, or None."""
    names = set(archive.namelist())
    if "mimetype" in names:
        with archive.open("mimetype") as part:
            if part.read(len(ODT_MIMETYPE) + 1).strip() == ODT_MIMETYPE:
                return "ODT"
    if "[Content_Types].xml" in names:
        for prefix, kind in (("word/", "DOCX"), ("xl/", "XLSX"), ("ppt/", "PPTX")):
            if any(name.startswith(prefix) for name in names):
                return kind
    return None


def archive_text(archive, kind, limit):
    """The text of the archive's text parts, up to `limit` characters."""
    pattern = TEXT_PARTS[kind]
    parts = sorted(
        (name for name in archive.namelist() if pattern.fullmatch(name)), key=_reading_order
    )
    collector = _TextCollector(limit)
    for name in parts:
        try:
            defusedxml.sax.parseString(archive.read(name), collector)
        except _Enough:
            break
        except (SAXException, DefusedXmlException, zipfile.BadZipFile, ValueError) as error:
            raise UnsafeArchive(f"its part {name} cannot be read ({error})") from error
    return "".join(collector.pieces).strip()[:limit]


def _reading_order(name):
    """slide2.xml before slide10.xml."""
    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", name)]


class _Enough(Exception):
    pass


class _TextCollector(ContentHandler):
    def __init__(self, limit):
        super().__init__()
        self.pieces = []
        self.length = 0
        self.limit = limit

    def _add(self, text):
        self.pieces.append(text)
        self.length += len(text)
        if self.length >= self.limit:
            raise _Enough

    def characters(self, content):
        self._add(content)

    def startElement(self, name, attrs):
        if name.rpartition(":")[2] in _SPACES:
            self._add(" ")

    def endElement(self, name):
        if name.rpartition(":")[2] in _LINE_ENDS:
            self._add("\n")
