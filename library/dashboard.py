"""The editors' panel on the Wagtail dashboard: what waits for approval, what was published lately,
what is scheduled, and which published items need fixing."""

from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from wagtail.admin.ui.components import Component
from wagtail.models import Page, Revision, WorkflowState
from wagtail.permission_policies.pages import PagePermissionPolicy

from library.models import LibraryIndexPage, LibraryItemDocument, LibraryItemPage
from search import documents

ROWS = 8


@dataclass
class Problem:
    page: LibraryItemPage
    reasons: list = field(default_factory=list)


def awaiting_approval():
    """Workflow states in progress on pages, oldest submission first, with their pages."""
    states = list(
        WorkflowState.objects.active()
        .filter(base_content_type=ContentType.objects.get_for_model(Page))
        .select_related("current_task_state__task", "requested_by")
        .order_by("created_at")[:ROWS]
    )
    pages = Page.objects.in_bulk([int(state.object_id) for state in states])
    return [(pages[int(state.object_id)], state) for state in states]


def recently_published():
    return list(
        LibraryItemPage.objects.live()
        .select_related("resource_type")
        .order_by("-last_published_at")[:ROWS]
    )


def scheduled():
    """Revisions approved to go live later, soonest first, with their pages."""
    revisions = list(
        Revision.page_revisions.filter(approved_go_live_at__isnull=False).order_by(
            "approved_go_live_at"
        )[:ROWS]
    )
    pages = Page.objects.in_bulk([int(revision.object_id) for revision in revisions])
    return [
        (pages[int(revision.object_id)], revision.approved_go_live_at) for revision in revisions
    ]


def problems():
    """Published items with no summary, no publisher, or an attached PDF whose text could not be
    extracted (so its words are missing from search)."""
    found = {}

    def note(page, reason):
        found.setdefault(page.pk, Problem(page)).reasons.append(reason)

    live = LibraryItemPage.objects.live()
    for page in live.filter(Q(summary="") | Q(publisher_links__isnull=True)).distinct():
        if not page.summary.strip():
            note(page, "no summary")
        if not page.publisher_links.exists():
            note(page, "no publisher")
    unreadable = LibraryItemDocument.objects.filter(
        page__in=live, document_id__in=documents.without_text()
    ).select_related("page", "document")
    for attachment in unreadable:
        note(attachment.page, f"no text could be read from “{attachment.document.title}”")
    return sorted(found.values(), key=lambda problem: problem.page.title)[: ROWS * 2]


class EditorialPanel(Component):
    name = "library_editorial"
    template_name = "library/admin/editorial_panel.html"
    order = 50  # above Wagtail's own panels

    def is_shown(self, user):
        return PagePermissionPolicy().user_has_permission(user, "publish")

    def get_context_data(self, parent_context):
        context = super().get_context_data(parent_context)
        context.update(
            awaiting=awaiting_approval(),
            published=recently_published(),
            scheduled=scheduled(),
            problems=problems(),
            library_index=LibraryIndexPage.objects.first(),
        )
        return context
