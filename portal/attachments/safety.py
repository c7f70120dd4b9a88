"""The safety pipeline every attached file passes before anyone can fetch it.

A small stand-in with the pipeline's interface: the type is read from the content (magic bytes)
and must agree with the name and the allow-list; PDF text is extracted; images are looked up in
SAFETY_STAND_IN_HASH_LIST (sha256 of the bytes → hash list entry id), and clamd, where
CLAMD_SOCKET names it, must answer. The full pipeline (ClamAV scan, PDQ matching, re-encoding,
office text) replaces this module with the same names.
"""

import hashlib
import io
import socket
import zipfile
from dataclasses import dataclass

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


# extension → (content type, what the content must be)
ALLOWED = {
    "pdf": ("application/pdf", "pdf"),
    "png": ("image/png", "png"),
    "jpg": ("image/jpeg", "jpeg"),
    "jpeg": ("image/jpeg", "jpeg"),
    "webp": ("image/webp", "webp"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "pptx"),
    "odt": ("application/vnd.oasis.opendocument.text", "odt"),
}
KIND_NAMES = {
    "pdf": "a PDF",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "webp": "a WebP image",
    "docx": "a Word document",
    "xlsx": "an Excel workbook",
    "pptx": "a PowerPoint presentation",
    "odt": "an OpenDocument text",
}
IMAGES = {"png", "jpeg", "webp"}
OFFICE_FOLDERS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}


def _kind(data):
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"PK\x03\x04"):
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            names = archive.namelist()
            if "mimetype" in names and archive.read("mimetype").startswith(
                b"application/vnd.oasis.opendocument.text"
            ):
                return "odt"
        except zipfile.BadZipFile:
            return None
        for folder, kind in OFFICE_FOLDERS.items():
            if any(name.startswith(folder) for name in names):
                return kind
    return None


def _pdf_text(data):
    try:
        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    except (PdfReadError, ValueError, KeyError) as error:
        raise Refused("This PDF could not be read; it may be damaged.") from error


def scan(data):
    address = getattr(settings, "CLAMD_SOCKET", "")
    if not address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError as error:
        raise ScannerUnavailable(f"clamd at {address} does not answer") from error


def inspect(name, data):
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ALLOWED:
        raise Refused(
            "Only PDF, Word, Excel, PowerPoint, OpenDocument text, PNG, JPEG and WebP files can "
            "be attached."
        )
    content_type, expected = ALLOWED[extension]
    found = _kind(data)
    if found != expected:
        actual = KIND_NAMES.get(found, "not a file type the portal accepts")
        raise Refused(f"The name ends in .{extension}, but the file is {actual}.")
    if found in IMAGES:
        digest = hashlib.sha256(data).hexdigest()
        entry_id = getattr(settings, "SAFETY_STAND_IN_HASH_LIST", {}).get(digest)
        if entry_id is not None:
            return Matched(pdq=digest, distance=0, entry_id=entry_id)
    scan(data)
    text = _pdf_text(data) if found == "pdf" else ""
    return Inspected(
        content=data,
        content_type=content_type,
        extension="jpg" if found == "jpeg" else extension,
        is_image=found in IMAGES,
        text=text,
        pdq=hashlib.sha256(data).hexdigest() if found in IMAGES else None,
    )
