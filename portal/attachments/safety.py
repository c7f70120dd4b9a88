"""The safety pipeline every attached file passes before anyone can fetch it.

A small stand-in with the pipeline's interface and messages: the type is read from the content
(magic bytes) and must agree with the name and the allow-list; PDF text is extracted; images are
looked up in SAFETY_STAND_IN_HASH_LIST (sha256 of the bytes → hash list entry id); with
ATTACHMENT_SCAN=clamd, clamd at CLAMD_URL must answer. The full pipeline (ClamAV scan, PDQ
matching, re-encoding, office text) replaces this module with the same names.
"""

import hashlib
import io
import socket
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from pypdf import PdfReader
from pypdf.errors import PdfReadError


class Refused(Exception):
    """The file is not accepted; str(error) tells the member why. It is never stored."""


class ScannerUnavailable(Exception):
    """clamd did not answer: the file waits, unserved, to be scanned later."""


@dataclass(frozen=True)
class Inspected:
    content: bytes
    content_type: str
    extension: str
    is_image: bool
    text: str
    pdq: str | None


@dataclass(frozen=True)
class Matched:
    pdq: str
    distance: int
    entry_id: int


# kind → (extensions, the first canonical; the content type files of this kind are served with)
ALLOWED = {
    "PDF": ((".pdf",), "application/pdf"),
    "DOCX": (
        (".docx",),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "XLSX": ((".xlsx",), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "PPTX": (
        (".pptx",),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    "ODT": ((".odt",), "application/vnd.oasis.opendocument.text"),
    "PNG": ((".png",), "image/png"),
    "JPEG": ((".jpg", ".jpeg"), "image/jpeg"),
    "WebP": ((".webp",), "image/webp"),
}
ALLOWED_LIST = "PDF, DOCX, XLSX, PPTX, ODT, PNG, JPEG or WebP"
DESCRIPTIONS = {
    "PDF": "a PDF document",
    "DOCX": "a Word document (DOCX)",
    "XLSX": "an Excel workbook (XLSX)",
    "PPTX": "a PowerPoint presentation (PPTX)",
    "ODT": "an OpenDocument text (ODT)",
    "PNG": "a PNG image",
    "JPEG": "a JPEG image",
    "WebP": "a WebP image",
}
IMAGE_KINDS = {"PNG", "JPEG", "WebP"}
OFFICE_FOLDERS = {"word/": "DOCX", "xl/": "XLSX", "ppt/": "PPTX"}


def _content_kind(data):
    if data.startswith(b"%PDF-"):
        return "PDF"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data.startswith(b"PK\x03\x04"):
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = archive.namelist()
            if "mimetype" in names and archive.read("mimetype").startswith(
                b"application/vnd.oasis.opendocument.text"
            ):
                return "ODT"
        except zipfile.BadZipFile:
            return None
        for folder, kind in OFFICE_FOLDERS.items():
            if any(name.startswith(folder) for name in names):
                return kind
    return None


def _kind(label, data):
    extension = PurePosixPath(label.lower()).suffix
    named = next((kind for kind, (exts, _) in ALLOWED.items() if extension in exts), None)
    if named is None:
        raise Refused(f"“{label}” is not a kind of file we accept: attach {ALLOWED_LIST} files.")
    kind = _content_kind(data)
    if kind is None:
        raise Refused(
            f"“{label}” is named {DESCRIPTIONS[named]}, but its content is not one: "
            f"attach {ALLOWED_LIST} files."
        )
    if kind != named:
        raise Refused(
            f"“{label}” is named {DESCRIPTIONS[named]}, but its content is "
            f"{DESCRIPTIONS[kind]}. Rename it to {ALLOWED[kind][0][0]} or attach the right file."
        )
    return kind


def _pdf_text(label, data):
    try:
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    except (PdfReadError, ValueError, KeyError):
        return ""


def scan(data, *, name=""):
    """Raises ScannerUnavailable when scanning is on (ATTACHMENT_SCAN) and clamd (CLAMD_URL,
    tcp://host:port) does not answer; the stand-in scans nothing itself."""
    if getattr(settings, "ATTACHMENT_SCAN", "off") == "off":
        return
    url = urlsplit(getattr(settings, "CLAMD_URL", ""))
    try:
        socket.create_connection((url.hostname, url.port), timeout=2).close()
    except (OSError, TypeError, ValueError) as error:
        raise ScannerUnavailable(f"clamd at {url.geturl()!r} does not answer") from error


def inspect(name, data):
    label = PurePosixPath(str(name).replace("\\", "/")).name.strip() or "the file"
    kind = _kind(label, data)
    scan(data, name=label)
    extensions, content_type = ALLOWED[kind]
    if kind in IMAGE_KINDS:
        digest = hashlib.sha256(data).hexdigest()
        entry_id = getattr(settings, "SAFETY_STAND_IN_HASH_LIST", {}).get(digest)
        if entry_id is not None:
            return Matched(pdq=digest, distance=0, entry_id=entry_id)
        return Inspected(data, content_type, extensions[0], True, "", digest)
    text = _pdf_text(label, data) if kind == "PDF" else ""
    return Inspected(data, content_type, extensions[0], False, text, None)
