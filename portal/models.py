"""Members, their admission, the forum and its moderation.

Writes to these models go through `portal.actions`; who may read or do what is `portal.policy`.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.files.storage import storages
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.functional import LazyObject


class User(AbstractUser):
    """A person with an account. E-mail is the log-in; the username is the @handle members use to
    mention each other, and nobody outside the portal sees it."""

    class EmailFrequency(models.TextChoices):
        IMMEDIATE = "immediate", "As it happens"
        DAILY = "daily", "A daily digest"
        OFF = "off", "Never"

    display_name = models.CharField(max_length=80, blank=True)
    organisation = models.CharField(max_length=120, blank=True)
    bio = models.TextField(max_length=1000, blank=True)
    email_frequency = models.CharField(
        "e-mail me about notifications",
        max_length=10,
        choices=EmailFrequency.choices,
        default=EmailFrequency.IMMEDIATE,
    )
    notify_replies = models.BooleanField("replies in threads I follow", default=True)
    notify_mentions = models.BooleanField("mentions and quotes of my posts", default=True)
    digest_sent_at = models.DateTimeField(null=True, blank=True)
    blur_images = models.BooleanField(
        "blur all images until I show them",
        default=False,
        help_text="Images with a content warning are always blurred.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def public_name(self):
        return self.display_name or self.get_full_name() or self.username


class Membership(models.Model):
    """An application to join and, once approved, the member's standing in the portal."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a decision"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        MODERATOR = "moderator", "Moderator"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    full_name = models.CharField(max_length=120)
    organisation = models.CharField(max_length=120)
    job_title = models.CharField("your role", max_length=120)
    country = models.CharField(max_length=80)
    reason = models.TextField("why you want to join", max_length=2000)
    agreed_to_code_at = models.DateTimeField()
    applied_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "applied_at"])]

    def __str__(self):
        return f"{self.full_name} ({self.get_status_display()})"


class TrustedDomain(models.Model):
    """Applicants whose verified e-mail is at one of these domains are approved on applying."""

    domain = models.CharField(max_length=253, unique=True, help_text="For example nspcc.org.uk")
    organisation = models.CharField(max_length=120)

    def __str__(self):
        return self.domain

    def save(self, *args, **kwargs):
        self.domain = self.domain.strip().lower().lstrip("@")
        super().save(*args, **kwargs)


class AuditEvent(models.Model):
    """A security-relevant event: who did what to whom, when and why. Never edited."""

    created = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=40, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self):
        return f"{self.created:%Y-%m-%d %H:%M} {self.action} by {self.actor_label}"


class Category(models.Model):
    class Audience(models.TextChoices):
        MEMBERS = "members", "All members"
        MODERATORS = "moderators", "Moderators only"

    name = models.CharField(max_length=80)
    slug = models.SlugField(unique=True)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)
    audience = models.CharField(max_length=12, choices=Audience.choices, default=Audience.MEMBERS)
    theme = models.ForeignKey(
        "library.ThemePage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="portal_categories",
        help_text="The theme page whose portal panel lists this category's newest threads.",
    )

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Thread(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="threads")
    title = models.CharField(max_length=200)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="threads"
    )
    created = models.DateTimeField(auto_now_add=True)
    last_activity = models.DateTimeField(db_index=True)
    reply_count = models.PositiveIntegerField(default=0)
    pinned = models.BooleanField(default=False)
    locked = models.BooleanField(default=False)
    # Post numbers and change numbers are handed out per thread, in order, without gaps: live
    # clients resume from the last change they have and ask again for any gap they see.
    last_number = models.PositiveIntegerField(default=0)
    last_change = models.PositiveIntegerField(default=0)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["category", "-pinned", "-last_activity"])]

    def __str__(self):
        return self.title


class Post(models.Model):
    class State(models.TextChoices):
        VISIBLE = "visible", "Visible"
        PENDING = "pending", "Held for approval"
        HIDDEN = "hidden", "Hidden by a moderator"
        DELETED = "deleted", "Deleted by its author"

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="posts")
    number = models.PositiveIntegerField()
    change = models.PositiveIntegerField(db_index=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="posts"
    )
    source = models.TextField()
    html = models.TextField()
    created = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.VISIBLE)
    moderation_reason = models.TextField(blank=True)
    quoted = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=64, blank=True)
    # A content warning: the post's images stay blurred until a member chooses to show them.
    sensitive = models.BooleanField(default=False)
    sensitive_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["thread", "number"], name="post_number_per_thread"),
            models.UniqueConstraint(
                fields=["author", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="post_idempotency_key_per_author",
            ),
        ]
        indexes = [models.Index(fields=["thread", "change"])]

    def __str__(self):
        return f"{self.thread} #{self.number}"


