"""The portal's settings in the Wagtail admin: forum categories and trusted domains, for staff."""

from wagtail.admin.panels import FieldPanel
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from portal.models import Category, TrustedDomain


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


class PortalViewSetGroup(SnippetViewSetGroup):
    menu_label = "Portal"
    menu_icon = "group"
    items = (CategoryViewSet, TrustedDomainViewSet)


register_snippet(PortalViewSetGroup)
