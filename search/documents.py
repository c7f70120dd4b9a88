"""The text of documents attached to indexed content, for the sources that index it.

Wagtail documents are read once per file content: the text is kept in DocumentText, so
re-indexing never extracts the same file twice.
"""

import hashlib
import io
import logging

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from search.models import DocumentText

logger = logging.getLogger(__name__)
MAX_ATTACHMENT_CHARS = 200_000


class PdfTextError(Exception):
    """pypdf could not read the file as a PDF."""


def pdf_text(content, limit=MAX_ATTACHMENT_CHARS):
    """The text of a PDF's pages, up to about `limit` characters: pages after that are not read.
    pypdf caps what each stream may decompress to, so a crafted file cannot fill the memory."""
    pages = []
    length = 0
    try:
        for page in PdfReader(io.BytesIO(content)).pages:
            pages.append(page.extract_text() or "")
            length += len(pages[-1]) + 1
            if length >= limit:
                break
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        # A damaged or hostile file fails deep inside the parser, in any of these ways.
        raise PdfTextError(str(error) or type(error).__name__) from error
    return "\n".join(pages)[:limit]


def document_text(document):
    """The text of a PDF document, extracted once per file content and stored."""
    if document.file_extension.lower() != "pdf":
        return ""
    try:
        document.file.open("rb")
        content = document.file.read()
    except OSError:
        logger.warning("document %s: file missing, not indexed", document.pk)
        return ""
    finally:
        document.file.close()
    digest = hashlib.sha1(content, usedforsecurity=False).hexdigest()
    stored = DocumentText.objects.filter(document=document).first()
    if stored and stored.file_hash == digest:
        return stored.text
    try:
        text = pdf_text(content)
    except PdfTextError as error:
        logger.warning("document %s: text extraction failed (%s)", document.pk, error)
        text = ""
    DocumentText.objects.update_or_create(
        document=document, defaults={"file_hash": digest, "text": text[:MAX_ATTACHMENT_CHARS]}
    )
    return text


def without_text():
    """Ids of the documents whose text extraction found nothing: the file could not be read, or
    it has no text layer (a scan). Their words never reach the index."""
    return DocumentText.objects.filter(text="").values("document_id")
