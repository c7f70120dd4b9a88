"""Who may see or do what: the single place that answers it.

Views, feeds, the API, search, document downloads and WebSocket consumers ask these functions
rather than testing groups or flags themselves. Membership roles arrive with the membership model;
until then the library's rules live here already.
"""

from django.contrib.contenttypes.models import ContentType
from wagtail.documents import get_document_model
from wagtail.models import Page, ReferenceIndex
from wagtail.permissions import policy_registry


def can_manage_documents(user):
    permissions = policy_registry.get_by_type(get_document_model())
    return permissions.user_has_any_permission(user, ["change", "choose"])


def document_is_published(document):
    """A document is public once a live page without view restrictions links to it."""
    page_type = ContentType.objects.get_for_model(Page)
    page_ids = (
        ReferenceIndex.get_references_to(document)
        .filter(base_content_type=page_type)
        .values_list("object_id", flat=True)
    )
    return Page.objects.live().public().filter(pk__in=[int(pk) for pk in page_ids]).exists()


def can_view_document(user, document):
    """Editors see every document; everyone else only documents that published pages use, so a
    file uploaded for a draft stays unreachable until the draft goes live."""
    return can_manage_documents(user) or document_is_published(document)


MEMBERS_GROUP = "Members"


def is_member(user):
    """An approved, active member of the portal."""
    return (
        user.is_authenticated and user.is_active and user.groups.filter(name=MEMBERS_GROUP).exists()
    )


def search_visibilities(user):
    """Which index entries a user's searches may return: members also see forum content."""
    return ["public", "members"] if is_member(user) else ["public"]