class PostRevision(models.Model):
    """A post's text before an edit, for moderators."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    source = models.TextField()
    created = models.DateTimeField()
    replaced_at = models.DateTimeField(auto_now_add=True)
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-replaced_at"]

    def __str__(self):
        return f"{self.post} before {self.replaced_at:%Y-%m-%d %H:%M}"


class Report(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(max_length=1000)
    created = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolution = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created"]

    def __str__(self):
        return f"Report on {self.post}"


class Follow(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    thread = models.ForeignKey(Thread, null=True, blank=True, on_delete=models.CASCADE)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "thread"], name="follow_thread_once"),
            models.UniqueConstraint(fields=["user", "category"], name="follow_category_once"),
            models.CheckConstraint(
                condition=Q(thread__isnull=True) ^ Q(category__isnull=True),
                name="follow_thread_or_category",
            ),
        ]

    def __str__(self):
        return f"{self.user} follows {self.thread or self.category}"


class ReadState(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE)
    last_read_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "thread"], name="read_state_once"),
        ]

    def __str__(self):
        return f"{self.user} read {self.thread} to #{self.last_read_number}"


class Notification(models.Model):
    class Kind(models.TextChoices):
        REPLY = "reply", "replied in"
        MENTION = "mention", "mentioned you in"
        QUOTE = "quote", "quoted you in"
        HASH_MATCH = "hash_match", "attached an image on the hash list to a held post in"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.post}"


class NamedStorage(LazyObject):
    """The storage STORAGES names, looked up at each use rather than once when the model loads,
    so the fields follow a change of the setting (Django's `storages` forgets its instances
    then, as tests that override STORAGES rely on)."""

    def __init__(self, alias):
        self.__dict__["alias"] = alias

    @property
    def _wrapped(self):
        return storages[self.__dict__["alias"]]

    def _setup(self):
        pass  # _wrapped is never empty


def attachment_storage():
    """Files that passed the safety pipeline: private, served only through the policy."""
    return NamedStorage("attachments")


def quarantine_storage():
    """Files nobody may fetch: hash-list matches kept as evidence, and files waiting for clamd."""
    return NamedStorage("quarantine")


class Attachment(models.Model):
    """A file attached to a post. Its bytes reach the attachments storage only once the safety
    pipeline has passed them; until clamd has scanned them they wait in the quarantine storage
    (unscanned_file) and nobody is served them."""

    class State(models.TextChoices):
        PENDING_SCAN = "pending_scan", "Waiting for the malware scan"
        READY = "ready", "Ready"
        REMOVED = "removed", "Removed"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="attachments")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    original_name = models.CharField(max_length=255)
    file = models.FileField(storage=attachment_storage, upload_to="%Y/%m/", blank=True)
    unscanned_file = models.FileField(
        storage=quarantine_storage, upload_to="unscanned/%Y/%m/", blank=True
    )
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=120, blank=True)
    is_image = models.BooleanField(default=False)
    state = models.CharField(max_length=12, choices=State.choices, default=State.READY)
    removed_reason = models.CharField(max_length=300, blank=True)
    sensitive = models.BooleanField(default=False)
    sensitive_reason = models.CharField(max_length=200, blank=True)
    extracted_text = models.TextField(blank=True)
    scan_attempts = models.PositiveIntegerField(default=0)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["uploader", "created"]), models.Index(fields=["state"])]

    def __str__(self):
        return self.original_name

    @property
    def blurred(self):
        """Whether its image is blurred for everyone until shown: a warning on it or its post."""
        return self.is_image and (self.sensitive or self.post.sensitive)

    @property
    def warning(self):
        return self.sensitive_reason if self.sensitive else self.post.sensitive_reason


class QuarantinedFile(models.Model):
    """A file the hash list matched: kept as evidence for QUARANTINE_RETENTION_DAYS, never shown
    to anyone; staff see these fields only. Who uploaded it is kept as text too, so the record
    outlives the account."""

    file = models.FileField(storage=quarantine_storage, upload_to="matched/%Y/%m/")
    original_name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    pdq = models.CharField(max_length=64)
    distance = models.PositiveSmallIntegerField()
    hash_entry_id = models.PositiveBigIntegerField(help_text="The matching hash list entry.")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploader_label = models.CharField(max_length=254)
    post = models.ForeignKey(
        Post, null=True, on_delete=models.SET_NULL, related_name="quarantined_files"
    )
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self):
        return f"Quarantined file {self.pk} from {self.uploader_label}"


class HashListEntry(models.Model):
    """A PDQ hash from a hash-sharing programme's list of known abuse images, loaded by staff
    (`manage.py load_hash_list`). Attached images within PDQ_MATCH_DISTANCE of one are never
    stored where they can be served (portal/attachments/safety.py)."""

    pdq = models.CharField(
        "PDQ hash",
        max_length=64,
        validators=[
            RegexValidator(
                r"^[0-9a-f]{64}\Z", "A PDQ hash is 64 lower-case hexadecimal digits (0-9, a-f)."
            )
        ],
    )
    quality = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=100, help_text="The list this hash came from.")
    note = models.CharField(max_length=255, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "hash list entry"
        verbose_name_plural = "hash list entries"
        constraints = [
            models.UniqueConstraint(fields=["source", "pdq"], name="hash_list_entry_once_per_list")
        ]

    def __str__(self):
        return f"{self.source}: {self.pdq}"


class SavedSearch(models.Model):
    """A library search someone keeps (its URL query, named), what of it they have seen, and how
    often they want to be e-mailed what is new (portal.alerts)."""

    class Alert(models.TextChoices):
        OFF = "off", "No e-mails"
        IMMEDIATE = "immediate", "As soon as something new matches"
        DAILY = "daily", "Once a day"
        WEEKLY = "weekly", "Once a week"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=120)
    query = models.CharField(max_length=2000)  # the search page's query string, without paging
    alert = models.CharField(max_length=10, choices=Alert.choices, default=Alert.OFF)
    created_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField()  # results added after this are new on the list
    alerted_at = models.DateTimeField()  # results added after this go in the next alert

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["alert", "alerted_at"])]

    def __str__(self):
        return self.name
