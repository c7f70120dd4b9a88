"""Files on posts, through the actions and the views that call them: the limits, what the safety
pipeline decides (refused, waiting for clamd, matched by the hash list, passed) and what follows
from it; serving, content warnings, removal, deletion, retention and the data export.

The pipeline is driven by real inputs only: a PNG named .pdf, an image on the hash list, clamd
unreachable. Three helpers below say how the pipeline is set up for those (clamd_away,
clamd_back, hash_listed); they are the only place that knows its settings."""

import datetime
import hashlib
import html
import io
import json
import random
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from library.demo.pdf import text_pdf
from portal import policy
from portal.actions import ActionError, account, attachments, forum
from portal.actions.attachments import FilesRefused
from portal.attachments import hashlist, safety
from portal.models import (
    Attachment,
    HashListEntry,
    Notification,
    Post,
    QuarantinedFile,
    Thread,
)
from portal.search_source import thread_entries
from tests.conftest import closed_port_url
from tests.portal.actions.helpers import audit_of, fresh
from tests.portal.helpers import make_category, make_thread, person, signed_in_client

pytestmark = pytest.mark.django_db


# --- Inputs and the pipeline's set-up ------------------------------------------------------------


MISNAMED = (
    "“{name}” is named a PDF document, but its content is a PNG image. Rename it to .png or "
    "attach the right file."
)


def png(seed=1, size=(64, 48)):
    """An image of noise, different for every seed (so no two hash alike)."""
    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(buffer, "PNG")
    return buffer.getvalue()


def pdf(words):
    return text_pdf("Our slides", words)


def upload(name, data):
    return SimpleUploadedFile(name, data)


@pytest.fixture(autouse=True)
def scanning_off(settings):
    """Files pass without a malware scan (development's ATTACHMENT_SCAN=off) unless a test says
    otherwise: these tests are about what follows the pipeline's answer, not the scan itself."""
    settings.ATTACHMENT_SCAN = "off"


def clamd_away(settings):
    """The scanner does not answer: nothing listens where clamd should be."""
    settings.ATTACHMENT_SCAN = "clamd"
    settings.CLAMD_URL = closed_port_url("tcp")


def clamd_back(settings):
    settings.ATTACHMENT_SCAN = "off"


def hash_listed(settings, data):
    """Put the PNG image on the hash list staff load; returns its entry's id."""
    with override_settings(ATTACHMENT_SCAN="off"):
        pdq = safety.inspect("listed.png", data).pdq
    hashlist.load([hashlist.ListedHash(pdq, 100)], source="Test list")
    return HashListEntry.objects.get(pdq=pdq).pk


def files_in(alias):
    root = Path(storages[alias].location)
    return sorted(path for path in root.rglob("*") if path.is_file())


def stored(field):
    return bool(field.name) and field.storage.exists(field.name)


@pytest.fixture
def thread():
    return make_thread(person("member"), title="Slides from the summit")


def attach(user, thread, *files, source="Happy to share our slides."):
    return forum.create_post(user, thread, source, files=list(files))


# --- Passed ---------------------------------------------------------------------------------------


