"""The search service's own tables.

IndexEntry is the database engine's index and the source every engine is fed from: one row per
searchable object, flattened. PendingIndexChange is the outbox: written in the same transaction as
the content change, deleted only once the external engine has applied it. SearchCount holds the
search analytics editors read: aggregates only (search.analytics).
"""

from django.db import models
from wagtail.admin.panels import FieldPanel


class IndexEntry(models.Model):
    key = models.CharField(max_length=40, unique=True)  # "item:42", "theme:7", "thread:3"
    kind = models.CharField(max_length=20)
    object_id = models.PositiveBigIntegerField()
    # "public", "members" or "moderators": the registered audience says who finds which
    visibility = models.CharField(max_length=20, default="public")
    title = models.TextField()
    summary = models.TextField(blank=True)
    body = models.TextField(blank=True)
    attachments = models.TextField(blank=True)
    publishers = models.TextField(blank=True)  # space-separated slugs
    publisher_names = models.TextField(blank=True)
    type = models.CharField(max_length=60, blank=True)
    type_name = models.CharField(max_length=60, blank=True)
    themes = models.TextField(blank=True)  # space-separated slugs
    language = models.CharField(max_length=8, blank=True)
    date = models.DateField(null=True)
    year = models.PositiveSmallIntegerField(null=True)
    url = models.CharField(max_length=500)
    updated_at = models.DateTimeField(auto_now=True)
    # When the object first became searchable: saved searches count what came after they were
    # last looked at. Kept through rebuilds (indexing.rebuild_database_index).
    added_at = models.DateTimeField(null=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["kind", "visibility"]), models.Index(fields=["date"])]

    def __str__(self):
        return self.key


class PendingIndexChange(models.Model):
    key = models.CharField(max_length=40, db_index=True)
    # The visibilities whose searches the change alters once the engine takes it: the entry's
    # before the change and after it (search.results_cache).
    visibilities = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return f"{self.key} (attempts: {self.attempts})"


class DocumentText(models.Model):
    """Text extracted from a document file, kept so reindexing never extracts twice."""

    document = models.OneToOneField(
        "wagtaildocs.Document", on_delete=models.CASCADE, related_name="extracted_text"
    )
    file_hash = models.CharField(max_length=40)
    text = models.TextField(blank=True)

    def __str__(self):
        return f"text of document {self.document_id}"


class Synonym(models.Model):
    """Terms that mean the same thing to practitioners: a search for any finds all."""

    terms = models.CharField(
        max_length=500,
        unique=True,
        help_text="Comma-separated equivalents, e.g. “CSAM, child sexual abuse material”.",
    )

    panels = [FieldPanel("terms")]

    class Meta:
        ordering = ["terms"]

    def __str__(self):
        return self.terms


class SearchCount(models.Model):
    """How often one query was searched on one day, and what came of it: counts only, never who
    searched, from where or in which session (search.analytics)."""

    day = models.DateField()
    # Lower-case with its spaces collapsed; "" (analytics.WITHHELD) counts the searches whose
    # text is never kept, those that could find members' discussions.
    query = models.CharField(max_length=200, blank=True)
    searches = models.PositiveIntegerField(default=0)
    without_results = models.PositiveIntegerField(default=0)
    results_total = models.PositiveBigIntegerField(default=0)  # summed, for the average
    opened = models.PositiveIntegerField(default=0)  # searches after which a result was opened

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "query"], name="one_count_a_day")]
        permissions = [("view_search_analytics", "Can see what people search for")]

    def __str__(self):
        return f"{self.day}: {self.query or '(withheld)'} × {self.searches}"
