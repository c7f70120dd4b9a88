"""Uploading documents through the Wagtail admin, and serving them safely.

The admin accepts only the extensions in WAGTAILDOCS_EXTENSIONS and files up to
WAGTAILDOCS_MAX_UPLOAD_SIZE, and says why it refuses. Downloads go through Django (serve_view) so
the privacy check runs, and they carry headers that stop a browser running what it downloads.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from wagtail.documents import get_document_model
from wagtail.models import Collection

from library.demo.pdf import text_pdf
from tests.library.helpers import make_document, make_item, text

pytestmark = pytest.mark.django_db

Document = get_document_model()
PDF = text_pdf("Annual report", "A short annual report.")


def upload_multiple(client, filename, content):
    """The drag-and-drop uploader: one file per request, JSON back."""
    response = client.post(
        reverse("wagtaildocs:add_multiple"),
        {
            "files[]": SimpleUploadedFile(filename, content),
            "collection": Collection.get_first_root_node().pk,
        },
    )
    assert response.status_code == 200, response.content
    return response.json()


def upload_single(client, filename, content, title="Uploaded document"):
    return client.post(
        reverse("wagtaildocs:add"),
        {
            "title": title,
            "file": SimpleUploadedFile(filename, content),
            "collection": Collection.get_first_root_node().pk,
        },
    )


def test_editor_uploads_a_pdf(editor, client):
    client.force_login(editor)
    result = upload_multiple(client, "annual-report.pdf", PDF)
    assert result["success"] is True
    document = Document.objects.get(pk=result["doc_id"])
    assert document.file_extension == "pdf"
    assert document.uploaded_by_user == editor
    with document.file.open("rb") as stored:
        assert stored.read() == PDF


def test_upper_case_extension_is_accepted(editor, client):
    client.force_login(editor)
    assert upload_multiple(client, "SCAN.PDF", PDF)["success"] is True


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("installer.exe", b"MZ\x90\x00 not really a program"),
        ("page.html", b"<script>alert(1)</script>"),
        ("report.pdf.html", b"<script>alert(1)</script>"),
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
        ("no-extension", PDF),
    ],
)
def test_disallowed_extensions_are_refused_with_a_message(editor, client, filename, content):
    client.force_login(editor)
    before = Document.objects.count()

    result = upload_multiple(client, filename, content)

    assert result["success"] is False
    message = result["error_message"]
    assert "not allowed" in message or "not a valid" in message.lower(), message
    assert "pdf" in message  # it tells the editor what is allowed
    assert Document.objects.count() == before


def test_disallowed_extension_is_refused_by_the_single_upload_form(editor, client):
    client.force_login(editor)
    response = upload_single(client, "macro.exe", b"MZ")
    assert response.status_code == 200  # the form again, with the error
    assert "File extension “exe” is not allowed" in text(response)
    assert not Document.objects.filter(title="Uploaded document").exists()


def test_oversized_file_is_refused_with_a_message(editor, client, settings):
    settings.WAGTAILDOCS_MAX_UPLOAD_SIZE = 1024
    client.force_login(editor)
    big = PDF + b"%" + b"x" * 2048

    result = upload_multiple(client, "big.pdf", big)

    assert result["success"] is False
    assert "This file is too big" in result["error_message"]
    assert "1.0\xa0KB" in result["error_message"] or "1.0 KB" in result["error_message"]
    assert not Document.objects.filter(title="big.pdf").exists()

    response = upload_single(client, "big.pdf", big)
    assert response.status_code == 200
    assert "This file is too big" in text(response)
    assert not Document.objects.filter(title="Uploaded document").exists()

    small = upload_multiple(client, "small.pdf", PDF[:1000])
    assert small["success"] is True


def test_default_limit_is_twenty_megabytes(settings):
    assert settings.WAGTAILDOCS_MAX_UPLOAD_SIZE == 20 * 1024 * 1024
    assert "exe" not in settings.WAGTAILDOCS_EXTENSIONS
    assert "html" not in settings.WAGTAILDOCS_EXTENSIONS
    assert "svg" not in settings.WAGTAILDOCS_EXTENSIONS


def test_people_without_document_permissions_cannot_upload(member, client):
    before = Document.objects.count()
    client.force_login(member)
    client.post(
        reverse("wagtaildocs:add_multiple"),
        {"files[]": SimpleUploadedFile("a.pdf", PDF), "collection": 1},
    )
    upload_single(client, "b.pdf", PDF)
    client.logout()
    upload_single(client, "c.pdf", PDF)
    assert Document.objects.count() == before


def test_served_documents_cannot_run_in_the_browser(demo_site, client):
    document = make_document("Evidence", filename="evidence.pdf", content=PDF)
    make_item("Has evidence", attachments=[document])

    response = client.get(document.url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert "private" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == PDF


def test_files_are_never_served_around_the_privacy_check(demo_site, client, settings):
    """In development MEDIA_ROOT serves images, never documents: a draft's file stays private."""
    document = make_document("Draft only", filename="draft-only.pdf", content=PDF)
    assert client.get(document.url).status_code == 404
    assert client.get(f"/media/{document.file.name}").status_code == 404


def test_a_pdf_named_file_with_html_inside_is_served_as_pdf(demo_site, editor, client):
    """Wagtail checks the name, not the content; the response headers keep the browser from
    treating the bytes as a page."""
    client.force_login(editor)
    result = upload_multiple(client, "sneaky.pdf", b"<html><script>alert(1)</script></html>")
    document = Document.objects.get(pk=result["doc_id"])
    response = client.get(document.url)
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'"
