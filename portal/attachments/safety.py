"""The safety pipeline every attachment passes before anyone can fetch it.

`inspect(name, data)` answers with what may be stored and served (`Inspected`), with `Matched` for
an image on the hash list (which must never be stored where it can be served), or raises
`Refused` (the file may never be stored; the message is for the member) or `ScannerUnavailable`
(clamd could not be reached: the file waits as "pending scan" and is inspected again later).

In order:
1. The type is read from the content (magic bytes; for zip archives, their parts) and must be on
   the allow-list and agree with the file name's extension.
2. Documents: clamd scans them (`scan`), then the text of PDFs and office files is extracted for
   members-only search.
3. Images are decoded within a pixel limit, hashed with PDQ in all eight rotations and flips and
   matched against the hash list before the scan, so a listed image is caught even while clamd
   is away; then clamd scans them, and they are re-encoded from their pixels alone, so EXIF
   (GPS), XMP, ICC profiles and text chunks are gone (the EXIF orientation is applied first).
"""

import io
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pdqhash
from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.attachments import clamd, hashlist, office
from search.documents import MAX_ATTACHMENT_CHARS, PdfTextError, pdf_text

# Kind -> (extensions, canonical first; the MIME type files of this kind are served with).
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
IMAGE_KINDS = {"PNG", "JPEG", "WebP"}
ALLOWED_LIST = "PDF, DOCX, XLSX, PPTX, ODT, PNG, JPEG or WebP"
# Pillow's name for each image kind, and how each is written again.
PILLOW_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WebP": "WEBP"}
# The fast end of each encoder: a photograph saved as PNG took 3 s at zlib's default level and
# 0.6 s at level 1 (bench/attachments.py), and every upload pays it.
SAVE_OPTIONS = {
    "PNG": {"compress_level": 1},
    "JPEG": {"quality": 90},
    "WebP": {"quality": 90, "method": 2},
}
# PDQ reads an image's structure, not its detail: a copy at most this wide and high hashes within
# a few bits of the full image, four times faster than at 1,024 and in a fraction of the memory.
PDQ_SIDE = 512
# What each kind is called in a message, with its article.
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


class Refused(Exception):
    """The file may never be stored; str(error) is a clear message for the member."""


class ScannerUnavailable(Exception):
    """clamd could not be reached: the file waits as "pending scan"."""


@dataclass(frozen=True)
class Inspected:
    """What may be stored and served."""

    content: bytes  # images re-encoded from their pixels; documents unchanged
    content_type: str  # from the content
    extension: str  # canonical, e.g. ".pdf"
    is_image: bool
    text: str  # extracted text of PDFs and office files ("" for images)
    pdq: str | None  # hex PDQ hash of an image


@dataclass(frozen=True)
class Matched:
    """An image matched the hash list: it must never be stored where it can be served."""

    pdq: str  # the image's own hash (as uploaded, before any rotation)
    distance: int
    entry_id: int  # the HashListEntry it matched


def inspect(name, data):
    """Type check; documents scanned, their text extracted; images decoded, hashed, matched,
    scanned and re-encoded. Returns Inspected or Matched; raises Refused or ScannerUnavailable."""
    label = _label(name)
    kind, archive = _kind(label, data)
    extensions, content_type = ALLOWED[kind]
    if kind in IMAGE_KINDS:
        return _inspect_image(label, kind, data)
    scan(data, name=label)
    if archive is not None:
        try:
            text = office.archive_text(archive, kind, MAX_ATTACHMENT_CHARS)
        except office.UnsafeArchive as error:
            raise Refused(f"“{label}” was refused: {error}.") from error
    else:
        try:
            text = pdf_text(data)
        except PdfTextError:
            text = ""  # a PDF pypdf cannot read is still a PDF for its readers; it is not indexed
    return Inspected(data, content_type, extensions[0], False, text, None)


def scan(data, *, name=""):
    """Scan with clamd. Raises Refused when it finds something, ScannerUnavailable when it cannot
    be reached or is not configured (the file then waits)."""
    if settings.ATTACHMENT_SCAN == "off":
        return
    if not settings.CLAMD_URL:
        raise ScannerUnavailable("no malware scanner is configured (CLAMD_URL is unset)")
    subject = f"“{name}”" if name else "This file"
    try:
        found = clamd.instream(settings.CLAMD_URL, data, settings.CLAMD_TIMEOUT)
    except clamd.ClamdUnreachable as error:
        raise ScannerUnavailable(str(error)) from error
    except clamd.ClamdError as error:
        if "size limit" in str(error):
            raise Refused(f"{subject} is too large for the malware scanner.") from error
        raise ScannerUnavailable(f"clamd could not scan the file: {error}") from error
    if found:
        raise Refused(f"{subject} was refused: the malware scanner found “{found}” in it.")


