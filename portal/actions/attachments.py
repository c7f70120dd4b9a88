"""Files attached to posts: the limits members meet, the safety pipeline each file passes before it
is stored, and what happens to the files the pipeline holds back.

Every file goes through `safety.inspect` before any of it is written:
- refused (wrong type, malware, too big to decode…): nothing is stored, the member is told why and
  keeps what they typed (FilesRefused);
- clamd did not answer: the bytes wait in the quarantine storage as "pending scan", served to
  nobody, until forum.scan_pending_files passes them through the pipeline again;
- the hash list matched: the bytes go only to the quarantine storage as evidence, the post is held,
  staff and moderators are alerted, the audit log records it, and the uploader is suspended when
  SUSPEND_ON_HASH_MATCH says so;
- passed: what the pipeline returns (re-encoded images, the text of documents) is stored and
  served through the policy.
The post-level effects (holding, live events, search) are forum's: it calls these functions.
"""

import datetime
import hashlib
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Sum
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from portal import audit, events, notify, policy
from portal.actions import ActionError, count_in_window
from portal.actions.admission import suspend_for
from portal.attachments import safety
from portal.models import Attachment, QuarantinedFile

MATCH_HOLD_REASON = "Held: an attached image matched the hash list. Staff have been alerted."
MATCH_SUSPENSION_REASON = "An uploaded image matched the hash list; staff will review it."


class FilesRefused(ActionError):
    """One or more files were not accepted: one message per file, for the form to show beside
    the text the member typed. Nothing was stored."""

    def __init__(self, messages):
        super().__init__(
            "Some files could not be attached; your text is still here.", "attachments"
        )
        self.messages = messages


@dataclass
class Upload:
    """A file that passed the limits and the pipeline: `outcome` is what safety.inspect returned,
    or None when clamd did not answer."""

    name: str
    data: bytes
    outcome: safety.Inspected | safety.Matched | None

    @property
    def matched(self):
        return isinstance(self.outcome, safety.Matched)


def checked_uploads(user, files):
    """Read and inspect the member's files against the limits and the safety pipeline; raises
    FilesRefused naming every file that is not accepted."""
    files = list(files)
    if not files:
        return []
    if len(files) > settings.ATTACHMENTS_PER_POST:
        raise FilesRefused(
            [
                f"You can attach up to {settings.ATTACHMENTS_PER_POST} files to a post; you "
                f"chose {len(files)}."
            ]
        )
    refusals = [_size_refusal(file) for file in files]
    refusals = [refusal for refusal in refusals if refusal]
    if not refusals:
        refusals = _quota_refusals(user, sum(file.size for file in files))
    if not refusals and not _within_upload_rate(user, len(files)):
        limit, seconds = settings.ATTACHMENT_UPLOAD_RATE
        refusals = [
            f"You have attached {limit} files in the last {_duration(seconds)}, the most "
            f"allowed. Please wait before attaching more."
        ]
    if refusals:
        raise FilesRefused(refusals)
    uploads = [_inspected(file) for file in files]
    refusals = [upload for upload in uploads if isinstance(upload, str)]
    if refusals:
        raise FilesRefused(refusals)
    return uploads


def _display_name(file):
    return (file.name or "file").rsplit("/", 1)[-1][:255]


def _size_refusal(file):
    name = _display_name(file)
    if not file.size:
        return f"“{name}” is empty."
    if file.size > settings.ATTACHMENT_MAX_BYTES:
        return (
            f"“{name}” is {filesizeformat(file.size)}; files can be up to "
            f"{filesizeformat(settings.ATTACHMENT_MAX_BYTES)}."
        )
    return None


def _quota_refusals(user, adding):
    since = timezone.now() - datetime.timedelta(days=1)
    used = (
        Attachment.objects.filter(uploader=user, created__gte=since).aggregate(total=Sum("size"))[
            "total"
        ]
        or 0
    )
    quota = settings.ATTACHMENT_DAILY_QUOTA_BYTES
    if used + adding <= quota:
        return []
    return [
        f"These files would take you past your allowance of {filesizeformat(quota)} a day: "
        f"{filesizeformat(max(quota - used, 0))} is left for now."
    ]


def _within_upload_rate(user, count):
    return policy.is_moderator(user) or count_in_window(
        "attachment-rate", user, settings.ATTACHMENT_UPLOAD_RATE, count
    )


def _duration(seconds):
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{seconds} seconds"


def _inspected(file):
    """An Upload, or the message saying why the file is refused."""
    name = _display_name(file)
    file.seek(0)
    data = file.read()
    try:
        return Upload(name, data, safety.inspect(name, data))
    except safety.Refused as refusal:
        return str(refusal)  # names the file
    except safety.ScannerUnavailable:
        return Upload(name, data, None)