def test_a_document_is_stored_served_as_a_download_and_found_with_its_thread(thread, committed):
    member = person("member")
    with committed():
        post = attach(member, thread, upload("summit slides.pdf", pdf("grooming indicators")))
    (attachment,) = post.attachments.all()
    assert attachment.state == Attachment.State.READY
    assert attachment.content_type == "application/pdf"
    assert storages["attachments"].exists(attachment.file.name) and not attachment.unscanned_file
    assert "summit" not in attachment.file.name  # stored under a random name

    response = signed_in_client(person("member")).get(
        f"/portal/files/{attachment.pk}/summit%20slides.pdf"
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert b"".join(response.streaming_content).startswith(b"%PDF-")

    entry = thread_entries([thread.pk])[thread.pk]
    assert "grooming indicators" in entry["body"] and "summit slides.pdf" in entry["body"]
    assert entry["visibility"] == policy.thread_search_visibility(thread)


def test_images_show_in_the_page_and_the_post_event_carries_their_card(thread, sent, committed):
    with committed():
        post = attach(person("member"), thread, upload("chart.png", png()))
    attachment = post.attachments.get()
    response = signed_in_client(person("member")).get(attachment_url(attachment))
    assert response["Content-Disposition"].startswith("inline;")
    frame = json.loads(
        next(m for g, m in sent if m.get("type") == "thread.change")["post"]["frames"]["member"]
    )
    assert attachment_url(attachment) in frame["html"]


def attachment_url(attachment):
    return f"/portal/files/{attachment.pk}/{attachment.original_name}"


def test_a_new_thread_takes_files_too():
    member = person("member")
    new = forum.create_thread(
        member, make_category(), "Our report", "Attached.", files=[upload("r.pdf", pdf("x"))]
    )
    assert new.posts.get().attachments.count() == 1


# --- Refused --------------------------------------------------------------------------------------


def test_a_png_named_pdf_is_refused_and_nothing_is_stored(thread):
    member = person("member")
    before = files_in("attachments"), files_in("quarantine")
    with pytest.raises(FilesRefused) as refused:
        attach(member, thread, upload("report.pdf", png()), upload("fine.pdf", pdf("fine")))
    assert refused.value.messages == [MISNAMED.format(name="report.pdf")]
    assert Post.objects.filter(thread=thread).count() == 1
    assert not Attachment.objects.exists()
    assert (files_in("attachments"), files_in("quarantine")) == before


def test_the_limits_are_refused_with_messages(thread, settings):
    member = person("member")
    settings.ATTACHMENT_MAX_BYTES = 1000
    with pytest.raises(FilesRefused) as refused:
        attach(member, thread, upload("big.pdf", pdf("x" * 3000)))
    assert refused.value.messages[0].startswith("“big.pdf” is ")
    assert "files can be up to 1000\xa0bytes" in refused.value.messages[0]
    settings.ATTACHMENT_MAX_BYTES = 10**6
    settings.ATTACHMENTS_PER_POST = 2
    with pytest.raises(FilesRefused) as refused:
        attach(member, thread, *[upload(f"{n}.png", png()) for n in range(3)])
    assert refused.value.messages == ["You can attach up to 2 files to a post; you chose 3."]
    settings.ATTACHMENT_DAILY_QUOTA_BYTES = 50
    with pytest.raises(FilesRefused) as refused:
        attach(member, thread, upload("a.png", png()))
    assert "allowance of 50\xa0bytes a day" in refused.value.messages[0]
    settings.ATTACHMENT_DAILY_QUOTA_BYTES = 10**8
    settings.ATTACHMENT_UPLOAD_RATE = (1, 3600)
    attach(member, thread, upload("a.png", png()))
    with pytest.raises(FilesRefused) as refused:
        attach(member, thread, upload("b.png", png()))
    assert refused.value.messages == [
        "You have attached 1 files in the last hour, the most allowed. Please wait before "
        "attaching more."
    ]


def test_a_refused_upload_keeps_the_text_in_the_form(thread):
    client = signed_in_client(person("member"))
    typed = "Here are the slides I promised."
    response = client.post(
        f"/portal/t/{thread.pk}/reply/",
        {"source": typed, "attachments": [upload("slides.pdf", png())]},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert typed in page
    assert html.escape(MISNAMED.format(name="slides.pdf")) in page
    answer = client.post(
        f"/portal/t/{thread.pk}/reply/",
        {"source": typed, "attachments": [upload("slides.pdf", png())]},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"]["attachments"] == [MISNAMED.format(name="slides.pdf")]
    assert Post.objects.filter(thread=thread).count() == 1


# --- Waiting for clamd ----------------------------------------------------------------------------


def test_a_file_waits_unserved_while_clamd_is_away_then_is_scanned_and_shown(
    thread, settings, sent, committed
):
    clamd_away(settings)
    with committed():
        post = attach(person("member"), thread, upload("notes.pdf", pdf("safeguarding rota")))
    attachment = post.attachments.get()
    assert attachment.state == Attachment.State.PENDING_SCAN
    assert not attachment.file and stored(attachment.unscanned_file)
    assert storages["quarantine"].exists(attachment.unscanned_file.name)
    assert attachment.scan_attempts == 1  # tried again after the commit, still away
    response = signed_in_client(person("member")).get(attachment_url(attachment))
    assert response.status_code == 404
    assert "still being checked for safety" in response.content.decode()
    assert "safeguarding rota" not in thread_entries([thread.pk])[thread.pk]["body"]

    clamd_back(settings)
    sent.clear()
    with committed():
        assert forum.scan_pending_files.call() == 1
    attachment.refresh_from_db()
    assert attachment.state == Attachment.State.READY and stored(attachment.file)
    assert not attachment.unscanned_file
    assert signed_in_client(person("member")).get(attachment_url(attachment)).status_code == 200
    assert "safeguarding rota" in thread_entries([thread.pk])[thread.pk]["body"]
    assert any(m.get("type") == "thread.change" for _, m in sent)  # shown live


# --- Matched by the hash list ---------------------------------------------------------------------


def test_a_hash_list_match_is_quarantined_the_post_held_staff_alerted_and_uploader_suspended(
    thread, settings, committed
):
    image = png(12010)
    entry_id = hash_listed(settings, image)
    uploader = person("member")
    moderator, staff = person("moderator"), person("staff")
    with committed():
        post = attach(uploader, thread, upload("holiday.png", image), upload("a.pdf", pdf("x")))

    assert post.state == Post.State.PENDING
    assert post.moderation_reason == attachments.MATCH_HOLD_REASON
    record = QuarantinedFile.objects.get()
    assert (record.hash_entry_id, record.post, record.uploader) == (entry_id, post, uploader)
    assert storages["quarantine"].exists(record.file.name)
    assert record.sha256 == hashlib.sha256(image).hexdigest()
    assert [a.original_name for a in post.attachments.all()] == ["a.pdf"]  # the clean file
    assert not any(a.original_name == "holiday.png" for a in Attachment.objects.all())
    (quarantined,) = audit_of("attachment.quarantined")
    assert quarantined.subject == uploader and quarantined.details["hash_entry"] == entry_id
    alerted = set(
        Notification.objects.filter(kind=Notification.Kind.HASH_MATCH).values_list(
            "user", flat=True
        )
    )
    assert {moderator.pk, staff.pk} <= alerted and uploader.pk not in alerted
    assert policy.is_suspended(fresh(uploader))
    (suspension,) = audit_of("member.suspended")
    assert suspension.actor is None and suspension.subject == uploader

    # Staff read the record, never the file: no page names a URL that serves it.
    page = signed_in_client(staff).get("/portal/moderation/quarantine/").content.decode()
    assert record.sha256 in page and "/portal/files/" not in page
    assert (
        not signed_in_client(person("member"))
        .get(f"/portal/t/{thread.pk}/")
        .content.count(b"holiday.png")
    )


def test_the_uploader_keeps_access_when_the_setting_says_so(thread, settings, committed):
    image = png(1023)
    hash_listed(settings, image)
    settings.SUSPEND_ON_HASH_MATCH = False
    uploader = person("member")
    with committed():
        attach(uploader, thread, upload("x.png", image))
    assert not policy.is_suspended(fresh(uploader))
    assert QuarantinedFile.objects.count() == 1


def test_a_match_found_when_clamd_returns_holds_a_post_already_shown(thread, settings, committed):
    image = png(9099)
    clamd_away(settings)
    with committed():
        post = attach(person("member"), thread, upload("x.png", image))
    assert post.state == Post.State.VISIBLE
    unscanned = post.attachments.get().unscanned_file.name
    clamd_back(settings)
    hash_listed(settings, image)
    with committed():
        forum.scan_pending_files.call()
    post.refresh_from_db()
    assert post.state == Post.State.PENDING
    assert not post.attachments.exists()
    assert QuarantinedFile.objects.get().post == post
    assert not storages["quarantine"].exists(unscanned)


# --- Content warnings, removal, lifecycle ---------------------------------------------------------


def test_authors_and_moderators_set_content_warnings_and_moderators_are_audited(thread):
    author = person("member")
    post = attach(author, thread, upload("scene.png", png()))
    image = post.attachments.get()
    with pytest.raises(PermissionDenied):
        forum.set_content_warning(person("member"), post, "Upsetting", attachment=image)
    forum.set_content_warning(author, post, "Injury photo", attachment=image)
    image.refresh_from_db()
    assert image.sensitive and image.blurred and image.warning == "Injury photo"
    assert not audit_of("content_warning.set")
    forum.set_content_warning(person("moderator"), post, "Distressing account")
    post.refresh_from_db()
    assert post.sensitive and post.sensitive_reason == "Distressing account"
    (event,) = audit_of("content_warning.set")
    assert event.subject == author
    with pytest.raises(ActionError):
        forum.set_content_warning(author, post, "x" * 201)

    page = signed_in_client(person("member")).get(f"/portal/t/{thread.pk}/").content.decode()
    assert "attachment--sensitive" in page
    assert "<strong>Content warning:</strong> Injury photo" in page
    assert f'aria-describedby="attachment-{image.pk}-warning"' in page


def test_members_may_choose_to_blur_every_image():
    member = person("member")
    client = signed_in_client(member)
    assert "blur-images" not in client.get("/portal/").content.decode()
    client.post("/portal/account/", {"display": "1", "display-blur_images": "on"})
    assert fresh(member).blur_images
    assert "page-portal blur-images" in client.get("/portal/").content.decode()


def test_moderators_remove_one_file_and_it_is_audited(thread, committed):
    post = attach(person("member"), thread, upload("a.pdf", pdf("a")), upload("b.png", png()))
    document, image = post.attachments.all()
    with pytest.raises(PermissionDenied):
        forum.remove_attachment(person("member"), document, "Spam")
    with committed():
        forum.remove_attachment(person("moderator"), document, "Off topic")
    document.refresh_from_db()
    assert document.state == Attachment.State.REMOVED and not document.file
    assert not storages["attachments"].exists(image.file.name.replace(".png", ".pdf"))
    assert audit_of("attachment.removed")[0].reason == "Off topic"
    assert signed_in_client(person("member")).get(attachment_url(document)).status_code == 404
    assert Attachment.objects.get(pk=image.pk).state == Attachment.State.READY


def test_deleting_a_post_or_an_account_deletes_its_files_but_not_the_evidence(
    thread, settings, committed
):
    member = person("member")
    first = attach(member, thread, upload("a.pdf", pdf("a")))
    name = first.attachments.get().file.name
    with committed():
        forum.delete_post(member, first)
    assert not Attachment.objects.exists()
    assert not storages["attachments"].exists(name)

    image = png(4056)
    hash_listed(settings, image)
    settings.SUSPEND_ON_HASH_MATCH = False
    attach(member, thread, upload("b.pdf", pdf("b")))
    attach(member, thread, upload("c.png", image))
    kept = QuarantinedFile.objects.get()
    names = [a.file.name for a in Attachment.objects.all()]
    with committed():
        account.delete_account(member)
    assert not Attachment.objects.exists()
    assert not any(storages["attachments"].exists(n) for n in names)
    kept.refresh_from_db()
    assert stored(kept.file) and kept.uploader is None and "member" in kept.uploader_label


def test_evidence_is_purged_after_its_retention(thread, settings, committed):
    image = png(7077)
    hash_listed(settings, image)
    settings.SUSPEND_ON_HASH_MATCH = False
    attach(person("member"), thread, upload("x.png", image))
    record = QuarantinedFile.objects.get()
    settings.QUARANTINE_RETENTION_DAYS = 30
    assert attachments.purge_quarantine() == 0
    with committed():
        later = timezone.now() + datetime.timedelta(days=31)
        assert attachments.purge_quarantine(now=later) == 1
    assert not QuarantinedFile.objects.exists()
    assert not storages["quarantine"].exists(record.file.name)
    assert audit_of("quarantine.purged")


def test_the_data_export_lists_the_members_files(thread):
    member = person("member")
    attach(member, thread, upload("slides.pdf", pdf("a")))
    data = signed_in_client(member).get("/portal/account/export/").json()
    assert [(f["original_name"], f["state"]) for f in data["attachments"]] == [
        ("slides.pdf", "ready")
    ]


def test_files_of_hidden_posts_reach_moderators_only(thread):
    post = attach(person("member"), thread, upload("a.pdf", pdf("a")))
    forum.hide_post(person("moderator"), post, "Off topic")
    url = attachment_url(post.attachments.get())
    assert signed_in_client(person("member")).get(url).status_code == 404
    assert signed_in_client(person("moderator")).get(url).status_code == 200
    assert Thread.objects.count() == 1


def test_behind_nginx_the_proxy_sends_the_bytes_after_the_policy_said_yes(thread, settings):
    settings.ATTACHMENT_ACCEL_REDIRECT = "/protected-attachments/"
    attachment = attach(person("member"), thread, upload("a.pdf", pdf("a"))).attachments.get()
    response = signed_in_client(person("member")).get(attachment_url(attachment))
    assert response["X-Accel-Redirect"] == f"/protected-attachments/{attachment.file.name}"
    assert response.content == b""
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert signed_in_client(person("applicant")).get(attachment_url(attachment)).status_code == 403