def _label(name):
    """The file's own name, without any folders, short enough for a message."""
    label = PurePosixPath(str(name).replace("\\", "/")).name.strip() or "the file"
    return label if len(label) <= 80 else label[:77] + "…"


def _kind(label, data):
    """The kind the content says, checked against the name's extension; for office files also
    the opened archive, checked against zip bombs."""
    extension = PurePosixPath(label.lower()).suffix
    named = next((kind for kind, (exts, _) in ALLOWED.items() if extension in exts), None)
    if named is None:
        raise Refused(f"“{label}” is not a kind of file we accept: attach {ALLOWED_LIST} files.")
    archive = None
    if data.startswith(b"%PDF-"):
        kind = "PDF"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "PNG"
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "JPEG"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind = "WebP"
    elif data.startswith(b"PK\x03\x04"):
        try:
            archive = office.open_archive(data, settings.ATTACHMENT_MAX_UNPACKED_BYTES)
        except office.UnsafeArchive as error:
            raise Refused(f"“{label}” was refused: {error}.") from error
        kind = office.archive_kind(archive)
    else:
        kind = None
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
    return kind, archive


def _inspect_image(label, kind, data):
    image = _decode(label, kind, data)
    pixels = _pdq_pixels(image)
    hashes, _quality = pdqhash.compute_dihedral(pixels)
    hex_hashes = [np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex() for bits in hashes]
    nearest = hashlist.current_index().nearest(
        hashlist.to_words(hex_hashes), settings.PDQ_MATCH_DISTANCE
    )
    if nearest is not None:
        distance, entry_id, _orientation = nearest
        return Matched(pdq=hex_hashes[0], distance=distance, entry_id=entry_id)
    # After matching: a listed image is caught even while clamd is away, and never waits
    # as "pending scan".
    scan(data, name=label)
    extensions, content_type = ALLOWED[kind]
    return Inspected(_reencode(image, kind), content_type, extensions[0], True, "", hex_hashes[0])


def _decode(label, kind, data):
    """The image's first frame, decoded, turned upright by its EXIF orientation."""
    limit = settings.ATTACHMENT_MAX_PIXELS
    too_large = f"“{label}” is too large to process: we accept images of up to {limit / 1e6:g} "
    try:
        with warnings.catch_warnings():
            # Our own limit, checked below before any pixel is decoded, is the one that speaks.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[kind]])
            width, height = image.size
            if width * height > limit:
                raise Refused(f"{too_large}million pixels, and it has {width:,} × {height:,}.")
            image.load()
            return ImageOps.exif_transpose(_eight_bit(image))
    except Image.DecompressionBombError as error:  # Pillow's own limit, met while opening
        raise Refused(f"{too_large}million pixels.") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise Refused(
            f"“{label}” cannot be read as {DESCRIPTIONS[kind]}; it may be damaged."
        ) from error


def _eight_bit(image):
    """Greyscale of more than 8 bits (16-bit PNGs) scaled to 8: Pillow's own conversion clips
    it to white, which would hide the picture from the hash list."""
    if image.mode not in {"I", "I;16", "I;16B", "I;16L", "F"}:
        return image
    values = np.asarray(image, dtype=np.float64)
    return Image.fromarray((np.clip(values, 0, 65535) / 257).round().astype(np.uint8), "L")


def _pdq_pixels(image):
    if max(image.size) > PDQ_SIDE:
        image = ImageOps.contain(image, (PDQ_SIDE, PDQ_SIDE), Image.Resampling.BOX)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _reencode(image, kind):
    """A new file from the pixels alone: nothing of the original's metadata is carried over."""
    has_alpha = image.mode in {"RGBA", "LA", "PA"} or "transparency" in image.info
    if kind == "JPEG":
        mode = "L" if image.mode in {"1", "L"} else "RGB"
    else:
        mode = "RGBA" if has_alpha else ("L" if image.mode in {"1", "L"} else "RGB")
    converted = image.convert(mode)
    clean = Image.frombytes(mode, converted.size, converted.tobytes())
    output = io.BytesIO()
    clean.save(output, PILLOW_FORMATS[kind], **SAVE_OPTIONS[kind])
    return output.getvalue()
