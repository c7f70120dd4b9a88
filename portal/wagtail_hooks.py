"""The portal's settings in the Wagtail admin: forum categories, trusted domains and the hash list
of known abuse images, for staff."""

from wagtail import hooks
from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from portal.attachments import hashlist
from portal.models import Category, HashListEntry, TrustedDomain


class CategoryViewSet(SnippetViewSet):
    model = Category
    icon = "folder-open-inverse"
    menu_label = "Forum categories"
    list_display = ["name", "audience", "theme", "order"]
    ordering = ["order", "name"]
    panels = [
        FieldPanel("name"),
        FieldPanel("slug"),
        FieldPanel("description"),
        FieldPanel("audience"),
        FieldPanel("theme"),
        FieldPanel("order"),
    ]


class TrustedDomainViewSet(SnippetViewSet):
    model = TrustedDomain
    icon = "success"
    menu_label = "Trusted domains"
    list_display = ["domain", "organisation"]


class HashListViewSet(SnippetViewSet):
    """Single hashes added or removed by hand; whole lists come in through
    `manage.py load_hash_list`."""

    model = HashListEntry
    icon = "warning"
    menu_label = "Hash list"
    list_display = ["pdq", "source", "quality", "added_at", "added_by"]
    list_filter = ["source"]
    ordering = ["-added_at", "-id"]
    panels = [FieldPanel("pdq"), FieldPanel("quality"), FieldPanel("source"), FieldPanel("note")]


@hooks.register("after_create_snippet")
def hash_added_by(request, instance):
    if isinstance(instance, HashListEntry) and instance.added_by is None:
        instance.added_by = request.user
        instance.save(update_fields=["added_by"])


@hooks.register("after_create_snippet")
@hooks.register("after_edit_snippet")
@hooks.register("after_delete_snippet")
def hash_list_changed(request, instances):
    changed = instances if isinstance(instances, list | tuple) else [instances]
    if any(isinstance(instance, HashListEntry) for instance in changed):
        hashlist.changed()


class PortalViewSetGroup(SnippetViewSetGroup):
    menu_label = "Portal"
    menu_icon = "group"
    items = (CategoryViewSet, TrustedDomainViewSet, HashListViewSet)


register_snippet(PortalViewSetGroup)
