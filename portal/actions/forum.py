"""The forum's writes: threads, posts and edits, their files and content warnings, and their
moderation (hiding, restoring, reports, locking, pinning, moving, merging, removing files)."""

import datetime
import re

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F
from django.db.models.sql import UpdateQuery
from django.utils import timezone
from django_tasks import task

import search
from portal import audit, events, notify, policy, sanitize
from portal.actions import ActionError, attachments, checked_text, count_in_window, require
from portal.actions.reading import note_thread_read
from portal.attachments import safety
from portal.models import Attachment, Follow, Post, PostRevision, Report, Thread, User
from portal.search_source import thread_key

MAX_TITLE = 200


def _check_post_rate(user):
    limit, seconds = settings.PORTAL_POST_RATE
    if policy.is_moderator(user):
        return
    if not count_in_window("post-rate", user, settings.PORTAL_POST_RATE):
        raise ActionError(
            f"You are posting faster than {limit} posts in {seconds} seconds. Please wait a "
            f"moment; your text is still here."
        )


def _source(source):
    source = (source or "").replace("\r\n", "\n").strip()
    if not source:
        raise ActionError("Please write something before posting.", "source")
    if len(source) > settings.PORTAL_MAX_POST_LENGTH:
        raise ActionError(
            f"Your post is {len(source):,} characters long; the limit is "
            f"{settings.PORTAL_MAX_POST_LENGTH:,}. Please shorten it.",
            "source",
        )
    return source


def _mentioned_members(source):
    handles = sanitize.extract_mentions(source)
    if not handles:
        return []
    query = User.objects.filter(username__iregex=r"^(" + "|".join(map(re.escape, handles)) + ")$")
    return [member for member in query if policy.can_mention(None, member)]


def render_post(source):
    members = _mentioned_members(source)
    return sanitize.render_markdown(source, mentions=[m.username for m in members]), members


def _holds_first_posts(user):
    held = settings.PORTAL_HOLD_FIRST_POSTS
    return (
        held
        and not policy.is_moderator(user)
        and Post.objects.filter(author=user, state=Post.State.VISIBLE).count() < held
    )


def _next_numbers(thread, new_post):
    """Claim the thread's next change number (and post number): the UPDATE locks the thread row,
    so concurrent writers queue here and numbers never repeat or skip."""
    increments = {"last_change": F("last_change") + 1}
    if new_post:
        increments["last_number"] = F("last_number") + 1
    _update_thread(thread, **increments)
    return thread.last_number, thread.last_change