def store(post, uploader, uploads, written):
    """Write the uploads of a new post, inside its transaction: files that passed as ready
    attachments, files clamd has yet to scan as pending, matches to the quarantine. Returns the
    quarantined files. Each file written is added to `written` as (storage, name), for the caller
    to delete should its transaction fail."""
    quarantined = []
    for upload in uploads:
        if upload.matched:
            record = quarantine(post, uploader, upload.name, upload.data, upload.outcome, written)
            quarantined.append(record)
        elif upload.outcome is None:
            attachment = Attachment(
                post=post,
                uploader=uploader,
                original_name=upload.name,
                size=len(upload.data),
                state=Attachment.State.PENDING_SCAN,
            )
            _save_file(attachment.unscanned_file, "bin", upload.data, written)
            attachment.save()
        else:
            attachment = Attachment(post=post, uploader=uploader, original_name=upload.name)
            make_ready(attachment, upload.outcome, written)
            attachment.save()
    return quarantined


def note_no_files(post):
    """Record on a new post written without files that it has none, attached or held back, so
    rendering it (the live event) reads them from memory instead of the database."""
    post._prefetched_objects_cache = {
        "attachments": Attachment.objects.none(),
        "quarantined_files": QuarantinedFile.objects.none(),
    }


def _save_file(field, extension, data, written):
    """Save under a random name: the member's file name is kept in the database only."""
    field.save(f"{uuid.uuid4().hex}.{extension.lstrip('.')}", ContentFile(data), save=False)
    written.append((field.storage, field.name))


def delete_written(written):
    """Delete files an action wrote before its transaction failed."""
    for storage, name in written:
        storage.delete(name)


def make_ready(attachment, inspected, written):
    """Fill an attachment from what the pipeline returned and store its bytes."""
    attachment.size = len(inspected.content)
    attachment.content_type = inspected.content_type
    attachment.is_image = inspected.is_image
    attachment.extracted_text = inspected.text
    attachment.state = Attachment.State.READY
    _save_file(attachment.file, inspected.extension, inspected.content, written)


def quarantine(post, uploader, name, data, match, written):
    """Keep a matched file as evidence where nobody can fetch it, and record who sent it."""
    record = QuarantinedFile(
        original_name=name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        pdq=match.pdq,
        distance=match.distance,
        hash_entry_id=match.entry_id,
        uploader=uploader,
        uploader_label=f"{uploader.email} (#{uploader.pk})" if uploader else "former member",
        post=post,
    )
    _save_file(record.file, "bin", data, written)
    record.save()
    audit.record(
        "attachment.quarantined",
        subject=uploader,
        target=f"post {post.pk} (#{post.number} in thread {post.thread_id})",
        reason="An attached image matched the hash list.",
        details={
            "quarantined_file": record.pk,
            "hash_entry": match.entry_id,
            "distance": match.distance,
        },
    )
    return record


def alert_and_suspend(post, uploader, quarantined):
    """After a match: tell staff and the moderators who see the post, and suspend the uploader
    when SUSPEND_ON_HASH_MATCH says so."""
    notify.hash_list_matched(post, uploader)
    events.moderation_queue_changed()
    if settings.SUSPEND_ON_HASH_MATCH and uploader and not policy.is_suspended(uploader):
        suspend_for(
            uploader,
            MATCH_SUSPENSION_REASON,
            details={"quarantined_files": [record.pk for record in quarantined]},
        )


def delete_member_files(user):
    """An account being deleted takes its files with it; the hash-list evidence stays until its
    retention ends."""
    Attachment.objects.filter(uploader=user).delete()


@receiver(post_delete, sender=Attachment)
@receiver(post_delete, sender=QuarantinedFile)
def _delete_stored_bytes(sender, instance, **kwargs):
    """However a row goes (an action, a cascade, a purge), its bytes go once that commits."""
    for field_name in ("file", "unscanned_file"):
        field = getattr(instance, field_name, None)
        if field:
            storage, name = field.storage, field.name
            transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))


@transaction.atomic
def purge_quarantine(now=None):
    """Delete the evidence kept longer than QUARANTINE_RETENTION_DAYS; returns how many."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.QUARANTINE_RETENTION_DAYS)
    expired = list(QuarantinedFile.objects.filter(created__lt=cutoff).values_list("pk", flat=True))
    if expired:
        QuarantinedFile.objects.filter(pk__in=expired).delete()
        audit.record(
            "quarantine.purged",
            reason=f"Kept {settings.QUARANTINE_RETENTION_DAYS} days, the retention period.",
            details={"quarantined_files": expired},
        )
    return len(expired)