def _update_thread(thread, **values):
    """UPDATE the thread's row and set the columns it wrote on `thread`, in one query
    (UPDATE ... RETURNING, which PostgreSQL and SQLite 3.35+ both have): a reply waits on
    every round trip of its transaction."""
    database = router.db_for_write(Thread)
    query = Thread.objects.filter(pk=thread.pk).query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(database).as_sql()
    connection = connections[database]
    columns = [Thread._meta.get_field(name) for name in values]
    returning = ", ".join(connection.ops.quote_name(field.column) for field in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {returning}", params)
        row = cursor.fetchone()
    for field, value in zip(columns, row, strict=True):
        column = field.get_col(Thread._meta.db_table)
        for converter in connection.ops.get_db_converters(column) + column.get_db_converters(
            connection
        ):
            value = converter(value, column, connection)
        setattr(thread, field.attname, value)


def _existing_post(user, idempotency_key):
    if idempotency_key:
        return Post.objects.filter(author=user, idempotency_key=idempotency_key).first()
    return None


def create_post(user, thread, source, *, quoted=None, idempotency_key="", files=()):
    """Reply in a thread, with the files attached (uploaded files: name, size, read()). Every
    file passes the safety pipeline before anything is written; a refused one refuses the post
    (attachments.FilesRefused) and the member keeps their text. Sending the same idempotency key
    again returns the first post."""
    idempotency_key = (idempotency_key or "")[:64]
    existing = _existing_post(user, idempotency_key)
    if existing:
        return existing
    require(policy.can_post_in(user, thread))
    _source(source)  # an empty post is refused before its files are read
    uploads = attachments.checked_uploads(user, files)
    written = []
    try:
        with transaction.atomic():
            return _create_post(user, thread, source, quoted, idempotency_key, uploads, written)
    except IntegrityError:
        attachments.delete_written(written)
        # A retry of the same post raced the first attempt and lost: the first one stands.
        existing = _existing_post(user, idempotency_key)
        if existing:
            return existing
        raise
    except BaseException:
        attachments.delete_written(written)
        raise


def _create_post(user, thread, source, quoted, idempotency_key, uploads, written):
    require(policy.can_post_in(user, thread))
    source = _source(source)
    if quoted is not None and (
        quoted.thread_id != thread.pk or not policy.can_view_post(user, quoted)
    ):
        quoted = None
    _check_post_rate(user)
    html, mentioned = render_post(source)
    number, change = _next_numbers(thread, new_post=True)
    matched = any(upload.matched for upload in uploads)
    held = matched or _holds_first_posts(user)
    post = Post.objects.create(
        thread=thread,
        number=number,
        change=change,
        author=user,
        source=source,
        html=html,
        state=Post.State.PENDING if held else Post.State.VISIBLE,
        moderation_reason=attachments.MATCH_HOLD_REASON if matched else "",
        quoted=quoted,
        idempotency_key=idempotency_key,
    )
    post.revision_count = 0  # a new post has no edit history to link to
    quarantined = attachments.store(post, user, uploads, written)
    if not uploads:
        attachments.note_no_files(post)  # so the live event renders it without asking
    if any(upload.outcome is None for upload in uploads):
        transaction.on_commit(scan_pending_files_later)
    if quarantined:
        attachments.alert_and_suspend(post, user, quarantined)
    elif not held:
        _count_visible_post(thread, post)
    else:
        events.moderation_queue_changed()
    # Its commit hook is the first the post's own writes register: everyone viewing the thread
    # waits for this event, while the followers' notifications (one live event each) can follow.
    events.post_changed(post)
    if not held:
        notify.post_published(post, mentioned)
    Follow.objects.get_or_create(user=user, thread=thread)
    note_thread_read(user, thread, number)
    _index(thread, soon=True)
    return post


def _count_visible_post(thread, post):
    replies = 1 if post.number > 1 else 0
    _update_thread(thread, reply_count=F("reply_count") + replies, last_activity=post.created)


@transaction.atomic
def create_thread(user, category, title, source, *, idempotency_key="", files=()):
    require(policy.can_start_thread(user, category))
    # A resent form (same key) gets the thread its first sending started, not a second, empty one.
    existing = _existing_post(user, (idempotency_key or "")[:64])
    if existing:
        return existing.thread
    title = checked_text(title, "title", "a title", MAX_TITLE)
    _source(source)
    thread = Thread.objects.create(
        category=category, title=title, author=user, last_activity=timezone.now()
    )
    create_post(user, thread, source, idempotency_key=idempotency_key, files=files)
    return thread


@transaction.atomic
def edit_post(user, post, source):
    post = Post.objects.select_for_update().select_related("thread__category").get(pk=post.pk)
    require(policy.can_edit_post(user, post))
    source = _source(source)
    if source == post.source:
        return post
    PostRevision.objects.create(
        post=post, source=post.source, created=post.edited_at or post.created, editor=user
    )
    post.source = source
    post.html, mentioned = render_post(source)
    grace = datetime.timedelta(seconds=settings.PORTAL_EDIT_GRACE_SECONDS)
    if timezone.now() - post.created > grace:
        post.edited_at = timezone.now()
    _, post.change = _next_numbers(post.thread, new_post=False)
    post.save()
    events.post_changed(post)
    _index(post.thread, soon=True)
    return post


def _set_state(post, state, reason=""):
    was_visible = post.state == Post.State.VISIBLE
    post.state = state
    post.moderation_reason = reason
    _, post.change = _next_numbers(post.thread, new_post=False)
    post.save(update_fields=["state", "moderation_reason", "change"])
    if was_visible != (state == Post.State.VISIBLE) and post.number > 1:
        Thread.objects.filter(pk=post.thread_id).update(
            reply_count=F("reply_count") + (1 if state == Post.State.VISIBLE else -1)
        )
        post.thread.refresh_from_db(fields=["reply_count"])
    _index(post.thread)
    events.post_changed(post)


def _locked_post(post):
    return Post.objects.select_for_update().select_related("thread__category").get(pk=post.pk)


@transaction.atomic
def delete_post(user, post):
    """The post stays as a notice; its files go (hash-list evidence stays until its retention
    ends)."""
    post = _locked_post(post)
    require(policy.can_delete_post(user, post))
    post.attachments.all().delete()
    _set_state(post, Post.State.DELETED)


@transaction.atomic
def hide_post(moderator, post, reason, ip=None):
    post = _locked_post(post)
    require(policy.can_moderate_thread(moderator, post.thread))
    reason = checked_text(reason, "reason", "a reason", 1000)
    if post.state == Post.State.HIDDEN:
        raise ActionError("This post is already hidden.")
    _set_state(post, Post.State.HIDDEN, reason)
    _resolve_reports(moderator, post, "post hidden")
    audit.record(
        "post.hidden",
        actor=moderator,
        subject=post.author,
        target=_label(post),
        reason=reason,
        ip=ip,
    )


@transaction.atomic
def restore_post(moderator, post, reason="", ip=None):
    post = _locked_post(post)
    require(policy.can_moderate_thread(moderator, post.thread))
    if post.state not in (Post.State.HIDDEN, Post.State.PENDING):
        raise ActionError("Only hidden or held posts can be restored.")
    was_pending = post.state == Post.State.PENDING
    _set_state(post, Post.State.VISIBLE, "")
    if was_pending:
        Thread.objects.filter(pk=post.thread_id).update(last_activity=timezone.now())
        notify.post_published(post, _mentioned_members(post.source))
    audit.record(
        "post.approved" if was_pending else "post.restored",
        actor=moderator,
        subject=post.author,
        target=_label(post),
        reason=reason,
        ip=ip,
    )
    events.moderation_queue_changed()


def _label(post):
    return f"post {post.pk} (#{post.number} in thread {post.thread_id})"


@transaction.atomic
def report_post(user, post, reason, ip=None):
    require(policy.can_report_post(user, post))
    reason = checked_text(reason, "reason", "what is wrong with this post", 1000)
    if Report.objects.filter(post=post, reporter=user, resolved_at__isnull=True).exists():
        raise ActionError("You have already reported this post; moderators will look at it.")
    report = Report.objects.create(post=post, reporter=user, reason=reason)
    audit.record(
        "post.reported", actor=user, subject=post.author, target=_label(post), reason=reason, ip=ip
    )
    events.moderation_queue_changed()
    return report


def _resolve_reports(moderator, post, resolution):
    Report.objects.filter(post=post, resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=moderator, resolution=resolution
    )
    events.moderation_queue_changed()


@transaction.atomic
def dismiss_report(moderator, report, ip=None):
    require(policy.can_moderate_thread(moderator, report.post.thread))
    _resolve_reports(moderator, report.post, "dismissed")
    audit.record(
        "report.dismissed",
        actor=moderator,
        subject=report.post.author,
        target=_label(report.post),
        ip=ip,
    )


@transaction.atomic
def lock_thread(moderator, thread, reason="", ip=None):
    return _set_flag(moderator, thread, "locked", True, "thread.locked", reason, ip)


@transaction.atomic
def unlock_thread(moderator, thread, reason="", ip=None):
    return _set_flag(moderator, thread, "locked", False, "thread.unlocked", reason, ip)


@transaction.atomic
def pin_thread(moderator, thread, reason="", ip=None):
    return _set_flag(moderator, thread, "pinned", True, "thread.pinned", reason, ip)


@transaction.atomic
def unpin_thread(moderator, thread, reason="", ip=None):
    return _set_flag(moderator, thread, "pinned", False, "thread.unpinned", reason, ip)


def _set_flag(moderator, thread, flag, value, audit_action, reason, ip):
    require(policy.can_moderate_thread(moderator, thread))
    thread = Thread.objects.select_for_update().get(pk=thread.pk)
    if getattr(thread, flag) == value:
        return thread
    setattr(thread, flag, value)
    thread.save(update_fields=[flag])
    audit.record(
        audit_action,
        actor=moderator,
        subject=thread.author,
        target=f"thread {thread.pk}",
        reason=reason,
        ip=ip,
    )
    events.thread_changed(thread)
    return thread


@transaction.atomic
def move_thread(moderator, thread, category, reason="", ip=None):
    require(policy.can_moderate_thread(moderator, thread))
    require(policy.can_view_category(moderator, category))
    previous = thread.category_id
    if previous == category.pk:
        raise ActionError("The thread is already in that category.", "category")
    thread.category = category
    thread.save(update_fields=["category"])
    audit.record(
        "thread.moved",
        actor=moderator,
        subject=thread.author,
        target=f"thread {thread.pk}",
        reason=reason,
        ip=ip,
        details={"from": previous, "to": category.pk},
    )
    _index(thread)
    events.thread_changed(thread, previous_category_id=previous)
    return thread


@transaction.atomic
def merge_threads(moderator, duplicate, target, reason="", ip=None):
    """Move the duplicate's posts, in order, to the end of the target thread."""
    require(policy.can_moderate_thread(moderator, duplicate))
    require(policy.can_moderate_thread(moderator, target))
    if duplicate.pk == target.pk or duplicate.merged_into_id:
        raise ActionError("Choose a different, open thread to merge into.", "target")
    target = Thread.objects.select_for_update().get(pk=target.pk)
    moved = list(Post.objects.filter(thread=duplicate).order_by("number"))
    for post in moved:
        post.thread = target
        post.number, post.change = _next_numbers(target, new_post=True)
        post.save(update_fields=["thread", "number", "change"])
        if post.state == Post.State.VISIBLE:
            Thread.objects.filter(pk=target.pk).update(reply_count=F("reply_count") + 1)
    latest = max([target.last_activity, duplicate.last_activity])
    Thread.objects.filter(pk=target.pk).update(last_activity=latest)
    target.refresh_from_db()
    duplicate.merged_into = target
    duplicate.locked = True
    duplicate.save(update_fields=["merged_into", "locked"])
    for follow in Follow.objects.filter(thread=duplicate):
        Follow.objects.get_or_create(user_id=follow.user_id, thread=target)
    audit.record(
        "thread.merged",
        actor=moderator,
        subject=duplicate.author,
        target=f"thread {duplicate.pk} into {target.pk}",
        reason=reason,
        ip=ip,
    )
    _index(duplicate, target)
    for post in moved:
        events.post_changed(post)
    events.thread_changed(duplicate)
    return target


# --- Files and content warnings -------------------------------------------------------------------


def _post_changed(post, soon=False):
    """A post's files or warning changed: it gets a new change number, so open pages and
    reconnecting sockets show it anew, and its thread is indexed again."""
    _, post.change = _next_numbers(post.thread, new_post=False)
    post.save(update_fields=["change"])
    events.post_changed(post)
    _index(post.thread, soon=soon)


@transaction.atomic
def set_content_warning(user, post, reason, *, attachment=None, ip=None):
    """Mark a post, or one of its files, sensitive with a short reason (its images stay blurred
    until a member shows them); an empty reason takes the warning off. The author or a moderator
    may; a moderator's change to someone else's post is audited."""
    post = _locked_post(post)
    require(policy.can_set_content_warning(user, post))
    reason = checked_text(reason, "reason", "a reason", 200, required=False)
    subject = post
    if attachment is not None:
        subject = Attachment.objects.select_for_update().get(pk=attachment.pk, post=post)
    subject.sensitive, subject.sensitive_reason = bool(reason), reason
    subject.save(update_fields=["sensitive", "sensitive_reason"])
    if user.pk != post.author_id:
        audit.record(
            "content_warning.set" if reason else "content_warning.removed",
            actor=user,
            subject=post.author,
            target=_label(post) + (f", file {subject.pk}" if attachment is not None else ""),
            reason=reason,
            ip=ip,
        )
    _post_changed(post)
    return subject


@transaction.atomic
def remove_attachment(moderator, attachment, reason, ip=None):
    """Take one file off a post: its bytes are deleted, a notice stays in its place."""
    attachment = Attachment.objects.select_for_update().get(pk=attachment.pk)
    post = _locked_post(attachment.post)
    require(policy.can_remove_attachment(moderator, attachment))
    reason = checked_text(reason, "reason", "a reason", 300)
    for field in (attachment.file, attachment.unscanned_file):
        if field:
            storage, name = field.storage, field.name
            transaction.on_commit(lambda storage=storage, name=name: storage.delete(name))
    attachment.file = attachment.unscanned_file = ""
    attachment.state = Attachment.State.REMOVED
    attachment.removed_reason = reason
    attachment.extracted_text = ""
    attachment.save()
    audit.record(
        "attachment.removed",
        actor=moderator,
        subject=attachment.uploader,
        target=f"{_label(post)}, file {attachment.pk}",
        reason=reason,
        ip=ip,
    )
    _post_changed(post)
    return attachment


# How long the scan of pending files waits after clamd failed, at most; the timer's
# scan_pending_files command is the backstop when no task worker runs.
MAX_SCAN_RETRY_SECONDS = 15 * 60


def scan_pending_files_later(delay_seconds=0):
    backend = scan_pending_files.get_backend()
    if delay_seconds and not backend.supports_defer:
        return  # run inline, it would only try clamd again at once; the timer will
    if delay_seconds:
        run_after = timezone.now() + datetime.timedelta(seconds=delay_seconds)
        scan_pending_files.using(run_after=run_after).enqueue()
    else:
        scan_pending_files.enqueue()


@task()
def scan_pending_files():
    """Pass every file that waits for clamd through the safety pipeline again; while clamd is
    still away, try again later, waiting longer each time. Returns how many were decided."""
    decided = 0
    for pk in Attachment.objects.filter(state=Attachment.State.PENDING_SCAN).values_list(
        "pk", flat=True
    ):
        try:
            decided += _scan_pending_file(pk)
        except safety.ScannerUnavailable:
            Attachment.objects.filter(pk=pk).update(scan_attempts=F("scan_attempts") + 1)
            attempts = Attachment.objects.get(pk=pk).scan_attempts
            scan_pending_files_later(min(MAX_SCAN_RETRY_SECONDS, 30 * 2 ** (attempts - 1)))
            break
    return decided


def _scan_pending_file(pk):
    written = []
    try:
        with transaction.atomic():
            return _decide_pending_file(pk, written)
    except BaseException:
        attachments.delete_written(written)
        raise


def _decide_pending_file(pk, written):
    attachment = (
        Attachment.objects.select_for_update(skip_locked=True)
        .filter(pk=pk, state=Attachment.State.PENDING_SCAN)
        .first()
    )
    if attachment is None:
        return 0  # decided meanwhile, or being scanned by another worker
    with attachment.unscanned_file.open("rb") as stored:
        data = stored.read()
    post = _locked_post(attachment.post)
    try:
        outcome = safety.inspect(attachment.original_name, data)
    except safety.Refused as refusal:
        outcome = refusal
    unscanned = attachment.unscanned_file
    storage, name = unscanned.storage, unscanned.name
    transaction.on_commit(lambda: storage.delete(name))
    attachment.unscanned_file = ""
    if isinstance(outcome, safety.Matched):
        record = attachments.quarantine(
            post, attachment.uploader, attachment.original_name, data, outcome, written
        )
        attachment.delete()
        attachments.alert_and_suspend(post, attachment.uploader, [record])
        if post.state != Post.State.PENDING:
            _set_state(post, Post.State.PENDING, attachments.MATCH_HOLD_REASON)
            return 1
    elif isinstance(outcome, safety.Refused):
        attachment.state = Attachment.State.REMOVED
        attachment.removed_reason = f"Refused after its scan: {outcome}"
        attachment.save()
    else:
        attachments.make_ready(attachment, outcome, written)
        attachment.save()
    _post_changed(post)
    return 1


def _index(*threads, soon=False):
    """Re-index threads in this transaction, or with soon=True in a task after it commits: for
    new posts and edits, whose entry takes a while to build for a long thread. Changes that take
    text or a whole thread out of someone's sight (hiding, moving, merging) are in the index the
    moment they commit."""
    search.record_change(*(thread_key(thread.pk) for thread in threads), soon=soon)
